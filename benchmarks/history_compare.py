"""Time the history's like-with-like comparison as the history grows.

    python benchmarks/history_compare.py [--runs 365] [--failing 1000] [--seed 7]

Two histories of `--runs` nightly runs, each with `--failing` FAIL findings (a few change
every night): in the first every run is full and complete, so the comparison reads one
earlier run; in the second every run has a coverage gap outside BigQuery (IAM unread every
night), so no earlier run settles the rest and the comparison reads the whole history. Prints
the time to record a run, and the time of one comparison in each history, as a ratio to the
first (the baseline, measured in the same process).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a plain script from a checkout

from auditor.history import HistoryStore  # noqa: E402
from auditor.model import (  # noqa: E402
    CoverageGap,
    Finding,
    Report,
    RunInfo,
    RunScope,
    Severity,
    Status,
)

P = "bench-project"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
IAM_GAP = f"//cloudresourcemanager.googleapis.com/projects/{P}"


def report(day: int, failing: list[int], gaps: tuple[str, ...]) -> Report:
    started = datetime(2026, 1, 1, 2, tzinfo=UTC) + timedelta(days=day)
    run = RunInfo(
        started_at=started,
        finished_at=started + timedelta(minutes=5),
        root="bench",
        command="auditor nightly",
        coverage=tuple(CoverageGap(g, "denied") for g in gaps),
        scope=RunScope(rules=("AUD-001",), project=P, sources=("bigquery",)),
    )
    findings = tuple(
        Finding(
            "AUD-001",
            "tenant-no-credential-columns",
            Status.FAIL,
            Severity.CRITICAL,
            f"{BQ}/tenant_{i // 10}/tables/t{i % 10}",
            "a credential column",
            column="api_key",
        )
        for i in failing
    )
    return Report(run=run, rules=(), findings=findings)


def build(path: Path, runs: int, failing: int, gaps: tuple[str, ...], seed: int) -> float:
    """Record the history; the mean seconds per recorded run."""
    rng = random.Random(seed)
    current = list(range(failing))
    started = time.perf_counter()
    with HistoryStore.open(path) as store:
        for day in range(runs):
            # A few fixed, a few new, every night.
            for _ in range(3):
                current.remove(rng.choice(current))
                current.append(failing + day * 3 + _)
            store.record(report(day, current, gaps))
    return (time.perf_counter() - started) / runs


def time_compare(path: Path, runs: int, failing: int, gaps: tuple[str, ...]) -> tuple[float, int]:
    with HistoryStore.open(path) as store:
        started = time.perf_counter()
        result = store.compare(report(runs, list(range(failing)), gaps))
        return time.perf_counter() - started, len(result.consulted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=365)
    parser.add_argument("--failing", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        full, gapped = Path(tmp) / "full.sqlite", Path(tmp) / "gapped.sqlite"
        record_full = build(full, args.runs, args.failing, (), args.seed)
        record_gapped = build(gapped, args.runs, args.failing, (IAM_GAP,), args.seed)
        base, base_read = time_compare(full, args.runs, args.failing, ())
        walk, walk_read = time_compare(gapped, args.runs, args.failing, (IAM_GAP,))
    print(f"history: {args.runs} runs x {args.failing} failing findings")
    print(
        f"record one run: {record_full * 1000:.1f} ms (full), {record_gapped * 1000:.1f} ms (gap)"
    )
    print(f"compare, full runs (baseline): {base * 1000:.1f} ms, {base_read} earlier run(s) read")
    print(
        f"compare, a gap every night: {walk * 1000:.1f} ms, {walk_read} earlier run(s) read, "
        f"{walk / base:.1f}x the baseline"
    )


if __name__ == "__main__":
    main()
