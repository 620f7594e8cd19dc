CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_pipeline_runs` (
  run_id STRING NOT NULL,
  status STRING NOT NULL,
  rows_processed NUMERIC,
  start_time TIMESTAMP NOT NULL,
  worker_hostname STRING
);
