-- Dataset: {tenant_id} (one per customer). Operational logs only, ZERO credentials.
CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_pipeline_runs` (
  run_id STRING NOT NULL OPTIONS(description="Unique identifier of the pipeline run (UUID)."),
  status STRING NOT NULL OPTIONS(description="Run state: PENDING, RUNNING, SUCCEEDED, FAILED or CANCELLED."),
  error_message STRING OPTIONS(description="Error summary when the run failed; NULL otherwise."),
  start_time TIMESTAMP NOT NULL OPTIONS(description="When the run started executing.")
);
