-- Each organization's hierarchy, one row per entity, refreshed by BigQuery.
CREATE MATERIALIZED VIEW IF NOT EXISTS `{project_id}.{org_slug}_prod.x_org_hierarchy`
CLUSTER BY entity_id
AS
SELECT
  entity_id,
  entity_name,
  level_code,
  parent_id,
  path_ids
FROM `{project_id}.organizations.org_hierarchy`
WHERE org_slug = '{org_slug}' AND end_date IS NULL;
