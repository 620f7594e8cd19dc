CREATE SCHEMA IF NOT EXISTS ethereum;

DROP TABLE IF EXISTS ethereum.token_transfers;

CREATE TABLE ethereum.token_transfers (
  block_number      BIGINT          NOT NULL,
  token_address     VARCHAR(42)     NOT NULL,
  from_address      VARCHAR(42)     NOT NULL,
  to_address        VARCHAR(42)     NOT NULL,
  value             NUMERIC(38, 0)  NOT NULL,
  transaction_hash  VARCHAR(66)     NOT NULL,
  log_index         BIGINT          NOT NULL,
  is_mint           BOOLEAN,
  PRIMARY KEY (transaction_hash, log_index)
)
DISTKEY (block_number)
SORTKEY (block_number);
