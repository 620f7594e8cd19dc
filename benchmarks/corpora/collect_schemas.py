"""Collect BigQuery table schemas from local mirrors of public repositories.

Used once to choose the files of the real-world schema corpus (label_schemas.py then wrote
our annotations of them to schemas.dev.jsonl / schemas.test.jsonl):

    python benchmarks/corpora/collect_schemas.py MIRROR_DIR... > /tmp/collected.jsonl

And to rebuild the corpus with its upstream descriptions, which are not committed, from
the files the annotations name, at their recorded commits (see README.md here):

    python benchmarks/corpora/collect_schemas.py --rebuild MIRRORS

MIRRORS holds one git directory per repository, as `owner+name/repo` (a snapshot, with or
without a work tree) or `owner+name` (a bare clone); the output goes to .cache/ beside
this file (git-ignored), one file per half.

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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a plain script from a checkout

from benchmarks.corpora import collect_prisma, schema_corpus  # noqa: E402

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


def git_dir(mirrors: Path, repository: str) -> Path:
    """Where a repository's git directory is under MIRRORS."""
    base = mirrors / repository.replace("/", "+", 1)
    for candidate in (base / "repo" / ".git", base / "repo", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    raise SystemExit(f"no mirror of {repository} under {mirrors} (fetch it first)")


def read_fields(repo: Path, commit: str, path: str) -> list[dict[str, Any]]:
    """The cleaned field list of one corpus entry: a schema file, or `file#Model` of a
    Prisma schema (collect_prisma.py), as it was at `commit`."""
    file, _, model = path.partition("#")
    text = _git(repo, "show", f"{commit}:{file}")
    if model:
        fields = dict(collect_prisma.parse(text)).get(model)
    else:
        doc = json.loads(text) if file.endswith((".json", ".bq")) else yaml.safe_load(text)
        found = find_fields(doc)
        fields = clean(found) if found is not None else None
    if fields is None:
        raise SystemExit(f"{repo}: {path} at {commit} holds no field list")
    return fields


def rebuild(mirrors: Path, cache: Path = schema_corpus.CACHE) -> None:
    """Every annotated file of both halves, read again at its commit, into `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    for half in schema_corpus.HALVES:
        lines = []
        for item in schema_corpus.committed(half):
            repo = git_dir(mirrors, item["repository"])
            fields = read_fields(repo, item["commit"], item["path"])
            entry = {k: item[k] for k in ("repository", "path", "commit")} | {"fields": fields}
            lines.append(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
        (cache / f"schemas.{half}.jsonl").write_text("".join(lines), encoding="utf-8")
        print(f"{half}: {len(lines)} files -> {cache / f'schemas.{half}.jsonl'}")
    schema_corpus.load_half("dev")  # the join checks every column against the annotations
    schema_corpus.load_half("test")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--rebuild"] and len(argv) == 2:
        rebuild(Path(argv[1]))
        return
    for arg in argv:
        for item in collect(arg):
            print(json.dumps(item, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
