SELECT
    address,
    symbol,
    name,
    decimals,
    total_supply,
    block_number
FROM {{params.dataset_name_raw}}.tokens
WHERE block_number <= {{params.max_block}}
