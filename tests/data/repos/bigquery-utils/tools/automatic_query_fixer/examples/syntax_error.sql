SELECT store_id, COUNT(*) AS visits
FROM `example-project.retail.visits
WHERE visit_date >= '2024-01-01' GROUP store_id
