#standardSQL
# Share of pages whose buttons all have an accessible name, per crawl (fixture query)
SELECT
  date,
  client,
  ROUND(AVG(IF(has_names, 1, 0)) * 100, 2) AS percent
FROM `example-project.lighthouse.button_names`
GROUP BY date, client
ORDER BY date DESC, client
