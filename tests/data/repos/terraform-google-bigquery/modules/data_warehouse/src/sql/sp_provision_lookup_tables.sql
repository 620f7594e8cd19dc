-- Lookup tables the warehouse example queries join on (fixture DDL; ${...} are Terraform
-- template variables).

CREATE OR REPLACE TABLE `${project_id}.${dataset_id}.regions`
    (
        id INTEGER,
        name STRING,
        centroid GEOGRAPHY
    )
  OPTIONS(
      labels=[("data-warehouse","true")]
  )
AS
SELECT 1, 'North', ST_GEOGPOINT(-90.0, 45.0)
UNION ALL
SELECT 2, 'South', ST_GEOGPOINT(-90.0, 30.0);
