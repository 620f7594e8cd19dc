"""Collection at real API latency: a sequential per-object crawl against the auditor's
collection, both behind a proxy that holds every call as long as Google's APIs take.

    python benchmarks/latency.py [--tenants 200 10000] [--latency 0.08] [--jitter 0.02]
                                 [--crawl-sample DATASETS] [--workers 32]
                                 [--faithful-tenants 20] [--skip-faithful]

Local engines answer in a millisecond or two, which hides what a real estate costs. Here
every call goes through tests/support/latencyproxy.py (LATENCY seconds, +- JITTER, seeded),
run in a child process with the other stand-ins, so that their CPU is not counted as ours.

Per size (fast engine, in memory, one engine per size): seed TENANTS tenant datasets x 5
tables (benchmarks/load.py's seeder; not part of the figures); every 10th tenant's first
table gets a table IAM policy, served by a Cloud Asset Inventory stand-in
(tests/support/asset_responder.py; the fast engine itself answers 405 to table IAM). Then,
in this process:

(a) the sequential crawl - datasets.list, then datasets.get, tables.list and tables.get for
    every table, one call at a time, as a plain inventory script does (no table IAM: this
    engine has none). With --crawl-sample N only the first N datasets are crawled after the
    full listing, and the time is extrapolated by dataset count (said in the output);
(b) the auditor's collection end to end: collect() - datasets, access entries, tables,
    table IAM from Cloud Asset Inventory - and collect_iam() - project, folder and
    organization policies, deny policies, custom roles, groups - from the recorded IAM APIs
    (tests/data/recorded/iam), everything behind the same latency.

Printed for each: HTTP calls, wall seconds, CPU seconds of this process (the auditor's own
CPU; every thread), of the engine and of the child process (proxies and stand-ins), the
injected latency summed over calls, the auditor's pacing waits, peak memory (growth of the
resident set over the run), and the ratio crawl/collection. Finally (unless --skip-faithful)
the faithful engine at FAITHFUL_TENANTS (the demo estate's seed): the INFORMATION_SCHEMA fast
path against the per-object API path, calls and seconds, behind the same latency.

The machine's load is printed first: other processes share its cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.local import Engine, engines_dir, start, stop  # noqa: E402
from auditor.local.emulator import ENGINES_DIR_ENV, STATE_DIR_ENV  # noqa: E402

PROJECT = "gac-prod-471220"
TABLES_PER_TENANT = 5
IAM_EVERY = 10  # every 10th tenant's first table has a table IAM policy
RECORDED_IAM = ROOT / "tests" / "data" / "recorded" / "iam"
T = TypeVar("T")


# ----------------------------------------------------------------------------- measuring


def _ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children, from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        this, parent = int(stat.parent.name), int(fields[1])
        if this == pid or parent == pid:
            total += (int(fields[11]) + int(fields[12])) / _ticks()
    return total


def rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Run:
    calls: int
    seconds: float
    cpu: float  # this process
    engine_cpu: float
    stage_cpu: float  # the child process: proxies and stand-ins
    injected: float  # latency held, summed over calls
    peak_mib: float | None  # resident set growth over the run (None: not measurable)
    note: str = ""


class Stage:
    """The child process: latency proxies in front of the engine, the asset stand-in and the
    recorded IAM APIs. Prints their URLs, answers 'report' with counters."""

    def __init__(self, engine: str, tenants: int, latency: float, jitter: float) -> None:
        argv = [sys.executable, __file__, "--serve-stage", engine, "--tenants", str(tenants)]
        argv += ["--latency", str(latency), "--jitter", str(jitter)]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT)
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the stage process did not start")
        self.urls: dict[str, str] = json.loads(line)

    def report(self) -> dict[str, float]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("report\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())  # type: ignore[no-any-return]

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def measured(stage: Stage, engine_pid: int, work: Callable[[], str]) -> Run:
    """Run `work` (returns a note) and measure it; calls are counted at the proxies."""
    before = stage.report()
    engine_before, stage_before = process_cpu(engine_pid), process_cpu(stage.process.pid)
    rss_before, high_before = rss_mib(), max_rss_mib()
    cpu_before, started = time.process_time(), time.perf_counter()
    note = work()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    after = stage.report()
    return Run(
        calls=int(after["requests"] - before["requests"]),
        seconds=seconds,
        cpu=cpu,
        engine_cpu=process_cpu(engine_pid) - engine_before,
        stage_cpu=process_cpu(stage.process.pid) - stage_before,
        injected=after["delayed_seconds"] - before["delayed_seconds"],
        # The high-water mark of this process: a run that stays below an earlier run's peak
        # cannot be measured this way.
        peak_mib=max_rss_mib() - rss_before if max_rss_mib() > high_before else None,
        note=note,
    )


def show(name: str, run: Run, datasets: int) -> None:
    wait = max(0.0, run.seconds - run.cpu)
    if run.peak_mib is None:
        memory = "peak memory not measurable (below an earlier run's high-water mark)"
    else:
        per_dataset = f" ({run.peak_mib * 1024 / datasets:.1f} KiB per dataset)" if datasets else ""
        memory = f"peak memory +{run.peak_mib:.0f} MiB{per_dataset}"
    print(
        f"{name}: {run.calls} calls, {run.seconds:.1f} s wall; auditor CPU {run.cpu:.1f} s, "
        f"engine CPU {run.engine_cpu:.1f} s, proxy/stand-in CPU {run.stage_cpu:.1f} s; "
        f"latency injected {run.injected:.0f} s over all calls; wall minus own CPU "
        f"(waiting) {wait:.1f} s; {memory}" + (f"; {run.note}" if run.note else ""),
        flush=True,
    )


# ----------------------------------------------------------------------------- the stage


def table_policies(tenants: int) -> dict[str, dict[str, Any]]:
    """The generated estate's table IAM policies, by table resource name."""
    from benchmarks.load import dataset_id, table_names

    first = table_names(TABLES_PER_TENANT)[0][0]
    return {
        f"//bigquery.googleapis.com/projects/{PROJECT}/datasets/{dataset_id(i)}/tables/{first}": {
            "version": 3,
            "etag": "BwYAAAAAAAA=",
            "bindings": [
                {
                    "role": "roles/bigquery.dataViewer",
                    "members": [f"serviceAccount:reader-{i}@{PROJECT}.iam.gserviceaccount.com"],
                }
            ],
        }
        for i in range(0, tenants, IAM_EVERY)
    }


def serve_stage(engine: str, tenants: int, latency: float, jitter: float) -> int:
    from tests.support.asset_responder import AssetResponder
    from tests.support.latencyproxy import LatencyProxy
    from tests.support.recorded import RecordedServer

    with contextlib.ExitStack() as stack:
        assets = stack.enter_context(AssetResponder(table_policies(tenants)))
        iam = stack.enter_context(RecordedServer(RECORDED_IAM))
        proxies = {
            name: stack.enter_context(LatencyProxy(upstream, latency, jitter, seed=seed))
            for seed, (name, upstream) in enumerate(
                (("bigquery", engine), ("asset", assets.url), ("iam", iam.url))
            )
        }
        print(json.dumps({name: p.url for name, p in proxies.items()}), flush=True)
        for line in sys.stdin:
            if line.strip() == "report":
                report = {
                    "requests": sum(p.requests for p in proxies.values()),
                    "delayed_seconds": sum(p.delayed_seconds for p in proxies.values()),
                }
                print(json.dumps(report), flush=True)
    return 0


# ----------------------------------------------------------------------------- the runs


@dataclass
class CrawlTimes:
    iam_seconds: float = 0.0  # spent in the tables.getIamPolicy calls
    iam_calls: int = 0


def crawl(endpoint: str, sample: int | None, times: CrawlTimes) -> str:
    """The sequential per-object crawl: datasets.list, then per dataset datasets.get and
    tables.list, per table tables.get and tables.getIamPolicy (this engine answers 405 to
    the latter, after a full round trip through the proxy: what the call costs is timed
    apart, in `times`). With `sample`, only the first `sample` datasets after the full
    listing (the caller extrapolates)."""
    from google.api_core.exceptions import GoogleAPICallError

    from auditor.sources.bigquery import make_client

    client = make_client(PROJECT, endpoint)
    datasets = list(client.list_datasets(max_results=100_000))
    chosen = datasets if sample is None else datasets[:sample]
    tables = 0
    for item in chosen:
        client.get_dataset(item.reference)
        for listed in client.list_tables(item.reference):
            client.get_table(listed.reference)
            tables += 1
            started = time.perf_counter()
            with contextlib.suppress(GoogleAPICallError):
                client.get_iam_policy(listed.reference, retry=None)
            times.iam_seconds += time.perf_counter() - started
            times.iam_calls += 1
    sampled = "" if sample is None else f"; crawled {len(chosen)} of {len(datasets)} datasets"
    return (
        f"{len(chosen)} datasets, {tables} tables{sampled}; of which {times.iam_calls} "
        f"tables.getIamPolicy calls took {times.iam_seconds:.1f} s"
    )


def collection(urls: dict[str, str], workers: int, method_rate: float) -> str:
    from auditor.sources.assets import AssetInventory
    from auditor.sources.bigquery import CollectOptions, collect, make_client
    from auditor.sources.iam import IamEndpoints, collect_iam

    live = collect(
        make_client(PROJECT, urls["bigquery"]),
        PROJECT,
        CollectOptions(workers=workers, method_rate=method_rate),
        AssetInventory(urls["asset"]),
    )
    started = time.perf_counter()
    iam = collect_iam(PROJECT, endpoints=IamEndpoints.local(urls["iam"]))
    iam_seconds = time.perf_counter() - started
    stats = live.stats
    with_iam = sum(1 for t in live.tables if t.iam)
    note = (
        f"BigQuery + table IAM {stats.seconds:.1f} s (calls waited {stats.rate_wait:.0f} s in "
        f"all for their method's turn at {method_rate:g}/s), project IAM {iam_seconds:.1f} s; "
        f"{len(live.datasets)} datasets, {len(live.tables)} tables ({with_iam} with table IAM, "
        f"from {stats.table_iam}), {len(live.gaps)} gaps; project IAM: {len(iam.iam_policies)} "
        f"policies, {len(iam.gaps)} gaps; calls by method {dict(stats.calls)} (+ IAM APIs); "
        f"fast path {stats.fast_path_tables} tables, fallbacks {dict(stats.fallback_kinds)}; "
        f"throttled {stats.throttled}, concurrency {stats.concurrency}"
    )
    return note


def size(tenants: int, args: argparse.Namespace) -> None:
    from benchmarks.load import EstateShape, Seeder

    print(f"== {tenants} tenants x {TABLES_PER_TENANT} tables, fast engine in memory", flush=True)
    with private_engine(Engine.FAST) as (endpoint, engine_pid):
        started = time.perf_counter()
        seeder = Seeder(endpoint, EstateShape(tenants, TABLES_PER_TENANT))
        seeder.run(args.seed_workers)
        print(f"seeded in {time.perf_counter() - started:.0f} s ({seeder.calls} calls)", flush=True)
        stage = Stage(endpoint, tenants, args.latency, args.jitter)
        try:
            sampled = 0 < args.crawl_sample < tenants
            sample = args.crawl_sample if sampled else None
            times = CrawlTimes()
            crawled = measured(
                stage, engine_pid, lambda: crawl(stage.urls["bigquery"], sample, times)
            )
            scale = 1.0
            if sample is not None:  # the per-dataset part scales with the dataset count
                scale = tenants / sample
                crawled = Run(
                    calls=1 + tenants * (2 + 2 * TABLES_PER_TENANT),
                    seconds=crawled.seconds * scale,
                    cpu=crawled.cpu * scale,
                    engine_cpu=crawled.engine_cpu * scale,
                    stage_cpu=crawled.stage_cpu * scale,
                    injected=crawled.injected * scale,
                    peak_mib=crawled.peak_mib,
                    note=f"{crawled.note}; time and CPU extrapolated x{scale:.1f}",
                )
            show("sequential crawl", crawled, tenants)
            collected = measured(
                stage, engine_pid, lambda: collection(stage.urls, args.workers, args.method_rate)
            )
            show("auditor collection", collected, tenants)
            without_iam = crawled.seconds - times.iam_seconds * scale
            print(
                f"ratio crawl/collection: time {crawled.seconds / collected.seconds:.1f}x with "
                f"table IAM in both; {without_iam / collected.seconds:.1f}x against the crawl "
                f"without its getIamPolicy calls ({without_iam:.1f} s); calls "
                f"{crawled.calls / max(collected.calls, 1):.2f}x (the collection also reads "
                "project IAM)",
                flush=True,
            )
        finally:
            stage.close()


def faithful(tenants: int, args: argparse.Namespace) -> None:
    from auditor.demo.seed import SeedOptions, seed
    from auditor.sources.bigquery import CollectOptions, collect, make_client

    print(f"== faithful engine (local-bigquery): demo seed, {tenants} tenants", flush=True)
    with private_engine(Engine.FAITHFUL) as (endpoint, engine_pid):
        seed(make_client(PROJECT, endpoint), SeedOptions(tenants=tenants, rows_per_table=1))
        stage = Stage(endpoint, 0, args.latency, args.jitter)
        try:
            results = {}
            for fast in (False, True):
                options = CollectOptions(
                    workers=args.workers, fast_path=fast, method_rate=args.method_rate
                )

                def work(options: CollectOptions = options) -> str:
                    live = collect(make_client(PROJECT, stage.urls["bigquery"]), PROJECT, options)
                    results[options.fast_path] = live
                    s = live.stats
                    return (
                        f"{len(live.tables)} tables, {s.queries} queries, fast path "
                        f"{s.fast_path_tables} tables, fallbacks {dict(s.fallback_kinds)}, "
                        f"{len(live.gaps)} gaps"
                    )

                show("fast path" if fast else "API path ", measured(stage, engine_pid, work), 0)
            same = (results[True].tables, results[True].datasets) == (
                results[False].tables,
                results[False].datasets,
            )
            print(f"same datasets and tables from both paths: {same}", flush=True)
            for note in results[True].stats.notes:
                print(f"  note: {note}", flush=True)
        finally:
            stage.close()


@contextlib.contextmanager
def private_engine(engine: Engine) -> Iterator[tuple[str, int]]:
    """An engine under a state dir of its own (one someone else started is not touched)."""
    engines = engines_dir()
    saved = {key: os.environ.get(key) for key in (STATE_DIR_ENV, ENGINES_DIR_ENV)}
    with tempfile.TemporaryDirectory(prefix="auditor-latency-") as tmp:
        os.environ[STATE_DIR_ENV], os.environ[ENGINES_DIR_ENV] = tmp, str(engines)
        try:
            extra = {"in_memory": True} if engine is Engine.FAST else {}
            state = start(engine, project=PROJECT, fresh=True, timeout=120, **extra)
            assert state.endpoint is not None and state.pid is not None
            try:
                yield state.endpoint, state.pid
            finally:
                stop(engine)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tenants",
        type=int,
        nargs="*",
        default=[200],
        help="sizes; none: only the faithful engine",
    )
    parser.add_argument("--latency", type=float, default=0.080, help="seconds per call")
    parser.add_argument("--jitter", type=float, default=0.020, help="+- seconds, uniform")
    parser.add_argument("--workers", type=int, default=32, help="the collection's concurrency")
    parser.add_argument(
        "--method-rate",
        type=float,
        default=100.0,
        help="requests per second per API method (BigQuery's documented quota: 100)",
    )
    parser.add_argument("--crawl-sample", type=int, default=0, help="crawl only N datasets")
    parser.add_argument("--seed-workers", type=int, default=8)
    parser.add_argument("--faithful-tenants", type=int, default=20)
    parser.add_argument("--skip-faithful", action="store_true")
    parser.add_argument("--serve-stage", metavar="ENGINE", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_stage:
        return serve_stage(args.serve_stage, args.tenants[0], args.latency, args.jitter)
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} "
        f"{load[2]:.1f}; latency {args.latency * 1000:.0f} ms +- {args.jitter * 1000:.0f} ms; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    for tenants in args.tenants:
        size(tenants, args)
    if not args.skip_faithful:
        faithful(args.faithful_tenants, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
