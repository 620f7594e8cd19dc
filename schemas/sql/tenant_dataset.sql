-- tenant_dataset.sql
--
-- Dataset: {tenant_id} (one per customer). SAFE for GenAI: operational logs only, ZERO
-- credentials. No column may hold a token, password, API key or other secret value;
-- token_count/input_tokens/output_tokens/max_tokens count LLM tokens, idempotency_key
-- deduplicates requests and kms_key_name is a Cloud KMS resource name.
--
-- Reference documentation only: the onboarding engine creates these tables from the JSON
-- templates in templates/customer/onboarding/schemas/. Keep both in step.
--
-- Placeholders in braces are substituted by the loader: {project_id}, {tenant_id}.

CREATE SCHEMA IF NOT EXISTS `{project_id}.{tenant_id}`
OPTIONS(
  location="US",
  description="Per-tenant operational data: pipeline runs, step logs, data quality results and scheduler state. Contains no credentials.",
  labels=[("dataset_kind", "tenant"), ("data_classification", "internal"), ("genai_access", "allowed")]
);

CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_pipeline_runs` (
  run_id STRING NOT NULL OPTIONS(description="Unique identifier of the pipeline run (UUID)."),
  tenant_id STRING NOT NULL OPTIONS(description="Tenant that owns the run; equals the dataset name."),
  pipeline_id STRING NOT NULL OPTIONS(description="Identifier of the pipeline definition that was executed."),
  pipeline_version STRING OPTIONS(description="Version of the pipeline definition used by this run."),
  status STRING NOT NULL OPTIONS(description="Run state: PENDING, RUNNING, SUCCEEDED, FAILED or CANCELLED."),
  trigger_type STRING OPTIONS(description="What started the run: SCHEDULED, MANUAL, API or BACKFILL."),
  triggered_by STRING OPTIONS(description="Principal or scheduler that started the run, e.g. a user email or scheduler:<id>."),
  idempotency_key STRING OPTIONS(description="Deduplication handle supplied with the run request; one run per distinct value."),
  scheduled_run_id STRING OPTIONS(description="Schedule that produced the run, if any (x_meta_scheduled_runs.scheduled_run_id)."),
  start_time TIMESTAMP NOT NULL OPTIONS(description="When the run started executing."),
  end_time TIMESTAMP OPTIONS(description="When the run finished; NULL while running."),
  duration_ms INT64 OPTIONS(description="Wall-clock duration of the run in milliseconds."),
  rows_processed INT64 OPTIONS(description="Total rows written by all steps of the run."),
  bytes_processed INT64 OPTIONS(description="Total bytes scanned by all BigQuery jobs of the run."),
  error_message STRING OPTIONS(description="Error summary when the run failed; NULL otherwise."),
  run_config STRUCT<
    source STRUCT<
      system STRING OPTIONS(description="Source system kind, e.g. BIGQUERY, GCS, POSTGRES, SALESFORCE."),
      connection_id STRING OPTIONS(description="BigQuery connection resource used to reach the source, e.g. projects/p/locations/us/connections/c."),
      project_id STRING OPTIONS(description="Source Google Cloud project, for BigQuery sources."),
      dataset_id STRING OPTIONS(description="Source dataset, for BigQuery sources."),
      table_id STRING OPTIONS(description="Source table or object path."),
      query STRING OPTIONS(description="Extraction query, when the source is read with SQL.")
    > OPTIONS(description="Where the run reads from."),
    destination STRUCT<
      project_id STRING NOT NULL OPTIONS(description="Destination Google Cloud project."),
      dataset_id STRING NOT NULL OPTIONS(description="Destination dataset."),
      table_id STRING NOT NULL OPTIONS(description="Destination table."),
      write_disposition STRING OPTIONS(description="WRITE_APPEND, WRITE_TRUNCATE or WRITE_EMPTY."),
      kms_key_name STRING OPTIONS(description="Cloud KMS CryptoKey resource name protecting the destination table (CMEK), e.g. projects/p/locations/us/keyRings/r/cryptoKeys/k.")
    > OPTIONS(description="Where the run writes to."),
    parameters JSON OPTIONS(description="Run-time parameters passed to the pipeline, e.g. the processing date."),
    timeout_minutes INT64 OPTIONS(description="Maximum run time before the run is cancelled.")
  > OPTIONS(description="Resolved configuration the run executed with."),
  created_at TIMESTAMP NOT NULL OPTIONS(description="When this log row was inserted.")
)
PARTITION BY DATE(start_time)
CLUSTER BY pipeline_id, status
OPTIONS(
  description="Pipeline execution logs: one row per run.",
  partition_expiration_days=400
);

CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_step_logs` (
  step_log_id STRING NOT NULL OPTIONS(description="Unique identifier of the step log entry (UUID)."),
  run_id STRING NOT NULL OPTIONS(description="Run this step belongs to (x_meta_pipeline_runs.run_id)."),
  tenant_id STRING NOT NULL OPTIONS(description="Tenant that owns the run; equals the dataset name."),
  pipeline_id STRING NOT NULL OPTIONS(description="Identifier of the pipeline definition."),
  step_name STRING NOT NULL OPTIONS(description="Name of the step as written in the pipeline definition."),
  step_type STRING OPTIONS(description="Kind of step: QUERY, LOAD, EXPORT, TRANSFORM, LLM_ENRICH or DQ_CHECK."),
  step_index INT64 OPTIONS(description="Zero-based position of the step in the pipeline."),
  status STRING NOT NULL OPTIONS(description="Step state: PENDING, RUNNING, SUCCEEDED, FAILED or SKIPPED."),
  attempt INT64 OPTIONS(description="Attempt number, starting at 1."),
  start_time TIMESTAMP NOT NULL OPTIONS(description="When the step started."),
  end_time TIMESTAMP OPTIONS(description="When the step finished; NULL while running."),
  duration_ms INT64 OPTIONS(description="Wall-clock duration of the step in milliseconds."),
  rows_processed INT64 OPTIONS(description="Rows written by the step."),
  bytes_processed INT64 OPTIONS(description="Bytes scanned by the step's BigQuery job."),
  bigquery_job_id STRING OPTIONS(description="BigQuery job that executed the step, as project:location.job_id."),
  error_type STRING OPTIONS(description="Error class when the step failed, e.g. QUOTA_EXCEEDED or INVALID_QUERY."),
  error_message STRING OPTIONS(description="Error detail when the step failed; NULL otherwise."),
  metrics STRUCT<
    slot_ms INT64 OPTIONS(description="BigQuery slot milliseconds consumed."),
    bytes_billed INT64 OPTIONS(description="Bytes billed by BigQuery."),
    rows_read INT64 OPTIONS(description="Rows read from the inputs."),
    rows_written INT64 OPTIONS(description="Rows written to the outputs."),
    cache_hit BOOL OPTIONS(description="Whether BigQuery answered from its query cache."),
    model_name STRING OPTIONS(description="LLM used by LLM_ENRICH steps, e.g. gemini-1.5-pro."),
    input_tokens INT64 OPTIONS(description="Prompt tokens sent to the model (LLM_ENRICH steps)."),
    output_tokens INT64 OPTIONS(description="Completion tokens returned by the model (LLM_ENRICH steps)."),
    token_count INT64 OPTIONS(description="Total LLM tokens: input_tokens plus output_tokens."),
    max_tokens INT64 OPTIONS(description="Completion limit configured for the model call.")
  > OPTIONS(description="Resource usage reported by the step."),
  log_level STRING OPTIONS(description="Highest log level the step emitted: DEBUG, INFO, WARNING or ERROR."),
  created_at TIMESTAMP NOT NULL OPTIONS(description="When this log row was inserted.")
)
PARTITION BY DATE(start_time)
CLUSTER BY run_id, step_name
OPTIONS(
  description="Step-level execution details: one row per step attempt.",
  partition_expiration_days=400
);

CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_dq_results` (
  dq_result_id STRING NOT NULL OPTIONS(description="Unique identifier of the check result (UUID)."),
  run_id STRING NOT NULL OPTIONS(description="Run that executed the check (x_meta_pipeline_runs.run_id)."),
  tenant_id STRING NOT NULL OPTIONS(description="Tenant that owns the run; equals the dataset name."),
  pipeline_id STRING NOT NULL OPTIONS(description="Identifier of the pipeline definition."),
  step_name STRING OPTIONS(description="Pipeline step that ran the check."),
  target_table STRING NOT NULL OPTIONS(description="Table checked, as project.dataset.table."),
  target_column STRING OPTIONS(description="Column checked; NULL for table-level checks."),
  check STRUCT<
    check_id STRING NOT NULL OPTIONS(description="Identifier of the rule in the pipeline definition."),
    check_name STRING OPTIONS(description="Human-readable name of the rule."),
    check_type STRING OPTIONS(description="NOT_NULL, UNIQUE, RANGE, REGEX, FRESHNESS, ROW_COUNT or KEYWORD_ABSENT."),
    severity STRING OPTIONS(description="Rule severity: ERROR fails the run, WARN only reports."),
    expression STRING OPTIONS(description="SQL predicate or pattern the rule evaluates."),
    keyword STRING OPTIONS(description="Search term of KEYWORD_ABSENT rules, e.g. a forbidden product code."),
    threshold FLOAT64 OPTIONS(description="Minimum pass_rate required for the rule to pass.")
  > NOT NULL OPTIONS(description="The data quality rule that was evaluated."),
  passed BOOL NOT NULL OPTIONS(description="Whether the check met its threshold."),
  pass_rate FLOAT64 OPTIONS(description="Share of checked rows that satisfied the rule, from 0 to 1."),
  rows_checked INT64 OPTIONS(description="Rows evaluated by the check."),
  rows_failed INT64 OPTIONS(description="Rows that violated the rule."),
  failed_samples ARRAY<STRUCT<
    row_id STRING OPTIONS(description="Primary identifier of the failing row."),
    observed_value STRING OPTIONS(description="The failing column value, cast to STRING and truncated to 256 characters."),
    reason STRING OPTIONS(description="Why the row failed the rule.")
  >> OPTIONS(description="Up to 10 example rows that violated the rule."),
  executed_at TIMESTAMP NOT NULL OPTIONS(description="When the check ran."),
  duration_ms INT64 OPTIONS(description="Time the check query took in milliseconds."),
  error_message STRING OPTIONS(description="Error detail when the check itself could not run."),
  details JSON OPTIONS(description="Rule-specific extra output, e.g. observed min and max for RANGE rules.")
)
PARTITION BY DATE(executed_at)
CLUSTER BY pipeline_id, target_table
OPTIONS(
  description="Data quality check results: one row per check per run.",
  partition_expiration_days=400
);

CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_pipeline_queue` (
  queue_id STRING NOT NULL OPTIONS(description="Unique identifier of the queue entry (UUID)."),
  tenant_id STRING NOT NULL OPTIONS(description="Tenant that owns the entry; equals the dataset name."),
  pipeline_id STRING NOT NULL OPTIONS(description="Pipeline to run."),
  run_id STRING OPTIONS(description="Run created when a worker picked the entry up; NULL while queued."),
  scheduled_run_id STRING OPTIONS(description="Schedule that enqueued the entry; NULL for manual and API runs."),
  status STRING NOT NULL OPTIONS(description="QUEUED, CLAIMED, RUNNING, DONE, FAILED or DEAD_LETTER."),
  priority INT64 OPTIONS(description="Higher values are dequeued first; default 0."),
  idempotency_key STRING OPTIONS(description="Deduplication handle of the request; a second entry with the same value is rejected."),
  enqueued_at TIMESTAMP NOT NULL OPTIONS(description="When the entry was added to the queue."),
  available_at TIMESTAMP OPTIONS(description="Earliest time a worker may pick the entry up."),
  claimed_at TIMESTAMP OPTIONS(description="When a worker claimed the entry."),
  claimed_by STRING OPTIONS(description="Worker instance that claimed the entry."),
  lease_expires_at TIMESTAMP OPTIONS(description="When the claim lapses if the worker stops heartbeating."),
  completed_at TIMESTAMP OPTIONS(description="When the entry reached DONE, FAILED or DEAD_LETTER."),
  retry STRUCT<
    attempt INT64 NOT NULL OPTIONS(description="Attempts made so far."),
    max_attempts INT64 OPTIONS(description="Attempts allowed before the entry goes to DEAD_LETTER."),
    backoff_seconds INT64 OPTIONS(description="Delay before the next attempt."),
    next_retry_at TIMESTAMP OPTIONS(description="When the next attempt becomes available."),
    last_error_message STRING OPTIONS(description="Error of the most recent failed attempt.")
  > OPTIONS(description="Retry bookkeeping for the entry."),
  payload JSON OPTIONS(description="Run parameters for the pipeline, e.g. the processing date."),
  updated_at TIMESTAMP OPTIONS(description="When the entry last changed.")
)
PARTITION BY DATE(enqueued_at)
CLUSTER BY status, pipeline_id
OPTIONS(
  description="Scheduler queue: pipeline runs waiting for or claimed by a worker.",
  partition_expiration_days=90
);

CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_scheduled_runs` (
  scheduled_run_id STRING NOT NULL OPTIONS(description="Unique identifier of the schedule (UUID)."),
  tenant_id STRING NOT NULL OPTIONS(description="Tenant that owns the schedule; equals the dataset name."),
  pipeline_id STRING NOT NULL OPTIONS(description="Pipeline the schedule runs."),
  schedule STRUCT<
    cron_expression STRING NOT NULL OPTIONS(description="Cron expression, e.g. 0 2 * * *."),
    timezone STRING OPTIONS(description="IANA time zone the cron expression is read in, e.g. Europe/Berlin."),
    start_date DATE OPTIONS(description="First date the schedule is active."),
    end_date DATE OPTIONS(description="Last date the schedule is active; NULL for open-ended."),
    catchup BOOL OPTIONS(description="Whether missed runs are backfilled after an outage.")
  > NOT NULL OPTIONS(description="When the pipeline runs."),
  is_enabled BOOL NOT NULL OPTIONS(description="Whether the scheduler fires this schedule."),
  author STRING OPTIONS(description="User who created the schedule, as an email address."),
  last_run_id STRING OPTIONS(description="Most recent run started by the schedule."),
  last_run_status STRING OPTIONS(description="Status of the most recent run."),
  last_run_at TIMESTAMP OPTIONS(description="When the most recent run started."),
  next_run_at TIMESTAMP OPTIONS(description="When the scheduler fires next."),
  consecutive_failures INT64 OPTIONS(description="Failed runs in a row; the schedule pauses at 5."),
  total_runs INT64 OPTIONS(description="Runs started by the schedule since it was created."),
  notification_channels ARRAY<STRING> OPTIONS(description="Where failure alerts go, e.g. email addresses or a Pub/Sub topic name."),
  run_parameters JSON OPTIONS(description="Parameters passed to every run the schedule starts."),
  created_at TIMESTAMP NOT NULL OPTIONS(description="When the schedule was created."),
  updated_at TIMESTAMP OPTIONS(description="When the schedule last changed.")
)
CLUSTER BY pipeline_id
OPTIONS(
  description="Scheduler state tracking: one row per pipeline schedule."
);
