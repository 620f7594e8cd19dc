"""The content scan: pushdown against local sampling, in one run on the fast engine.

    python benchmarks/content.py [--tenants 200] [--rows 1000] [--pushdown-tables N]
                                 [--local-workers 1] [--pushdown-workers 2]
                                 [--tables-per-query 20]
    python benchmarks/content.py --corpus dev|test

With --corpus, the labelled values corpus half (benchmarks/corpora/values.<half>.csv) is
planted one case per cell (benchmarks/corpora/modes.py) and scanned in the local, pushdown
and DLP modes (DLP against the responder of tests/support): precision and recall per mode,
and whether the three modes report the same hits (detector, rows, prefix, fingerprint).
Exit 1 when a mode misses recall or precision >= 0.97 or the modes differ.

Seeds TENANTS demo tenants (5 tables each, ROWS rows per table: 200 tenants is the 1,000
tenant tables x 1,000 rows the brief aims at) on the fast engine, in memory, then scans every
tenant table with the local mode (tabledata.list + Python) and with the pushdown mode
(TABLES_PER_QUERY tables per SQL query, after one dry run per query), both sampling all
ROWS rows, and prints:

- time per mode, tables/s, values/s (non-empty text cells), the hits each found and
  whether they agree;
- the local scanner alone (scan_sample over samples already in memory): values/s and MB/s,
  so sampling (I/O) and scanning (CPU) are told apart;
- pushdown on the first N tables only when --pushdown-tables is given.

On the fast engine pushdown time is mostly the emulator translating each query (sqlglot,
several parses per query), not data: see auditor/content/pushdown.py for the profile and
why the query is built from CTEs with several tables per query.

Local mode runs with one worker by default: bqemulator's tabledata.list mixes up answers
under concurrent calls (the scan then reports malformed answers as coverage gaps).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.content import local  # noqa: E402
from auditor.content.base import (  # noqa: E402
    DEFAULT_TABLES_PER_QUERY,
    ContentMode,
    ContentOptions,
)
from auditor.content.columns import text_columns  # noqa: E402
from auditor.content.scan import ContentResult, scan_contents  # noqa: E402
from auditor.demo.seed import SeedOptions, seed  # noqa: E402
from auditor.demo.specs import tenant_ids  # noqa: E402
from auditor.gcp.calls import Caller  # noqa: E402
from auditor.gcp.retry import RetryPolicy  # noqa: E402
from auditor.local import Engine, start, stop  # noqa: E402
from auditor.model import Table  # noqa: E402
from auditor.sources.bigquery import CollectOptions, collect, make_client  # noqa: E402

PROJECT = "gac-prod-471220"


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) the engine's process has used (Linux /proc): unlike wall
    time, it does not grow when other work shares the machine. 0.0 where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clock:
    """Wall time, this process's CPU time and the engine's CPU time of one step."""

    def __init__(self, engine_pid: int | None) -> None:
        self.pid = engine_pid
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.engine = cpu_seconds(engine_pid)

    def seconds(self) -> float:
        return time.perf_counter() - self.wall

    def cpu_text(self) -> str:
        mine = time.process_time() - self.cpu
        engine = cpu_seconds(self.pid) - self.engine
        return f"CPU: {mine:.1f} s here + {engine:.1f} s in the engine"


def timed(mode: str, run: ContentResult, seconds: float) -> None:
    rate = len(run.scans) / seconds if seconds else 0.0
    rows = sum(s.rows_scanned for s in run.scans)
    print(
        f"{mode:9} {len(run.scans):5} tables, {rows:9,} rows, {seconds:8.1f} s "
        f"({rate:6.2f} tables/s), {len(run.hits)} hits, {len(run.gaps)} gaps"
    )
    for gap in run.gaps[:3]:
        print(f"          gap: {gap.scope.split('/datasets/')[1]}: {gap.reason[:120]}")


def scanner_alone(client: object, tables: list[Table], rows: int) -> int:
    """Sample every table once, then time scan_sample alone over the samples in memory.
    Returns the number of non-empty text values sampled."""
    options = ContentOptions(sample_rows=rows, max_sample_bytes=1 << 30)
    call = Caller(RetryPolicy())
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
    return cells


def corpus_modes(half: str) -> int:
    """Score the three modes on one half of the values corpus; 0 when all hold the bar."""
    from benchmarks.corpora.modes import flagged, plant, run_modes
    from benchmarks.values import CORPORA, load

    rows = load(CORPORA / f"values.{half}.csv")
    print(f"== values corpus, {half} half: {len(rows)} cases, one cell each, on the fast engine")
    state = start(Engine.FAST, project=PROJECT, fresh=True, in_memory=True, timeout=120)
    assert state.endpoint is not None
    try:
        client = make_client(PROJECT, state.endpoint)
        planted = plant(client, PROJECT, "tenant_corpus", [r.value for r in rows])
        started = time.perf_counter()
        results = run_modes(state.endpoint, PROJECT, planted.dataset)
        print(f"three modes scanned {len({t for t, _ in planted.cells})} tables in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    finally:
        stop(Engine.FAST)
    failed = False
    for mode, result in results.items():
        found = flagged(planted, result.hits)
        tp = sum(1 for r, f in zip(rows, found, strict=True) if r.secret and f)
        fp = sum(1 for r, f in zip(rows, found, strict=True) if not r.secret and f)
        fn = sum(1 for r, f in zip(rows, found, strict=True) if r.secret and not f)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(
            f"{mode:9} precision {precision:.2%}  recall {recall:.2%}  "
            f"(TP {tp} FP {fp} FN {fn}), {len(result.hits)} hits, {len(result.gaps)} gaps"
        )
        failed |= precision < 0.97 or recall < 0.97 or bool(result.gaps)
    same = results["local"].hits == results["pushdown"].hits == results["dlp"].hits
    print(f"modes identical (hits, detectors, rows, prefixes, fingerprints): {same}")
    return 1 if failed or not same else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--pushdown-tables", type=int, default=None)
    parser.add_argument("--local-workers", type=int, default=1)
    parser.add_argument("--pushdown-workers", type=int, default=2)
    parser.add_argument("--tables-per-query", type=int, default=DEFAULT_TABLES_PER_QUERY)
    parser.add_argument("--corpus", choices=("dev", "test"), help="score the values corpus")
    args = parser.parse_args()
    if args.corpus:
        sys.exit(corpus_modes(args.corpus))

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
        clock = Clock(state.pid)
        local_run = scan_contents(
            client, tables, ContentOptions(**{**base.__dict__, "workers": args.local_workers})
        )
        local_seconds = clock.seconds()
        timed("local", local_run, local_seconds)
        print(f"          {clock.cpu_text()}")

        chosen = tables[: args.pushdown_tables] if args.pushdown_tables else tables
        pushdown_options = ContentOptions(
            **{
                **base.__dict__,
                "mode": ContentMode.PUSHDOWN,
                "workers": args.pushdown_workers,
                "tables_per_query": args.tables_per_query,
            }
        )
        clock = Clock(state.pid)
        pushdown_run = scan_contents(client, chosen, pushdown_options)
        pushdown_seconds = clock.seconds()
        timed("pushdown", pushdown_run, pushdown_seconds)
        print(f"          {clock.cpu_text()}")

        names = {t.resource for t in chosen}
        local_hits = tuple(h for h in local_run.hits if h.table in names)
        agree = local_hits == pushdown_run.hits
        print(f"hits agree on the {len(chosen)} tables both scanned: {agree}")
        values = scanner_alone(client, tables, args.rows)
        if not args.pushdown_tables:
            print(
                f"{values:,} values: local {values / local_seconds:,.0f} values/s, pushdown "
                f"{values / pushdown_seconds:,.0f} values/s; pushdown/local time "
                f"{pushdown_seconds / local_seconds:.2f}"
            )
    finally:
        stop(Engine.FAST)


if __name__ == "__main__":
    main()
