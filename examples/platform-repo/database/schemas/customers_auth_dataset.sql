-- customers_auth_dataset.sql
--
-- Dataset: customers (one per platform project). HIGHLY PROTECTED: no GenAI principal may
-- read it by any path. Holds customer profiles, KMS-encrypted API keys and cloud
-- credentials, subscriptions and usage quotas.
--
-- Reference documentation only: the deployed tables are changed with ALTER TABLE and
-- this file is updated to match. Secrets are stored ONLY as Cloud KMS ciphertext in BYTES
-- columns (encrypted_*); STRING columns hold hashes, prefixes and KMS key resource names,
-- never a secret value.
--
-- Placeholders in braces are substituted by the loader: {project_id}.

CREATE SCHEMA IF NOT EXISTS `{project_id}.customers`
OPTIONS(
  location="US",
  description="Customer authentication and management data. HIGHLY PROTECTED: no GenAI access.",
  labels=[("dataset_kind", "customers"), ("data_classification", "restricted"), ("genai_access", "denied")]
);

CREATE TABLE IF NOT EXISTS `{project_id}.customers.customer_profiles` (
  customer_id STRING NOT NULL OPTIONS(description="Unique identifier of the customer (UUID)."),
  tenant_id STRING NOT NULL OPTIONS(description="Name of the customer's tenant dataset; lowercase letters, digits and underscores."),
  company_name STRING NOT NULL OPTIONS(description="Legal name of the customer."),
  admin_email STRING NOT NULL OPTIONS(description="Email address of the customer's primary administrator."),
  status STRING NOT NULL OPTIONS(description="ACTIVE, TRIAL, SUSPENDED or DELETED."),
  subscription_plan STRING OPTIONS(description="Current plan name (customer_subscriptions.plan_name)."),
  data_location STRING OPTIONS(description="BigQuery location of the tenant dataset, e.g. US or EU."),
  tenant_dataset_created BOOL OPTIONS(description="Whether onboarding created the tenant dataset."),
  kms_key_name STRING OPTIONS(description="Cloud KMS CryptoKey resource name used as the tenant dataset's default key (CMEK)."),
  metadata JSON OPTIONS(description="Free-form onboarding metadata, e.g. industry and account manager."),
  created_at TIMESTAMP NOT NULL OPTIONS(description="When the customer was onboarded."),
  created_by STRING OPTIONS(description="Principal that onboarded the customer."),
  updated_at TIMESTAMP OPTIONS(description="When the profile last changed."),
  deleted_at TIMESTAMP OPTIONS(description="When the customer was offboarded; NULL while active.")
)
CLUSTER BY customer_id, status
OPTIONS(
  description="Customer registry and status."
);

CREATE TABLE IF NOT EXISTS `{project_id}.customers.customer_api_keys` (
  api_key_id STRING NOT NULL OPTIONS(description="Unique identifier of the API key record (UUID); not the key itself."),
  customer_id STRING NOT NULL OPTIONS(description="Customer the API key belongs to (customer_profiles.customer_id)."),
  tenant_id STRING NOT NULL OPTIONS(description="Tenant dataset the API key grants access to."),
  display_name STRING OPTIONS(description="Label chosen by the customer, e.g. ci-pipeline."),
  encrypted_api_key BYTES NOT NULL OPTIONS(description="API key ciphertext, encrypted with Cloud KMS (kms_key_name); never stored in plaintext."),
  api_key_hash STRING NOT NULL OPTIONS(description="SHA-256 hex digest of the API key, used to look the key up on each request."),
  api_key_prefix STRING NOT NULL OPTIONS(description="First 8 characters of the API key, shown in the console to tell keys apart."),
  kms_key_name STRING NOT NULL OPTIONS(description="Cloud KMS CryptoKey resource name used for envelope encryption, e.g. projects/p/locations/us/keyRings/r/cryptoKeys/k."),
  kms_key_version STRING OPTIONS(description="CryptoKeyVersion that encrypted encrypted_api_key."),
  scopes ARRAY<STRING> OPTIONS(description="Permissions granted to the API key, e.g. pipelines.run."),
  is_active BOOL NOT NULL OPTIONS(description="Whether requests with the API key are accepted."),
  expires_at TIMESTAMP OPTIONS(description="When the API key stops working; NULL for no expiry."),
  last_used_at TIMESTAMP OPTIONS(description="When the API key last authenticated a request."),
  created_at TIMESTAMP NOT NULL OPTIONS(description="When the API key was issued."),
  created_by STRING OPTIONS(description="Principal that issued the API key."),
  revoked_at TIMESTAMP OPTIONS(description="When the API key was revoked; NULL if never."),
  revoked_reason STRING OPTIONS(description="Why the API key was revoked, e.g. ROTATED or COMPROMISED.")
)
CLUSTER BY api_key_hash, customer_id
OPTIONS(
  description="KMS-encrypted API keys; lookups go through api_key_hash."
);

CREATE TABLE IF NOT EXISTS `{project_id}.customers.customer_cloud_credentials` (
  credential_id STRING NOT NULL OPTIONS(description="Unique identifier of the cloud credential record (UUID)."),
  customer_id STRING NOT NULL OPTIONS(description="Customer the credential belongs to (customer_profiles.customer_id)."),
  tenant_id STRING NOT NULL OPTIONS(description="Tenant dataset whose pipelines use the credential."),
  provider STRING NOT NULL OPTIONS(description="Cloud provider: GCP, AWS or AZURE."),
  credential_type STRING NOT NULL OPTIONS(description="Kind of credential held in encrypted_credentials, one of SERVICE_ACCOUNT_KEY, AWS_ACCESS_KEY, AZURE_CLIENT_SECRET or OAUTH_REFRESH_TOKEN."),
  credential_name STRING OPTIONS(description="Label chosen by the customer, e.g. prod-billing-export."),
  encrypted_credentials BYTES NOT NULL OPTIONS(description="Credential ciphertext, encrypted with Cloud KMS (kms_key_name); never stored in plaintext."),
  service_account_json STRING OPTIONS(description="Service account key JSON, kept during the v1 to v2 migration"),
  kms_key_name STRING NOT NULL OPTIONS(description="Cloud KMS CryptoKey resource name used for envelope encryption, e.g. projects/p/locations/us/keyRings/r/cryptoKeys/k."),
  kms_key_version STRING OPTIONS(description="CryptoKeyVersion that encrypted encrypted_credentials."),
  principal_identifier STRING OPTIONS(description="Public identity the credential authenticates as, e.g. a service account email or an AWS role ARN."),
  scopes ARRAY<STRING> OPTIONS(description="OAuth scopes or permissions the credential is expected to carry."),
  is_active BOOL NOT NULL OPTIONS(description="Whether pipelines may use the credential."),
  validation_status STRING OPTIONS(description="Result of the last connectivity test: VALID, INVALID or UNTESTED."),
  last_validated_at TIMESTAMP OPTIONS(description="When the connectivity test last ran."),
  last_rotated_at TIMESTAMP OPTIONS(description="When the credential was last replaced."),
  expires_at TIMESTAMP OPTIONS(description="When the credential expires at the provider; NULL if unknown."),
  created_at TIMESTAMP NOT NULL OPTIONS(description="When the credential was stored."),
  created_by STRING OPTIONS(description="Principal that stored the credential."),
  updated_at TIMESTAMP OPTIONS(description="When the record last changed.")
)
CLUSTER BY customer_id, provider
OPTIONS(
  description="KMS-encrypted cloud provider credentials."
);

CREATE TABLE IF NOT EXISTS `{project_id}.customers.customer_subscriptions` (
  subscription_id STRING NOT NULL OPTIONS(description="Unique identifier of the subscription (UUID)."),
  customer_id STRING NOT NULL OPTIONS(description="Subscribed customer (customer_profiles.customer_id)."),
  plan_name STRING NOT NULL OPTIONS(description="FREE, STARTER, PROFESSIONAL or ENTERPRISE."),
  status STRING NOT NULL OPTIONS(description="ACTIVE, TRIALING, PAST_DUE, CANCELLED or EXPIRED."),
  billing_cycle STRING OPTIONS(description="MONTHLY or ANNUAL."),
  start_date DATE NOT NULL OPTIONS(description="First day of the subscription."),
  end_date DATE OPTIONS(description="Last day of the subscription; NULL while it renews."),
  trial_end_date DATE OPTIONS(description="Last day of the trial, if any."),
  auto_renew BOOL OPTIONS(description="Whether the subscription renews at the end of the cycle."),
  price_usd NUMERIC OPTIONS(description="Price per billing cycle in US dollars."),
  external_billing_id STRING OPTIONS(description="Subscription identifier in the billing system."),
  limits STRUCT<
    max_pipelines INT64 OPTIONS(description="Pipelines the customer may define."),
    max_concurrent_runs INT64 OPTIONS(description="Pipeline runs that may execute at once."),
    max_daily_runs INT64 OPTIONS(description="Pipeline runs allowed per day."),
    max_storage_gb INT64 OPTIONS(description="Storage allowed in the tenant dataset, in GB."),
    max_monthly_tokens INT64 OPTIONS(description="LLM tokens allowed per month for LLM_ENRICH steps.")
  > OPTIONS(description="Quotas included in the plan."),
  created_at TIMESTAMP NOT NULL OPTIONS(description="When the subscription was created."),
  updated_at TIMESTAMP OPTIONS(description="When the subscription last changed.")
)
CLUSTER BY customer_id, status
OPTIONS(
  description="Subscription plans and quotas."
);

CREATE TABLE IF NOT EXISTS `{project_id}.customers.customer_usage_quotas` (
  usage_id STRING NOT NULL OPTIONS(description="Unique identifier of the usage row, as customer_id plus usage_date."),
  customer_id STRING NOT NULL OPTIONS(description="Customer the usage belongs to (customer_profiles.customer_id)."),
  tenant_id STRING NOT NULL OPTIONS(description="Tenant dataset the usage was recorded in."),
  usage_date DATE NOT NULL OPTIONS(description="Day the counters cover (UTC)."),
  pipelines_run_today INT64 NOT NULL OPTIONS(description="Pipeline runs started on usage_date."),
  pipelines_succeeded_today INT64 OPTIONS(description="Pipeline runs that succeeded on usage_date."),
  pipelines_failed_today INT64 OPTIONS(description="Pipeline runs that failed on usage_date."),
  concurrent_pipelines_running INT64 OPTIONS(description="Pipeline runs executing right now."),
  bytes_processed_today INT64 OPTIONS(description="Bytes scanned by the customer's jobs on usage_date."),
  tokens_used_today INT64 OPTIONS(description="LLM tokens consumed on usage_date."),
  daily_limit INT64 OPTIONS(description="Runs allowed per day, copied from the plan."),
  concurrent_limit INT64 OPTIONS(description="Runs allowed at once, copied from the plan."),
  quota_exceeded BOOL OPTIONS(description="Whether a limit was hit on usage_date."),
  last_pipeline_started_at TIMESTAMP OPTIONS(description="When the most recent run started."),
  last_updated TIMESTAMP NOT NULL OPTIONS(description="When the counters last changed.")
)
PARTITION BY usage_date
CLUSTER BY customer_id
OPTIONS(
  description="Real-time usage tracking: one row per customer per day.",
  partition_expiration_days=730
);
