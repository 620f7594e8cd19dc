"""Score the credential-column classifier against a labelled CSV and time it.

    python benchmarks/classifier.py [--csv PATH] [--passes N]

Prints precision, recall, F1, the confusion counts, every misclassified row, and
classifications per second over repeated passes. Exits 1 when recall < 100 % or
precision < 97 %.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a plain script from a checkout: make the repo's package importable.
sys.path.insert(0, str(ROOT))

from auditor.detect import names  # noqa: E402
from auditor.detect.names import classify_column  # noqa: E402

DEFAULT_CSV = ROOT / "tests" / "data" / "credential_columns.csv"
MIN_RECALL = 1.0
MIN_PRECISION = 0.97


@dataclass(frozen=True)
class Row:
    path: str
    type_name: str | None
    description: str | None
    credential: bool
    note: str


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Row(
                path=record["path"],
                type_name=record["type"] or None,
                description=record["description"] or None,
                credential={"credential": True, "clean": False}[record["expected"]],
                note=record["note"],
            )
            for record in csv.DictReader(handle)
        ]


def score(rows: list[Row]) -> tuple[Score, list[tuple[Row, str]]]:
    tp = fp = fn = tn = 0
    wrong: list[tuple[Row, str]] = []
    for row in rows:
        verdict = classify_column(row.path, row.type_name, row.description)
        if verdict.credential and row.credential:
            tp += 1
        elif verdict.credential:
            fp += 1
        elif row.credential:
            fn += 1
        else:
            tn += 1
        if verdict.credential != row.credential:
            wrong.append((row, verdict.reason))
    return Score(tp, fp, fn, tn), wrong


def throughput(rows: list[Row], passes: int, *, cold: bool) -> float:
    """Classifications per second; cold clears the word caches before every pass."""
    args = [(r.path, r.type_name, r.description) for r in rows]
    elapsed = 0.0
    for _ in range(passes):
        if cold:
            names._path_phrase.cache_clear()
            names._phrase.cache_clear()
            names._unglue.cache_clear()
            names._base_type.cache_clear()
        start = time.perf_counter()
        for arg in args:
            classify_column(*arg)
        elapsed += time.perf_counter() - start
    return len(args) * passes / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="labelled table")
    parser.add_argument("--passes", type=int, default=200, help="timing passes over the table")
    args = parser.parse_args(argv)

    rows = load(args.csv)
    result, wrong = score(rows)
    positives, negatives = result.tp + result.fn, result.fp + result.tn
    print(f"rows       {len(rows)}  ({positives} credential, {negatives} clean)")
    print(f"precision  {result.precision:.2%}")
    print(f"recall     {result.recall:.2%}")
    print(f"F1         {result.f1:.4f}")
    print(f"TP {result.tp}  FP {result.fp}  FN {result.fn}  TN {result.tn}")
    print(f"misclassified ({len(wrong)}):")
    for row, reason in wrong:
        label = "FN" if row.credential else "FP"
        print(f"  {label} {row.path} [{row.type_name or '-'}] {row.description or ''} -- {reason}")
    warm = throughput(rows, args.passes, cold=False)
    cold = throughput(rows, max(1, args.passes // 10), cold=True)
    print(f"throughput {warm:,.0f} classifications/s warm, {cold:,.0f}/s with cold caches")

    ok = result.recall >= MIN_RECALL and result.precision >= MIN_PRECISION
    if not ok:
        print(f"FAIL: need recall >= {MIN_RECALL:.0%} and precision >= {MIN_PRECISION:.0%}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
