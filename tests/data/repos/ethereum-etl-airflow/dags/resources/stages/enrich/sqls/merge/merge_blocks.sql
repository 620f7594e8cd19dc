MERGE `{{params.destination_dataset_project_id}}.{{params.destination_dataset_name}}.blocks` dest
USING `{{params.source_project_id}}.{{params.dataset_name_temp}}.{{params.source_table}}` source
ON FALSE
WHEN NOT MATCHED AND DATE(timestamp) = '{{ds}}' THEN
INSERT (timestamp, number, hash, parent_hash, miner, gas_used, transaction_count)
VALUES (timestamp, number, hash, parent_hash, miner, gas_used, transaction_count)
WHEN NOT MATCHED BY SOURCE AND DATE(timestamp) = '{{ds}}' THEN
DELETE
