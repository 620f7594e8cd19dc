{{ header }}
CREATE TABLE IF NOT EXISTS
  `{{ project }}.glam_etl.{{ prefix }}__clients_histogram_aggregates_v1`(
    sample_id INT64,
    client_id STRING,
    app_version INT64,
    channel STRING,
    histograms ARRAY<STRUCT<metric STRING, key STRING, value ARRAY<STRUCT<key STRING, value INT64>>>>
  )
PARTITION BY
  RANGE_BUCKET(sample_id, GENERATE_ARRAY(0, 100, 1))
CLUSTER BY
  app_version,
  channel
