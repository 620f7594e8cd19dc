"""SQL schema docs (BigQuery DDL) -> TableSchema, with exact lines, types and modes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.model import Field, Location, Origin, Problem, TableSchema
from auditor.sources.sqldocs import (
    MAX_DOC_BYTES,
    SqlDocLoad,
    load_sql_doc,
    parse_sql_doc,
)

DATA = Path(__file__).parent / "data" / "sql"
TENANT_DOC = DATA / "tenant_dataset.sql"
DOC = "docs/schema.sql"


def one_table(sql: str) -> TableSchema:
    """The single table of a doc that must load without problems."""
    load = parse_sql_doc(sql, DOC)
    assert load.problems == ()
    assert len(load.tables) == 1
    return load.tables[0]


def only_field(sql: str) -> Field:
    table = one_table(sql)
    assert len(table.fields) == 1
    return table.fields[0]


# ---------------------------------------------------------------------------- realistic doc


def test_realistic_doc_loads_exact_tables_fields_and_lines() -> None:
    load = load_sql_doc(TENANT_DOC, DATA.parent.parent)

    assert load.path == "data/sql/tenant_dataset.sql"
    assert load.problems == ()
    loc = "data/sql/tenant_dataset.sql"
    assert load.tables == (
        TableSchema(
            name="x_meta_pipeline_runs",
            dataset="{tenant_id}",
            origin=Origin.SQL_DOC,
            location=Location(loc, 14),
            fields=(
                Field(
                    "pipeline_logging_id",
                    "STRING",
                    "REQUIRED",
                    "Unique run id; also in step logs",
                    line=15,
                ),
                Field("pipeline_id", "STRING", "REQUIRED", line=16),
                Field(
                    "status", "STRING", "NULLABLE", "PENDING; RUNNING; COMPLETE; FAILED", line=17
                ),
                Field("cost_usd", "NUMERIC", line=18),
                Field("retries", "INT64", line=19),
                Field(
                    "parameters",
                    "STRUCT",
                    line=20,
                    fields=(
                        Field("source", "STRING", line=21),
                        Field(
                            "window",
                            "STRUCT",
                            line=22,
                            fields=(
                                Field("start_date", "DATE", line=23),
                                Field("end_date", "DATE", description="inclusive", line=24),
                            ),
                        ),
                    ),
                ),
                Field("start_time", "TIMESTAMP", "REQUIRED", line=27),
            ),
        ),
        TableSchema(
            name="x_meta_step_logs",
            dataset="{tenant_id}",
            origin=Origin.SQL_DOC,
            location=Location(loc, 34),
            fields=(
                Field("step_logging_id", "STRING", "REQUIRED", line=35),
                Field("pipeline_logging_id", "STRING", "REQUIRED", line=36),
                Field(
                    "attempts",
                    "STRUCT",
                    "REPEATED",
                    line=38,
                    fields=(
                        Field("attempt_no", "INT64", "REQUIRED", line=39),
                        Field("error_message", "STRING", line=40),
                        Field("tags", "STRING", "REPEATED", line=41),
                    ),
                ),
                Field("rows_processed", "BIGNUMERIC", line=43),
                Field("metadata", "JSON", line=44),
                Field("ts", "TIMESTAMP", line=45),
            ),
        ),
        TableSchema(
            name="x_meta_dq_results",
            dataset=None,
            origin=Origin.SQL_DOC,
            location=Location(loc, 50),
            fields=(
                Field("dq_result_id", "STRING", "REQUIRED", line=51),
                Field("passed", "BOOL", line=52),
                Field("score", "FLOAT64", line=53),
                Field("checked_on", "DATE", line=54),
                Field("checked_at", "DATETIME", line=55),
                Field("raw", "BYTES", line=56),
                Field("location", "GEOGRAPHY", line=57),
            ),
        ),
    )


def test_fixture_lines_point_at_the_names() -> None:
    # Guards the fixture itself: each reported line really holds that name.
    lines = TENANT_DOC.read_text(encoding="utf-8").split("\n")
    load = load_sql_doc(TENANT_DOC, DATA)
    for table in load.tables:
        assert table.location.line is not None
        assert table.name in lines[table.location.line - 1]
        for path, f in table.columns():
            assert f.line is not None
            assert f.name in lines[f.line - 1], path


def test_crlf_line_endings_give_the_same_lines() -> None:
    text = TENANT_DOC.read_text(encoding="utf-8")
    lf = parse_sql_doc(text, DOC)
    crlf = parse_sql_doc(text.replace("\n", "\r\n"), DOC)
    assert crlf == lf


def test_lines_count_comments_blank_lines_strings_and_earlier_statements() -> None:
    sql = (
        "-- header; with a semicolon\n"  # 1
        "/* block ;\n"  # 2
        "   comment */\n"  # 3
        "\n"  # 4
        "CREATE SCHEMA s OPTIONS(description='''a;\n"  # 5
        "b''');\n"  # 6
        "# hash comment ;\n"  # 7
        "CREATE TABLE IF NOT EXISTS\n"  # 8
        "  `p.s.t`\n"  # 9
        "(\n"  # 10
        '  a STRING OPTIONS(description="x;\\"y"), b STRUCT<\n'  # 11
        "\n"  # 12
        "    c INT64>\n"  # 13
        ")"  # 14
    )
    table = one_table(sql)
    assert table.location == Location(DOC, 9)
    assert table.fields == (
        Field("a", "STRING", description='x;"y', line=11),
        Field("b", "STRUCT", line=11, fields=(Field("c", "INT64", line=13),)),
    )


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "dataset", "table"),
    [
        ("`{project_id}.customers.customer_api_keys`", "customers", "customer_api_keys"),
        ("`{project_id}.{tenant_id}.x_meta_step_logs`", "{tenant_id}", "x_meta_step_logs"),
        ("{project_id}.{tenant_id}.x_meta_step_logs", "{tenant_id}", "x_meta_step_logs"),
        ("`{project_id}`.`{tenant_id}`.`x_meta_step_logs`", "{tenant_id}", "x_meta_step_logs"),
        ("{tenant_id}.runs", "{tenant_id}", "runs"),
        ("`{tenant_id}.runs_{env}`", "{tenant_id}", "runs_{env}"),
        ("{project_id}-raw.ds_{env}.runs", "ds_{env}", "runs"),
        ("customers.customer_profiles", "customers", "customer_profiles"),
        ("`my-project.customers.customer_profiles`", "customers", "customer_profiles"),
        ("my-project.customers.customer_profiles", "customers", "customer_profiles"),
        ("customer_profiles", None, "customer_profiles"),
        ("`customer_profiles`", None, "customer_profiles"),
        ("Mixed.CaseName", "Mixed", "CaseName"),
    ],
)
def test_table_names_and_placeholder_datasets_are_reported_as_written(
    name: str, dataset: str | None, table: str
) -> None:
    loaded = one_table(f"CREATE OR REPLACE TABLE {name} (id STRING)")
    assert (loaded.dataset, loaded.name) == (dataset, table)


def test_placeholders_in_column_names_are_restored_and_strings_are_untouched() -> None:
    sql = (
        "CREATE TABLE `{project_id}.{tenant_id}.t` (\n"
        "  `{prefix}_id` STRING OPTIONS(description='id for {tenant_id}'),\n"
        "  s STRUCT<`{k}` INT64>\n"
        ")"
    )
    assert one_table(sql).fields == (
        Field("{prefix}_id", "STRING", description="id for {tenant_id}", line=2),
        Field("s", "STRUCT", line=3, fields=(Field("{k}", "INT64", line=3),)),
    )


def test_placeholder_substitutes_never_collide_with_names_in_the_doc() -> None:
    sql = "CREATE TABLE {tenant_id}.t (__auditor_ph0__ STRING, `{x}` INT64)"
    table = one_table(sql)
    assert table.dataset == "{tenant_id}"
    assert [f.name for f in table.fields] == ["__auditor_ph0__", "{x}"]


# ---------------------------------------------------------------------------- types and modes


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("INT64", "INT64"),
        ("int64", "INT64"),
        ("INT", "INT64"),
        ("INTEGER", "INT64"),
        ("SMALLINT", "INT64"),
        ("BIGINT", "INT64"),
        ("TINYINT", "INT64"),
        ("BYTEINT", "INT64"),
        ("FLOAT64", "FLOAT64"),
        ("FLOAT", "FLOAT64"),
        ("BOOL", "BOOL"),
        ("BOOLEAN", "BOOL"),
        ("STRING", "STRING"),
        ("STRING(100)", "STRING"),
        ("BYTES", "BYTES"),
        ("BYTES(16)", "BYTES"),
        ("TIMESTAMP", "TIMESTAMP"),
        ("timestamp", "TIMESTAMP"),
        ("DATETIME", "DATETIME"),
        ("DATE", "DATE"),
        ("TIME", "TIME"),
        ("NUMERIC", "NUMERIC"),
        ("DECIMAL", "NUMERIC"),
        ("NUMERIC(10, 2)", "NUMERIC"),
        ("DECIMAL(38,9)", "NUMERIC"),
        ("BIGNUMERIC", "BIGNUMERIC"),
        ("BIGDECIMAL", "BIGNUMERIC"),
        ("BIGNUMERIC(40, 2)", "BIGNUMERIC"),
        ("JSON", "JSON"),
        ("GEOGRAPHY", "GEOGRAPHY"),
        ("INTERVAL", "INTERVAL"),
        ("RANGE<DATE>", "RANGE"),
        ("RANGE<TIMESTAMP>", "RANGE"),
    ],
)
def test_type_spellings_normalise_to_standard_sql_names(spelling: str, canonical: str) -> None:
    assert only_field(f"CREATE TABLE d.t (c {spelling})") == Field("c", canonical, line=1)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("c STRING NOT NULL", Field("c", "STRING", "REQUIRED", line=1)),
        ("c string not null", Field("c", "STRING", "REQUIRED", line=1)),
        ("c STRING NULL", Field("c", "STRING", "NULLABLE", line=1)),
        ("c ARRAY<INT64>", Field("c", "INT64", "REPEATED", line=1)),
        ("c ARRAY<STRING(10)>", Field("c", "STRING", "REPEATED", line=1)),
        ("c ARRAY<STRING> NOT NULL", Field("c", "STRING", "REPEATED", line=1)),
        (
            "c ARRAY<STRUCT<a INT64 NOT NULL, b ARRAY<DATE>>>",
            Field(
                "c",
                "STRUCT",
                "REPEATED",
                line=1,
                fields=(
                    Field("a", "INT64", "REQUIRED", line=1),
                    Field("b", "DATE", "REPEATED", line=1),
                ),
            ),
        ),
        (
            "c STRUCT<a INT64, b STRUCT<c STRING>> NOT NULL",
            Field(
                "c",
                "STRUCT",
                "REQUIRED",
                line=1,
                fields=(
                    Field("a", "INT64", line=1),
                    Field("b", "STRUCT", line=1, fields=(Field("c", "STRING", line=1),)),
                ),
            ),
        ),
        (
            "c STRUCT<a STRING OPTIONS(description='inner')> OPTIONS(description=\"outer\")",
            Field(
                "c",
                "STRUCT",
                description="outer",
                line=1,
                fields=(Field("a", "STRING", description="inner", line=1),),
            ),
        ),
        (
            "c TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP() OPTIONS(description=r'raw\\d')",
            Field("c", "TIMESTAMP", "REQUIRED", "raw\\d", line=1),
        ),
        ("c STRING DEFAULT 'x' COLLATE 'und:ci'", Field("c", "STRING", line=1)),
        ("c STRING OPTIONS(description=NULL)", Field("c", "STRING", line=1)),
        ("`from` STRING", Field("from", "STRING", line=1)),
        ("date DATE", Field("date", "DATE", line=1)),
    ],
)
def test_modes_descriptions_and_nesting(column: str, expected: Field) -> None:
    assert only_field(f"CREATE TABLE d.t ({column})") == expected


def test_table_constraints_are_not_columns() -> None:
    sql = (
        "CREATE TABLE d.t (a STRING, b STRING, PRIMARY KEY (a) NOT ENFORCED, "
        "FOREIGN KEY (b) REFERENCES d.o(b) NOT ENFORCED)"
    )
    assert [f.name for f in one_table(sql).fields] == ["a", "b"]


def test_table_options_partition_cluster_and_column_list_with_as_select() -> None:
    sql = (
        "CREATE TABLE d.t (a STRING, ts TIMESTAMP)\n"
        "PARTITION BY TIMESTAMP_TRUNC(ts, DAY)\n"
        "CLUSTER BY a\n"
        "OPTIONS(description='x', labels=[('team', 'data')])\n"
        "AS SELECT 'a' AS a, CURRENT_TIMESTAMP() AS ts"
    )
    assert one_table(sql).fields == (Field("a", "STRING", line=1), Field("ts", "TIMESTAMP", line=1))


# ---------------------------------------------------------------------------- other statements


def test_statements_other_than_create_table_are_ignored() -> None:
    sql = """
CREATE SCHEMA IF NOT EXISTS `{project_id}.customers` OPTIONS(location='US');
CREATE VIEW d.v AS SELECT 1 AS api_key;
CREATE MATERIALIZED VIEW d.mv AS SELECT 1 AS x;
CREATE OR REPLACE TABLE FUNCTION d.tf() AS SELECT 1 AS x;
CREATE TEMP FUNCTION f(x INT64) AS (x + 1);
INSERT INTO d.t (a) VALUES ('CREATE TABLE x (y INT64);');
ALTER TABLE d.t ADD COLUMN secret STRING;
DECLARE n INT64 DEFAULT 1;
SELECT 1;
;;
-- CREATE TABLE d.commented (a INT64);
/* CREATE TABLE d.commented2 (a INT64); */
"""
    assert parse_sql_doc(sql, DOC) == SqlDocLoad(DOC, (), ())


def test_temp_and_external_tables_are_tables() -> None:
    sql = (
        "CREATE TEMP TABLE scratch (a INT64);\n"
        "CREATE EXTERNAL TABLE d.ext (b STRING) OPTIONS(format='CSV', uris=['gs://b/x.csv']);"
    )
    load = parse_sql_doc(sql, DOC)
    assert load.problems == ()
    assert [(t.dataset, t.name, t.location.line) for t in load.tables] == [
        (None, "scratch", 1),
        ("d", "ext", 2),
    ]


# ---------------------------------------------------------------------------- problems


def test_broken_statement_is_a_problem_and_the_others_still_load() -> None:
    sql = (
        "CREATE TABLE d.a (x INT64);\n"  # 1
        "\n"  # 2
        "-- the next one is broken\n"  # 3
        "CREATE TABLE d.broken (\n"  # 4
        "  a INT64,\n"  # 5
        "  b NOSUCHTYPE,\n"  # 6
        "  token STRING DEFAULT 'sk_live_51Hsecretvalue'\n"  # 7
        ");\n"  # 8
        "CREATE TABLE d.b (y STRING);\n"  # 9
    )
    load = parse_sql_doc(sql, DOC)
    assert [(t.name, t.location.line) for t in load.tables] == [("a", 1), ("b", 9)]
    assert load.problems == (
        Problem(DOC, "cannot parse SQL statement: Expecting ) (line 6)", line=4, unread=True),
    )
    assert "sk_live" not in str(load.problems[0])


def test_unterminated_string_swallows_the_rest_but_not_what_came_before() -> None:
    sql = "CREATE TABLE d.a (x INT64);\nCREATE TABLE d.t (a STRING DEFAULT 'oops);\nSELECT 1;"
    load = parse_sql_doc(sql, DOC)
    assert [t.name for t in load.tables] == ["a"]
    assert load.problems == (
        Problem(DOC, "cannot parse SQL statement: invalid token", line=2, unread=True),
    )


def test_duplicate_table_is_a_problem_and_both_definitions_are_kept() -> None:
    sql = (
        "CREATE TABLE IF NOT EXISTS `{project_id}.customers.keys` (id STRING);\n"
        "CREATE OR REPLACE TABLE customers.keys (id STRING, api_key STRING);\n"
        "CREATE TABLE other.keys (id STRING);\n"
    )
    load = parse_sql_doc(sql, DOC)
    assert [(t.dataset, t.name, len(t.fields)) for t in load.tables] == [
        ("customers", "keys", 1),
        ("customers", "keys", 2),
        ("other", "keys", 1),
    ]
    assert load.problems == (
        Problem(DOC, "table customers.keys is defined more than once (first at line 1)", 2),
    )


def test_duplicate_column_names_are_problems_case_insensitively() -> None:
    sql = "CREATE TABLE d.t (\n  a STRING,\n  A INT64,\n  s STRUCT<x INT64, X STRING>\n)"
    load = parse_sql_doc(sql, DOC)
    assert [f.name for f in load.tables[0].fields] == ["a", "A", "s"]
    assert load.problems == (
        Problem(DOC, "column A is declared more than once", 3, "A"),
        Problem(DOC, "column X is declared more than once", 4, "s.X"),
    )


def test_create_table_without_columns_is_kept_with_a_problem() -> None:
    sql = "CREATE TABLE d.copy\nAS SELECT * FROM d.src;\nCREATE TABLE d.liked LIKE d.src;"
    load = parse_sql_doc(sql, DOC)
    assert load.tables == (
        TableSchema("copy", (), Origin.SQL_DOC, Location(DOC, 1), "d"),
        TableSchema("liked", (), Origin.SQL_DOC, Location(DOC, 3), "d"),
    )
    assert load.problems == (
        Problem(
            DOC,
            "CREATE TABLE d.copy declares no columns (AS SELECT, LIKE, COPY or CLONE); "
            "its columns cannot be audited",
            1,
        ),
        Problem(
            DOC,
            "CREATE TABLE d.liked declares no columns (AS SELECT, LIKE, COPY or CLONE); "
            "its columns cannot be audited",
            3,
        ),
    )


def test_create_table_the_parser_cannot_model_is_a_problem_not_silence() -> None:
    sql = "SELECT 1;\nCREATE SNAPSHOT TABLE d.snap CLONE d.src;"
    assert parse_sql_doc(sql, DOC).problems == (
        Problem(
            DOC,
            "CREATE TABLE uses syntax the SQL parser does not support; its columns were not read",
            2,
            unread=True,
        ),
    )


def test_column_problems_keep_the_column_when_its_name_is_known() -> None:
    sql = (
        "CREATE TABLE d.t (\n"
        "  a VARCHAR,\n"
        "  b ARRAY<ARRAY<INT64>>,\n"
        "  c STRUCT<INT64>,\n"
        "  d ARRAY\n"
        ")"
    )
    load = parse_sql_doc(sql, DOC)
    assert load.tables[0].fields == (
        Field("a", "VARCHAR", line=2),
        Field("b", "INT64", "REPEATED", line=3),
        Field("c", "STRUCT", line=4),
    )
    assert load.problems == (
        Problem(DOC, "column type VARCHAR is not a BigQuery type", 2, "a"),
        Problem(DOC, "ARRAY of ARRAY is not a BigQuery type", 3, "b"),
        Problem(DOC, "STRUCT member without a name", 4, "c"),
        Problem(DOC, "column d is an ARRAY without an element type", 5, "d"),
    )


def test_reserved_words_as_bare_column_names_are_problems() -> None:
    # sqlglot reads `null` as a NULL literal (no position: the table's line is used) and
    # `any STRING` as an ANY expression; BigQuery rejects both, so neither is silently dropped.
    sql = "CREATE TABLE d.t (\n  ok STRING,\n  null STRING,\n  any STRING\n)"
    load = parse_sql_doc(sql, DOC)
    assert load.tables[0].fields == (Field("ok", "STRING", line=2),)
    assert load.problems == (
        Problem(DOC, "column name is not a valid identifier", 1),
        Problem(DOC, "unrecognised column definition", 4),
    )


def test_nesting_beyond_bigquerys_limit_is_a_problem() -> None:
    depth = 17
    sql = "CREATE TABLE d.t (a " + "STRUCT<x " * depth + "INT64" + ">" * depth + ")"
    load = parse_sql_doc(sql, DOC)
    deepest = ".".join(["a"] + ["x"] * 14)
    assert load.problems == (Problem(DOC, "STRUCT nested deeper than 15 levels", 1, deepest),)
    assert max(len(path.split(".")) for path, _ in load.tables[0].columns()) == 15


def test_oversized_text_is_a_problem() -> None:
    for text in ("-" * (MAX_DOC_BYTES + 1), "é" * (MAX_DOC_BYTES // 2 + 1)):
        assert parse_sql_doc(text, DOC) == SqlDocLoad(
            DOC,
            (),
            (Problem(DOC, f"SQL doc is larger than {MAX_DOC_BYTES} bytes; not read", unread=True),),
        )


# ---------------------------------------------------------------------------- files


def test_load_sql_doc_reports_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "bad.sql").write_bytes(b"CREATE TABLE d.t (a INT64);\n-- \xff\n")
    (tmp_path / "dir.sql").mkdir()
    assert load_sql_doc(tmp_path / "bad.sql", tmp_path) == SqlDocLoad(
        "bad.sql", (), (Problem("bad.sql", "file is not valid UTF-8", 2, unread=True),)
    )
    for name in ("missing.sql", "dir.sql"):
        assert load_sql_doc(tmp_path / name, tmp_path) == SqlDocLoad(
            name, (), (Problem(name, "not a readable regular file", unread=True),)
        )


def test_load_sql_doc_oversized_file_is_a_problem(tmp_path: Path) -> None:
    big = tmp_path / "big.sql"
    with big.open("wb") as fh:
        fh.truncate(MAX_DOC_BYTES + 1)
    assert load_sql_doc(big, tmp_path).problems == (
        Problem("big.sql", "SQL doc is larger than 1 MiB; not read", unread=True),
    )


def test_load_sql_doc_strips_a_bom_and_uses_posix_relative_paths(tmp_path: Path) -> None:
    doc = tmp_path / "schemas" / "customers.sql"
    doc.parent.mkdir()
    doc.write_bytes(b"\xef\xbb\xbfCREATE TABLE customers.p (id STRING);")
    load = load_sql_doc(doc, tmp_path)
    assert load.path == "schemas/customers.sql"
    assert load.tables == (
        TableSchema(
            "p",
            (Field("id", "STRING", line=1),),
            Origin.SQL_DOC,
            Location("schemas/customers.sql", 1),
            "customers",
        ),
    )


# ---------------------------------------------------------------------------- hostile input

_VALID = TENANT_DOC.read_text(encoding="utf-8")
_SQLISH = st.sampled_from(
    [
        *"`'\";#-/*{}<>(),.\n \\\r\t0aZ_",
        "CREATE TABLE ",
        "STRUCT<",
        "ARRAY<",
        "NOT NULL",
        "'''",
        '"""',
        "{tenant_id}",
        "INT64",
        "OPTIONS(description=",
        "r'",
        "/*",
        "*/",
        "--",
    ]
)
_HOSTILE = st.one_of(st.text(max_size=300), st.lists(_SQLISH, max_size=60).map("".join))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_HOSTILE)
def test_arbitrary_text_never_raises(text: str) -> None:
    assert isinstance(parse_sql_doc(text, DOC), SqlDocLoad)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk=_HOSTILE, where=st.integers(min_value=0, max_value=len(_VALID)))
def test_text_spliced_into_a_valid_doc_never_raises(junk: str, where: int) -> None:
    load = parse_sql_doc(_VALID[:where] + junk + _VALID[where:], DOC)
    assert isinstance(load, SqlDocLoad)
    for problem in load.problems:
        assert problem.path == DOC
