-- Each statement a script ran, with its parent script job, newest first.
CREATE OR REPLACE VIEW `example-project.audit.script_statements` AS
SELECT
  child.parent_job_id AS script_job_id,
  child.job_id,
  child.creation_time,
  child.statement_type,
  child.total_slot_ms,
  child.error_result.reason AS error_reason
FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_PROJECT AS child
WHERE child.parent_job_id IS NOT NULL
ORDER BY child.creation_time DESC;
