-- Views behind the example dashboard (fixture).
CREATE OR REPLACE VIEW `${project_id}.${dataset_id}.order_totals` AS
SELECT order_id, user_id, SUM(sale_price) AS total
FROM `${project_id}.${dataset_id}.order_items`
GROUP BY order_id, user_id;

CREATE OR REPLACE VIEW `${project_id}.${dataset_id}.daily_sales` AS
SELECT DATE(created_at) AS day, SUM(sale_price) AS sales
FROM `${project_id}.${dataset_id}.order_items`
GROUP BY day;
