-- customers_dataset.sql
--
-- Legacy/alternative schema doc for the customers dataset (schema version 1 kept a single
-- customer table here). The tables now live in customers_auth_dataset.sql; this file no
-- longer defines any table.
--
-- What it is for now: the dataset-level hardening of `customers`. Run it once per project
-- so that the dataset sits in the right location, encrypts every new table with the
-- customer-managed key (CMEK) by default, keeps a bounded time-travel window and carries
-- the labels the auditor and IAM conditions read.
-- Existing datasets: apply the same options with ALTER SCHEMA ... SET OPTIONS (location
-- cannot change). Access control is managed in IAM and dataset ACLs, not here.
--
-- Placeholders in braces are substituted by the loader: {project_id}, {kms_key_name}
-- (projects/P/locations/L/keyRings/R/cryptoKeys/K).

CREATE SCHEMA IF NOT EXISTS `{project_id}.customers`
OPTIONS(
  location="US",
  default_kms_key_name='{kms_key_name}',
  max_time_travel_hours=168,
  description="Customer authentication and management data. HIGHLY PROTECTED: no GenAI access. Secrets are stored only as KMS-encrypted BYTES.",
  labels=[("dataset_kind", "customers"), ("data_classification", "restricted"), ("genai_access", "denied")]
);

