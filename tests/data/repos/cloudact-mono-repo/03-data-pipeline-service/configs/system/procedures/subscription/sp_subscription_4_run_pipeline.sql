-- Runs the subscription cost steps for one organization and day.
CREATE OR REPLACE PROCEDURE `{project_id}.organizations`.sp_subscription_4_run_pipeline(
  p_org_slug STRING,
  p_run_date DATE
)
BEGIN
  DECLARE v_dataset STRING DEFAULT CONCAT(p_org_slug, '_prod');
  DECLARE v_rows INT64 DEFAULT 0;

  ASSERT p_org_slug IS NOT NULL AS 'p_org_slug is required';
  ASSERT p_run_date <= CURRENT_DATE() AS 'p_run_date is in the future';

  CALL `{project_id}.organizations`.sp_subscription_2_daily_costs(p_org_slug, p_run_date);
  CALL `{project_id}.organizations`.sp_subscription_3_focus_costs(p_org_slug, p_run_date);

  SET v_rows = @@row_count;
  SELECT v_dataset AS dataset, v_rows AS rows_written;
END;
