"""Loading BigQuery JSON table templates: the three forms, structure, BigQuery's rules."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from auditor.model import Field, Location, Origin, Problem, TableSchema
from auditor.resources import format_schema
from auditor.sources.sniff import looks_like_schema_text, not_a_table_schema
from auditor.sources.templates import (
    TemplateForm,
    TemplateLoad,
    load_template,
    parse_template,
)

PATH = "templates/x_meta_runs.json"

ARRAY_FORM = """[
  {"name": "run_id", "type": "STRING", "mode": "REQUIRED", "description": "Run id"},
  {
    "name": "config",
    "type": "RECORD",
    "mode": "repeated",
    "fields": [
      {"name": "auth", "type": "RECORD", "fields": [
        {"name": "token", "type": "STRING",
         "policyTags": {"names": ["projects/p/locations/eu/taxonomies/1/policyTags/2"]}}
      ]},
      {"name": "retries", "type": "integer"}
    ]
  }
]
"""

EXPECTED_FIELDS = (
    Field("run_id", "STRING", "REQUIRED", "Run id", line=2),
    Field(
        "config",
        "RECORD",
        "REPEATED",
        fields=(
            Field(
                "auth",
                "RECORD",
                fields=(
                    Field(
                        "token",
                        "STRING",
                        policy_tags=("projects/p/locations/eu/taxonomies/1/policyTags/2",),
                        line=9,
                    ),
                ),
                line=8,
            ),
            Field("retries", "integer", line=12),
        ),
        line=4,
    ),
)


def parse(text: str) -> TemplateLoad:
    return parse_template(text, PATH)


def problem(
    message: str, line: int | None, column: str | None = None, *, unread: bool = False
) -> Problem:
    return Problem(PATH, message, line, column, unread=unread)


def field_problems(**field: Any) -> tuple[Problem, ...]:
    """Problems of a one-field template; the field (every key of it) is on line 2."""
    load = parse("[\n" + json.dumps(field) + "\n]")
    assert load.table is not None
    return load.problems


# ---------------------------------------------------------------------------- the three forms


def test_array_form() -> None:
    load = parse(ARRAY_FORM)
    assert load == TemplateLoad(
        PATH,
        TableSchema("x_meta_runs", EXPECTED_FIELDS, Origin.TEMPLATE, Location(PATH, 1)),
        TemplateForm.ARRAY,
        (),
    )
    assert [path for path, _ in load.table.columns()] == [  # type: ignore[union-attr]
        "run_id",
        "config",
        "config.auth",
        "config.auth.token",
        "config.retries",
    ]


def test_fields_object_form() -> None:
    text = '{\n  "description": "runs",\n  "fields":\n' + ARRAY_FORM + "}"
    load = parse(text)
    assert load.form is TemplateForm.FIELDS_OBJECT
    assert load.problems == ()
    assert load.table == TableSchema(
        "x_meta_runs", _shifted(EXPECTED_FIELDS, 3), Origin.TEMPLATE, Location(PATH, 3)
    )


def test_table_resource_form() -> None:
    text = (
        '{\n  "kind": "bigquery#table",\n  "tableReference": {"tableId": "other"},\n'
        '  "schema": {\n    "fields": ' + ARRAY_FORM + "  }\n}"
    )
    load = parse(text)
    assert load.form is TemplateForm.TABLE_RESOURCE
    assert load.problems == ()
    # The table is named after the file, whatever tableReference says.
    assert load.table == TableSchema(
        "x_meta_runs", _shifted(EXPECTED_FIELDS, 4), Origin.TEMPLATE, Location(PATH, 5)
    )


def _shifted(fields: tuple[Field, ...], by: int) -> tuple[Field, ...]:
    return tuple(
        Field(
            f.name,
            f.type,
            f.mode,
            f.description,
            _shifted(f.fields, by),
            f.policy_tags,
            None if f.line is None else f.line + by,
        )
        for f in fields
    )


def test_empty_field_list_is_a_table_without_columns() -> None:
    load = parse("[]")
    assert load.table == TableSchema("x_meta_runs", (), Origin.TEMPLATE, Location(PATH, 1))
    assert load.problems == ()


# ---------------------------------------------------------------------------- unusable files


@pytest.mark.parametrize(
    ("text", "form", "expected"),
    [
        ('[\n  {"name": "a", "type": "STRING"},\n  {"name": "b" "type": "STRING"}\n]', None,
         problem("expected ',' or '}' after object member, found '\"'", 3)),
        ('[\n  {"name": "a", "type": "STRING"},\n]', None, problem("trailing comma before ']'", 3)),
        ("", None, problem("no JSON value (the document is empty)", 1)),
        ('{\n  "fields": "x"\n}', TemplateForm.FIELDS_OBJECT,
         problem("'fields' must be an array, got a string", 2)),
        ('{"schema": [1]}', TemplateForm.TABLE_RESOURCE,
         problem("'schema' must be an object with a 'fields' array, got an array", 1)),
        ('{\n"schema": {}}', TemplateForm.TABLE_RESOURCE,
         problem("'schema' has no 'fields' array", 2)),
        ('{"schema":\n {\n"fields": null}}', TemplateForm.TABLE_RESOURCE,
         problem("'schema.fields' must be an array, got null", 3)),
        ('"x"', None, problem('expected a JSON array of fields, an object with "fields", or a '
                              'table resource with "schema": {"fields": [...]}; got a string', 1)),
        ('{"name": "a"}', None, problem('expected a JSON array of fields, an object with "fields", '
                                        'or a table resource with "schema": {"fields": [...]}; got '
                                        'an object without "fields" or "schema"', 1)),
    ],
)  # fmt: skip
def test_unusable_file_gives_no_table_and_one_problem(
    text: str, form: TemplateForm | None, expected: Problem
) -> None:
    # The whole file went unchecked: unread, so the audit records a coverage gap.
    assert parse(text) == TemplateLoad(PATH, None, form, (replace(expected, unread=True),))


@pytest.mark.parametrize("opener", ["[", '[{"name": "a", "type": "RECORD", "fields": '])
def test_huge_nesting_is_a_clean_problem(opener: str) -> None:
    assert parse(opener * 100_000) == TemplateLoad(
        PATH, None, None, (problem("nesting deeper than 200 levels", 1, unread=True),)
    )


# ---------------------------------------------------------------------------- structure


def test_broken_fields_are_reported_and_skipped_the_rest_is_kept() -> None:
    text = """[
  {"name": 42, "type": "STRING"},
  "not a field",
  {"type": "STRING"},
  {"name": "no_type"},
  {"name": "ok", "type": "RECORD", "fields": [
    {"name": "t", "type": 5},
    {"name": "kept", "type": "STRING", "fields": "x"},
    null
  ]}
]"""
    load = parse(text)
    skip = "; the field is skipped"
    # A skipped field went unchecked: unread, so the audit knows it is incomplete.
    assert load.problems == (
        problem(f"field at index 0: 'name' must be a string, got integer 42{skip}", 2, unread=True),
        problem(
            f"field at index 1 must be an object, got string 'not a field'{skip}", 3, unread=True
        ),
        problem(f"field at index 2: missing required key 'name'{skip}", 4, unread=True),
        problem(f"missing required key 'type'{skip}", 5, "no_type", unread=True),
        problem(f"'type' must be a string, got integer 5{skip}", 7, "ok.t", unread=True),
        problem("'fields' must be an array, got string 'x'", 8, "ok.kept"),
        problem(f"field at index 2 must be an object, got null{skip}", 9, "ok", unread=True),
    )
    assert load.table is not None
    assert load.table.fields == (
        Field("ok", "RECORD", fields=(Field("kept", "STRING", line=8),), line=6),
    )


def test_typo_in_a_key_is_caught_with_a_suggestion() -> None:
    text = """[
  {"name": "a", "type": "STRING",
   "descripton": "A", "Mode": "NULLABLE", "zzz": 1}
]"""
    assert parse(text).problems == (
        problem("unknown key 'descripton' (did you mean 'description'?)", 3, "a"),
        problem("unknown key 'Mode' (did you mean 'mode'?)", 3, "a"),
        problem("unknown key 'zzz'", 3, "a"),
    )


def test_unknown_keys_inside_nested_objects() -> None:
    assert field_problems(
        name="a", type="RANGE", policyTags={"nmes": []}, rangeElementType={"typ": "DATE"}
    ) == (
        problem("unknown key 'nmes' in 'policyTags' (did you mean 'names'?)", 2, "a"),
        problem("missing required key 'type' in 'rangeElementType'", 2, "a"),
        problem("unknown key 'typ' in 'rangeElementType' (did you mean 'type'?)", 2, "a"),
    )


def test_wrong_json_types_of_known_keys() -> None:
    assert field_problems(
        name="a",
        type="STRING",
        mode=1,
        description=["x"],
        maxLength="ten",
        policyTags={"names": "p"},
        dataPolicies=[{"name": 1}],
        roundingMode="UP",
    ) == (
        problem("'mode' must be a string, got integer 1", 2, "a"),
        problem("'description' must be a string, got an array", 2, "a"),
        problem("'policyTags.names' must be an array, got string 'p'", 2, "a"),
        problem("'dataPolicies[0].name' must be a string, got integer 1", 2, "a"),
        problem("'maxLength' must be an integer or a string of digits, got string 'ten'", 2, "a"),
        problem(
            "'roundingMode' must be one of ROUNDING_MODE_UNSPECIFIED, ROUND_HALF_AWAY_FROM_ZERO, "
            "ROUND_HALF_EVEN, got string 'UP'",
            2,
            "a",
        ),
        # A second, separate mistake: STRING columns take no roundingMode at all.
        problem("roundingMode applies only to NUMERIC and BIGNUMERIC, not STRING", 2, "a"),
    )


def test_every_documented_key_is_accepted_and_int64_may_be_a_digit_string() -> None:
    assert (
        field_problems(
            name="price",
            type="NUMERIC",
            mode="NULLABLE",
            description="d",
            policyTags={"names": ["projects/p/locations/eu/taxonomies/1/policyTags/2"]},
            dataPolicies=[{"name": "projects/p/locations/eu/dataPolicies/x"}],
            dataGovernanceTagsInfo={"dataGovernanceTags": {"p/pii": "sensitive"}},
            precision="10",
            scale=2,
            defaultValueExpression="0",
            roundingMode="ROUND_HALF_EVEN",
            foreignTypeDefinition="decimal(10,2)",
            timestampPrecision="6",
            categories={"names": []},
        )
        == ()
    )


def test_shipped_json_schema_is_valid_and_recursive() -> None:
    schema = json.loads(format_schema("bigquery-table-schema").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert {"$id", "title", "description"} <= set(schema)
    validator = Draft202012Validator(schema)
    assert validator.is_valid(json.loads(ARRAY_FORM))
    nested_typo = [{"name": "a", "type": "RECORD", "fields": [{"name": "b", "typ": "STRING"}]}]
    assert sorted(e.message for e in validator.iter_errors(nested_typo)) == [
        "'type' is a required property",
        "Additional properties are not allowed ('typ' was unexpected)",
    ]


# ---------------------------------------------------------------------------- BigQuery's rules


@pytest.mark.parametrize(
    "type_name",
    ["STRING", "bytes", "INTEGER", "Int64", "FLOAT", "float64", "BOOLEAN", "bool", "TIMESTAMP",
     "DATE", "TIME", "DATETIME", "GEOGRAPHY", "NUMERIC", "BIGNUMERIC", "JSON", "INTERVAL",
     "interval"],
)  # fmt: skip
def test_known_types_and_legacy_aliases_in_any_case(type_name: str) -> None:
    assert field_problems(name="a", type=type_name) == ()


def test_an_interval_column_is_valid_and_found_by_discovery() -> None:
    # A real schema (python-bigquery's test data) has an INTERVAL column; BigQuery's column
    # types include it, so it is neither an unknown type nor another system's schema.
    fields = [{"name": "id", "type": "INT64"}, {"name": "span", "type": "INTERVAL"}]
    assert parse_template(json.dumps(fields, indent=1), "t.json").problems == ()
    assert not_a_table_schema([{"name": "span", "type": "INTERVAL"}]) is None
    assert looks_like_schema_text('[{"name": "span", "type": "INTERVAL",}]')
    assert field_problems(name="a", type="INTERVL") == (
        problem("unknown type 'INTERVL' (did you mean INTERVAL?)", 2, "a"),
    )


@pytest.mark.parametrize(
    ("type_name", "message"),
    [
        ("STRNG", "unknown type 'STRNG' (did you mean STRING?)"),
        ("integr", "unknown type 'integr' (did you mean INTEGER?)"),
        ("VARCHAR", "unknown type 'VARCHAR'"),
    ],
)
def test_unknown_type(type_name: str, message: str) -> None:
    assert field_problems(name="a", type=type_name) == (problem(message, 2, "a"),)


def test_record_and_struct_need_sub_fields() -> None:
    assert field_problems(name="r", type="RECORD", fields=[{"name": "x", "type": "STRING"}]) == ()
    assert field_problems(name="r", type="struct", fields=[{"name": "x", "type": "STRING"}]) == ()
    assert field_problems(name="r", type="RECORD") == (
        problem("RECORD column has no sub-fields", 2, "r"),
    )
    assert field_problems(name="r", type="STRUCT", fields=[]) == (
        problem("STRUCT column has no sub-fields", 2, "r"),
    )
    assert field_problems(name="s", type="STRING", fields=[{"name": "x", "type": "STRING"}]) == (
        problem("STRING column cannot have sub-fields (only RECORD/STRUCT)", 2, "s"),
    )


@pytest.mark.parametrize("mode", ["NULLABLE", "REQUIRED", "REPEATED", "repeated"])
def test_valid_modes(mode: str) -> None:
    assert field_problems(name="a", type="STRING", mode=mode) == ()


def test_unknown_mode() -> None:
    assert field_problems(name="a", type="STRING", mode="OPTIONAL") == (
        problem("unknown mode 'OPTIONAL' (expected NULLABLE, REQUIRED or REPEATED)", 2, "a"),
    )


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "_a",
        "A_1",
        "x" * 300,
        "名前",
        "naïve",
        "a-b",
        "a b",
        "a&b%c=d+e:f'g<h>i#j|k",
        "ab\u0301",
    ],
)
def test_valid_column_names_including_flexible_ones(name: str) -> None:
    assert field_problems(name=name, type="STRING") == ()


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("", ["column name is empty"]),
        ("x" * 301, ["column name is 301 characters long; BigQuery allows at most 300"]),
        ("1abc", ["column name '1abc' must not start with a digit"]),
        ("a.b", ["column name 'a.b' contains characters BigQuery does not allow: '.'"]),
        ("a!b(c)",
         ["column name 'a!b(c)' contains characters BigQuery does not allow: '!', '(', ')'"]),
        ("a\tb", ["column name 'a\\tb' contains characters BigQuery does not allow: U+0009"]),
        ("9.x", ["column name '9.x' must not start with a digit",
                 "column name '9.x' contains characters BigQuery does not allow: '.'"]),
    ],
)  # fmt: skip
def test_invalid_column_names(name: str, messages: list[str]) -> None:
    column = name or None
    expected = tuple(problem(m, 2, column) for m in messages)
    assert field_problems(name=name, type="STRING") == expected


@pytest.mark.parametrize(
    "name",
    ["_TABLE_SUFFIX", "_file_name", "_PARTITIONTIME", "_partitiondate", "_ROW_TIMESTAMP",
     "__ROOT__x", "_COLIDENTIFIER", "_CHANGE_SEQUENCE_NUMBER", "_change_type", "_CHANGE_TIMESTAMP"],
)  # fmt: skip
def test_reserved_prefixes_in_any_case(name: str) -> None:
    prefix = next(p for p in _PREFIXES if name.upper().startswith(p))
    assert field_problems(name=name, type="STRING") == (
        problem(f"column name {name!r} uses the reserved prefix {prefix}", 2, name),
    )


_PREFIXES = (
    "_TABLE_", "_FILE_", "_PARTITION", "_ROW_TIMESTAMP", "__ROOT__", "_COLIDENTIFIER",
    "_CHANGE_SEQUENCE_NUMBER", "_CHANGE_TYPE", "_CHANGE_TIMESTAMP",
)  # fmt: skip


@pytest.mark.parametrize("name", ["_table", "table_", "my_FILE_", "_ROOT_", "_change"])
def test_names_near_a_reserved_prefix_are_fine(name: str) -> None:
    assert field_problems(name=name, type="STRING") == ()


def test_duplicate_names_are_case_insensitive_within_one_record_level() -> None:
    text = """[
  {"name": "id", "type": "STRING"},
  {"name": "r", "type": "RECORD", "fields": [
    {"name": "id", "type": "STRING"},
    {"name": "Id", "type": "STRING"}
  ]},
  {"name": "ID", "type": "INT64"},
  {"name": "s", "type": "RECORD", "fields": [{"name": "id", "type": "STRING"}]}
]"""
    assert parse(text).problems == (
        problem("duplicate column name 'Id' (same as 'id' on line 4; names are case-insensitive)",
                5, "r.Id"),
        problem("duplicate column name 'ID' (same as 'id' on line 2; names are case-insensitive)",
                7, "ID"),
    )  # fmt: skip


def _nested(levels: int) -> str:
    """levels RECORDs l1 > l2 > ... each on its own line, the innermost a STRING."""
    lines = ["["]
    for level in range(1, levels):
        lines.append(f'{{"name": "l{level}", "type": "RECORD", "fields": [')
    lines.append(f'{{"name": "l{levels}", "type": "STRING"}}')
    lines.extend(["]}"] * (levels - 1))
    lines.append("]")
    return "\n".join(lines)


def test_fifteen_levels_of_nesting_are_allowed() -> None:
    assert parse(_nested(15)).problems == ()


def test_twenty_levels_are_reported_once_at_level_sixteen() -> None:
    load = parse(_nested(20))
    path16 = ".".join(f"l{i}" for i in range(1, 17))
    assert load.problems == (
        problem("column is nested 16 levels deep; BigQuery allows at most 15", 17, path16),
    )
    assert load.table is not None
    assert len(list(load.table.columns())) == 20


def test_ninety_nine_levels_do_not_crash() -> None:
    load = parse(_nested(99))
    path16 = ".".join(f"l{i}" for i in range(1, 17))
    assert load.problems == (
        problem("column is nested 16 levels deep; BigQuery allows at most 15", 17, path16),
    )


def _wide(columns: int) -> str:
    return (
        "[\n" + ",\n".join(f'{{"name": "c{i}", "type": "STRING"}}' for i in range(columns)) + "\n]"
    )


def test_ten_thousand_columns_are_allowed() -> None:
    assert parse(_wide(10_000)).problems == ()


LEAF_LIMIT = (
    "leaf columns (nested fields counted, RECORD columns themselves not, as BigQuery counts "
    "them); BigQuery allows at most 10,000"
)


def test_ten_thousand_and_one_leaf_columns_including_nested() -> None:
    # 9,999 top-level leaves and a RECORD of two leaves: 10,001 leaves, 10,002 fields.
    text = (
        _wide(9_999)[:-2]
        + ',\n{"name": "r", "type": "RECORD", "fields": '
        '[{"name": "x", "type": "STRING"}, {"name": "y", "type": "STRING"}]}\n]'
    )
    assert parse(text).problems == (problem(f"table has 10,001 {LEAF_LIMIT}", 1),)
    assert parse(_wide(10_001)).problems == (problem(f"table has 10,001 {LEAF_LIMIT}", 1),)


def test_records_do_not_count_toward_the_column_limit() -> None:
    # BigQuery counts leaf fields ("Too many total leaf fields: N, max allowed field count:
    # 10000"): 9,999 leaves and one RECORD holding one of them is 10,000 fields, 9,999 leaves...
    text = (
        _wide(9_998)[:-2]
        + ',\n{"name": "r", "type": "RECORD", "fields": [{"name": "x", "type": "STRING"}]}\n]'
    )
    assert parse(text).problems == ()
    # ... and 5,000 RECORDs of two leaves each, 15,000 fields, is exactly 10,000 leaves.
    records = ",\n".join(
        f'{{"name": "r{i}", "type": "RECORD", "fields": '
        f'[{{"name": "a", "type": "STRING"}}, {{"name": "b", "type": "INT64"}}]}}'
        for i in range(5_000)
    )
    assert parse("[\n" + records + "\n]").problems == ()


def test_description_length() -> None:
    assert field_problems(name="a", type="STRING", description="d" * 1024) == ()
    assert field_problems(name="a", type="STRING", description="d" * 1025) == (
        problem("description is 1,025 characters long; BigQuery allows at most 1,024", 2, "a"),
    )


def test_max_length_only_on_string_and_bytes() -> None:
    assert field_problems(name="a", type="STRING", maxLength=10) == ()
    assert field_problems(name="a", type="BYTES", maxLength="10") == ()
    assert field_problems(name="a", type="integer", maxLength=10) == (
        problem("maxLength applies only to STRING and BYTES, not INTEGER", 2, "a"),
    )
    assert field_problems(name="a", type="STRING", maxLength=0) == (
        problem("maxLength must be at least 1, got 0", 2, "a"),
    )


@pytest.mark.parametrize(
    ("type_name", "precision", "scale", "message"),
    [
        ("NUMERIC", 1, None, None),
        ("NUMERIC", 29, None, None),
        ("NUMERIC", 38, 9, None),
        ("NUMERIC", "10", "10", "NUMERIC scale must be between 0 and 9, got 10"),
        ("NUMERIC", 9, 9, None),
        ("NUMERIC", 30, None, "NUMERIC precision must be between 1 and 29 for scale 0, got 30"),
        ("NUMERIC", 0, None, "NUMERIC precision must be between 1 and 29 for scale 0, got 0"),
        ("NUMERIC", 39, 9, "NUMERIC precision must be between 9 and 38 for scale 9, got 39"),
        ("NUMERIC", 5, 6, "NUMERIC precision must be between 6 and 35 for scale 6, got 5"),
        ("NUMERIC", 5, -1, "NUMERIC scale must be between 0 and 9, got -1"),
        ("NUMERIC", None, 2, "scale requires precision"),
        ("BIGNUMERIC", 38, None, None),
        ("BIGNUMERIC", 76, 38, None),
        ("BIGNUMERIC", 39, None,
         "BIGNUMERIC precision must be between 1 and 38 for scale 0, got 39"),
        ("BIGNUMERIC", 77, 38,
         "BIGNUMERIC precision must be between 38 and 76 for scale 38, got 77"),
        ("BIGNUMERIC", 50, 39, "BIGNUMERIC scale must be between 0 and 38, got 39"),
        ("BIGNUMERIC", None, 2, "scale requires precision"),
    ],
)  # fmt: skip
def test_precision_and_scale_bounds(
    type_name: str, precision: int | str | None, scale: int | str | None, message: str | None
) -> None:
    params = {k: v for k, v in (("precision", precision), ("scale", scale)) if v is not None}
    expected = () if message is None else (problem(message, 2, "n"),)
    assert field_problems(name="n", type=type_name, **params) == expected


def test_precision_and_scale_only_on_numeric_types() -> None:
    assert field_problems(name="a", type="STRING", precision=10) == (
        problem("precision applies only to NUMERIC and BIGNUMERIC, not STRING", 2, "a"),
    )
    assert field_problems(name="a", type="float", scale=2) == (
        problem("scale applies only to NUMERIC and BIGNUMERIC, not FLOAT", 2, "a"),
    )


def test_rounding_mode_only_on_numeric_types() -> None:
    assert field_problems(name="a", type="BIGNUMERIC", roundingMode="ROUND_HALF_EVEN") == ()
    assert field_problems(name="a", type="STRING", roundingMode="ROUND_HALF_EVEN") == (
        problem("roundingMode applies only to NUMERIC and BIGNUMERIC, not STRING", 2, "a"),
    )


def test_collation_only_on_string() -> None:
    assert field_problems(name="a", type="STRING", collation="und:ci") == ()
    assert field_problems(name="a", type="STRING", collation="") == ()
    assert field_problems(name="a", type="INT64", collation="und:ci") == (
        problem("collation applies only to STRING, not INT64", 2, "a"),
    )
    assert field_problems(name="a", type="STRING", collation="en") == (
        problem("unsupported collation 'en' (use 'und:ci' or '')", 2, "a"),
    )


@pytest.mark.parametrize("element", ["DATE", "DATETIME", "TIMESTAMP", "date"])
def test_range_with_a_valid_element_type(element: str) -> None:
    assert field_problems(name="r", type="RANGE", rangeElementType={"type": element}) == ()


def test_range_element_type_rules() -> None:
    assert field_problems(name="r", type="RANGE") == (
        problem("RANGE column needs rangeElementType DATE, DATETIME or TIMESTAMP", 2, "r"),
    )
    assert field_problems(name="r", type="RANGE", rangeElementType={"type": "INT64"}) == (
        problem("rangeElementType must be DATE, DATETIME or TIMESTAMP, got 'INT64'", 2, "r"),
    )
    assert field_problems(name="d", type="DATE", rangeElementType={"type": "DATE"}) == (
        problem("rangeElementType applies only to RANGE, not DATE", 2, "d"),
    )


def test_at_most_one_policy_tag() -> None:
    assert field_problems(name="a", type="STRING", policyTags={"names": ["t1", "t2"]}) == (
        problem("BigQuery allows at most one policy tag per column", 2, "a"),
    )


def test_foreign_type_rules() -> None:
    assert field_problems(name="f", type="FOREIGN", foreignTypeDefinition="map<string,int>") == ()
    assert field_problems(name="f", type="FOREIGN") == (
        problem("FOREIGN column needs a foreignTypeDefinition", 2, "f"),
    )
    nested = {"name": "x", "type": "STRING", "foreignTypeDefinition": "text"}
    assert field_problems(name="r", type="RECORD", fields=[nested]) == (
        problem("foreignTypeDefinition is valid only on top-level columns", 2, "r.x"),
    )


def test_problems_come_in_line_order_with_columns() -> None:
    text = """[
  {"name": "r", "type": "RECORD", "fields": [
    {"name": "a.b", "type": "STRNG",
     "descripton": "x"}
  ]}
]"""
    assert parse(text).problems == (
        problem("column name 'a.b' contains characters BigQuery does not allow: '.'", 3, "r.a.b"),
        problem("unknown type 'STRNG' (did you mean STRING?)", 3, "r.a.b"),
        problem("unknown key 'descripton' (did you mean 'description'?)", 4, "r.a.b"),
    )


# ---------------------------------------------------------------------------- files


def test_load_template_reads_a_file_relative_to_root(tmp_path: Path) -> None:
    target = tmp_path / "templates" / "x_meta_runs.json"
    target.parent.mkdir()
    target.write_bytes(b"\xef\xbb\xbf" + ARRAY_FORM.replace("\n", "\r\n").encode("utf-8"))
    load = load_template(target, tmp_path)
    assert load == parse(ARRAY_FORM)


def test_load_template_never_raises_on_an_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    folder = tmp_path / "templates" / "folder.json"
    folder.mkdir()
    assert load_template(folder, tmp_path) == TemplateLoad(
        "templates/folder.json",
        None,
        None,
        (Problem("templates/folder.json", "not a readable regular file", unread=True),),
    )
    missing = tmp_path / "templates" / "missing.json"
    assert load_template(missing, tmp_path).problems == (
        Problem("templates/missing.json", "not a readable regular file", unread=True),
    )


def test_load_template_rejects_invalid_utf8_with_its_line(tmp_path: Path) -> None:
    target = tmp_path / "t.json"
    target.write_bytes(b'[\n{"name": "\xff", "type": "STRING"}\n]')
    assert load_template(target, tmp_path) == TemplateLoad(
        "t.json", None, None, (Problem("t.json", "file is not valid UTF-8", 2, unread=True),)
    )


def test_load_template_rejects_a_file_over_10_mib(tmp_path: Path) -> None:
    target = tmp_path / "big.json"
    target.write_bytes(b"[" + b" " * (10 * 1024 * 1024) + b"]")
    assert load_template(target, tmp_path) == TemplateLoad(
        "big.json",
        None,
        None,
        (Problem("big.json", "file is larger than 10 MiB; not read", unread=True),),
    )


# ---------------------------------------------------------------------------- properties

_KEYS = ["name", "type", "mode", "fields", "description", "policyTags", "maxLength", "precision",
         "scale", "collation", "roundingMode", "rangeElementType", "descripton"]  # fmt: skip
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-100, 100)
    | st.sampled_from(["STRING", "RECORD", "NUMERIC", "RANGE", "DATE", "10", "und:ci", "x", ""])
)
_fieldish = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(_KEYS), children, max_size=6)
    ),
    max_leaves=25,
)


@settings(max_examples=200, database=None, deadline=None)
@given(st.text() | st.lists(_fieldish, max_size=4).map(json.dumps))
def test_parse_template_never_raises(text: str) -> None:
    load = parse_template(text, "t.json")
    assert isinstance(load, TemplateLoad)
    assert load.path == "t.json"
    assert all(p.path == "t.json" and p.line is not None and p.line >= 1 for p in load.problems)
    if load.table is None:
        assert len(load.problems) == 1
