#standardSQL
# Distribution of CSS bytes per page, in 100 KB bins (fixture query)
SELECT
  bin,
  COUNT(0) AS pages,
  SUM(COUNT(0)) OVER (ORDER BY bin) / SUM(COUNT(0)) OVER () AS cdf
FROM (
  SELECT CAST(FLOOR(bytesCss / 102400) * 100 AS INT64) AS bin
  FROM `httparchive.summary_pages.2024_01_01_desktop`
)
GROUP BY bin
ORDER BY bin
