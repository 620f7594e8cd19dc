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
from benchmarks.scoring import Score, exit_code, print_score  # noqa: E402

DEFAULT_CSV = ROOT / "tests" / "data" / "credential_columns.csv"


@dataclass(frozen=True)
class Row:
    path: str
    type_name: str | None
    description: str | None
    credential: bool
    note: str


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
    print_score(result, len(rows), "credential", "clean")
    print(f"misclassified ({len(wrong)}):")
    for row, reason in wrong:
        label = "FN" if row.credential else "FP"
        print(f"  {label} {row.path} [{row.type_name or '-'}] {row.description or ''} -- {reason}")
    warm = throughput(rows, args.passes, cold=False)
    cold = throughput(rows, max(1, args.passes // 10), cold=True)
    print(f"throughput {warm:,.0f} classifications/s warm, {cold:,.0f}/s with cold caches")

    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
