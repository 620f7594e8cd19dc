-- --------------------------------------------------------------------------
-- Migration: server-side store for each organization's service key
-- --------------------------------------------------------------------------
-- The table is read and written by the backend's service role only: row
-- level security is switched on below and no policy grants anything, so the
-- browser's anonymous and signed-in roles are refused.
--
-- Apply before deploying the code that reads it.
-- (Fixture written for the auditor's tests; it models the kind of file a
-- Supabase project keeps, not any project's own migration.)
-- --------------------------------------------------------------------------

-- The store itself
CREATE TABLE IF NOT EXISTS org_service_keys (
  org_slug TEXT PRIMARY KEY REFERENCES organizations(org_slug) ON DELETE CASCADE,
  service_key TEXT NOT NULL,
  created_at TIMESTAMPTZ DEFAULT NOW(),
  rotated_at TIMESTAMPTZ
);

-- Row level security on, no policies: deny everyone but the service role.
ALTER TABLE org_service_keys ENABLE ROW LEVEL SECURITY;
