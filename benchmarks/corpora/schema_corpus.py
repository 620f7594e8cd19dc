"""The real-world schema corpus: our annotations, joined to the upstream files when rebuilt.

What is committed (schemas.dev.jsonl, schemas.test.jsonl) is ours: one line per upstream
schema file, with its provenance (`repository`, `path`, `commit`) and, per column in
document order, the facts of its layout (`path`: dotted column path, `type`, `mode` when
the file gives one, `range_element` for a RANGE column) and our hand-made `label`
(`credential` or `clean`) with the labelling `reason`. No upstream text is committed: the
column descriptions stay in the upstream files.

`collect_schemas.py --rebuild MIRRORS` reads those files at the recorded commits and writes
the full field lists, descriptions included, to .cache/ (git-ignored). `load_half` joins
the labels onto the rebuilt files when the cache is there (and checks that every column
agrees with the committed facts); without it, the field lists are rebuilt from the facts
alone and `Half.descriptions` is False.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPORA = Path(__file__).resolve().parent
CACHE = CORPORA / ".cache"
HALVES = ("dev", "test")


@dataclass(frozen=True)
class Half:
    """One half's schema files as {repository, path, commit, fields, labels} (fields in
    BigQuery's TableFieldSchema JSON), and whether the fields carry upstream descriptions."""

    files: list[dict[str, Any]]
    descriptions: bool


class StaleCache(Exception):
    """The rebuilt cache does not match the committed annotations."""


def walk(fields: list[dict[str, Any]], above: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, field) for every field, parents before their children."""
    for field in fields:
        path = f"{above}.{field['name']}" if above else field["name"]
        yield path, field
        yield from walk(field.get("fields", []), path)


def annotate(fields: list[dict[str, Any]], labels: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The committed columns of a field list: its facts and our label, no upstream text."""
    columns = []
    for path, field in walk(fields):
        label, reason = labels[path]
        column: dict[str, Any] = {"path": path, "type": field["type"]}
        if "mode" in field:
            column["mode"] = field["mode"]
        if "rangeElementType" in field:
            column["range_element"] = field["rangeElementType"]["type"]
        column |= {"label": label, "reason": reason}
        columns.append(column)
    return columns


def facts(fields: list[dict[str, Any]]) -> list[tuple[str, str, str | None, str | None]]:
    """What the committed columns say of a field list: path, type, mode, range element."""
    return [
        (path, f["type"], f.get("mode"), f.get("rangeElementType", {}).get("type"))
        for path, f in walk(fields)
    ]


def fields_from(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The field list the committed columns describe (no descriptions)."""
    top: list[dict[str, Any]] = []
    by_path: dict[str, dict[str, Any]] = {}
    for column in columns:
        parent, _, name = column["path"].rpartition(".")
        field: dict[str, Any] = {"name": name, "type": column["type"]}
        if "mode" in column:
            field["mode"] = column["mode"]
        if "range_element" in column:
            field["rangeElementType"] = {"type": column["range_element"]}
        siblings = by_path[parent].setdefault("fields", []) if parent else top
        siblings.append(field)
        by_path[column["path"]] = field
    return top


def labels_of(columns: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {c["path"]: [c["label"], c["reason"]] for c in columns}


def committed(half: str, corpora: Path = CORPORA) -> list[dict[str, Any]]:
    path = corpora / f"schemas.{half}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def cached(half: str, cache: Path = CACHE) -> dict[tuple[str, str], dict[str, Any]] | None:
    """The rebuilt files of a half by (repository, path), or None when not rebuilt."""
    path = cache / f"schemas.{half}.jsonl"
    if not path.exists():
        return None
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {(i["repository"], i["path"]): i for i in items}


def load_half(half: str, *, corpora: Path = CORPORA, cache: Path | None = CACHE) -> Half:
    """A half's files with our labels; upstream descriptions when the cache holds them."""
    rebuilt = cached(half, cache) if cache is not None else None
    files = []
    for item in committed(half, corpora):
        columns = item["columns"]
        fields = fields_from(columns)
        if rebuilt is not None:
            upstream = rebuilt.get((item["repository"], item["path"]))
            if upstream is None or upstream["commit"] != item["commit"]:
                raise StaleCache(
                    f"{half}: {item['repository']}:{item['path']}@{item['commit'][:12]} is not "
                    f"in {cache}; run collect_schemas.py --rebuild again"
                )
            if facts(upstream["fields"]) != facts(fields):
                raise StaleCache(
                    f"{half}: {item['repository']}:{item['path']}: the rebuilt columns differ "
                    "from the committed ones"
                )
            fields = upstream["fields"]
        files.append(
            {
                "repository": item["repository"],
                "path": item["path"],
                "commit": item["commit"],
                "fields": fields,
                "labels": labels_of(columns),
            }
        )
    return Half(files, descriptions=rebuilt is not None)
