-- Days-seen bit patterns per client, carried forward one day (fixture query)
WITH today AS (
  SELECT client_id, sample_id, 1 AS days_seen_bits
  FROM `moz-fx-data-shared-prod.telemetry_derived.clients_daily_v6`
  WHERE submission_date = @submission_date
),
yesterday AS (
  SELECT client_id, sample_id, days_seen_bits
  FROM `moz-fx-data-shared-prod.telemetry_derived.clients_last_seen_v1`
  WHERE submission_date = DATE_SUB(@submission_date, INTERVAL 1 DAY)
)
SELECT
  @submission_date AS submission_date,
  COALESCE(today.client_id, yesterday.client_id) AS client_id,
  COALESCE(today.sample_id, yesterday.sample_id) AS sample_id,
  (IFNULL(yesterday.days_seen_bits, 0) << 1) | IFNULL(today.days_seen_bits, 0) AS days_seen_bits
FROM today
FULL JOIN yesterday USING (client_id)
