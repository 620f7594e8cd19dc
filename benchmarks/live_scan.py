"""Collection of a live estate: the auditor's collector against a plain per-table crawl.

    python benchmarks/live_scan.py [--tenants 1000] [--faithful-tenants 20] [--skip-fast]

Part 1 (fast engine, in memory): seed TENANTS tenant datasets x 5 tables, then in one process
time (a) a plain crawl - list_datasets, get_dataset, list_tables and get_table for every
table - and (b) the auditor's collect(), counting HTTP calls and peak Python memory of each.
Part 2 (faithful engine): the INFORMATION_SCHEMA fast path against the per-object API path at
a size that engine still handles (it scans its whole catalog on every lookup).
The figures are ratios against the plain crawl run in the same process.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from google.api_core.exceptions import GoogleAPIError  # noqa: E402
from google.cloud import bigquery  # noqa: E402

from auditor.demo.seed import SeedOptions, seed  # noqa: E402
from auditor.local import Engine, start, stop  # noqa: E402
from auditor.sources import infoschema  # noqa: E402
from auditor.sources.bigquery import CollectOptions, collect, make_client  # noqa: E402

PROJECT = "gac-prod-471220"
T = TypeVar("T")


class CallCounter:
    """Counts the HTTP requests a client sends (the plain crawl has no counter of its own)."""

    def __init__(self, client: bigquery.Client) -> None:
        self.count = 0
        session = client._http
        original = session.request

        def counted(*args: object, **kwargs: object) -> object:
            self.count += 1
            return original(*args, **kwargs)

        session.request = counted


def measured(work: Callable[[], T]) -> tuple[T, float, float]:
    """Result, seconds, peak traced Python memory in MiB."""
    tracemalloc.start()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / (1024 * 1024)


def plain_crawl(client: bigquery.Client) -> int:
    tables = 0
    for item in client.list_datasets():
        client.get_dataset(item.reference)
        for listed in client.list_tables(item.reference):
            client.get_table(listed.reference)
            tables += 1
    return tables


def fast_engine(tenants: int) -> None:
    print(f"== fast engine (bqemulator, in memory): {tenants} tenants x 5 tables")
    state = start(Engine.FAST, project=PROJECT, fresh=True, in_memory=True, timeout=120)
    assert state.endpoint is not None
    try:
        started = time.perf_counter()
        summary = seed(
            make_client(PROJECT, state.endpoint),
            SeedOptions(tenants=tenants, rows_per_table=1, faithful=False, workers=8),
        )
        print(
            f"seeded {len(summary.datasets)} datasets, {summary.tables} tables "
            f"in {time.perf_counter() - started:.0f} s"
        )

        crawl_client = make_client(PROJECT, state.endpoint)
        counter = CallCounter(crawl_client)
        tables, crawl_s, crawl_mem = measured(lambda: plain_crawl(crawl_client))
        print(
            f"plain crawl:  {tables} tables, {counter.count} calls, {crawl_s:.1f} s, "
            f"peak {crawl_mem:.0f} MiB"
        )

        options = CollectOptions(table_iam=False)  # the fast engine answers 405 to table IAM
        live, collect_s, collect_mem = measured(
            lambda: collect(make_client(PROJECT, state.endpoint), PROJECT, options)
        )
        stats = live.stats
        print(
            f"auditor collect: {len(live.tables)} tables, {stats.api_calls} calls "
            f"({stats.queries} queries, {stats.fallbacks} fallbacks {dict(stats.fallback_kinds)}), "
            f"{collect_s:.1f} s, "
            f"peak {collect_mem:.0f} MiB, {len(live.gaps)} gaps"
        )
        for note in stats.notes:
            print(f"  note: {note}")
        print(
            f"ratio collect/crawl: time {collect_s / crawl_s:.2f}x, "
            f"calls {stats.api_calls / counter.count:.2f}x, memory {collect_mem / crawl_mem:.2f}x"
        )
    finally:
        stop(Engine.FAST)


def faithful_engine(tenants: int) -> None:
    print(f"== faithful engine (local-bigquery): {tenants} tenants x 5 tables")
    state = start(Engine.FAITHFUL, project=PROJECT, fresh=True, timeout=120)
    assert state.endpoint is not None
    try:
        seed(make_client(PROJECT, state.endpoint), SeedOptions(tenants=tenants, rows_per_table=1))
        results = {}
        for fast in (False, True):
            # local-bigquery's COLUMN_FIELD_PATHS has no policy_tags column (read again
            # without it) and its *_OPTIONS leave KMS keys out: the run's notes say what that
            # costs. benchmarks/latency.py measures the same behind API latency.
            options = CollectOptions(fast_path=fast)
            live, seconds, _ = measured(
                lambda o=options: collect(make_client(PROJECT, state.endpoint), PROJECT, o)
            )  # type: ignore[misc]
            results[fast] = (live, seconds)
            print(
                f"{'fast path' if fast else 'API path '}: {len(live.tables)} tables, "
                f"{live.stats.api_calls} calls, {live.stats.queries} INFORMATION_SCHEMA queries, "
                f"{live.stats.fallbacks} fallbacks, {seconds:.1f} s, {len(live.gaps)} gaps"
            )
        same = (
            results[True][0].tables == results[False][0].tables
            and results[True][0].datasets == results[False][0].datasets
        )
        print(
            f"same inventory from both paths: {same}; "
            f"ratio fast/API time {results[True][1] / results[False][1]:.2f}x"
        )
        for note in results[True][0].stats.notes:
            print(f"  note: {note}")
        region_only(state.endpoint)
    finally:
        stop(Engine.FAITHFUL)


def region_only(endpoint: str) -> None:
    """The region-wide INFORMATION_SCHEMA reads alone: what the fast path costs where the engine
    answers them (the collector still cross-checks them against the API and falls back where
    this engine's views leave out KMS keys and policy tags)."""
    client = make_client(PROJECT, endpoint)

    def run_query(sql: str) -> infoschema.QueryAnswer:
        try:
            rows = client.query_and_wait(sql)
        except GoogleAPIError as exc:
            raise infoschema.QueryFailed(str(exc)[:200]) from exc
        columns = tuple(f.name for f in rows.schema or ())
        return infoschema.QueryAnswer(columns, tuple(dict(row.items()) for row in rows))

    datasets = frozenset(d.dataset_id for d in client.list_datasets())
    region, seconds, _ = measured(
        lambda: infoschema.read_region(run_query, PROJECT, "us", datasets)
    )
    print(
        f"region-wide INFORMATION_SCHEMA alone: {region.queries} queries, {seconds:.1f} s, "
        f"{len(region.tables)} tables rebuilt, {len(region.rejected)} rejected"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--faithful-tenants", type=int, default=20)
    parser.add_argument("--skip-fast", action="store_true")
    parser.add_argument("--skip-faithful", action="store_true")
    args = parser.parse_args()
    if not args.skip_fast:
        fast_engine(args.tenants)
    if not args.skip_faithful:
        faithful_engine(args.faithful_tenants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
