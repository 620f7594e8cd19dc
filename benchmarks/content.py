"""The content scan: pushdown against local sampling, in one run on the fast engine.

    python benchmarks/content.py [--tenants 200] [--rows 1000] [--pushdown-tables N]
                                 [--local-workers 1] [--pushdown-workers 2]

Seeds TENANTS demo tenants (5 tables each, ROWS rows per table: 200 tenants is the 1,000
tenant tables x 1,000 rows the brief aims at) on the fast engine, in memory, then scans every
tenant table with the local mode (tabledata.list + Python) and with the pushdown mode (one
SQL query per table after a dry run), both sampling all ROWS rows, and prints:

- time per mode, tables/s, the hits each found and whether they agree;
- the local scanner alone (scan_sample over samples already in memory): values/s and MB/s,
  so sampling (I/O) and scanning (CPU) are told apart;
- pushdown on the first N tables only when --pushdown-tables is given: the fast engine
  translates every query with sqlglot, about 1.4 s per call and two calls per table (dry run
  and query), so 1,000 tables take ~45 minutes of pushdown alone on two cores.

Local mode runs with one worker by default: bqemulator's tabledata.list mixes up answers
under concurrent calls (the scan then reports malformed answers as coverage gaps).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.content import local  # noqa: E402
from auditor.content.base import ContentMode, ContentOptions  # noqa: E402
from auditor.content.columns import text_columns  # noqa: E402
from auditor.content.scan import ContentResult, scan_contents  # noqa: E402
from auditor.demo.estate import tenant_ids  # noqa: E402
from auditor.demo.seed import SeedOptions, seed  # noqa: E402
from auditor.local import Engine, start, stop  # noqa: E402
from auditor.model import Table  # noqa: E402
from auditor.sources.bigquery import CollectOptions, _Caller, collect, make_client  # noqa: E402

PROJECT = "gac-prod-471220"


def timed(mode: str, run: ContentResult, seconds: float) -> None:
    rate = len(run.scans) / seconds if seconds else 0.0
    rows = sum(s.rows_scanned for s in run.scans)
    print(
        f"{mode:9} {len(run.scans):5} tables, {rows:9,} rows, {seconds:8.1f} s "
        f"({rate:6.2f} tables/s), {len(run.hits)} hits, {len(run.gaps)} gaps"
    )
    for gap in run.gaps[:3]:
        print(f"          gap: {gap.scope.split('/datasets/')[1]}: {gap.reason[:120]}")


def scanner_alone(client: object, tables: list[Table], rows: int) -> None:
    """Sample every table once, then time scan_sample alone over the samples in memory."""
    options = ContentOptions(sample_rows=rows, max_sample_bytes=1 << 30)
    call = _Caller(CollectOptions())
    samples = []
    started = time.perf_counter()
    for table in tables:
        columns = text_columns(table.fields).columns
        samples.append(local.sample_table(client, table, columns, options, call))  # type: ignore[arg-type]
    sampling = time.perf_counter() - started
    cells = sum(1 for s in samples for row in s.rows for cell in row if cell)
    chars = sum(s.bytes_read for s in samples)
    started = time.perf_counter()
    for sample in samples:
        local.scan_sample(sample, options.max_cell_chars)
    scanning = time.perf_counter() - started
    print(
        f"local scanner alone: {cells:,} non-empty values, {chars / 1e6:.1f} MB of text: "
        f"sampling {sampling:.1f} s, scanning {scanning:.1f} s = "
        f"{cells / scanning:,.0f} values/s, {chars / scanning / 1e6:.1f} MB/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--pushdown-tables", type=int, default=None)
    parser.add_argument("--local-workers", type=int, default=1)
    parser.add_argument("--pushdown-workers", type=int, default=2)
    args = parser.parse_args()

    print(f"== fast engine (bqemulator, in memory): {args.tenants} tenants x 5 tables x "
          f"{args.rows} rows")  # fmt: skip
    state = start(Engine.FAST, project=PROJECT, fresh=True, in_memory=True, timeout=120)
    assert state.endpoint is not None
    try:
        client = make_client(PROJECT, state.endpoint)
        started = time.perf_counter()
        summary = seed(
            client,
            SeedOptions(tenants=args.tenants, rows_per_table=args.rows, faithful=False, workers=4),
        )
        print(
            f"seeded {summary.tables} tables, {summary.rows:,} rows "
            f"in {time.perf_counter() - started:.0f} s"
        )
        tenants = set(tenant_ids(args.tenants))
        live = collect(client, PROJECT, CollectOptions(table_iam=False))
        tables = sorted(
            (t for t in live.tables if t.dataset_id in tenants and t.type == "TABLE"),
            key=lambda t: t.resource,
        )
        print(f"collected {len(tables)} tenant tables ({len(live.gaps)} gaps)")

        base = ContentOptions(sample_rows=args.rows, max_sample_bytes=1 << 30)
        started = time.perf_counter()
        local_run = scan_contents(
            client, tables, ContentOptions(**{**base.__dict__, "workers": args.local_workers})
        )
        timed("local", local_run, time.perf_counter() - started)

        chosen = tables[: args.pushdown_tables] if args.pushdown_tables else tables
        pushdown_options = ContentOptions(
            **{**base.__dict__, "mode": ContentMode.PUSHDOWN, "workers": args.pushdown_workers}
        )
        started = time.perf_counter()
        pushdown_run = scan_contents(client, chosen, pushdown_options)
        timed("pushdown", pushdown_run, time.perf_counter() - started)

        names = {t.resource for t in chosen}
        local_hits = tuple(h for h in local_run.hits if h.table in names)
        agree = local_hits == pushdown_run.hits
        print(f"hits agree on the {len(chosen)} tables both scanned: {agree}")
        scanner_alone(client, tables, args.rows)
    finally:
        stop(Engine.FAST)


if __name__ == "__main__":
    main()
