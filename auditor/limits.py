"""How much of any input file the loaders accept: one place for every size, depth and count.

Each loader refuses an input over one of these with its own error (an InputError, or a
Problem for loaders that report per file) naming the file and the limit. The limits bound
time and memory on hostile input; the BigQuery ones are BigQuery's own (reference: the
"Schema limits" in shared/reference/gcp-facts.md).
"""

from __future__ import annotations

MIB = 1024 * 1024

# --- JSON (jsonpos: strict, iterative; every JSON loader goes through it) ------------------
MAX_JSON_BYTES = 10 * MIB  # a table template
MAX_JSON_DEPTH = 200  # arrays/objects inside each other

# --- BigQuery's own schema limits ------------------------------------------------------------
MAX_SCHEMA_NESTING = 15  # RECORD / STRUCT levels
# Leaf fields per table: nested leaves count, RECORD columns do not. Google documents 10,000
# columns per table (cloud.google.com/bigquery/quotas, "Table limits"); BigQuery's refusal
# counts leaves ("Too many total leaf fields: 10001, max allowed field count: 10000", quoted
# by snowplow-bigquery-loader PR 376, 2024-04-30), and Mozilla deploys a 9,220-leaf table
# that has 12,004 fields with its RECORDs. Checked 2026-12-07.
MAX_COLUMNS = 10_000
MAX_COLUMN_NAME_LENGTH = 300
MAX_DESCRIPTION_LENGTH = 1024

# --- SQL schema docs --------------------------------------------------------------------------
# sqlglot (pure Python) takes 30-100 us a token and ~2 ms a statement: these keep one doc
# under ~10 s. The platform's docs are 1-15 KB, 3,000 tokens and 10 statements; a CREATE
# TABLE of BigQuery's 10,000 columns is ~30,000 tokens.
MAX_SQL_DOC_BYTES = 1 * MIB
MAX_SQL_TOKENS = 50_000
MAX_SQL_STATEMENTS = 1_000

# --- YAML: policy rules and waivers -----------------------------------------------------------
MAX_YAML_BYTES = 1 * MIB
MAX_YAML_NODES = 100_000  # after expanding aliases: bounds "billion laughs" documents
MAX_YAML_DEPTH = 100
MAX_RULES = 1_000  # rule files in one policy pack
MAX_WAIVERS = 5_000  # entries in one waivers file (a full entry costs 11 YAML nodes)

# --- the config file --------------------------------------------------------------------------
MAX_CONFIG_BYTES = 1 * MIB

# --- saved JSON reports: baselines and `auditor report` ---------------------------------------
MAX_REPORT_BYTES = 512 * MIB  # 100,000 findings take about 100 MB
MAX_REPORT_DEPTH = 64  # a report nests about 8 levels (evidence included)

# --- offline exports, snapshots, remediation plans --------------------------------------------
MAX_EXPORT_BYTES = 64 * MIB
# Loading a snapshot is pure Python: about 2 MB/s and 17 times the file size in memory
# (measured: 24 MB, 5,000 tables and 1,000 datasets, in 12 s and 420 MB).
MAX_SNAPSHOT_BYTES = 512 * MIB
MAX_SNAPSHOT_DEPTH = 256
MAX_PLAN_BYTES = 64 * MIB
MAX_PLAN_DEPTH = 96


def size_text(count: int) -> str:
    """'10 MiB' for whole mebibytes, else '1234 bytes': how error messages name a size."""
    return f"{count // MIB} MiB" if count % MIB == 0 else f"{count} bytes"
