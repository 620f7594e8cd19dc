-- ============================================================================
-- Tenant dataset: {tenant_id}
-- Operational logs only; safe for GenAI; ZERO credentials; keep it that way.
-- ============================================================================

/* Deploy with:
     bq query --use_legacy_sql=false < tenant_dataset.sql ;
   Placeholders are filled in by the onboarding engine. */

CREATE SCHEMA IF NOT EXISTS `{project_id}.customers`
OPTIONS(description="Protected customer dataset; no GenAI access", location="US");

-- Pipeline execution log, one row per run.
CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_pipeline_runs` (
  pipeline_logging_id STRING NOT NULL OPTIONS(description="Unique run id; also in step logs"),
  pipeline_id STRING NOT NULL,
  status STRING(20) OPTIONS(description='PENDING; RUNNING; COMPLETE; FAILED'),
  cost_usd NUMERIC(10, 2),
  retries int64 DEFAULT 0,
  parameters STRUCT<
    source STRING,
    window STRUCT<
      start_date DATE,
      end_date DATE OPTIONS(description="inclusive")
    >
  >,
  start_time TIMESTAMP NOT NULL
)
PARTITION BY DATE(start_time)
CLUSTER BY pipeline_id, status
OPTIONS(description="Pipeline runs -- one row per run; see docs");

# Step-level details.
create or replace table {project_id}.{tenant_id}.x_meta_step_logs (
  step_logging_id string not null,
  pipeline_logging_id STRING NOT NULL,
  /* each attempt of the step */
  attempts ARRAY<STRUCT<
    attempt_no INT64 NOT NULL,
    error_message STRING,
    tags ARRAY<STRING>
  >>,
  rows_processed BIGNUMERIC,
  metadata JSON,
  ts TIMESTAMP
)
PARTITION BY DATE(ts)
CLUSTER BY pipeline_logging_id;

CREATE TABLE x_meta_dq_results (
  dq_result_id STRING NOT NULL,
  passed BOOL,
  score FLOAT64,
  checked_on DATE,
  checked_at DATETIME,
  raw BYTES,
  location GEOGRAPHY
);
