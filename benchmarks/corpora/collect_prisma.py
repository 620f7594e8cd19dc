"""Collect SaaS application tables, as an ELT loader lands them in BigQuery.

    python benchmarks/corpora/collect_prisma.py MIRROR_DIR... >> /tmp/collected.jsonl

Open-source SaaS applications declare their database in Prisma schema files. Loaders such
as Fivetran, Airbyte or Datastream replicate those tables into BigQuery under the same
column names (Mozilla's `accounts_db_external` and `stripe_external` datasets, in the
schema corpus too, are such copies). Each Prisma `model` becomes one schema entry, path
"<file>#<Model>", with the loaders' usual type mapping: String and enums -> STRING,
Int/BigInt -> INT64, Float -> FLOAT64, Decimal -> NUMERIC, Boolean -> BOOL,
DateTime -> TIMESTAMP, Json -> JSON, Bytes -> BYTES; scalar lists are REPEATED; relation
fields (another model's type) hold no column and are left out. The column name is the
field's @map name if it has one; `///` doc comments become descriptions. A model that
is the same in several schema files of a repository (one per database: `mysql/`,
`postgresql/`) is kept once, from the first file in path order.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

TYPES = {
    "String": "STRING", "Int": "INT64", "BigInt": "INT64", "Float": "FLOAT64",
    "Decimal": "NUMERIC", "Boolean": "BOOL", "DateTime": "TIMESTAMP", "Json": "JSON",
    "Bytes": "BYTES",
}  # fmt: skip
MAX_DESCRIPTION = 300
# Not an application's schema: tests, fixtures, and migration snapshots (earlier versions
# of the current schema, kept beside each migration).
SKIPPED_PATHS = ("test", "fixture", "/migrations/")
_BLOCK = re.compile(r"^(model|enum|type|view)\s+(\w+)\s*\{(.*?)^\}", re.M | re.S)
_FIELD = re.compile(r"^\s*(\w+)\s+(\w+)(\[\])?(\?)?(.*)$")
_MAP = re.compile(r'@map\(\s*(?:name:\s*)?"([^"]+)"')


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def parse(text: str) -> list[tuple[str, list[dict[str, Any]]]]:
    blocks = _BLOCK.findall(text)
    enums = {name for kind, name, _ in blocks if kind == "enum"}
    models = []
    for kind, name, body in blocks:
        if kind != "model":
            continue
        fields: list[dict[str, Any]] = []
        doc: list[str] = []
        for line in body.splitlines():
            stripped = line.strip()
            if stripped.startswith("///"):
                doc.append(stripped[3:].strip())
                continue
            match = _FIELD.match(line)
            if not match or stripped.startswith(("@@", "//")):
                doc = []
                continue
            field, type_name, is_list, _optional, rest = match.groups()
            bq = TYPES.get(type_name) or ("STRING" if type_name in enums else None)
            if bq is None:  # a relation to another model: no column
                doc = []
                continue
            mapped = _MAP.search(rest)
            item: dict[str, Any] = {"name": mapped.group(1) if mapped else field, "type": bq}
            item["mode"] = "REPEATED" if is_list else "NULLABLE"
            if doc:
                item["description"] = " ".join(" ".join(doc).split())[:MAX_DESCRIPTION]
            fields.append(item)
            doc = []
        if fields:
            models.append((name, fields))
    return models


def collect(repo: Path) -> list[dict[str, Any]]:
    name = repo.parent.name.replace("+", "/", 1)
    commit = _git(repo, "rev-parse", "HEAD").strip()
    out = []
    seen: set[str] = set()
    for path in sorted(_git(repo, "ls-tree", "-r", "--name-only", commit).splitlines()):
        lower = path.lower()
        if not lower.endswith(".prisma") or any(p in lower for p in SKIPPED_PATHS):
            continue
        for model, fields in parse(_git(repo, "show", f"{commit}:{path}")):
            same = json.dumps([model, fields], sort_keys=True)
            if same in seen:  # one model written for several databases counts once
                continue
            seen.add(same)
            out.append(
                {"repository": name, "path": f"{path}#{model}", "commit": commit, "fields": fields}
            )
    return out


def main(argv: list[str]) -> None:
    for arg in argv:
        for item in collect(Path(arg)):
            print(json.dumps(item, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
