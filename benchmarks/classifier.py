"""Score the credential-column classifier (AUD-001) and time it.

    python benchmarks/classifier.py [--half dev|test|both] [--round N]...
        [--descriptions auto|with|without|both] [--csv PATH] [--passes N]

Two corpora:

- The real-world schemas (benchmarks/corpora/schemas.{dev,test}.jsonl): our annotations of
  BigQuery schemas in public repositories, hand-labelled, split once by repository (see
  benchmarks/corpora/README.md). The committed files hold the columns' names, types and
  structure; their upstream descriptions are joined from the cache that
  `benchmarks/corpora/collect_schemas.py --rebuild MIRRORS` writes. --descriptions: `with`
  needs the cache, `without` scores the committed facts alone, `both` scores each half
  both ways, `auto` (default) uses the cache when it is there and says so when it is not.
  Each file is parsed as a tenant template (`parse_template`: any problem means a real
  schema would be reported invalid) and every column is classified as the AUD-001 check
  does. The dev half is for looking at; the test half is only scored (never change a
  detector for a single test-half case). Per half: precision, recall, the misses and the
  false alarms, with the classifier's reason. --round N (repeatable) scores the repositories
  of those collection rounds only (benchmarks/corpora/label_schemas.py, LATER_ROUNDS; 1 is
  the first).
- The unit table tests/data/credential_columns.csv: the cases the classifier was written
  against, kept as a regression table (100% expected).

Exit 1 when a scored half misses recall >= 0.95 or precision >= 0.90, a corpus schema is
reported invalid, or the unit table is not 100%.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a plain script from a checkout: make the repo's package importable.
sys.path.insert(0, str(ROOT))

from auditor.detect import names, vocabulary  # noqa: E402
from auditor.detect.names import classify_column  # noqa: E402
from auditor.sources.templates import parse_template  # noqa: E402
from benchmarks.corpora import schema_corpus  # noqa: E402
from benchmarks.corpora.label_schemas import LATER_ROUNDS, table_name  # noqa: E402
from benchmarks.scoring import Score, print_score  # noqa: E402

DEFAULT_CSV = ROOT / "tests" / "data" / "credential_columns.csv"
MIN_RECALL = 0.95
MIN_PRECISION = 0.90


@dataclass(frozen=True)
class Row:
    path: str
    type_name: str | None
    description: str | None
    credential: bool
    note: str
    where: str = ""  # repository and file, for corpus rows
    table: str | None = None  # the table's name, as the AUD-001 check passes it


def load_csv(path: Path) -> list[Row]:
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


def load_half(
    half: str, *, descriptions: bool, rounds: list[int] | None = None
) -> tuple[list[Row], list[str], int]:
    """The labelled columns of one half, the parse problems of its files, its file count.
    With descriptions, the half is read through the rebuilt cache (SystemExit if absent);
    with `rounds`, only the repositories of those collection rounds (1: the first)."""
    corpus = schema_corpus.load_half(half, cache=schema_corpus.CACHE if descriptions else None)
    if descriptions and not corpus.descriptions:
        raise SystemExit(f"no rebuilt corpus in {schema_corpus.CACHE}: {REBUILD}")
    rows: list[Row] = []
    problems: list[str] = []
    files = 0
    for item in corpus.files:
        if rounds and LATER_ROUNDS.get(item["repository"], 1) not in rounds:
            continue
        files += 1
        where = f"{item['repository']}:{item['path']}"
        load = parse_template(json.dumps(item["fields"], indent=1), item["path"])
        problems += [f"{where}: {p.message} (line {p.line})" for p in load.problems]
        if load.table is None:
            continue
        labels = item["labels"]
        table = table_name(item["path"])
        for path, field in load.table.columns():
            label, reason = labels[path]
            credential = label == "credential"
            rows.append(
                Row(path, field.type, field.description, credential, reason, where, table)
            )
    return rows, problems, files


def score(rows: list[Row]) -> tuple[Score, list[tuple[Row, str]]]:
    tp = fp = fn = tn = 0
    wrong: list[tuple[Row, str]] = []
    for row in rows:
        verdict = classify_column(row.path, row.type_name, row.description, table=row.table)
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
    args = [(r.path, r.type_name, r.description, r.table) for r in rows]
    elapsed = 0.0
    for _ in range(passes):
        if cold:
            names._path_phrase.cache_clear()
            vocabulary.phrase.cache_clear()
            vocabulary._unglue.cache_clear()
            names._base_type.cache_clear()
        start = time.perf_counter()
        for path, type_name, description, table in args:
            classify_column(path, type_name, description, table=table)
        elapsed += time.perf_counter() - start
    return len(args) * passes / elapsed


def report(title: str, rows: list[Row], wrong: list[tuple[Row, str]], result: Score) -> None:
    print(f"== {title}")
    print_score(result, len(rows), "credential", "clean")
    for label, want in (("missed", True), ("false alarms", False)):
        cases = [(r, why) for r, why in wrong if r.credential is want]
        print(f"{label} ({len(cases)}):")
        for row, reason in cases:
            desc = f" {row.description!r}" if row.description else ""
            print(f"  {row.where} {row.path} [{row.type_name or '-'}]{desc}")
            print(f"      label: {row.note}")
            print(f"      classifier: {reason}")


REBUILD = (
    "run `python benchmarks/corpora/collect_schemas.py --rebuild MIRRORS` "
    "(benchmarks/corpora/README.md says which repositories to fetch)"
)


def description_modes(choice: str) -> tuple[bool, ...]:
    """Whether each scoring run uses the upstream descriptions, in order."""
    if choice == "auto":
        present = (schema_corpus.CACHE / "schemas.dev.jsonl").exists()
        if not present:
            print(
                "NOTE: upstream column descriptions are MISSING (not committed): scoring the "
                f"committed facts alone (names, types, structure). For the full corpus, {REBUILD}."
            )
        return (present,)
    return {"with": (True,), "without": (False,), "both": (True, False)}[choice]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("dev", "test", "both"), default="dev")
    parser.add_argument(
        "--descriptions", choices=("auto", "with", "without", "both"), default="auto"
    )
    parser.add_argument(
        "--round",
        type=int,
        action="append",
        dest="rounds",
        help="score these collection rounds only (1: the first; repeat for several)",
    )
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="unit table")
    parser.add_argument("--passes", type=int, default=20, help="timing passes")
    args = parser.parse_args(argv)

    failed = False
    halves = ("dev", "test") if args.half == "both" else (args.half,)
    corpus_rows: list[Row] = []
    for half in halves:
        for n, descriptions in enumerate(description_modes(args.descriptions)):
            rows, problems, files = load_half(half, descriptions=descriptions, rounds=args.rounds)
            corpus_rows += rows if n == 0 else []  # each column timed once
            result, wrong = score(rows)
            source = (
                "with upstream descriptions (rebuilt cache)"
                if descriptions
                else "WITHOUT descriptions (committed names, types, structure only)"
            )
            numbers = ", ".join(map(str, args.rounds or ()))
            scope = f"round {numbers} of the " if args.rounds else ""
            title = f"real-world schemas, {scope}{half} half ({files} files), {source}"
            report(title, rows, wrong, result)
            print(f"schemas reported invalid: {len(problems)}")
            for problem in problems[:20]:
                print(f"  {problem}")
            if problems or result.recall < MIN_RECALL or result.precision < MIN_PRECISION:
                print(f"FAIL ({half}): need recall >= {MIN_RECALL}, precision >= {MIN_PRECISION}")
                failed = True

    table = load_csv(args.csv)
    result, wrong = score(table)
    report(f"unit table {args.csv.name}", table, wrong, result)
    if wrong:
        print("FAIL (unit table): every row must be classified as labelled")
        failed = True

    warm = throughput(corpus_rows, args.passes, cold=False)
    cold = throughput(corpus_rows, max(1, args.passes // 10), cold=True)
    print(f"throughput {warm:,.0f} classifications/s warm, {cold:,.0f}/s with cold caches")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
