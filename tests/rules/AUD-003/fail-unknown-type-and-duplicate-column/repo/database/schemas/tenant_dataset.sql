CREATE TABLE IF NOT EXISTS `{project_id}.{tenant_id}.x_meta_dq_results` (
  result_id STRING NOT NULL,
  check_name STRING NOT NULL,
  Check_Name STRING,
  passed BOOL
);
