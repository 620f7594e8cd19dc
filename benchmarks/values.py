"""Score the credential VALUE detectors on the labelled values corpus and time them.

    python benchmarks/values.py [--half dev|test|both] [--passes N] [--baseline-catalog F]
                                [--baseline-code DIR]

The corpus (benchmarks/corpora/values.{dev,test}.csv, made by make_values.py): fake
secrets of every catalog format in realistic carriers, and hard negatives. Per half:
precision, recall, every miss and false alarm (REDACTED: detector ids, a redacted prefix
and a fingerprint, never a value) and every secret found by another detector than the one
planted. The unit table tests/data/credential_values.csv is scored too (100% expected).

Throughput (values scanned per second) is measured over both halves, and with
--baseline-catalog (a catalog file, e.g. the one before a change: `git show REV:auditor/
detect/catalog.yaml > /tmp/old.yaml`) the same values are timed with that catalog in the
same process, interleaved pass by pass, and the ratio printed. With --baseline-code (a
checkout of an older revision: `git archive REV auditor | tar -x -C DIR`) the same values
are timed with that revision's code and catalog, in a child process started once, pass by
pass in turn with this one, so both see the same machine load.

Exit 1 when a scored half misses recall >= 0.97 or precision >= 0.97, or the unit table
is not 100%.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a plain script from a checkout: make the repo's package importable.
sys.path.insert(0, str(ROOT))

from auditor.detect.catalog import Detector, catalog, join_example, load_catalog  # noqa: E402
from auditor.detect.redact import fingerprint_secret, redact  # noqa: E402
from auditor.detect.values import evidence, scan_value  # noqa: E402
from benchmarks.scoring import Score, print_score  # noqa: E402

UNIT_CSV = ROOT / "tests" / "data" / "credential_values.csv"
CORPORA = ROOT / "benchmarks" / "corpora"
MIN_RECALL = 0.97
MIN_PRECISION = 0.97


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
            if not row.detectors <= found:
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


def timed(values: Sequence[str], detectors: Sequence[Detector]) -> float:
    start = time.perf_counter()
    for value in values:
        scan_value(value, detectors=detectors)
    return time.perf_counter() - start


_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from auditor.detect.values import scan_value
values = json.load(open(sys.argv[2], encoding="utf-8"))
for line in sys.stdin:  # one line per pass asked for
    start = time.perf_counter()
    for value in values:
        scan_value(value)
    print(time.perf_counter() - start, flush=True)
"""


def alternate_with_code(values: Sequence[str], code: Path, passes: int) -> tuple[float, float]:
    """Seconds for `passes` passes here and in a child running `code`, taken in turn."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as handle:
        json.dump(list(values), handle)
        handle.flush()
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(code), handle.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None and child.stdout is not None
        here = there = 0.0
        detectors = catalog()
        for _ in range(passes):
            here += timed(values, detectors)
            child.stdin.write("go\n")
            child.stdin.flush()
            there += float(child.stdout.readline())
        child.stdin.close()
        child.wait(timeout=60)
    return here, there


def report(title: str, rows: list[Row]) -> Score:
    result, wrong, misattributed = score(rows)
    print(f"== {title}")
    print_score(result, len(rows), "secret", "clean")
    print(f"misclassified ({len(wrong)}):")
    for line in wrong:
        print(line)
    print(f"secret found by another detector than planted ({len(misattributed)}):")
    for line in misattributed:
        print(line)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("dev", "test", "both"), default="dev")
    parser.add_argument("--passes", type=int, default=5, help="timing passes over the corpus")
    parser.add_argument("--baseline-catalog", type=Path, help="catalog to compare speed with")
    parser.add_argument("--baseline-code", type=Path, help="older checkout to compare with")
    args = parser.parse_args(argv)

    load_start = time.perf_counter()
    detectors = catalog()
    load_ms = (time.perf_counter() - load_start) * 1000
    print(f"detectors  {len(detectors)} (catalog loaded in {load_ms:.0f} ms)")
    failed = False
    for half in ("dev", "test") if args.half == "both" else (args.half,):
        result = report(f"values corpus, {half} half", load(CORPORA / f"values.{half}.csv"))
        if result.recall < MIN_RECALL or result.precision < MIN_PRECISION:
            print(f"FAIL ({half}): need recall >= {MIN_RECALL}, precision >= {MIN_PRECISION}")
            failed = True
    unit = load(UNIT_CSV)
    unit_result = report(f"unit table {UNIT_CSV.name}", unit)
    if unit_result.fp or unit_result.fn:
        print("FAIL (unit table): every row must be classified as labelled")
        failed = True

    values = [r.value for half in ("dev", "test") for r in load(CORPORA / f"values.{half}.csv")]
    baseline = load_catalog(args.baseline_catalog) if args.baseline_catalog else None
    current_s = baseline_s = 0.0
    for _ in range(args.passes):  # interleaved: both see the same machine load
        current_s += timed(values, detectors)
        if baseline is not None:
            baseline_s += timed(values, baseline)
    total = len(values) * args.passes
    print(f"throughput {total / current_s:,.0f} values/s ({len(detectors)} detectors)")
    if args.baseline_code:
        here, there = alternate_with_code(values, args.baseline_code, args.passes)
        print(
            f"baseline code {total / there:,.0f} values/s ({args.baseline_code}), this code "
            f"{total / here:,.0f} values/s alternating with it; this/baseline = {there / here:.2f}"
        )
    if baseline is not None:
        print(
            f"baseline   {total / baseline_s:,.0f} values/s ({len(baseline)} detectors, "
            f"{args.baseline_catalog}); current/baseline = {baseline_s / current_s:.2f}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
