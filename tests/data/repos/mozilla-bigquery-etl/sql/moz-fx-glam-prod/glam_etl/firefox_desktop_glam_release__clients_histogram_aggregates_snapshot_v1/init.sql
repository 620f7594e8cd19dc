-- A snapshot of the aggregates table (fixture DDL: a clone declares no columns).
CREATE OR REPLACE TABLE `moz-fx-glam-prod.glam_etl.firefox_desktop_glam_release__clients_histogram_aggregates_snapshot_v1` CLONE `moz-fx-glam-prod.glam_etl.firefox_desktop_glam_release__clients_histogram_aggregates_v1`;
