CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_pipeline_runs` (
  run_id STRING NOT NULL,
  status STRING NOT NULL,
  rows_processed INT64,
  error_message STRING,
  start_time TIMESTAMP NOT NULL
);
