"""Label the collected real-world schemas and split them into dev and test halves.

    python benchmarks/corpora/label_schemas.py COLLECTED.jsonl REVIEW.csv OUT_DIR

How every column got its label (written down before any detector was run on the corpus):

1. CANDIDATE_PARTS and CANDIDATE_WORDS below, a list wider than the detector's catalog,
   select the columns whose name (any segment of the dotted path, lower-cased, with `_`,
   `-` and camelCase boundaries removed for the parts) or description mentions anything
   near a secret.
2. Each candidate column was reviewed by hand and has a row in REVIEW.csv (repository,
   file path, `#Model` for every file path ending so, or `*` for every file of the
   repository, column path, label, reason): `credential` when the column holds a secret
   value, plain, encrypted or hashed (a password hash is credential material: AUD-001's
   rule text says why), otherwise `clean`; the reason is written for every borderline one.
3. Every other column is `clean` by that rule, with the reason "no candidate word".

The split is made once, by source repository, stratified by how the schemas were collected
(schema files, or application tables as a loader lands them: paths with `#Model`): within
each group the repositories are shuffled with SEED and dealt alternately to the halves, so
both halves get application tables as well as warehouse and telemetry schemas. Neither
labels nor detector output play any part in it. The halves are written as
schemas.dev.jsonl and schemas.test.jsonl, one schema file per line: repository, path,
commit and, per column, its facts and our label (schema_corpus.annotate: path, type, mode,
label, reason). The upstream descriptions the candidate list reads are not written: they
stay upstream, and collect_schemas.py --rebuild brings them back into a git-ignored cache.
"""

from __future__ import annotations

import csv
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a plain script from a checkout

from benchmarks.corpora.schema_corpus import annotate  # noqa: E402

SEED = 1313
CANDIDATE_PARTS = (
    "pass", "pwd", "secret", "token", "key", "cred", "auth", "cookie", "session", "otp",
    "salt", "hash", "cipher", "crypt", "private", "signature", "signing", "dsn", "jwt",
    "bearer", "oauth", "seed", "mnemonic", "recovery", "cert", "pem", "keystore", "verif",
    "hmac", "wrap", "nonce", "login", "header", "apikey",
)  # fmt: skip
CANDIDATE_WORDS = frozenset(
    {
        "pin", "pins", "code", "codes", "url", "urls", "uri", "uris", "conn", "connection",
        "answer", "answers", "phrase", "sig",
    }
)  # fmt: skip
DESCRIPTION_PARTS = (
    "password", "secret", "token", "credential", "api key", "private key", "encrypt",
    "hash", "cookie", "authoriz", "bearer", "session", "signature", "key",
)  # fmt: skip
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def columns(fields: list[dict[str, Any]], above: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for f in fields:
        path = f"{above}.{f['name']}" if above else f["name"]
        yield path, f
        yield from columns(f.get("fields", []), path)


def is_candidate(path: str, field: dict[str, Any]) -> bool:
    glued = re.sub(r"[^a-z0-9]", "", path.lower())
    words = {w.lower() for w in _WORD.findall(path)}
    description = field.get("description", "").lower()
    return (
        any(p in glued for p in CANDIDATE_PARTS)
        or bool(words & CANDIDATE_WORDS)
        or any(p in description for p in DESCRIPTION_PARTS)
    )


def main(collected: Path, review: Path, out: Path) -> None:
    files = [json.loads(line) for line in collected.read_text().splitlines() if line.strip()]
    with review.open(newline="", encoding="utf-8") as handle:
        reviewed = {(r["repository"], r["path"], r["column"]): r for r in csv.DictReader(handle)}
    missing: list[str] = []
    for item in files:
        labels: dict[str, list[str]] = {}
        for path, field in columns(item["fields"]):
            if not is_candidate(path, field):
                labels[path] = ["clean", "no candidate word"]
                continue
            model = "#" + item["path"].rpartition("#")[2] if "#" in item["path"] else None
            row = (
                reviewed.get((item["repository"], item["path"], path))
                or (model and reviewed.get((item["repository"], model, path)))
                or reviewed.get((item["repository"], "*", path))
            )
            if row is None:
                missing.append(
                    f"{item['repository']},{item['path']},{path},{field['type']},"
                    f"{field.get('description', '')!r}"
                )
                continue
            labels[path] = [row["label"], row["reason"]]
        item["labels"] = labels
    if missing:
        print("\n".join(sorted(set(missing))))
        sys.exit(f"{len(set(missing))} candidate columns have no review row")
    halves: dict[str, list[str]] = {"dev": [], "test": []}
    shuffler = random.Random(SEED)
    for loader in (False, True):
        group = sorted({i["repository"] for i in files if ("#" in i["path"]) is loader})
        shuffler.shuffle(group)
        for repo in group:
            half = min(("dev", "test"), key=lambda h: (len(halves[h]), h))
            halves[half].append(repo)
    for half, members in halves.items():
        with (out / f"schemas.{half}.jsonl").open("w", encoding="utf-8") as handle:
            for item in sorted(files, key=lambda i: (i["repository"], i["path"])):
                if item["repository"] in members:
                    entry = {k: item[k] for k in ("repository", "path", "commit")}
                    entry["columns"] = annotate(item["fields"], item["labels"])
                    handle.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
        print(f"{half}: {', '.join(sorted(members))}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
