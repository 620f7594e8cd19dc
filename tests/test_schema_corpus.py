"""The schema corpus commits our annotations only, and joins upstream descriptions from a cache.

benchmarks/corpora/README.md: per upstream file its provenance, per column its path, type,
mode, label and our reason; no upstream text. The benchmark rebuilds the field lists from
those facts, or takes them (descriptions included) from the rebuilt cache after checking that
every column agrees with the committed facts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.corpora import label_schemas, schema_corpus
from benchmarks.corpora.label_schemas import LATER_ROUNDS, TEST_ONLY_ROUNDS, split
from benchmarks.corpora.schema_corpus import StaleCache, annotate, fields_from, load_half

UPSTREAM: list[dict[str, Any]] = [
    {"name": "id", "type": "STRING", "mode": "REQUIRED", "description": "Row identifier."},
    {
        "name": "auth",
        "type": "RECORD",
        "fields": [
            {"name": "api_key", "type": "STRING", "description": "The key the app calls with."},
            {"name": "scopes", "type": "STRING", "mode": "REPEATED"},
        ],
    },
    {"name": "valid", "type": "RANGE", "rangeElementType": {"type": "DATE"}},
]
LABELS = {
    "id": ["clean", "no candidate word"],
    "auth": ["clean", "RECORD container: its leaves are labelled on their own"],
    "auth.api_key": ["credential", "API key"],
    "auth.scopes": ["clean", "no candidate word"],
    "valid": ["clean", "no candidate word"],
}
DESC = "description"
ENTRY = {"repository": "owner/name", "path": "schema/t.json", "commit": "a" * 40}


def without_descriptions(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: without_descriptions(v) if k == "fields" else v for k, v in f.items() if k != DESC}
        for f in fields
    ]


def write_corpus(tmp_path: Path, cache_fields: list[dict[str, Any]] | None) -> tuple[Path, Path]:
    corpora, cache = tmp_path / "corpora", tmp_path / "cache"
    corpora.mkdir()
    entry = ENTRY | {"columns": annotate(UPSTREAM, LABELS)}
    for half in ("dev", "test"):
        (corpora / f"schemas.{half}.jsonl").write_text(json.dumps(entry) + "\n", encoding="utf-8")
    if cache_fields is not None:
        cache.mkdir()
        line = json.dumps(ENTRY | {"fields": cache_fields}) + "\n"
        (cache / "schemas.dev.jsonl").write_text(line, encoding="utf-8")
    return corpora, cache


def test_the_columns_hold_facts_and_labels_in_document_order() -> None:
    columns = annotate(UPSTREAM, LABELS)
    clean = {"label": "clean", "reason": "no candidate word"}
    assert columns == [
        {"path": "id", "type": "STRING", "mode": "REQUIRED"} | clean,
        {"path": "auth", "type": "RECORD", "label": "clean", "reason": LABELS["auth"][1]},
        {"path": "auth.api_key", "type": "STRING", "label": "credential", "reason": "API key"},
        {"path": "auth.scopes", "type": "STRING", "mode": "REPEATED"} | clean,
        {"path": "valid", "type": "RANGE", "range_element": "DATE"} | clean,
    ]
    assert fields_from(columns) == without_descriptions(UPSTREAM)


def test_without_the_cache_the_fields_come_from_the_facts(tmp_path: Path) -> None:
    corpora, cache = write_corpus(tmp_path, None)
    half = load_half("dev", corpora=corpora, cache=cache)
    assert half.descriptions is False
    (item,) = half.files
    assert item == ENTRY | {"fields": without_descriptions(UPSTREAM), "labels": LABELS}


def test_the_cache_brings_the_descriptions_back(tmp_path: Path) -> None:
    corpora, cache = write_corpus(tmp_path, UPSTREAM)
    half = load_half("dev", corpora=corpora, cache=cache)
    assert half.descriptions is True
    (item,) = half.files
    assert item == ENTRY | {"fields": UPSTREAM, "labels": LABELS}


def test_a_cache_that_disagrees_with_the_annotations_is_refused(tmp_path: Path) -> None:
    changed = json.loads(json.dumps(UPSTREAM))
    changed[1]["fields"][0]["type"] = "BYTES"
    corpora, cache = write_corpus(tmp_path, changed)
    with pytest.raises(StaleCache, match="rebuilt columns differ"):
        load_half("dev", corpora=corpora, cache=cache)
    (tmp_path / "other").mkdir()
    corpora, cache = write_corpus(tmp_path / "other", [])
    (cache / "schemas.dev.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(StaleCache, match=r"owner/name:schema/t.json@aaaaaaaaaaaa is not in"):
        load_half("dev", corpora=corpora, cache=cache)


def test_the_committed_corpus_holds_no_upstream_text() -> None:
    allowed = {"path", "type", "mode", "range_element", "label", "reason"}
    for half in schema_corpus.HALVES:
        for item in schema_corpus.committed(half):
            assert set(item) == {"repository", "path", "commit", "columns"}, item["path"]
            for column in item["columns"]:
                assert set(column) <= allowed, (item["path"], column)


def test_the_split_is_by_repository_and_unchanged() -> None:
    repositories = {
        half: {i["repository"] for i in schema_corpus.committed(half)}
        for half in schema_corpus.HALVES
    }
    assert repositories["dev"] == {
        "GoogleCloudPlatform/bigquery-utils", "blockchain-etl/ethereum-etl-airflow",
        "blockchain-etl/polygon-etl", "dubinc/dub", "firebase/extensions",
        "formbricks/formbricks", "mozilla-services/mozilla-pipeline-schemas",
        "mozilla/bigquery-etl", "sircelsius/braze-currents-bigquery-schemas",
        "triggerdotdev/trigger.dev", "umami-software/umami",
        # round 2
        "Openpanel-dev/openpanel", "baptisteArno/typebot.io", "lukevella/rallly",
        "mfts/papermark", "teableio/teable",
    }  # fmt: skip
    assert repositories["test"] == {
        "GoogleCloudPlatform/DataflowTemplates", "GoogleCloudPlatform/professional-services",
        "HTTPArchive/data-pipeline", "blockchain-etl/bitcoin-etl-airflow",
        "documenso/documenso", "googleapis/python-bigquery", "hoppscotch/hoppscotch",
        "innocraft/bigquery-schema", "langfuse/langfuse",
        "terraform-google-modules/terraform-google-bigquery",
        # round 2
        "elie222/inbox-zero", "gitroomhq/postiz-app", "sourcebot-dev/sourcebot",
        "unsend-dev/unsend",
        # round 3, held out whole
        "ghostfolio/ghostfolio", "linkwarden/linkwarden", "refly-ai/refly",
        "toeverything/AFFiNE", "webstudio-is/webstudio",
        # round 4, held out whole
        "Mintplex-Labs/anything-llm", "boxyhq/saas-starter-kit", "panoratech/Panora",
        "saasfly/saasfly", "useplunk/plunk",
    }  # fmt: skip


def test_a_later_round_never_moves_an_earlier_repository() -> None:
    first = {"a/one": False, "b/two": False, "c/three": True, "d/four": True, "e/five": False}
    later = dict.fromkeys(LATER_ROUNDS, True)
    alone, together = split(first), split(first | later)
    for half in ("dev", "test"):
        assert [r for r in together[half] if r in first] == alone[half]
    for number in set(LATER_ROUNDS.values()):
        members = {r for r, n in LATER_ROUNDS.items() if n == number}
        dealt = {half: [r for r in together[half] if r in members] for half in ("dev", "test")}
        assert sorted(dealt["dev"] + dealt["test"]) == sorted(members)
        if number in TEST_ONLY_ROUNDS:
            assert dealt["dev"] == []
        else:  # a round is dealt on its own
            assert abs(len(dealt["dev"]) - len(dealt["test"])) <= 1


def test_labelling_reviews_candidates_and_keeps_notes_on_other_columns(tmp_path: Path) -> None:
    def model(name: str, *columns: str) -> str:
        fields = [{"name": n, "type": "STRING"} for n in columns]
        item = {"repository": "o/app", "path": f"db/schema.prisma#{name}", "commit": "c" * 40}
        return json.dumps(item | {"fields": fields})

    collected = tmp_path / "collected.jsonl"
    collected.write_text(
        model("Credentials", "id", "data", "iv") + "\n" + model("Settings", "theme", "config"),
        encoding="utf-8",
    )
    review = tmp_path / "review.csv"
    rows = [
        "repository,path,column,label,reason",
        "o/app,#Credentials,data,credential,encrypted credentials",  # payload of the table
        "o/app,*,iv,clean,initialisation vector",
        "o/app,db/schema.prisma#Settings,config,credential,noted: holds the SMTP password",
    ]
    review.write_text("\n".join(rows) + "\n", encoding="utf-8")
    label_schemas.main(collected, review, tmp_path)
    written = [json.loads(line) for line in (tmp_path / "schemas.dev.jsonl").open()]
    assert [(c["path"], c["label"], c["reason"]) for i in written for c in i["columns"]] == [
        ("id", "clean", "no candidate word"),  # named as an id
        ("data", "credential", "encrypted credentials"),
        ("iv", "clean", "initialisation vector"),
        ("theme", "clean", "no candidate word"),
        ("config", "credential", "noted: holds the SMTP password"),  # not a candidate
    ]
    review.write_text("\n".join(rows[:2]) + "\n", encoding="utf-8")  # `iv` unreviewed
    with pytest.raises(SystemExit, match="1 candidate columns have no review row"):
        label_schemas.main(collected, review, tmp_path)
