"""Load: `auditor scan --endpoint` over thousands of tenant datasets, without and with faults.

    python benchmarks/load.py [--datasets 10000] [--tables 1] [--fault-rate 0.005] [--seed 7]
                              [--stall-seconds 40] [--broken REGEX] [--workers 1]
                              [--seed-workers 8] [--keep DIR]

Starts the fast engine (bqemulator) in memory under a state dir of its own, seeds DATASETS
tenant datasets with TABLES tables each from the shipped tenant templates through the REST
API (a thread pool; timed on its own), then in this process runs the scan twice as the CLI
does (`auditor scan --endpoint PROXY --iam-exports examples/demo-iam --no-table-iam
--workers 1 -f json`), each time through a fault proxy (tests/support/faultproxy.py) in a
child process, so that the proxy's threads and request log are not counted as the scan's:

1. fault-free: the baseline;
2. with `proxy.chaos(rate=FAULT_RATE, seed=SEED)`: each request faulted with that
   probability (429, 500, 503, a stalled answer, a TCP reset, a truncated or malformed
   body), and optionally every GET matching --broken answered 503 (a gap on purpose).

It prints the estate size, seed time, each scan's wall time and the ratio faulted/fault-free,
peak traced Python memory (tracemalloc, which also slows both scans alike) and max RSS, HTTP
calls counted at the proxy, faults injected per kind, coverage gaps, and whether the faulted
scan's findings equal the fault-free scan's or differ only in objects its coverage gaps name
(the contract: a fault may cost coverage, never a silent pass). Exit 0 when that holds.

A "timeout" fault holds its request for --stall-seconds: past the client's 30 s that is a
real client timeout (30 s lost each, one call at a time), below it a hang-up without an
answer. One worker: bqemulator mixes up concurrent tabledata.list answers. The engine ignores
paging in datasets.list (at most maxResults datasets, no page token); the collector asks for
10,000 per page and reports a listing cut short as a coverage gap.

Planted (so the findings are not only the engine's): every 100th dataset (i % 100 == 7) has
a credential column, every 100th (i % 100 == 42) a fake API key in a logged error message,
every 1000th (i % 1000 == 999) no tenant label. The fast engine drops CMEK settings, so every
dataset and table also fails the CMEK rules, and with one table per dataset the drift rule
reports the four other tenant tables missing.
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
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.demo.plants import CONTENT_SECRET_PLANTS, SetCell  # noqa: E402
from auditor.local import Engine, engines_dir, start, stop  # noqa: E402
from auditor.local.emulator import ENGINES_DIR_ENV, STATE_DIR_ENV  # noqa: E402
from auditor.resources import PROJECT_DIR, SCHEMAS_DIR  # noqa: E402

PROJECT = "gac-prod-471220"
DEMO_IAM = PROJECT_DIR / "examples" / "demo-iam"
# The table whose error_message gets the planted secret comes first: one table is enough.
TEMPLATE_ORDER = (
    "x_meta_step_logs",
    "x_meta_pipeline_runs",
    "x_meta_dq_results",
    "x_meta_pipeline_queue",
    "x_meta_scheduled_runs",
)
CREDENTIAL_EVERY, CREDENTIAL_AT = 100, 7
SECRET_EVERY, SECRET_AT = 100, 42
UNLABELLED_EVERY, UNLABELLED_AT = 1000, 999


def _planted_secret() -> str:
    """The demo estate's fake Google API key in a logged URL (a value the catalog finds)."""
    change = CONTENT_SECRET_PLANTS[0].change
    assert isinstance(change, SetCell)
    return change.value


PLANTED_SECRET = _planted_secret()
# A faulted request may be a stalled one: the proxy holds it longer than the client waits.
STALL_SECONDS = 40.0

Finding = tuple[str, str, str, str | None, str | None]  # rule, status, resource, column, principal


# ----------------------------------------------------------------------------- the estate


@dataclass(frozen=True)
class EstateShape:
    datasets: int
    tables: int  # per dataset


def dataset_id(index: int) -> str:
    return f"tenant_{index:05d}"


def table_names(tables: int) -> list[tuple[str, str]]:
    """(table id, template) for one dataset: the templates in turn, numbered past the first."""
    names = []
    for k in range(tables):
        template = TEMPLATE_ORDER[k % len(TEMPLATE_ORDER)]
        round_ = k // len(TEMPLATE_ORDER)
        names.append((template if round_ == 0 else f"{template}_{round_}", template))
    return names


def load_templates() -> dict[str, list[dict[str, Any]]]:
    return {
        name: json.loads((SCHEMAS_DIR / "tenant" / f"{name}.json").read_text(encoding="utf-8"))
        for name in TEMPLATE_ORDER
    }


def required_row(fields: Sequence[Mapping[str, Any]], **values: str) -> dict[str, Any]:
    """A row with a plain value in every REQUIRED field, plus `values`."""
    plain = {"STRING": "x", "TIMESTAMP": "2025-11-17T06:00:00Z", "INTEGER": 0, "BOOLEAN": False}
    row: dict[str, Any] = {}
    for f in fields:
        if f.get("mode") != "REQUIRED":
            continue
        if f["type"] == "RECORD":
            row[f["name"]] = required_row(f["fields"])
        else:
            row[f["name"]] = plain[f["type"]]
    row.update(values)
    return row


class Seeder:
    """Creates the estate through the REST API, one dataset per task, one session per thread."""

    def __init__(self, endpoint: str, shape: EstateShape) -> None:
        self.base = f"{endpoint}/bigquery/v2/projects/{PROJECT}"
        self.shape = shape
        self.templates = load_templates()
        self.local = threading.local()
        self.calls = 0
        self._lock = threading.Lock()

    def _post(self, path: str, body: Mapping[str, Any]) -> None:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        with self._lock:
            self.calls += 1
        answer = session.post(f"{self.base}{path}", json=body, timeout=120)
        if answer.status_code >= 300:
            raise RuntimeError(f"seed: POST {path} answered {answer.status_code}")
        errors = answer.json().get("insertErrors")
        if errors:
            raise RuntimeError(f"seed: POST {path} rejected rows: {str(errors)[:200]}")

    def dataset(self, index: int) -> None:
        name = dataset_id(index)
        body: dict[str, Any] = {
            "datasetReference": {"projectId": PROJECT, "datasetId": name},
            "location": "US",
        }
        if index % UNLABELLED_EVERY != UNLABELLED_AT:
            body["labels"] = {"dataset_role": "tenant"}
        self._post("/datasets", body)
        for position, (table, template) in enumerate(table_names(self.shape.tables)):
            fields = list(self.templates[template])
            if position == 0 and index % CREDENTIAL_EVERY == CREDENTIAL_AT:
                fields.append({"name": "api_token", "type": "STRING", "mode": "NULLABLE"})
            reference = {"projectId": PROJECT, "datasetId": name, "tableId": table}
            self._post(
                f"/datasets/{name}/tables",
                {"tableReference": reference, "schema": {"fields": fields}},
            )
            if position == 0 and index % SECRET_EVERY == SECRET_AT:
                row = required_row(fields, error_message=PLANTED_SECRET)
                self._post(
                    f"/datasets/{name}/tables/{table}/insertAll",
                    {"rows": [{"insertId": "planted", "json": row}]},
                )

    def run(self, workers: int) -> None:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load-seed") as pool:
            for done in pool.map(self.dataset, range(self.shape.datasets)):
                del done  # map re-raises the first failure here


# ----------------------------------------------------------------------------- the proxy


@dataclass(frozen=True)
class Faults:
    rate: float  # of chaos: each request faulted with this probability
    seed: int
    stall_seconds: float = STALL_SECONDS
    # GET requests whose path matches this regex always get a 503: an object that stays
    # unreadable whatever the retries (a coverage gap on purpose). None: no such object.
    broken: str | None = None

    def argv(self) -> list[str]:
        argv = ["--fault-rate", str(self.rate), "--seed", str(self.seed)]
        argv += ["--stall-seconds", str(self.stall_seconds)]
        return argv + (["--broken", self.broken] if self.broken else [])


def serve_proxy(upstream: str, faults: Faults) -> int:
    """Child process: a FaultProxy in front of `upstream`; prints its URL, then answers
    'report' on stdin with one JSON line (requests, faults), and stops at end of input."""
    from tests.support.faultproxy import FaultProxy

    with FaultProxy(upstream) as proxy:
        proxy.stall_seconds = faults.stall_seconds
        if faults.broken is not None:
            proxy.inject("GET", faults.broken, "503")
        if faults.rate > 0:
            proxy.chaos(rate=faults.rate, seed=faults.seed)
        print(proxy.url, flush=True)
        for line in sys.stdin:
            if line.strip() == "report":
                faulted = proxy.faulted
                print(json.dumps({"requests": proxy.requests, "faulted": faulted}), flush=True)
    return 0


class ProxyProcess:
    """The fault proxy in a child process (its threads and logs stay out of our figures)."""

    def __init__(self, upstream: str, faults: Faults) -> None:
        argv = [sys.executable, __file__, "--serve-proxy", upstream, *faults.argv()]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT)
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError("the fault proxy did not start")

    def report(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("report\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ----------------------------------------------------------------------------- the scan


@dataclass(frozen=True)
class ScanRun:
    exit_code: int
    findings: frozenset[Finding]
    gaps: tuple[str, ...]  # coverage gap scopes
    reasons: tuple[str, ...]  # "scope: reason" of every gap
    seconds: float
    peak_mib: float  # traced Python memory
    max_rss_mib: float  # of the process so far
    requests: int  # counted at the proxy
    faults: Counter[str]


def scan_args(endpoint: str, workers: int, output: Path) -> list[str]:
    """`auditor scan` as the nightly job would run it against this engine."""
    return [
        "scan",
        "--endpoint",
        endpoint,
        "--iam-exports",
        str(DEMO_IAM),
        "--no-table-iam",  # bqemulator answers 405 to tables.getIamPolicy
        "--workers",
        str(workers),
        "-f",
        "json",
        "-o",
        str(output),
    ]


def warm_up() -> None:
    """Import what a scan imports, so that neither scan's figures include imports."""
    import auditor.cli
    import auditor.collect
    import auditor.content.scan  # noqa: F401


def run_cli(args: Sequence[str]) -> int:
    """The CLI in this process; its exit code."""
    from auditor.cli import main as auditor_main  # slow to import: not in the proxy process

    try:
        auditor_main.main(args=list(args), prog_name="auditor", standalone_mode=False)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def findings_of(report: Mapping[str, Any]) -> frozenset[Finding]:
    return frozenset(
        (f["rule_id"], f["status"], f["resource"], f.get("column"), f.get("principal"))
        for f in report["findings"]
        if f["status"] != "PASS"
    )


def measured_scan(proxy: ProxyProcess, workers: int, folder: Path, name: str) -> ScanRun:
    output = folder / f"{name}.json"
    tracemalloc.start()
    started = time.perf_counter()
    code = run_cli(scan_args(proxy.url, workers, output))
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    counted = proxy.report()
    report = json.loads(output.read_text(encoding="utf-8"))
    return ScanRun(
        exit_code=code,
        findings=findings_of(report),
        gaps=tuple(sorted(gap["scope"] for gap in report["run"]["coverage"])),
        reasons=tuple(sorted(f"{g['scope']}: {g['reason']}" for g in report["run"]["coverage"])),
        seconds=seconds,
        peak_mib=peak / 2**20,
        max_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        requests=counted["requests"],
        faults=Counter(kind for _, _, kind in counted["faulted"]),
    )


def covered(resource_name: str, scopes: Sequence[str]) -> bool:
    """True when a coverage gap names this resource or an ancestor of it."""
    return any(resource_name == s or resource_name.startswith(s + "/") for s in scopes)


def unexplained(baseline: ScanRun, faulted: ScanRun) -> set[Finding]:
    """Findings that differ between the runs and lie outside every gap of the faulted run."""
    differing = baseline.findings ^ faulted.findings
    return {f for f in differing if not covered(f[2], faulted.gaps)}


def verdict(baseline: ScanRun, faulted: ScanRun) -> str | None:
    """None when the faulted run keeps the contract, else what broke it."""
    if baseline.exit_code != 1 or baseline.gaps:
        return f"the fault-free scan exited {baseline.exit_code} with gaps {baseline.gaps[:3]}"
    if not faulted.gaps:
        if faulted.findings != baseline.findings or faulted.exit_code != 1:
            return "no coverage gap, yet different findings or exit code"
        return None
    if faulted.exit_code != 3:
        return f"coverage gaps, yet exit {faulted.exit_code} instead of 3"
    wrong = unexplained(baseline, faulted)
    if wrong:
        return f"{len(wrong)} findings differ outside the gaps, e.g. {sorted(wrong)[:3]}"
    return None


# ----------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--tables", type=int, default=1, help="tables per dataset")
    parser.add_argument("--fault-rate", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=7, help="of the fault sequence")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="the scan's --workers (bqemulator mixes up concurrent tabledata.list answers)",
    )
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=STALL_SECONDS,
        help="how long a 'timeout' fault holds its request; past the client's 30 s it is a "
        "client timeout, below it a hang-up without an answer",
    )
    parser.add_argument(
        "--broken",
        metavar="REGEX",
        help="in the faulted scan, GET requests whose path matches always get a 503",
    )
    parser.add_argument("--keep", type=Path, help="write both JSON reports into this folder")
    parser.add_argument("--seed-workers", type=int, default=8)
    parser.add_argument("--serve-proxy", metavar="UPSTREAM", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.datasets < 1 or args.tables < 1:
        parser.error("--datasets and --tables must be at least 1")
    if not 0.0 <= args.fault_rate <= 1.0:
        parser.error("--fault-rate must be within [0, 1]")
    return args


@dataclass(frozen=True)
class LoadConfig:
    shape: EstateShape
    faults: Faults  # of the faulted scan
    workers: int = 1  # the scan's --workers
    seed_workers: int = 8
    keep: Path | None = None  # folder for both JSON reports


@dataclass(frozen=True)
class LoadResult:
    seed_seconds: float
    seed_calls: int
    baseline: ScanRun
    faulted: ScanRun


Say = Callable[[str], None]


def run_load(endpoint: str, config: LoadConfig, say: Say = lambda _: None) -> LoadResult:
    """Seed `endpoint` (an empty engine), then the fault-free and the faulted scan."""
    seeder = Seeder(endpoint, config.shape)
    started = time.perf_counter()
    seeder.run(config.seed_workers)
    seed_seconds = time.perf_counter() - started
    say(f"seed: {seed_seconds:.1f} s, {seeder.calls} REST calls")
    warm_up()
    runs = []
    with tempfile.TemporaryDirectory(prefix="auditor-load-") as tmp:
        folder = config.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        fault_free = Faults(0.0, config.faults.seed)
        for name, faults in (("fault-free", fault_free), ("faulted", config.faults)):
            proxy = ProxyProcess(endpoint, faults)
            try:
                run = measured_scan(proxy, config.workers, folder, name)
            finally:
                proxy.close()
            say(f"{name} ({faults}): {summary(run)}")
            runs.append(run)
    return LoadResult(seed_seconds, seeder.calls, runs[0], runs[1])


def summary(run: ScanRun) -> str:
    return (
        f"exit {run.exit_code}, {run.seconds:.1f} s, {run.requests} API calls, "
        f"peak traced {run.peak_mib:.1f} MiB, max RSS so far {run.max_rss_mib:.0f} MiB, "
        f"{len(run.findings)} findings (not PASS), {len(run.gaps)} coverage gaps"
    )


def comparison(result: LoadResult) -> Iterator[str]:
    base, faulted = result.baseline, result.faulted
    yield f"ratio faulted/fault-free: time {faulted.seconds / base.seconds:.2f}x"
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(faulted.faults.items())) or "none"
    yield f"faults injected: {sum(faulted.faults.values())} ({kinds})"
    for line in faulted.reasons[:10]:
        yield f"  gap: {line}"
    if len(faulted.gaps) > 10:
        yield f"  ... {len(faulted.gaps) - 10} more gaps"
    differing = base.findings ^ faulted.findings
    yield (
        "findings identical"
        if not differing
        else f"findings differ in {len(differing)}, outside the gaps: "
        f"{len(unexplained(base, faulted))}"
    )


@contextlib.contextmanager
def private_engine() -> Iterator[str]:
    """The fast engine in memory, under a state dir of its own: an engine someone else
    started from this checkout (`auditor local start`, another benchmark) is not touched."""
    engines = engines_dir()
    saved = {key: os.environ.get(key) for key in (STATE_DIR_ENV, ENGINES_DIR_ENV)}
    with tempfile.TemporaryDirectory(prefix="auditor-load-state-") as tmp:
        os.environ[STATE_DIR_ENV], os.environ[ENGINES_DIR_ENV] = tmp, str(engines)
        try:
            state = start(Engine.FAST, project=PROJECT, fresh=True, in_memory=True, timeout=120)
            assert state.endpoint is not None
            try:
                yield state.endpoint
            finally:
                stop(Engine.FAST)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    faults = Faults(args.fault_rate, args.seed, args.stall_seconds, args.broken)
    if args.serve_proxy:
        return serve_proxy(args.serve_proxy, faults)
    config = LoadConfig(
        EstateShape(args.datasets, args.tables), faults, args.workers, args.seed_workers, args.keep
    )
    shape = config.shape
    say(f"== load: {shape.datasets} datasets x {shape.tables} tables, fast engine in memory")
    with private_engine() as endpoint:
        result = run_load(endpoint, config, say)
    for line in comparison(result):
        say(line)
    problem = verdict(result.baseline, result.faulted)
    say("contract kept" if problem is None else f"CONTRACT BROKEN: {problem}")
    return 0 if problem is None else 1


if __name__ == "__main__":
    sys.exit(main())
