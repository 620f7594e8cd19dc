SELECT order_id, SUM(amount) AS total FROM shop.orders GROUP BY order_id
