"""Score the credential VALUE detectors against the labelled corpus and time them.

    python benchmarks/values.py [--csv PATH] [--passes N]

Prints precision, recall and F1 of the secret/clean verdict, the confusion counts, every
misclassified row and every secret found by the wrong detector (REDACTED: detector ids,
a redacted prefix and a fingerprint, never a value), then values scanned per second.
Exits 1 when recall < 100 % or precision < 97 %.

Corpus values may contain the `{{}}` split (see auditor.detect.values.EXAMPLE_SPLIT);
it is removed before scanning.
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

from auditor.detect.redact import fingerprint_secret, redact  # noqa: E402
from auditor.detect.values import catalog, evidence, join_example, scan_value  # noqa: E402
from benchmarks.scoring import Score, exit_code, print_score  # noqa: E402

DEFAULT_CSV = ROOT / "tests" / "data" / "credential_values.csv"


@dataclass(frozen=True)
class Row:
    line: int  # first line of the row in the CSV
    value: str
    secret: bool
    detectors: frozenset[str]
    note: str


def load(path: Path) -> list[Row]:
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        line = 2  # the header is line 1
        for record in reader:
            rows.append(
                Row(
                    line=line,
                    value=join_example(record["value"]),
                    secret={"secret": True, "clean": False}[record["expected"]],
                    detectors=frozenset(record["detector"].split()),
                    note=record["note"],
                )
            )
            line = reader.line_num + 1
    return rows


def shown(row: Row) -> str:
    """What may be printed about a row's value: its length and fingerprint, redacted."""
    return f"{redact(row.value)} sha256:{fingerprint_secret(row.value)}"


def score(rows: list[Row]) -> tuple[Score, list[str], list[str]]:
    """Verdict confusion counts, misclassified rows and wrong-detector rows (redacted)."""
    tp = fp = fn = tn = 0
    wrong: list[str] = []
    misattributed: list[str] = []
    for row in rows:
        matches = scan_value(row.value)
        found = frozenset(m.detector_id for m in matches)
        where = f"line {row.line} ({row.note})"
        if found and row.secret:
            tp += 1
            if found != row.detectors:
                misattributed.append(
                    f"  {where}: expected {sorted(row.detectors)}, found {sorted(found)}"
                )
        elif found:
            fp += 1
            for match in matches:
                ev = evidence(row.value, match)
                wrong.append(
                    f"  FP {where}: {ev.detector_id} {ev.redacted} sha256:{ev.fingerprint}"
                )
        elif row.secret:
            fn += 1
            wrong.append(f"  FN {where}: expected {sorted(row.detectors)}; value {shown(row)}")
        else:
            tn += 1
    return Score(tp, fp, fn, tn), wrong, misattributed


def throughput(rows: list[Row], passes: int) -> tuple[float, float]:
    """Values per second and characters per second over repeated passes."""
    values = [row.value for row in rows]
    chars = sum(len(v) for v in values)
    start = time.perf_counter()
    for _ in range(passes):
        for value in values:
            scan_value(value)
    elapsed = time.perf_counter() - start
    return len(values) * passes / elapsed, chars * passes / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="labelled corpus")
    parser.add_argument("--passes", type=int, default=20, help="timing passes over the corpus")
    args = parser.parse_args(argv)

    load_start = time.perf_counter()
    detectors = catalog()
    load_ms = (time.perf_counter() - load_start) * 1000
    rows = load(args.csv)
    result, wrong, misattributed = score(rows)
    print(f"detectors  {len(detectors)} (catalog loaded in {load_ms:.0f} ms)")
    print_score(result, len(rows), "secret", "clean")
    print(f"misclassified ({len(wrong)}):")
    for line in wrong:
        print(line)
    print(f"secret found by another detector than labelled ({len(misattributed)}):")
    for line in misattributed:
        print(line)
    per_value, per_char = throughput(rows, args.passes)
    print(f"throughput {per_value:,.0f} values/s ({per_char / 1e6:,.1f} M chars/s)")

    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
