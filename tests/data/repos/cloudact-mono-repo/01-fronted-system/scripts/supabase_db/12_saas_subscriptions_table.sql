-- --------------------------------------------------------------------------
-- Migration: SaaS subscriptions an organization pays for (seats, plans)
-- --------------------------------------------------------------------------
-- One row per subscription; the cost pipeline turns them into daily costs.
-- (Fixture written for the auditor's tests.)
-- --------------------------------------------------------------------------

-- Subscriptions
-- --------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS saas_subscriptions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider VARCHAR(100) NOT NULL,
    plan_name VARCHAR(200) NOT NULL,
    notes TEXT,
    seats INTEGER NOT NULL DEFAULT 1,
    unit_price NUMERIC(12, 2) NOT NULL,
    currency CHAR(3) NOT NULL DEFAULT 'USD',
    starts_on DATE NOT NULL,
    ends_on DATE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX IF NOT EXISTS saas_subscriptions_org ON saas_subscriptions(org_id);

ALTER TABLE saas_subscriptions ENABLE ROW LEVEL SECURITY;

CREATE POLICY saas_subscriptions_members ON saas_subscriptions
    FOR SELECT USING (org_id IN (SELECT org_id FROM members WHERE user_id = auth.uid()));
