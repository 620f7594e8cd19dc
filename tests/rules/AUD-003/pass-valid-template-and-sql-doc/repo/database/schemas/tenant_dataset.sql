CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_dq_results` (
  result_id STRING NOT NULL,
  check_name STRING NOT NULL,
  passed BOOL,
  details JSON,
  checked_at TIMESTAMP NOT NULL
);
