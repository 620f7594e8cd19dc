"""Scan the contents of tables for credential values, in the mode the options choose.

    result = scan_contents(client, tables, ContentOptions(mode=ContentMode.PUSHDOWN))
    result.scans, result.hits, result.gaps

Only base tables (type TABLE) hold rows of their own: views, materialized views, external
tables and snapshots are left to the tables they read (a view over a tenant table is
covered by that table's scan; a view over another dataset is the access rules' business).
The `no-credential-values` check reports them as SKIPPED.

Tables are scanned `options.workers` at a time. Every failure is a CoverageGap naming the
table: a call that failed for good (403, 404, timeouts, retries given up; 429/5xx/lost
connections are retried like the collector's calls), an answer without the expected shape,
a table over the pushdown budget, a name that cannot go into SQL, a column under such a
name. A table with a gap and no scan is an ERROR for the check: it fails closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from google.cloud import bigquery

from auditor.content import dlp, local, pushdown
from auditor.content.base import SCANNED_TYPES, ContentMode, ContentOptions, TableOutcome
from auditor.content.columns import TextColumn, text_columns
from auditor.content.local import Fetch
from auditor.detect.values import redact_secrets
from auditor.gcp import retry
from auditor.gcp.calls import Caller, CallFailed
from auditor.gcp.wording import ServerText
from auditor.model import ContentScan, CoverageGap, Table, ValueHit

__all__ = [
    "ContentMode",
    "ContentOptions",
    "ContentResult",
    "TableScanner",
    "content_caller",
    "scan_contents",
]


class TableScanner(Protocol):
    """One mode's scan of one table: its text columns, with retried calls. Raises on
    failure (scan_contents turns that into a gap), or returns gaps of its own."""

    def __call__(
        self,
        client: bigquery.Client,
        table: Table,
        columns: Sequence[TextColumn],
        options: ContentOptions,
        call: Fetch,
    ) -> TableOutcome: ...


@dataclass(frozen=True)
class ContentResult:
    scans: tuple[ContentScan, ...]  # by table
    hits: tuple[ValueHit, ...]  # by table, column, detector
    gaps: tuple[CoverageGap, ...]  # by table, reason


def scanner_for(mode: ContentMode) -> TableScanner | None:
    """The per-table scanner of a mode; None for OFF and for PUSHDOWN, which scans tables
    several per query (`pushdown.scan_tables`). UsageError for a mode not available here."""
    if mode is ContentMode.LOCAL:
        return local.scan_table
    if mode is ContentMode.DLP:
        return dlp.scan_table
    return None


def scan_contents(
    client: bigquery.Client, tables: Sequence[Table], options: ContentOptions
) -> ContentResult:
    """Scan the base tables among `tables`. Raises only UsageError, before any request."""
    options.check()
    scanner = scanner_for(options.mode)
    if options.mode is ContentMode.OFF:
        return ContentResult((), (), ())
    call = content_caller(options)
    chosen = sorted((t for t in tables if t.type in SCANNED_TYPES), key=lambda t: t.resource)
    if scanner is None:
        outcomes = _scan_pushdown(client, chosen, options, call)
    else:

        def one(table: Table) -> TableOutcome:
            return _scan_one(scanner, client, table, options, call)

        with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="content") as pool:
            outcomes = list(pool.map(one, chosen))
    return ContentResult(
        scans=tuple(o.scan for o in outcomes if o.scan is not None),
        hits=tuple(sorted((h for o in outcomes for h in o.hits), key=_hit_order)),
        gaps=tuple(sorted({g for o in outcomes for g in o.gaps}, key=_gap_order)),
    )


def content_caller(options: ContentOptions) -> Caller:
    """The caller of a content scan: BigQuery's retry limits with the options' attempts,
    backoff and timeout; its errors' text withheld (it may quote the contents read)."""
    policy = replace(
        retry.BIGQUERY, attempts=options.attempts, initial=options.backoff, timeout=options.timeout
    )
    return Caller(policy, server_text=ServerText.WITHHELD, scrub=redact_secrets)


def _columns(table: Table) -> tuple[tuple[TextColumn, ...], tuple[CoverageGap, ...]]:
    """The text columns of `table` that can be scanned, and a gap naming those that cannot."""
    found = text_columns(table.fields)
    if not found.unsafe:
        return tuple(found.columns), ()
    reason = "contents of columns not scanned, their names are not plain identifiers: "
    return tuple(found.columns), (CoverageGap(table.resource, reason + ", ".join(found.unsafe)),)


def _scan_one(
    scanner: TableScanner,
    client: bigquery.Client,
    table: Table,
    options: ContentOptions,
    call: Caller,
) -> TableOutcome:
    columns, gaps = _columns(table)
    if not columns:
        scan = ContentScan(table.resource, options.mode.value, 0, ())
        return TableOutcome(scan, (), gaps)
    try:
        outcome = scanner(client, table, columns, options, call)
    except CallFailed as failed:
        reason = failed.reason
    except Exception as exc:  # every failure becomes a gap naming the table, never an escape
        reason = call.describe(exc)
    else:
        return TableOutcome(outcome.scan, outcome.hits, gaps + outcome.gaps)
    gap = CoverageGap(table.resource, f"contents not scanned ({options.mode.value}): {reason}")
    return TableOutcome(None, (), (*gaps, gap))


def _scan_pushdown(
    client: bigquery.Client, tables: Sequence[Table], options: ContentOptions, call: Fetch
) -> list[TableOutcome]:
    """Every table with text columns goes to `pushdown.scan_tables`, which batches them."""
    found = [_columns(table) for table in tables]
    pairs = zip(tables, found, strict=True)
    targets = [pushdown.ScanTarget(table, columns) for table, (columns, _) in pairs if columns]
    scanned = iter(pushdown.scan_tables(client, targets, options, call))
    outcomes = []
    for table, (columns, gaps) in zip(tables, found, strict=True):
        if not columns:
            scan = ContentScan(table.resource, options.mode.value, 0, ())
            outcomes.append(TableOutcome(scan, (), gaps))
            continue
        outcome = next(scanned)
        outcomes.append(TableOutcome(outcome.scan, outcome.hits, gaps + outcome.gaps))
    return outcomes


def _gap_order(gap: CoverageGap) -> tuple[str, str]:
    return gap.scope, gap.reason


def _hit_order(hit: ValueHit) -> tuple[str, str, str]:
    return hit.table, hit.column, hit.detector
