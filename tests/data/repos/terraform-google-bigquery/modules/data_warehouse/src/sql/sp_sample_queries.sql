-- Example queries (fixture).
SELECT status, COUNT(*) AS orders
FROM `${project_id}.${dataset_id}.orders`
GROUP BY status;

WITH monthly AS (
  SELECT DATE_TRUNC(DATE(created_at), MONTH) AS month, SUM(sale_price) AS sales
  FROM `${project_id}.${dataset_id}.order_items`
  GROUP BY month
)
SELECT month, sales, sales - LAG(sales) OVER (ORDER BY month) AS change
FROM monthly;

EXECUTE IMMEDIATE "SELECT COUNT(*) FROM `${project_id}.${dataset_id}.users`";
