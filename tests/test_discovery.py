"""Discovery and classification of a repo's files: which are candidates, which are templates
or SQL docs, which are skipped and why (auditor.sources.discovery, sniff, sqlkind)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import InputError
from auditor.io.files import glob_match
from auditor.model import DiscoveredInput, InputFile, InputKind, Problem, TemplateScope
from auditor.sources.discovery import (
    CandidateKind,
    DiscoveryOptions,
    ScopeConflict,
    find_candidates,
    scope_of,
)
from auditor.sources.repo import collect_inputs
from auditor.sources.sniff import Claim, looks_like_schema_text, not_a_table_schema
from auditor.sources.sqldocs import parse_sql_doc
from auditor.sources.templates import (
    _field_validator,
    _plainly_valid,
    load_template,
    parse_template,
)


def touch(root: Path, *paths: str, text: str = "[]") -> None:
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def candidates(root: Path, options: DiscoveryOptions | None = None) -> dict[str, str]:
    return {
        c.rel: f"{c.kind.value}/{c.claim.value}"
        + (f"/excluded:{c.excluded_by}" if c.excluded_by else "")
        for c in find_candidates(root, options or DiscoveryOptions())
    }


# --------------------------------------------------------------------------------- globs


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("schemas/a.json", "schemas/**/*.json", True),  # `**/` may match no folder
        ("schemas/x/y/a.json", "schemas/**/*.json", True),
        ("schemas/a.json", "schemas/*.json", True),
        ("schemas/x/a.json", "schemas/*.json", True),  # as in fnmatch, `*` matches `/`
        (
            "a/templates/customer/onboarding/schemas/x.json",
            "*templates/customer/onboarding/schemas/*.json",
            True,
        ),
        ("tenant/a.json", "*/tenant/*.json", False),
        ("a.json", "[ab].json", True),
        ("c.json", "[!ab].json", True),
        ("a.json", "[!ab].json", False),
        ("a/b/c", "a/**/b/**/c", True),
        ("a/x/b/y/c", "a/**/b/**/c", True),
        ("A.json", "a.json", False),  # case-sensitive
        ("a.json", "a?json", True),
        ("a.json", "a.json.bak", False),
    ],
)
def test_glob_match(path: str, pattern: str, matches: bool) -> None:
    assert glob_match(path, pattern) is matches


# ---------------------------------------------------------------------------- candidates


def test_default_candidates_by_folder_name_extension_and_sql(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "schema/users.json",  # schema/ (singular)
        "schemas/a.json",
        "a/b/templates/deep/c.json",  # any enclosing folder
        "sql/schema/table/t.json",
        "etl/json_schemas/d.json",  # a folder name ending in schemas
        "examples/basic/sample_bq_schema.json",  # "schema" in the name
        "x/metrics.1.bq",
        "x/events.schema",
        "x/y.schema.json",
        "config/settings.json",  # not a candidate: no schema folder, no schema in the name
        "templates/page.html",  # not JSON
        "queries/q.sql",
        "queries/Q2.SQL",
        "docs/notes.md",
    )
    assert candidates(tmp_path) == {
        "a/b/templates/deep/c.json": "json/found",
        "etl/json_schemas/d.json": "json/found",
        "examples/basic/sample_bq_schema.json": "json/found",
        "queries/Q2.SQL": "sql/found",
        "queries/q.sql": "sql/found",
        "schema/users.json": "json/found",
        "schemas/a.json": "json/found",
        "sql/schema/table/t.json": "json/found",
        "x/events.schema": "json/found",
        "x/metrics.1.bq": "json/found",
        "x/y.schema.json": "json/found",
    }


def test_a_root_named_like_a_schema_folder_holds_schemas(tmp_path: Path) -> None:
    root = tmp_path / "bigquery-schema"
    touch(root, "goal.json", "sub/site.json")
    touch(tmp_path / "plain", "goal.json")
    assert candidates(root) == {"goal.json": "json/found", "sub/site.json": "json/found"}
    assert candidates(tmp_path / "plain") == {}


def test_hidden_and_tooling_folders_are_not_walked(tmp_path: Path) -> None:
    for rel in (
        "z.sql",
        "a/b.sql",
        "a/B.SQL",
        "a/notes.md",
        "a/.hidden_file.sql",
        ".git/x.sql",
        "a/.cache/y.sql",
        "node_modules/pkg/z.sql",
        "node_modules/pkg/schemas/z.json",
        ".venv/lib/z.sql",
        "sub/node_modules_not/ok.sql",
    ):
        touch(tmp_path, rel, text="SELECT 1;")
    os.mkfifo(tmp_path / "a" / "pipe.sql")
    assert list(candidates(tmp_path)) == [
        "a/.hidden_file.sql",
        "a/B.SQL",
        "a/b.sql",
        "sub/node_modules_not/ok.sql",
        "z.sql",
    ]


def test_a_missing_root_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a directory"):
        find_candidates(tmp_path / "nope", DiscoveryOptions())


def test_configured_globs_name_files_and_replace_the_defaults(tmp_path: Path) -> None:
    touch(tmp_path, "defs/t1.json", "defs/sub/t2.json", "schemas/a.json", "db/a.sql", "q/b.sql")
    options = DiscoveryOptions(templates=("defs/**/*.json",), sql_docs=("db/*.sql",))
    assert candidates(tmp_path, options) == {
        "db/a.sql": "sql/named",
        "defs/sub/t2.json": "json/named",
        "defs/t1.json": "json/named",
    }


def test_scope_globs_make_a_file_scoped_and_excludes_are_listed(tmp_path: Path) -> None:
    touch(tmp_path, "schemas/tenant/t.json", "schemas/other.json", "schemas/old/x.json")
    options = DiscoveryOptions(tenant=("schemas/tenant/*.json",), exclude=("schemas/old/**",))
    assert candidates(tmp_path, options) == {
        "schemas/old/x.json": "json/found/excluded:schemas/old/**",
        "schemas/other.json": "json/found",
        "schemas/tenant/t.json": "json/scoped",
    }


def test_scope_of_and_conflicts() -> None:
    options = DiscoveryOptions(
        tenant=("t/*.json", "*/shared/*.json"), customers=("c/*.json", "c/shared/*.json")
    )
    assert scope_of("t/a.json", options) is TemplateScope.TENANT
    assert scope_of("c/a.json", options) is TemplateScope.CUSTOMERS
    assert scope_of("x/a.json", options) is TemplateScope.OTHER
    with pytest.raises(ScopeConflict) as caught:
        scope_of("c/shared/a.json", options)
    assert str(caught.value) == (
        "c/shared/a.json: matches the paths of more than one scope: tenant ('*/shared/*.json'); "
        "customers ('c/*.json'); customers ('c/shared/*.json')"
    )


def test_collect_inputs_lists_every_file_and_reads_only_the_inputs(tmp_path: Path) -> None:
    touch(tmp_path, "schemas/t.json", text='[{"name": "a", "type": "STRING"}]')
    touch(tmp_path, "schemas/conf.json", text='{"retries": 3}')
    touch(tmp_path, "schemas/old/x.json", text="not even json")
    touch(tmp_path, "q.sql", text="SELECT 1;")
    collected = collect_inputs(tmp_path, DiscoveryOptions(exclude=("schemas/old/*",)))
    assert collected.discovered == (
        DiscoveredInput(
            "q.sql",
            InputKind.SKIPPED,
            reason="no CREATE TABLE with a column list (it holds SELECT)",
        ),
        DiscoveredInput(
            "schemas/conf.json",
            InputKind.SKIPPED,
            reason='a JSON object with keys retries and no "fields" or "schema"',
        ),
        DiscoveredInput(
            "schemas/old/x.json", InputKind.SKIPPED, reason="excluded by 'schemas/old/*'"
        ),
        DiscoveredInput("schemas/t.json", InputKind.TEMPLATE, scope=TemplateScope.OTHER),
    )
    # The evidence manifest holds the inputs judged, not the files skipped.
    assert [i.path for i in collected.inventory.inputs] == ["schemas/t.json"]
    assert isinstance(collected.inventory.inputs[0], InputFile)
    assert [t.name for t in collected.inventory.templates] == ["t"]
    assert collected.inventory.gaps == ()


# ------------------------------------------------------------------------------ JSON sniffing


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([{"name": "a", "type": "STRING"}], None),
        ({"fields": [{"name": "a", "type": "INTEGER", "mode": "REPEATED"}]}, None),
        (
            {
                "tableReference": {},
                "schema": {
                    "fields": [
                        {"name": "a", "type": "RECORD", "fields": [{"name": "b", "type": "DATE"}]}
                    ]
                },
            },
            None,
        ),
        # a BigQuery schema with one mistake is a schema (its mistake is reported)
        ([{"name": "a", "type": "STRNG"}, {"name": "b", "type": "STRING"}], None),
        ([], "a JSON array is empty: no columns to check"),
        ({"fields": []}, "its 'fields' list is empty: no columns to check"),
        (
            {"$schema": "x", "fields": [{"name": "a", "type": "STRING"}]},
            'declares "$schema": a JSON Schema document (or a file checked by one)',
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}},
            'a JSON Schema document ("type": "object" with "properties")',
        ),
        ("text", "a string, not a table schema"),
        ({"fields": "a,b"}, "'fields' is a string, not a list of fields"),
        ([1, 2], "a JSON array holds integers, not fields with a name and type"),
        (
            [{"id": 1, "label": "x"}],
            "a JSON array holds objects with keys id, label, not fields with a name and type",
        ),
        (
            [{"fields": [{"name": "a", "type": "STRING"}], "tableReference": {"tableId": "t"}}],
            "a JSON array holds objects with keys fields, tableReference, not fields with a "
            "name and type; it embeds a field list at [0].fields",
        ),
        (
            {"version": 1, "schemas": {"billing": {"fields": [{"name": "a", "type": "STRING"}]}}},
            'a JSON object with keys version, schemas and no "fields" or "schema"; it embeds a '
            "field list at schemas.billing.fields",
        ),
        (
            {"fields": [{"name": "n", "type": "string"}, {"name": "loc", "type": "geopoint"}]},
            "field types 'geopoint' are not BigQuery types: a schema of another system",
        ),
        (
            {
                "type": "record",
                "name": "r",
                "fields": [
                    {"name": "a", "type": "string"},
                    {"name": "b", "type": ["null", "long"]},
                ],
            },
            "an Avro record schema",
        ),
        (
            [{"name": "a", "type": "admin"}, {"name": "b", "type": "user"}],
            "field types 'admin', 'user' are not BigQuery types: a schema of another system",
        ),
    ],
)
def test_what_is_a_table_schema(value: Any, reason: str | None) -> None:
    assert not_a_table_schema(value) == reason


def test_a_scoped_file_with_fields_is_a_template_whatever_its_types() -> None:
    odd = [{"name": "a", "type": "STRNG"}]
    assert not_a_table_schema(odd) is not None
    assert not_a_table_schema(odd, Claim.SCOPED) is None
    assert not_a_table_schema({"version": 2}, Claim.SCOPED) is not None


def test_broken_json_counts_as_a_template_only_with_field_syntax() -> None:
    assert looks_like_schema_text('[{"name": "a", "type": "STRING"},')
    assert looks_like_schema_text('{"fields": [')
    assert looks_like_schema_text('{"mode": "REPEATED"')
    assert not looks_like_schema_text('{"type": "string", "enum": [')  # JSON Schema spelling
    broken = '[\n  {"name": "a", "type": "STRING"},\n'
    assert parse_template(broken, "t.json", claim=Claim.FOUND).problems[0].unread
    other = parse_template('{"retries": 3,,}', "c.json", claim=Claim.FOUND)
    assert (other.problems, other.skipped) == (
        (),
        "not valid JSON (expected a string key in double quotes, found ',' at line 1) and "
        "nothing in it looks like a field",
    )
    # In a tenant/customers folder, broken JSON is a broken template.
    assert parse_template('{"retries": 3,,}', "c.json", claim=Claim.SCOPED).problems[0].unread


def test_unreadable_files_found_by_discovery(tmp_path: Path) -> None:
    binary = tmp_path / "x.schema"
    binary.write_bytes(b"\xff\xfe\x00binary")
    found = load_template(binary, tmp_path, claim=Claim.FOUND)
    assert (found.problems, found.skipped) == ((), "file is not valid UTF-8")
    named = load_template(binary, tmp_path, claim=Claim.NAMED)
    assert named.problems == (Problem("x.schema", "file is not valid UTF-8", 1, unread=True),)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["name", "type", "mode", "description", "fields", "policyTags", "maxLength", "x"]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(max_size=5),
            st.lists(st.integers(), max_size=2),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        ),
    )
)
def test_the_fast_path_accepts_only_what_the_field_schema_accepts(field: dict[str, Any]) -> None:
    if _plainly_valid(field):
        assert list(_field_validator().iter_errors(field)) == []


# --------------------------------------------------------------------------- SQL classification


def found(text: str, dialect: str = "bigquery") -> tuple[str | None, list[str], list[str]]:
    load = parse_sql_doc(text, "d.sql", dialect=dialect, claimed=False)
    return (
        load.skipped,
        [t.name for t in load.tables],
        [f"{p.line}: {p.message}" for p in load.problems],
    )


def test_bigquery_ddl_is_a_schema_doc_and_its_mistakes_count() -> None:
    # It claims BigQuery (a `project.dataset.table` name): its problems are AUD-003's.
    typed = "CREATE TABLE IF NOT EXISTS `p.d.users` (\n  id INT64,\n  name VARCHAR(3)\n);\n"
    assert found(typed) == (None, ["users"], ["3: column type VARCHAR is not a BigQuery type"])
    broken = "CREATE TABLE IF NOT EXISTS `p.d.users` (\n  id INT64,\n  name STRNG\n);\n"
    assert found(broken) == (
        None,
        [],
        ["1: cannot parse SQL statement: Expecting ) (line 3)"],
    )
    assert found("CREATE TABLE `p.d.t` (a INT64, b STRUCT<c STRING>);") == (None, ["t"], [])


def test_other_dialects_ddl_is_skipped_with_the_evidence() -> None:
    postgres = "CREATE TABLE users (\n  id SERIAL PRIMARY KEY,\n  email TEXT NOT NULL\n);\n"
    assert found(postgres) == (
        "not BigQuery DDL: does not parse as BigQuery (line 1); looks like PostgreSQL (SERIAL)",
        [],
        [],
    )
    mysql = "CREATE TABLE `stats` (\n  `label` varchar(32) NOT NULL\n) ENGINE=InnoDB;\n"
    skipped, _, _ = found(mysql)
    assert skipped is not None and skipped.startswith("not BigQuery DDL: ")
    assert skipped.endswith("looks like MySQL (ENGINE=)")
    # Read in its own dialect, the PostgreSQL doc is a schema doc.
    assert found(postgres, "postgres")[:2] == (None, ["users"])


def test_queries_dml_procedures_and_templates_are_not_schema_docs() -> None:
    assert found(
        "SELECT 1;\nINSERT INTO t VALUES (1);\nMERGE t USING s ON TRUE WHEN MATCHED THEN DELETE;"
    )[0] == ("no CREATE TABLE with a column list (it holds SELECT, INSERT, MERGE)")
    procedure = (
        "CREATE OR REPLACE PROCEDURE `p.d.run`()\nBEGIN\n"
        "  CREATE TEMP TABLE scratch (a INT64);\n  INSERT INTO scratch VALUES (1);\nEND;\n"
    )
    assert (
        found(procedure)[0]
        == "no CREATE TABLE with a column list (it holds CREATE PROCEDURE, INSERT, END)"
    )
    assert found("CREATE TABLE `p.d.t` AS SELECT 1 AS a;\nCREATE TABLE `p.d.c` CLONE `p.d.t`;")[
        0
    ] == ("no CREATE TABLE with a column list (it holds CREATE TABLE)")
    assert found("{{ config(materialized='table') }}\nSELECT * FROM {{ ref('x') }}")[0] == (
        "templated SQL (Jinja); no CREATE TABLE with a column list (it holds SELECT)"
    )
    assert found("CREATE TABLE t (a {{ column_type }});")[0] == (
        "templated SQL (Jinja {{ }} / {% %}): not a schema doc until rendered"
    )


def test_a_named_doc_is_read_whatever_it_holds() -> None:
    load = parse_sql_doc("CREATE TABLE users (id SERIAL);", "d.sql", claimed=True)
    assert load.skipped is None
    assert load.problems[0].unread


def test_dollar_quoted_bodies_hide_their_semicolons() -> None:
    doc = (
        "CREATE TABLE t (a INT);\n"
        "CREATE FUNCTION f() RETURNS TRIGGER AS $$\nBEGIN\n  NEW.a = 1;\n  RETURN NEW;\n"
        "END;\n$$ LANGUAGE plpgsql;\n"
        "CREATE TABLE u (b TEXT);\n"
    )
    load = parse_sql_doc(doc, "d.sql", dialect="postgres", claimed=True)
    assert ([t.name for t in load.tables], load.problems) == (["t", "u"], ())


def test_every_fixture_schema_is_valid_json() -> None:
    # The fixtures are data the tests above rely on; a corrupted copy would hide a bug.
    repos = Path(__file__).parent / "data" / "repos"
    for path in repos.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    assert CandidateKind.JSON.value == "json"
