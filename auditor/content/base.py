"""What every content-scan mode shares: its options, the outcome of one table, the scope.

Light on purpose (no Google client imports): the policy check and the CLI read it too.

The options come from three places, the first that says something wins: the command line
(`--content-scan`, `--sample-rows`, `--max-bytes-billed`), the params of the policy rule
whose check kind is `no-credential-values` (AUD-014: `mode`, `sample_rows`, `max_bytes`),
and the defaults here. Reading a rule is the policy layer's job
(auditor.policy.checks.content.content_options): the scan is handed plain options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from auditor.detect.values import DEFAULT_MAX_CHARS
from auditor.errors import UsageError
from auditor.model import ContentScan, CoverageGap, ValueHit

# Which live datasets are scanned: the tenant datasets, by their classification label.
TENANT_LABELS: Mapping[str, str] = {"dataset_role": "tenant"}
# Which tables hold rows of their own: views, materialized views, external tables and
# snapshots are left to the tables they read.
SCANNED_TYPES = frozenset({"TABLE"})

DEFAULT_SAMPLE_ROWS = 200  # modest: the scan is on by default
MAX_SAMPLE_ROWS = 100_000
DEFAULT_MAX_SAMPLE_BYTES = 4 * 1024 * 1024  # local: text read per table
DEFAULT_MAX_BYTES_BILLED = 1024**3  # pushdown: bytes billed per table query
DEFAULT_WORKERS = 4
# Pushdown: tables scanned by one query. The detector part of the query is shared, so a
# table adds only its sample and its cells: fewer, larger queries (and jobs) than one per
# table, each still within max_bytes_billed and the query-length limit.
DEFAULT_TABLES_PER_QUERY = 20


class ContentMode(StrEnum):
    """How table contents are scanned."""

    LOCAL = "local"  # sample rows through tabledata.list, scan them in Python
    PUSHDOWN = "pushdown"  # the catalog compiled to one BigQuery query per table
    DLP = "dlp"  # Google's DLP inspection service (auditor/content/dlp.py)
    OFF = "off"  # no scan: the no-credential-values rule then reports ERROR per table


@dataclass(frozen=True)
class ContentOptions:
    mode: ContentMode = ContentMode.LOCAL
    sample_rows: int = DEFAULT_SAMPLE_ROWS  # rows per table, both modes
    # Local mode: stop sampling a table once its text cells reach this many bytes (UTF-8).
    max_sample_bytes: int = DEFAULT_MAX_SAMPLE_BYTES
    # Pushdown mode: a table whose dry run estimates more is a coverage gap; the query runs
    # with maximum_bytes_billed set to it, so BigQuery refuses to bill more.
    max_bytes_billed: int = DEFAULT_MAX_BYTES_BILLED
    # Characters of each cell that are examined (scan_value's max_chars; SUBSTR in SQL).
    max_cell_chars: int = DEFAULT_MAX_CHARS
    workers: int = DEFAULT_WORKERS  # tables (pushdown: queries) scanned at once
    tables_per_query: int = DEFAULT_TABLES_PER_QUERY  # pushdown only
    # DLP mode: the API's base URL (None: Google's, with Application Default Credentials)
    # and the processing location.
    dlp_endpoint: str | None = None
    dlp_location: str = "global"
    timeout: float = 60.0  # per HTTP call; a query may wait QUERY_WAIT_FACTOR times longer
    attempts: int = 4  # tries per call (429, 5xx and lost connections are retried)
    backoff: float = 0.5

    def check(self) -> None:
        """UsageError when an option is out of range (before any request)."""
        if not 1 <= self.sample_rows <= MAX_SAMPLE_ROWS:
            raise UsageError(f"sample rows must be between 1 and {MAX_SAMPLE_ROWS}")
        if self.max_sample_bytes < 1 or self.max_bytes_billed < 1 or self.max_cell_chars < 1:
            raise UsageError("byte and character budgets must be at least 1")
        if self.workers < 1 or self.attempts < 1 or self.tables_per_query < 1:
            raise UsageError("content scan workers, attempts, tables per query must be >= 1")
        if not self.timeout > 0 or self.backoff < 0:
            raise UsageError("timeout must be positive and backoff not negative")


@dataclass(frozen=True)
class TableOutcome:
    """What scanning one table gave: the scan (None when it failed), its hits, its gaps."""

    scan: ContentScan | None
    hits: tuple[ValueHit, ...] = ()
    gaps: tuple[CoverageGap, ...] = ()
