"""Collect BigQuery table schemas from local mirrors of public repositories.

Used once to build the real-world schema corpus (schemas.dev.jsonl / schemas.test.jsonl):

    python benchmarks/corpora/collect_schemas.py MIRROR_DIR... > /tmp/collected.jsonl

Each MIRROR_DIR is a bare git directory of a public repository ("owner+name/repo"),
optionally followed by "@BRANCH" (default HEAD). Every .json/.yaml/.yml/.bq file of that
commit is parsed; a file counts as a BigQuery schema
when it holds a list of fields shaped like BigQuery's TableFieldSchema (every item has a
`name` and a BigQuery `type`), as a top-level list, under `fields`, `schema` or
`schema.fields`, or under `table.schema` (blockchain-etl table definitions). Identical
field lists are kept once per repository, and at most MAX_FILES files per repository are
kept (a seeded random choice), so no single project dominates the corpus, plus every
file under ALWAYS: datasets picked by their name, before any labelling, because they copy a
SaaS application's account, session, OAuth and billing tables (where credential columns
live) rather than analytics events.

Output: one JSON object per schema file: repository, path, commit, fields (BigQuery
TableFieldSchema JSON: name, type, mode, description, fields). Descriptions are cut to
MAX_DESCRIPTION characters. The labels are added afterwards (label_schemas.py).
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

MAX_FILES = 60
MAX_DESCRIPTION = 300
MAX_COLUMNS = 3000  # larger files (whole telemetry pings) would outweigh every other source
SEED = 13
ALWAYS = ("/accounts_db_external/", "/stripe_external/")
BQ_TYPES = {
    "STRING", "BYTES", "INTEGER", "INT64", "FLOAT", "FLOAT64", "NUMERIC", "BIGNUMERIC",
    "BOOLEAN", "BOOL", "TIMESTAMP", "DATE", "TIME", "DATETIME", "GEOGRAPHY", "RECORD",
    "STRUCT", "JSON", "INTERVAL", "RANGE", "DECIMAL", "BIGDECIMAL",
}  # fmt: skip


def _is_fields(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("type"), str)
            and f["type"].upper() in BQ_TYPES
            for f in value
        )
    )


def find_fields(doc: Any) -> list[dict[str, Any]] | None:
    candidates = [doc]
    if isinstance(doc, dict):
        schema = doc.get("schema")
        table = doc.get("table")
        candidates += [doc.get("fields"), schema]
        if isinstance(schema, dict):
            candidates.append(schema.get("fields"))
        if isinstance(table, dict):
            candidates.append(table.get("schema"))
    for candidate in candidates:
        if _is_fields(candidate):
            return candidate  # type: ignore[no-any-return]
    return None


def clean(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for f in fields:
        item: dict[str, Any] = {"name": f["name"], "type": f["type"].upper()}
        if isinstance(f.get("mode"), str):
            item["mode"] = f["mode"].upper()
        if isinstance(f.get("description"), str) and f["description"].strip():
            item["description"] = " ".join(f["description"].split())[:MAX_DESCRIPTION]
        if isinstance(f.get("rangeElementType"), dict):  # a RANGE column needs it to be valid
            item["rangeElementType"] = f["rangeElementType"]
        sub = f.get("fields")
        if _is_fields(sub):
            item["fields"] = clean(sub)
        out.append(item)
    return out


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def _count(fields: list[dict[str, Any]]) -> int:
    return sum(1 + _count(f.get("fields", [])) for f in fields)


def collect(spec: str) -> list[dict[str, Any]]:
    where, _, ref = spec.partition("@")
    repo = Path(where)
    ref = ref or "HEAD"
    name = repo.parent.name.replace("+", "/", 1)
    commit = _git(repo, "rev-parse", ref).strip()
    paths = [
        p
        for p in _git(repo, "ls-tree", "-r", "--name-only", commit).splitlines()
        if p.endswith((".json", ".yaml", ".yml", ".bq"))
    ]
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(paths):
        try:
            text = _git(repo, "show", f"{commit}:{path}")
            is_json = path.endswith((".json", ".bq"))
            doc = json.loads(text) if is_json else yaml.safe_load(text)
        except Exception:  # not parseable: not a schema
            continue
        fields = find_fields(doc)
        if fields is None:
            continue
        cleaned = clean(fields)
        if _count(cleaned) > MAX_COLUMNS:
            continue
        digest = hashlib.sha256(json.dumps(cleaned, sort_keys=True).encode()).hexdigest()
        found.setdefault(
            digest, {"repository": name, "path": path, "commit": commit, "fields": cleaned}
        )
    files = sorted(found.values(), key=lambda f: f["path"])
    always = [f for f in files if any(part in f["path"] for part in ALWAYS)]
    rest = [f for f in files if f not in always]
    if len(rest) > MAX_FILES:
        rest = random.Random(f"{SEED}:{name}").sample(rest, MAX_FILES)
    return sorted(always + rest, key=lambda f: f["path"])


def main(argv: list[str]) -> None:
    for arg in argv:
        for item in collect(arg):
            print(json.dumps(item, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
