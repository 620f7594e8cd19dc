-- Backfill columns that older subscription rows left empty.
UPDATE `{project_id}.{dataset_id}.subscription_plans`
SET billing_cycle = 'monthly'
WHERE billing_cycle IS NULL;

UPDATE `{project_id}.{dataset_id}.subscription_plans`
SET currency = 'USD'
WHERE currency IS NULL;
