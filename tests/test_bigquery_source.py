"""The live BigQuery source: unit tests of its parsers and decisions, and end-to-end tests
against the real local engines with the real client (faults injected by a real HTTP proxy).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions
from google.api_core.iam import Policy
from google.cloud import bigquery
from google.cloud.bigquery import SchemaField
from google.cloud.bigquery.schema import PolicyTagList

from auditor.errors import UsageError
from auditor.gcp.counting import method_name
from auditor.model import (
    AccessEntry,
    Condition,
    CoverageGap,
    Dataset,
    Field,
    GranteeKind,
    IamBinding,
    Table,
    dataset_resource,
    table_resource_name,
)
from auditor.sources import infoschema
from auditor.sources.bigquery import (
    CollectOptions,
    LiveCollection,
    collect,
    describe,
    make_client,
)
from auditor.sources.bqconvert import access_entry_from_api, iam_from_api, table_from_api
from auditor.sources.fastplan import Fallback, Plan, reconcile
from auditor.sources.infoschema import (
    DatasetOptions,
    Malformed,
    ParsedType,
    QueryAnswer,
    QueryFailed,
    RegionSnapshot,
    UnsafeIdentifier,
    View,
    parse_literal,
    parse_type,
    read_region,
    region_query,
    sql_identifier,
)
from tests.support.faultproxy import FaultProxy, google_error

PROJECT = "gac-prod-471220"
KEY = "projects/p/locations/us/keyRings/r/cryptoKeys/{}"
TAG = "projects/p/locations/us/taxonomies/1/policyTags/{}"
FAST_RETRIES = {"backoff": 0.01, "attempts": 3}


# ============================================================================ SQL names


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("project", "gac-prod-471220`; DROP SCHEMA x; --"),
        ("project", "gac-prod-471220`.`region-us"),
        ("project", "Gac-prod"),
        ("project", ""),
        ("region", "us`.INFORMATION_SCHEMA.TABLES UNION ALL SELECT 1 --"),
        ("region", "us\n"),
        ("region", "US"),
        ("region", "us-central1`"),
        ("dataset", "ds`; DELETE FROM x WHERE true; --"),
        ("dataset", "ds-1"),
        ("dataset", "ds.x"),
        ("dataset", "x" * 1025),
        ("table", "t1"),  # not a kind the validator knows
    ],
)
def test_sql_identifier_refuses_hostile_names(kind: str, value: str) -> None:
    with pytest.raises(UnsafeIdentifier):
        sql_identifier(kind, value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("project", "gac-prod-471220"),
        ("project", "example.com:my-project"),
        ("region", "us"),
        ("region", "europe-west4"),
        ("dataset", "tenant_0042"),
    ],
)
def test_sql_identifier_quotes_valid_names(kind: str, value: str) -> None:
    assert sql_identifier(kind, value) == f"`{value}`"


def test_region_query_is_built_from_checked_parts_only() -> None:
    assert region_query(PROJECT, "us", View.VIEWS) == (
        "SELECT table_schema, table_name, view_definition "
        "FROM `gac-prod-471220`.`region-us`.INFORMATION_SCHEMA.VIEWS"
    )
    with pytest.raises(UnsafeIdentifier):
        region_query(PROJECT, "us`; --", View.VIEWS)
    with pytest.raises(UnsafeIdentifier):
        region_query(PROJECT, "us", View.VIEWS, ("view_definition; DROP",))


def test_dataset_names_never_reach_sql() -> None:
    """The dataset filter is applied to the answers, so hostile names cannot reach a query."""
    hostile = {"x`; DROP SCHEMA customers; --", "y' OR '1'='1"}
    seen: list[str] = []

    def run(sql: str) -> QueryAnswer:
        seen.append(sql)
        raise QueryFailed("400 Bad Request: nope")

    snapshot = read_region(run, PROJECT, "us", hostile)
    assert seen and all("DROP" not in sql and "'1'" not in sql for sql in seen)
    assert snapshot.tables == {}
    assert snapshot.blockers


def test_invalid_arguments_are_usage_errors_before_any_request() -> None:
    client = make_client(PROJECT, "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(UsageError):
        collect(client, "bad`project")
    with pytest.raises(UsageError):
        collect(client, PROJECT, CollectOptions(regions=("us", "us`; --")))
    with pytest.raises(UsageError):
        collect(client, PROJECT, CollectOptions(workers=0))
    with pytest.raises(UsageError):
        make_client(PROJECT, "ftp://example.com")


def test_unreachable_endpoint_is_a_project_gap_not_an_exception() -> None:
    client = make_client(PROJECT, "http://127.0.0.1:9")
    result = collect(client, PROJECT, CollectOptions(backoff=0.01, attempts=2, timeout=2))
    assert result.datasets == () and result.tables == ()
    assert [g.scope for g in result.gaps] == [f"//bigquery.googleapis.com/projects/{PROJECT}"]
    assert result.gaps[0].reason.startswith("datasets could not be listed: connection error")
    assert result.gaps[0].reason.endswith("(gave up after 2 attempts)")
    assert result.stats.api_calls == 2


# ============================================================================ type strings


def _scalar(name: str, repeated: bool = False) -> ParsedType:
    return ParsedType(name, repeated)


def test_parse_type_nested_struct_with_arrays_and_not_null() -> None:
    parsed = parse_type("STRUCT<a INT64 NOT NULL, `odd name` ARRAY<STRUCT<c STRING(10)>>>")
    assert parsed == ParsedType(
        "STRUCT",
        False,
        (
            infoschema.Member("a", _scalar("INT64"), True),
            infoschema.Member(
                "odd name",
                ParsedType("STRUCT", True, (infoschema.Member("c", _scalar("STRING")),)),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INT64", _scalar("INT64")),
        ("INTEGER", _scalar("INT64")),
        ("BOOLEAN", _scalar("BOOL")),
        ("ARRAY<STRING>", _scalar("STRING", True)),
        ("NUMERIC(10, 2)", _scalar("NUMERIC")),
        ("RANGE<DATE>", _scalar("RANGE")),
        ("  JSON ", _scalar("JSON")),
    ],
)
def test_parse_type_scalars(text: str, expected: ParsedType) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "STRUCT<>",
        "ARRAY<ARRAY<INT64>>",
        "STRUCT<a INT64",
        "STRUCT<a INT64 NOT>",
        "VARCHAR",
        "STRING COLLATE 'und:ci'",
        "RANGE<INT64>",
        "INT64, STRING",
        "STRUCT<" * 20 + "a INT64" + ">" * 20,
    ],
)
def test_parse_type_refuses_what_it_does_not_understand(text: str) -> None:
    with pytest.raises(Malformed):
        parse_type(text)


# ============================================================================ option values


def test_parse_literal_strings_labels_and_escapes() -> None:
    text = parse_literal('"he said \\"hi\\"\\nline2 \\\\ ü \'q\'"')
    assert text == "he said \"hi\"\nline2 \\ ü 'q'"
    assert parse_literal("'\\x41\\u00e9\\U0001F600\\101'") == "Aé\U0001f600A"
    assert parse_literal('[STRUCT("a", "b"), STRUCT("c", "")]') == [("a", "b"), ("c", "")]
    assert parse_literal("[]") == []
    assert parse_literal("NULL") is None
    for bad in ('"open', '"a" "b"', '"\\q"', '[STRUCT("a", "b"', "1", '"\\uD800"'):
        with pytest.raises(Malformed):
            parse_literal(bad)


# ============================================================================ read_region


@dataclass
class FakeRegion:
    """Answers region queries from canned rows (shaped as the engines answer); logs SQL."""

    answers: dict[View, Sequence[Mapping[str, Any]] | QueryFailed]
    tags_column: bool = True
    sql: list[str] = dataclasses.field(default_factory=list)

    def __call__(self, sql: str) -> QueryAnswer:
        self.sql.append(sql)
        view = View(sql.rsplit(".", 1)[1])
        if view is View.COLUMN_FIELD_PATHS and "policy_tags" in sql and not self.tags_column:
            raise QueryFailed("400 Bad Request: Unrecognized name: policy_tags")
        answer = self.answers.get(view, ())
        if isinstance(answer, QueryFailed):
            raise answer
        columns = sql.split("SELECT ", 1)[1].split(" FROM", 1)[0].split(", ")
        return QueryAnswer(tuple(columns), tuple({c: r.get(c) for c in columns} for r in answer))


def _row(dataset: str, table: str, **values: Any) -> dict[str, Any]:
    return {"table_schema": dataset, "table_name": table, **values}


def _estate_rows() -> dict[View, Sequence[Mapping[str, Any]] | QueryFailed]:
    """ds.t: id INT64 REQUIRED, cfg STRUCT<a STRING, b ARRAY<STRUCT<c STRING NOT NULL>>>,
    tags ARRAY<STRING>; ds.v: a view; ds.empty: listed with no columns (what the fast engine's
    region-wide COLUMNS answers for every table)."""
    cfg = "STRUCT<a STRING, b ARRAY<STRUCT<c STRING NOT NULL>>>"
    return {
        View.TABLES: [
            _row("ds", "t", table_type="BASE TABLE"),
            _row("ds", "v", table_type="VIEW"),
            _row("ds", "empty", table_type="BASE TABLE"),
            _row("other", "x", table_type="BASE TABLE"),
        ],
        View.COLUMNS: [
            _row("ds", "t", column_name="cfg", ordinal_position=2, is_nullable="YES",
                 data_type=cfg, is_system_defined="NO"),
            _row("ds", "t", column_name="id", ordinal_position=1, is_nullable="NO",
                 data_type="INT64", is_system_defined="NO"),
            _row("ds", "t", column_name="tags", ordinal_position=3, is_nullable="YES",
                 data_type="ARRAY<STRING>", is_system_defined="NO"),
            _row("ds", "t", column_name="_PARTITIONTIME", ordinal_position=4,
                 is_nullable="YES", data_type="TIMESTAMP", is_system_defined="YES"),
            _row("ds", "v", column_name="id", ordinal_position=1, is_nullable="YES",
                 data_type="INT64", is_system_defined="NO"),
        ],
        View.COLUMN_FIELD_PATHS: [
            _row("ds", "t", column_name="id", field_path="id", data_type="INT64",
                 description="the id", policy_tags=[TAG.format(1)]),
            _row("ds", "t", column_name="cfg", field_path="cfg", data_type=cfg,
                 description=None, policy_tags=[]),
            _row("ds", "t", column_name="cfg", field_path="cfg.a", data_type="STRING",
                 description="", policy_tags=None),
            _row("ds", "t", column_name="cfg", field_path="cfg.b",
                 data_type="ARRAY<STRUCT<c STRING NOT NULL>>", description=None),
            _row("ds", "t", column_name="cfg", field_path="cfg.b.c", data_type="STRING",
                 description="cc", policy_tags=[TAG.format(2)]),
            _row("ds", "t", column_name="tags", field_path="tags", data_type="ARRAY<STRING>",
                 description=None),
            _row("ds", "v", column_name="id", field_path="id", data_type="INT64",
                 description=None),
        ],
        View.VIEWS: [_row("ds", "v", view_definition="SELECT id FROM `p.ds.t`")],
        View.TABLE_OPTIONS: [
            _row("ds", "t", option_name="labels", option_value='[STRUCT("x", "y")]'),
            _row("ds", "t", option_name="description", option_value='"tdesc"'),
            _row("ds", "t", option_name="kms_key_name", option_value=f'"{KEY.format("t")}"'),
            _row("ds", "t", option_name="expiration_timestamp", option_value="TIMESTAMP ..."),
        ],
        View.SCHEMATA_OPTIONS: [
            {"schema_name": "ds", "option_name": "labels", "option_value": '[STRUCT("k", "v")]'},
            {"schema_name": "ds", "option_name": "location", "option_value": '"us"'},
        ],
    }  # fmt: skip


EXPECTED_T = Table(
    project=PROJECT,
    dataset_id="ds",
    table_id="t",
    type="TABLE",
    fields=(
        Field("id", "INT64", "REQUIRED", "the id", policy_tags=(TAG.format(1),)),
        Field(
            "cfg",
            "STRUCT",
            "NULLABLE",
            fields=(
                Field("a", "STRING"),
                Field(
                    "b",
                    "STRUCT",
                    "REPEATED",
                    fields=(Field("c", "STRING", "REQUIRED", "cc", policy_tags=(TAG.format(2),)),),
                ),
            ),
        ),
        Field("tags", "STRING", "REPEATED"),
    ),
    kms_key=KEY.format("t"),
    labels={"x": "y"},
    description="tdesc",
)


def test_read_region_rebuilds_nested_tables_and_rejects_implausible_ones() -> None:
    fake = FakeRegion(_estate_rows())
    snapshot = read_region(fake, PROJECT, "us", {"ds"})
    # `other` was filtered out here, in Python; the SQL has no dataset name in it.
    assert all("ds" not in sql.split("FROM", 1)[1] for sql in fake.sql)
    assert snapshot.blockers == ()
    assert snapshot.queries == 6
    assert snapshot.tables[("ds", "t")] == EXPECTED_T
    assert snapshot.tables[("ds", "v")] == Table(
        PROJECT, "ds", "v", "VIEW", (Field("id", "INT64"),), view_query="SELECT id FROM `p.ds.t`"
    )
    assert snapshot.rejected == {("ds", "empty"): "no columns in INFORMATION_SCHEMA.COLUMNS"}
    assert snapshot.dataset_options == {"ds": DatasetOptions(labels={"k": "v"})}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda rows: rows[View.VIEWS].clear(),
            ("ds", "v", "view definition missing from INFORMATION_SCHEMA.VIEWS"),
        ),
        (
            lambda rows: rows[View.COLUMN_FIELD_PATHS].pop(4),  # cfg.b.c
            ("ds", "t", "field path cfg.b.c missing from INFORMATION_SCHEMA.COLUMN_FIELD_PATHS"),
        ),
        (
            lambda rows: rows[View.COLUMN_FIELD_PATHS][3].update(
                data_type="ARRAY<STRUCT<c INT64>>"
            ),
            ("ds", "t", "COLUMNS and COLUMN_FIELD_PATHS disagree on the type of cfg.b"),
        ),
        (
            lambda rows: rows[View.COLUMNS][0].update(data_type="STRUCT<a GEOMETRY>"),
            ("ds", "t", "column type of cfg cannot be parsed: unknown type GEOMETRY"),
        ),
        (
            lambda rows: rows[View.TABLE_OPTIONS][1].update(option_value='"unterminated'),
            (
                "ds",
                "t",
                "unreadable INFORMATION_SCHEMA.TABLE_OPTIONS: unexpected character at 0 "
                "in an option value",
            ),
        ),
        (
            lambda rows: rows[View.TABLES].append(_row("ds", "t", table_type="BASE TABLE")),
            ("ds", "t", "several rows for the table in TABLES"),
        ),
        (
            lambda rows: rows[View.TABLES][0].update(table_type="MATERIALIZED VIEW"),
            ("ds", "t", "table type MATERIALIZED VIEW is read table by table"),
        ),
    ],
)
def test_read_region_rejects_one_implausible_table(
    change: Callable[[dict[View, Any]], Any], reason: tuple[str, str, str]
) -> None:
    rows = _estate_rows()
    change(rows)
    snapshot = read_region(FakeRegion(rows), PROJECT, "us", {"ds"})
    assert snapshot.blockers == ()
    assert snapshot.rejected[(reason[0], reason[1])] == reason[2]
    assert (reason[0], reason[1]) not in snapshot.tables


def test_read_region_blocks_on_a_failed_or_malformed_view() -> None:
    rows = _estate_rows()
    rows[View.VIEWS] = QueryFailed("503 Service Unavailable: busy (gave up after 4 attempts)")
    snapshot = read_region(FakeRegion(rows), PROJECT, "us")
    assert snapshot.tables == {} and snapshot.rejected == {}
    assert snapshot.blockers == (
        "INFORMATION_SCHEMA.VIEWS could not be read: 503 Service Unavailable: busy "
        "(gave up after 4 attempts)",
    )

    # The fast engine answers SCHEMATA_OPTIONS with SCHEMATA's columns.
    rows = _estate_rows()
    fake = FakeRegion(rows)
    real_call = fake.__call__

    def schemata_instead(sql: str) -> QueryAnswer:
        if sql.endswith("SCHEMATA_OPTIONS"):
            return QueryAnswer(("catalog_name", "schema_name", "location"), ())
        return real_call(sql)

    snapshot = read_region(schemata_instead, PROJECT, "us")
    assert snapshot.blockers == (
        "INFORMATION_SCHEMA.SCHEMATA_OPTIONS could not be read: malformed answer: no "
        "option_name, option_value column",
    )


def test_read_region_without_policy_tags_column() -> None:
    """A view failing on its policy_tags column is read again without it: the schemas are
    rebuilt without tags, nothing is blocked, and the snapshot says why."""
    fake = FakeRegion(_estate_rows(), tags_column=False)
    snapshot = read_region(fake, PROJECT, "us", {"ds"})
    assert snapshot.queries == 7  # COLUMN_FIELD_PATHS twice, then the five other views
    assert [sql for sql in fake.sql if "COLUMN_FIELD_PATHS" in sql] == [
        region_query(PROJECT, "us", View.COLUMN_FIELD_PATHS, ("policy_tags",)),
        region_query(PROJECT, "us", View.COLUMN_FIELD_PATHS),
    ]
    assert snapshot.policy_tags is False
    assert snapshot.blockers == ()
    assert snapshot.notes == (
        "INFORMATION_SCHEMA.COLUMN_FIELD_PATHS could not be read with its policy_tags column "
        "(400 Bad Request: Unrecognized name: policy_tags); schemas from INFORMATION_SCHEMA "
        "carry no policy tags",
    )
    assert snapshot.tables[("ds", "t")].fields[0] == Field("id", "INT64", "REQUIRED", "the id")
    assert set(snapshot.tables) == {("ds", "t"), ("ds", "v")}


def test_read_region_blocks_when_the_view_fails_without_the_column_too() -> None:
    rows = _estate_rows()
    rows[View.COLUMN_FIELD_PATHS] = QueryFailed("403 Forbidden: Access Denied")
    fake = FakeRegion(rows)
    snapshot = read_region(fake, PROJECT, "us", {"ds"})
    assert snapshot.queries == 2  # with and without the column; nothing else is read
    assert snapshot.tables == {} and snapshot.notes == ()
    assert snapshot.blockers == (
        "INFORMATION_SCHEMA.COLUMN_FIELD_PATHS could not be read: 403 Forbidden: Access Denied",
    )


# ============================================================================ reconcile


def _snapshot(**changes: Any) -> RegionSnapshot:
    snapshot = read_region(FakeRegion(_estate_rows()), PROJECT, "us", {"ds"})
    return dataclasses.replace(snapshot, **changes)


DS = Dataset(PROJECT, "ds", location="US", labels={"k": "v"})
LISTED = {"ds": {"t": "TABLE", "v": "VIEW", "empty": "TABLE"}}


def _reasons(plan: Plan) -> dict[tuple[str, str], tuple[Fallback, str]]:
    return {key: (reason.kind, reason.detail) for key, reason in plan.fallback.items()}


def test_reconcile_uses_plausible_tables_and_falls_back_for_the_rest() -> None:
    plan = reconcile(_snapshot(), [DS], LISTED)
    assert set(plan.use) == {("ds", "t"), ("ds", "v")}
    assert _reasons(plan) == {
        ("ds", "empty"): (Fallback.IMPLAUSIBLE_ROWS, "no columns in INFORMATION_SCHEMA.COLUMNS")
    }


def test_reconcile_falls_back_when_listings_disagree() -> None:
    listed = {"ds": {"t": "VIEW", "v": "VIEW", "late": "TABLE"}}
    plan = reconcile(_snapshot(), [DS], listed)
    assert plan.use.keys() == {("ds", "v")}
    assert _reasons(plan) == {
        ("ds", "t"): (
            Fallback.LISTINGS_DISAGREE,
            "tables.list and INFORMATION_SCHEMA.TABLES disagree on the table type",
        ),
        ("ds", "late"): (Fallback.NOT_IN_INFORMATION_SCHEMA, "not in INFORMATION_SCHEMA"),
        ("ds", "empty"): (Fallback.IMPLAUSIBLE_ROWS, "no columns in INFORMATION_SCHEMA.COLUMNS"),
    }


def _second_dataset_rows() -> dict[View, Sequence[Mapping[str, Any]] | QueryFailed]:
    """The estate rows plus ds2.t2 (one STRING column), whose options agree with the API."""
    rows = _estate_rows()
    rows[View.TABLES] = [*rows[View.TABLES], _row("ds2", "t2", table_type="BASE TABLE")]
    rows[View.COLUMNS] = [
        *rows[View.COLUMNS],
        _row("ds2", "t2", column_name="a", ordinal_position=1, is_nullable="YES",
             data_type="STRING", is_system_defined="NO"),
    ]  # fmt: skip
    rows[View.COLUMN_FIELD_PATHS] = [
        *rows[View.COLUMN_FIELD_PATHS],
        _row("ds2", "t2", column_name="a", field_path="a", data_type="STRING", description=None),
    ]
    return rows


def test_reconcile_scopes_disagreeing_options_to_their_dataset() -> None:
    """SCHEMATA_OPTIONS shows no default KMS key for ds although datasets.get has one: ds's
    *_OPTIONS are not trusted, so its tables are read one by one - and only its tables."""
    snapshot = read_region(FakeRegion(_second_dataset_rows()), PROJECT, "us", {"ds", "ds2"})
    with_key = dataclasses.replace(DS, default_kms_key=KEY.format("ds"))
    ds2 = Dataset(PROJECT, "ds2", location="US")
    listed = {**LISTED, "ds2": {"t2": "TABLE"}}
    plan = reconcile(snapshot, [with_key, ds2], listed)
    assert set(plan.use) == {("ds2", "t2")}
    disagree = (
        Fallback.DATASET_OPTIONS_DISAGREE,
        "INFORMATION_SCHEMA.SCHEMATA_OPTIONS disagrees with datasets.get for this dataset, so "
        "its *_OPTIONS answers are not trusted",
    )
    assert _reasons(plan) == dict.fromkeys([("ds", "empty"), ("ds", "t"), ("ds", "v")], disagree)


def test_reconcile_default_kms_key_needs_a_table_key() -> None:
    with_key = dataclasses.replace(DS, default_kms_key=KEY.format("ds"))
    options = {"ds": DatasetOptions(labels={"k": "v"}, default_kms_key=KEY.format("ds"))}
    plan = reconcile(_snapshot(dataset_options=options), [with_key], LISTED)
    assert set(plan.use) == {("ds", "t")}  # t shows a key; the view shows none
    assert _reasons(plan) == {
        ("ds", "v"): (
            Fallback.KMS_KEY_MISSING,
            "dataset has a default KMS key but TABLE_OPTIONS shows none",
        ),
        ("ds", "empty"): (Fallback.IMPLAUSIBLE_ROWS, "no columns in INFORMATION_SCHEMA.COLUMNS"),
    }


def test_reconcile_other_regions_and_blockers() -> None:
    eu = dataclasses.replace(DS, location="EU")
    plan = reconcile(_snapshot(), [eu], LISTED)
    assert plan.use == {}
    assert set(_reasons(plan).values()) == {
        (Fallback.LOCATION_NOT_READ, "dataset location EU is outside region us")
    }
    plan = reconcile(_snapshot(blockers=("VIEWS could not be read",)), [DS], LISTED)
    assert plan.use == {}
    assert set(_reasons(plan).values()) == {(Fallback.REGION_UNREADABLE, "VIEWS could not be read")}


def test_reconcile_reads_policy_tags_only_where_needed() -> None:
    """Without policy tags in the snapshot, a dataset that needs them is read one by one;
    the others are served without tags."""
    rows = _second_dataset_rows()
    snapshot = read_region(FakeRegion(rows, tags_column=False), PROJECT, "us", {"ds", "ds2"})
    ds2 = Dataset(PROJECT, "ds2", location="US")
    listed = {**LISTED, "ds2": {"t2": "TABLE"}}
    plan = reconcile(snapshot, [DS, ds2], listed, needs_tags=lambda d: d == "ds")
    assert set(plan.use) == {("ds2", "t2")}
    needed = (
        Fallback.POLICY_TAGS_NEEDED,
        "its policy tags are needed and INFORMATION_SCHEMA gave none",
    )
    assert _reasons(plan) == dict.fromkeys([("ds", "empty"), ("ds", "t"), ("ds", "v")], needed)
    everywhere = reconcile(snapshot, [DS, ds2], listed)  # nobody needs them: all served
    assert set(everywhere.use) == {("ds", "t"), ("ds", "v"), ("ds2", "t2")}


# ============================================================================ conversion


def test_access_entries_of_every_kind() -> None:
    cond = {"expression": "request.time < timestamp('2030-01-01T00:00:00Z')", "title": "t"}
    entries = [
        ({"role": "OWNER", "userByEmail": "a@example.com"},
         AccessEntry(GranteeKind.USER, "a@example.com", "roles/bigquery.dataOwner")),
        ({"role": "READER", "userByEmail": "sa@p.iam.gserviceaccount.com", "condition": cond},
         AccessEntry(GranteeKind.USER, "sa@p.iam.gserviceaccount.com",
                     "roles/bigquery.dataViewer",
                     condition=Condition(cond["expression"], "t"))),
        ({"role": "WRITER", "groupByEmail": "g@example.com"},
         AccessEntry(GranteeKind.GROUP, "g@example.com", "roles/bigquery.dataEditor")),
        ({"role": "roles/bigquery.dataViewer", "domain": "example.com"},
         AccessEntry(GranteeKind.DOMAIN, "example.com", "roles/bigquery.dataViewer")),
        ({"role": "READER", "specialGroup": "allAuthenticatedUsers"},
         AccessEntry(GranteeKind.SPECIAL_GROUP, "allAuthenticatedUsers",
                     "roles/bigquery.dataViewer")),
        ({"role": "roles/custom.x", "iamMember": "allUsers"},
         AccessEntry(GranteeKind.IAM_MEMBER, "allUsers", "roles/custom.x")),
        ({"view": {"projectId": "p", "datasetId": "d", "tableId": "v"}},
         AccessEntry(GranteeKind.VIEW, "projects/p/datasets/d/tables/v")),
        ({"routine": {"projectId": "p", "datasetId": "d", "routineId": "r"}},
         AccessEntry(GranteeKind.ROUTINE, "projects/p/datasets/d/routines/r")),
        ({"dataset": {"dataset": {"projectId": "p", "datasetId": "d"}, "targetTypes": ["VIEWS"]}},
         AccessEntry(GranteeKind.DATASET, "projects/p/datasets/d", target_types=("VIEWS",))),
    ]  # fmt: skip
    for raw, expected in entries:
        assert access_entry_from_api(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"role": "READER"}, "0 grantees instead of one"),
        ({"role": "READER", "userByEmail": "a@x", "domain": "x"}, "2 grantees instead of one"),
        ({"role": "READER", "userByEmail": ""}, "userByEmail is empty"),
        ({"role": "READER", "newKind": "x", "userByEmail": "a@x"}, "unknown field 'newKind'"),
        ({"dataset": {"projectId": "", "datasetId": ""}},  # what the fast engine stores
         "dataset entry without a dataset reference"),
        ({"view": {"projectId": "p", "datasetId": "d"}},
         "reference with an empty or invalid projectId/datasetId/id"),
        ({"role": "READER", "userByEmail": "a@x", "condition": {"title": "t"}},
         "condition without an expression"),
        ("READER", "access entry is not an object"),
    ],
)  # fmt: skip
def test_malformed_access_entries(raw: Any, message: str) -> None:
    with pytest.raises(Malformed, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        access_entry_from_api(raw)


def test_iam_bindings_are_sorted_with_conditions() -> None:
    raw = {
        "version": 3,
        "bindings": [
            {"role": "roles/bigquery.dataViewer", "members": ["user:z@x", "group:g@x"]},
            {"role": "roles/bigquery.dataEditor", "members": ["user:a@x"],
             "condition": {"expression": "true", "title": "always"}},
        ],
    }  # fmt: skip
    assert iam_from_api(raw) == (
        IamBinding("roles/bigquery.dataEditor", ("user:a@x",), Condition("true", "always")),
        IamBinding("roles/bigquery.dataViewer", ("group:g@x", "user:z@x")),
    )
    assert iam_from_api({"etag": "ACAB", "version": 1}) == ()
    with pytest.raises(Malformed):
        iam_from_api({"bindings": [{"role": "r", "members": "user:a@x"}]})


def test_table_from_api_fails_closed_on_a_view_without_query() -> None:
    with pytest.raises(Malformed, match="view without a query"):
        table_from_api({"type": "VIEW"}, PROJECT, "d", "v")
    with pytest.raises(Malformed, match="mode"):
        table_from_api(
            {"type": "TABLE", "schema": {"fields": [{"name": "a", "type": "STRING", "mode": "X"}]}},
            PROJECT,
            "d",
            "t",
        )


def test_tables_with_one_schema_share_their_fields() -> None:
    """Tenant tables repeat a schema: its Fields are built once and shared. A schema that
    differs in anything (here a description) gets its own, and a malformed one fails each
    time it is read."""
    fields = [
        {"name": "a", "type": "STRING", "description": "x"},
        {"name": "r", "type": "RECORD", "fields": [{"name": "b", "type": "INTEGER"}]},
    ]
    one = table_from_api({"type": "TABLE", "schema": {"fields": fields}}, PROJECT, "d1", "t")
    two = table_from_api(
        {"type": "TABLE", "schema": {"fields": copy.deepcopy(fields)}}, PROJECT, "d2", "t"
    )
    assert one.fields is two.fields
    assert one.fields == (
        Field("a", "STRING", description="x"),
        Field("r", "STRUCT", fields=(Field("b", "INT64"),)),
    )
    other = copy.deepcopy(fields)
    other[0]["description"] = "y"
    three = table_from_api({"type": "TABLE", "schema": {"fields": other}}, PROJECT, "d3", "t")
    assert three.fields[0].description == "y"
    assert one.fields[0].description == "x"
    bad = {"type": "TABLE", "schema": {"fields": [{"name": "a", "type": "STRING", "mode": "X"}]}}
    for _ in range(2):
        with pytest.raises(Malformed, match="field a has mode 'X'"):
            table_from_api(bad, PROJECT, "d", "t")


def test_describe_gives_code_and_short_message() -> None:
    exc = api_exceptions.Forbidden(  # type: ignore[no-untyped-call]
        "GET http://127.0.0.1:1/bigquery/v2/projects/p/datasets/d?prettyPrint=false: Access Denied"
    )
    assert describe(exc) == "403 Forbidden: Access Denied"
    assert describe(TimeoutError(), 30.0) == "timeout after 30 s"
    assert describe(ConnectionResetError(104, "reset")).startswith("connection error")
    long = api_exceptions.InternalServerError("x" * 5000)  # type: ignore[no-untyped-call]
    assert len(describe(long)) == 300


# ============================================================================ local engines


@pytest.fixture
def faithful(faithful_bq: Any) -> Iterator[Estate]:
    estate = Estate(make_client(faithful_bq.project, faithful_bq.endpoint), faithful_bq.endpoint)
    yield estate
    estate.clean_up()


@pytest.fixture
def fast(fast_bq: Any) -> Iterator[Estate]:
    estate = Estate(make_client(fast_bq.project, fast_bq.endpoint), fast_bq.endpoint)
    yield estate
    estate.clean_up()


class Estate:
    """Uniquely named datasets for one test, deleted afterwards."""

    def __init__(self, client: bigquery.Client, endpoint: str) -> None:
        self.client = client
        self.endpoint = endpoint
        self.prefix = f"bqsrc_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []

    def name(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"

    @property
    def glob(self) -> tuple[str, ...]:
        return (f"{self.prefix}_*",)

    def dataset(self, suffix: str, **props: Any) -> str:
        dataset_id = self.name(suffix)
        dataset = bigquery.Dataset(f"{PROJECT}.{dataset_id}")
        dataset.location = "US"
        for key, value in props.items():
            setattr(dataset, key, value)
        self.client.create_dataset(dataset)
        self.created.append(dataset_id)
        return dataset_id

    def table(self, dataset_id: str, table_id: str, **props: Any) -> None:
        table = bigquery.Table(f"{PROJECT}.{dataset_id}.{table_id}")
        for key, value in props.items():
            setattr(table, key, value)
        self.client.create_table(table)

    def clean_up(self) -> None:
        for dataset_id in self.created:
            with contextlib.suppress(api_exceptions.GoogleAPIError):
                self.client.delete_dataset(
                    f"{PROJECT}.{dataset_id}", delete_contents=True, not_found_ok=True
                )

    def collect(self, endpoint: str | None = None, **options: Any) -> LiveCollection:
        client = self.client if endpoint is None else make_client(PROJECT, endpoint)
        return collect(client, PROJECT, CollectOptions(datasets=self.glob, **options))


CONDITION = "request.time < timestamp('2030-01-01T00:00:00Z')"


def _schema() -> list[SchemaField]:
    return [
        SchemaField("id", "INTEGER", mode="REQUIRED", description="the id"),
        SchemaField(
            "config",
            "RECORD",
            fields=[
                SchemaField("token", "STRING", policy_tags=PolicyTagList([TAG.format(7)])),
                SchemaField(
                    "steps", "RECORD", mode="REPEATED",
                    fields=[SchemaField("name", "STRING", description="step name")],
                ),
            ],
        ),
        SchemaField("tags", "STRING", mode="REPEATED"),
        SchemaField("ratio", "FLOAT"),
        SchemaField("ok", "BOOLEAN"),
    ]  # fmt: skip


def _entry(props: dict[str, Any]) -> bigquery.AccessEntry:
    entry = bigquery.AccessEntry()
    entry._properties = props
    return entry


def _build_full_estate(estate: Estate, *, kms: bool) -> dict[str, str]:
    """src (an authorized view), ds (every access-entry kind, a nested table, a view)."""
    src = estate.dataset("src")
    estate.table(src, "shared", view_query="SELECT 1 AS x")
    condition = {"expression": CONDITION, "title": "until 2030", "description": "temporary"}
    entries: list[dict[str, Any]] = [
        {"role": "OWNER", "userByEmail": "owner@example.com"},
        {"role": "READER", "userByEmail": "robot@p.iam.gserviceaccount.com"},
        {"role": "WRITER", "groupByEmail": "team@example.com"},
        {"role": "READER", "domain": "example.com"},
        {"role": "READER", "specialGroup": "projectReaders"},
        {"role": "READER", "iamMember": "allUsers"},
        {"view": {"projectId": PROJECT, "datasetId": src, "tableId": "shared"}},
        {"dataset": {"dataset": {"projectId": PROJECT, "datasetId": src},
                     "targetTypes": ["VIEWS"]}},
        {"role": "READER", "userByEmail": "temp@example.com", "condition": condition},
    ]  # fmt: skip
    props: dict[str, Any] = {
        "labels": {"kind": "tenant", "tier": "gold"},
        "description": "tenant dataset",
        "access_entries": [_entry(e) for e in entries],
    }
    if kms:
        props["default_encryption_configuration"] = bigquery.EncryptionConfiguration(
            KEY.format("ds")
        )
    ds = estate.dataset("ds", **props)
    table_props: dict[str, Any] = {
        "schema": _schema(),
        "labels": {"pii": "no"},
        "description": "pipeline runs",
    }
    if kms:
        table_props["encryption_configuration"] = bigquery.EncryptionConfiguration(KEY.format("t"))
    estate.table(ds, "runs", **table_props)
    estate.table(ds, "runs_view", view_query=f"SELECT id, tags FROM `{PROJECT}.{ds}.runs`")
    return {"src": src, "ds": ds}


def _expected_fields(policy_tags: bool = True) -> tuple[Field, ...]:
    return (
        Field("id", "INT64", "REQUIRED", "the id"),
        Field(
            "config",
            "STRUCT",
            fields=(
                Field("token", "STRING", policy_tags=(TAG.format(7),) if policy_tags else ()),
                Field("steps", "STRUCT", "REPEATED", fields=(Field("name", "STRING", "NULLABLE",
                                                                   "step name"),)),
            ),
        ),
        Field("tags", "STRING", "REPEATED"),
        Field("ratio", "FLOAT64"),
        Field("ok", "BOOL"),
    )  # fmt: skip


def _set_table_iam(client: bigquery.Client, table: str) -> None:
    policy = Policy.from_api_repr(  # type: ignore[no-untyped-call]
        {
            "version": 3,
            "bindings": [
                {"role": "roles/bigquery.dataViewer",
                 "members": ["user:z@example.com", "group:readers@example.com"]},
                {"role": "roles/bigquery.dataEditor",
                 "members": ["serviceAccount:etl@p.iam.gserviceaccount.com"],
                 "condition": {"expression": CONDITION, "title": "until 2030"}},
            ],
        }
    )  # fmt: skip
    client.set_iam_policy(table, policy)


DEFAULT_ACCESS = (  # what datasets without explicit entries get
    AccessEntry(GranteeKind.SPECIAL_GROUP, "projectWriters", "roles/bigquery.dataEditor"),
    AccessEntry(GranteeKind.SPECIAL_GROUP, "projectOwners", "roles/bigquery.dataOwner"),
    AccessEntry(GranteeKind.SPECIAL_GROUP, "projectReaders", "roles/bigquery.dataViewer"),
)


@pytest.mark.emulator
def test_collect_gives_exact_objects(faithful: Estate) -> None:
    names = _build_full_estate(faithful, kms=True)
    src, ds = names["src"], names["ds"]
    _set_table_iam(faithful.client, f"{PROJECT}.{ds}.runs")

    result = faithful.collect(fast_path=False)

    assert result.gaps == ()
    assert [d.etag is not None for d in result.datasets] == [True, True]
    datasets = tuple(dataclasses.replace(d, etag=None) for d in result.datasets)
    assert datasets == (
        Dataset(
            PROJECT, ds, location="US", labels={"kind": "tenant", "tier": "gold"},
            description="tenant dataset", default_kms_key=KEY.format("ds"),
            access=(
                AccessEntry(GranteeKind.USER, "owner@example.com", "roles/bigquery.dataOwner"),
                AccessEntry(GranteeKind.USER, "robot@p.iam.gserviceaccount.com",
                            "roles/bigquery.dataViewer"),
                AccessEntry(GranteeKind.GROUP, "team@example.com", "roles/bigquery.dataEditor"),
                AccessEntry(GranteeKind.DOMAIN, "example.com", "roles/bigquery.dataViewer"),
                AccessEntry(GranteeKind.SPECIAL_GROUP, "projectReaders",
                            "roles/bigquery.dataViewer"),
                AccessEntry(GranteeKind.IAM_MEMBER, "allUsers", "roles/bigquery.dataViewer"),
                AccessEntry(GranteeKind.VIEW, f"projects/{PROJECT}/datasets/{src}/tables/shared"),
                AccessEntry(GranteeKind.DATASET, f"projects/{PROJECT}/datasets/{src}",
                            target_types=("VIEWS",)),
                AccessEntry(GranteeKind.USER, "temp@example.com", "roles/bigquery.dataViewer",
                            condition=Condition(CONDITION, "until 2030", "temporary")),
            ),
        ),
        Dataset(PROJECT, src, location="US", access=DEFAULT_ACCESS),
    )  # fmt: skip
    assert result.tables == (
        Table(
            PROJECT, ds, "runs", "TABLE", _expected_fields(), kms_key=KEY.format("t"),
            labels={"pii": "no"}, description="pipeline runs",
            iam=(
                IamBinding("roles/bigquery.dataEditor",
                           ("serviceAccount:etl@p.iam.gserviceaccount.com",),
                           Condition(CONDITION, "until 2030")),
                IamBinding("roles/bigquery.dataViewer",
                           ("group:readers@example.com", "user:z@example.com")),
            ),
        ),
        Table(
            PROJECT, ds, "runs_view", "VIEW",
            (Field("id", "INT64"), Field("tags", "STRING", "REPEATED")),
            view_query=f"SELECT id, tags FROM `{PROJECT}.{ds}.runs`", iam=(),
        ),
        Table(PROJECT, src, "shared", "VIEW", (Field("x", "INT64"),),
              view_query="SELECT 1 AS x", iam=()),
    )  # fmt: skip
    # 1 datasets.list + 2 x (datasets.get + tables.list) + 3 x (tables.get + getIamPolicy)
    assert result.stats.api_calls == 11
    assert (result.stats.queries, result.stats.fallbacks) == (0, 0)


@pytest.mark.emulator
def test_fast_path_equals_api_path(faithful: Estate) -> None:
    """This engine's COLUMN_FIELD_PATHS has no policy_tags column (read again without it),
    and its *_OPTIONS leave KMS keys out: ds has a default key that SCHEMATA_OPTIONS does
    not show, so ds's two tables are read one by one (its options disagree) - and so is
    src's view, since no table key from this region can be trusted. Same objects either way;
    the stats say why."""
    names = _build_full_estate(faithful, kms=True)
    api = faithful.collect(fast_path=False)
    fast = faithful.collect(fast_path=True)
    assert fast.datasets == api.datasets
    assert fast.tables == api.tables
    assert fast.gaps == api.gaps == ()
    stats = fast.stats
    assert (stats.queries, stats.fast_path_tables, stats.fallbacks) == (7, 0, 3)
    assert stats.fallback_kinds == {"dataset options disagree": 2, "KMS keys omitted": 1}
    assert stats.locations == ("us",)
    assert stats.notes[0].startswith(
        "region us: INFORMATION_SCHEMA.COLUMN_FIELD_PATHS could not be read with its "
        "policy_tags column (400 Bad Request: "
    )
    assert stats.notes[1:] == (
        "2 tables read one by one: INFORMATION_SCHEMA.SCHEMATA_OPTIONS disagrees with "
        "datasets.get for this dataset, so its *_OPTIONS answers are not trusted",
        f"1 table read one by one: INFORMATION_SCHEMA in region us leaves KMS keys out "
        f"(SCHEMATA_OPTIONS shows none for {names['ds']}, which has one), so table keys can "
        "only be read table by table",
    )
    assert api.stats.calls["tables.get"] == stats.calls["tables.get"] == 3
    assert stats.calls["jobs.query"] == 7 and "jobs.query" not in api.stats.calls


@pytest.mark.emulator
def test_one_disagreeing_dataset_costs_one_datasets_calls(faithful: Estate) -> None:
    """Three datasets; datasets.get answers `plain3` with a description INFORMATION_SCHEMA
    does not show (served through a proxy, as if it changed between the two reads): plain3's
    two tables cost two tables.get, the other four come from INFORMATION_SCHEMA (before, the
    whole region was read table by table)."""
    plain = [faithful.dataset(f"plain{i}", description="tenant data") for i in (1, 2, 3)]
    for dataset_id in plain:
        for table_id in ("a", "b"):
            faithful.table(dataset_id, table_id, schema=[SchemaField("x", "STRING")])
    raw = faithful.client.get_dataset(f"{PROJECT}.{plain[2]}")._properties
    changed = {**raw, "description": "changed since INFORMATION_SCHEMA was read"}
    with FaultProxy(faithful.endpoint) as proxy:
        proxy.fail("GET", rf"/datasets/{plain[2]}$", 200, changed)
        api = faithful.collect(proxy.url, fast_path=False, table_iam=False)
        fast = faithful.collect(proxy.url, table_iam=False)
    assert (fast.datasets, fast.tables, fast.gaps) == (api.datasets, api.tables, ())
    assert fast.datasets[2].description == "changed since INFORMATION_SCHEMA was read"
    assert fast.stats.fast_path_tables == 4
    assert fast.stats.fallback_kinds == {"dataset options disagree": 2}
    assert api.stats.calls["tables.get"] == 6
    assert fast.stats.calls["tables.get"] == 2
    # datasets.get and tables.list are the same either way: one each per dataset.
    for method in ("datasets.list", "datasets.get", "tables.list"):
        assert fast.stats.calls[method] == api.stats.calls[method]


@pytest.mark.emulator
def test_every_location_is_read_and_region_only_narrows(faithful: Estate) -> None:
    """Datasets in US and EU: each location's INFORMATION_SCHEMA is read (this engine answers
    every region alike; the collector takes each dataset from its own location's answer).
    --region us leaves EU to the per-table path and says so."""
    us = faithful.dataset("in_us")
    eu = faithful.dataset("in_eu", location="EU")
    for dataset_id in (us, eu):
        faithful.table(dataset_id, "t", schema=[SchemaField("x", "STRING", description="d")])
    api = faithful.collect(fast_path=False, table_iam=False)
    every = faithful.collect(table_iam=False)
    assert (every.datasets, every.tables, every.gaps) == (api.datasets, api.tables, ())
    assert [d.location for d in every.datasets] == ["EU", "US"]
    assert every.stats.locations == ("eu", "us")
    assert (every.stats.fast_path_tables, every.stats.fallback_kinds) == (2, {})
    assert every.stats.queries == 14  # 7 per location
    assert "tables.get" not in every.stats.calls

    narrowed = faithful.collect(table_iam=False, regions=("us",))
    assert narrowed.tables == api.tables
    assert narrowed.stats.locations == ("us",)
    assert narrowed.stats.fast_path_tables == 1
    assert narrowed.stats.fallback_kinds == {"location not read": 1}
    assert narrowed.stats.calls["tables.get"] == 1
    assert (
        "1 table read one by one: dataset location EU is not among the regions read (us)"
        in narrowed.stats.notes
    )


@pytest.mark.emulator
def test_region_snapshot_rebuilds_what_the_api_returns(faithful: Estate) -> None:
    """The fast path's rebuild on the engine's real INFORMATION_SCHEMA answers.

    Without KMS keys: this engine shows none in *_OPTIONS (the collector notices through
    SCHEMATA_OPTIONS, see test_reconcile_distrusts_options_that_disagree_with_the_api).
    """
    names = _build_full_estate(faithful, kms=False)
    api = faithful.collect(fast_path=False, table_iam=False)
    queries: list[str] = []

    def run(sql: str) -> QueryAnswer:
        queries.append(sql)
        try:
            rows = faithful.client.query_and_wait(sql)
        except api_exceptions.GoogleAPICallError as exc:
            raise QueryFailed(describe(exc)) from exc
        return QueryAnswer(tuple(f.name for f in rows.schema), tuple(dict(r) for r in rows))

    snapshot = read_region(run, PROJECT, "us", set(names.values()))
    assert len(queries) == snapshot.queries == 7
    assert snapshot.rejected == {}

    def no_tags(fields: tuple[Field, ...]) -> tuple[Field, ...]:
        return tuple(
            dataclasses.replace(f, policy_tags=(), fields=no_tags(f.fields)) for f in fields
        )

    expected = {
        (t.dataset_id, t.table_id): dataclasses.replace(t, fields=no_tags(t.fields))
        for t in api.tables
    }
    assert snapshot.tables == expected
    # Were it not for the policy tags, the collector would take every table from here.
    listed = {d: {t.table_id: t.type for t in api.tables if t.dataset_id == d}
              for d in names.values()}  # fmt: skip
    plan = reconcile(dataclasses.replace(snapshot, blockers=()), list(api.datasets), listed)
    assert plan.fallback == {}
    assert plan.use == expected


@pytest.mark.emulator
def test_forbidden_dataset_is_one_gap_and_the_rest_is_collected(faithful: Estate) -> None:
    secret = faithful.dataset("secret")
    open_ = faithful.dataset("open")
    faithful.table(secret, "t", schema=[SchemaField("a", "STRING")])
    faithful.table(open_, "t", schema=[SchemaField("a", "STRING")])
    with FaultProxy(faithful.endpoint) as proxy:
        rule = proxy.fail(
            "GET",
            rf"/datasets/{secret}$",
            403,
            google_error(403, f"Access Denied: Dataset {PROJECT}:{secret}", "accessDenied"),
        )
        result = faithful.collect(proxy.url, fast_path=False)
    assert result.gaps == (
        CoverageGap(
            dataset_resource(PROJECT, secret),
            f"dataset could not be read: 403 Forbidden: Access Denied: Dataset "
            f"{PROJECT}:{secret}; its tables were not examined",
        ),
    )
    assert rule.hits == 1  # a 403 is not retried
    assert [d.dataset_id for d in result.datasets] == [open_]
    assert [(t.dataset_id, t.table_id) for t in result.tables] == [(open_, "t")]
    assert result.stats.api_calls == proxy.requests


@pytest.mark.emulator
def test_transient_errors_are_retried(faithful: Estate) -> None:
    ds = faithful.dataset("busy")
    faithful.table(ds, "t", schema=[SchemaField("a", "STRING")])
    with FaultProxy(faithful.endpoint) as proxy:
        unavailable = proxy.fail("GET", rf"/datasets/{ds}/tables/t$", 503, times=2)
        throttled = proxy.fail(
            "GET",
            rf"/datasets/{ds}$",
            429,
            google_error(429, "Rate limit exceeded", "rateLimitExceeded"),
            times=1,
        )
        reset = proxy.reset("POST", rf"/datasets/{ds}/tables/t:getIamPolicy$", times=1)
        result = faithful.collect(proxy.url, fast_path=False, **FAST_RETRIES)
    assert result.gaps == ()
    assert (unavailable.hits, throttled.hits, reset.hits) == (2, 1, 1)
    assert result.tables == (Table(PROJECT, ds, "t", "TABLE", (Field("a", "STRING"),), iam=()),)
    # list + 2 get (1 throttled) + list_tables + 3 get_table (2 unavailable) + 2 IAM (1 reset)
    assert result.stats.api_calls == proxy.requests == 9


@pytest.mark.emulator
def test_permanent_error_on_one_table_is_a_gap_for_that_table(faithful: Estate) -> None:
    ds = faithful.dataset("broken")
    for table_id in ("good", "bad"):
        faithful.table(ds, table_id, schema=[SchemaField("a", "STRING")])
    with FaultProxy(faithful.endpoint) as proxy:
        broken = proxy.fail("GET", rf"/datasets/{ds}/tables/bad$", 500)
        # The API path: on this engine the fast path now serves both tables without a
        # tables.get (nothing disagrees), and the fault would not be met.
        result = faithful.collect(proxy.url, fast_path=False, **FAST_RETRIES)
    assert result.gaps == (
        CoverageGap(
            table_resource_name(PROJECT, ds, "bad"),
            "table could not be read: 500 Internal Server Error: injected 500 "
            "(gave up after 3 attempts)",
        ),
    )
    assert broken.hits == 3
    assert [t.table_id for t in result.tables] == ["good"]
    assert [d.dataset_id for d in result.datasets] == [ds]


@pytest.mark.emulator
def test_hostile_dataset_filter_matches_nothing(faithful: Estate) -> None:
    faithful.dataset("x")
    hostile = (f"{faithful.prefix}_x`; DROP SCHEMA `{PROJECT}.{faithful.prefix}_x`; --",)
    result = collect(faithful.client, PROJECT, CollectOptions(datasets=hostile))
    assert (result.datasets, result.tables, result.gaps) == ((), (), ())
    assert result.stats.queries == 0
    assert faithful.client.get_dataset(f"{PROJECT}.{faithful.prefix}_x")  # still there


@pytest.mark.emulator
def test_fast_engine_falls_back_and_matches_the_api_path(fast: Estate) -> None:
    ds = fast.dataset(
        "tenant",
        labels={"kind": "tenant"},
        description="tenant dataset",
        access_entries=[
            _entry({"role": "OWNER", "userByEmail": "owner@example.com"}),
            _entry({"role": "READER", "userByEmail": "robot@p.iam.gserviceaccount.com"}),
            _entry({"role": "READER", "groupByEmail": "team@example.com"}),
            _entry({"role": "READER", "domain": "example.com"}),
            _entry({"role": "READER", "specialGroup": "projectReaders"}),
            _entry({"role": "READER", "iamMember": "allUsers"}),
        ],
    )
    fast.table(ds, "runs", schema=_schema(), description="pipeline runs")
    fast.table(ds, "steps", schema=[SchemaField("step", "STRING", mode="REQUIRED")])

    api = fast.collect(fast_path=False)
    quick = fast.collect(fast_path=True)
    assert quick.datasets == api.datasets and quick.tables == api.tables
    assert quick.stats.fallbacks == 2 and quick.stats.fast_path_used is False
    assert [t.table_id for t in quick.tables] == ["runs", "steps"]
    # This engine drops policy tags (nothing to do about it) and has no table IAM.
    assert quick.tables[0].fields == _expected_fields(policy_tags=False)
    assert all(t.iam is None for t in quick.tables)
    assert (
        quick.gaps
        == api.gaps
        == tuple(
            CoverageGap(
                table_resource_name(PROJECT, ds, table_id),
                "table IAM could not be read: 405 Method Not Allowed: unknown error",
            )
            for table_id in ("runs", "steps")
        )
    )
    without_iam = fast.collect(fast_path=True, table_iam=False)
    assert without_iam.gaps == ()
    assert without_iam.tables == tuple(dataclasses.replace(t, iam=None) for t in api.tables)


@pytest.mark.emulator
def test_throttling_lowers_concurrency_and_the_collection_resumes(fast: Estate) -> None:
    """Three 429s on tables.get: each halves the calls in flight (8, 4, 2, 1), the calls are
    retried after a backoff, and the collection completes; the stats count the throttles."""
    ds = fast.dataset("busy")
    for table_id in ("t1", "t2", "t3", "t4"):
        fast.table(ds, table_id, schema=[SchemaField("a", "STRING")])
    with FaultProxy(fast.endpoint) as proxy:
        throttled = proxy.inject("GET", rf"/datasets/{ds}/tables/t\d$", "429", times=3)
        result = fast.collect(
            proxy.url, table_iam=False, fast_path=False, workers=8, backoff=0.01, attempts=5
        )
    assert result.gaps == ()
    assert [t.table_id for t in result.tables] == ["t1", "t2", "t3", "t4"]
    assert throttled.hits == 3
    stats = result.stats
    assert (stats.throttled, stats.concurrency, stats.lowest_concurrency) == (3, 8, 1)
    assert stats.calls["tables.get"] == 4 + 3
    assert stats.api_calls == proxy.requests


@pytest.mark.emulator
def test_table_reads_start_before_the_last_dataset_is_read(fast: Estate) -> None:
    """Dataset reads wait in the pool a few at a time, so each dataset's tables.get calls
    run among the later datasets.get instead of after all of them: tables.get, the most
    frequent call and paced on its own, is busy from the first seconds."""
    datasets = [fast.dataset(f"d{i}") for i in range(8)]
    for ds in datasets:
        fast.table(ds, "t", schema=[SchemaField("a", "STRING")])
    with FaultProxy(fast.endpoint) as proxy:
        result = fast.collect(proxy.url, table_iam=False, fast_path=False, workers=2)
    assert result.gaps == ()
    assert [t.dataset_id for t in result.tables] == sorted(datasets)
    names = [method_name(verb, path) for verb, path in proxy.log]
    dataset_gets = [at for at, name in enumerate(names) if name == "datasets.get"]
    table_gets = [at for at, name in enumerate(names) if name == "tables.get"]
    assert len(dataset_gets) == len(table_gets) == 8
    assert table_gets[0] < dataset_gets[-1]


@pytest.mark.emulator
def test_fast_engine_malformed_answers_are_gaps(fast: Estate) -> None:
    """This engine keeps a dataset entry without its target and a view without its query:
    neither is dropped silently."""
    src = fast.dataset("src")
    fast.table(src, "shared", view_query="SELECT 1 AS x")
    ds = fast.dataset(
        "ds",
        access_entries=[
            _entry({"role": "READER", "specialGroup": "projectReaders"}),
            _entry({"dataset": {"dataset": {"projectId": PROJECT, "datasetId": src},
                                "targetTypes": ["VIEWS"]}}),
        ],
    )  # fmt: skip
    result = fast.collect(table_iam=False)
    assert result.gaps == (
        CoverageGap(
            dataset_resource(PROJECT, ds),
            "malformed answer: access entry #2 left out: dataset entry without a dataset reference",
        ),
        CoverageGap(
            table_resource_name(PROJECT, src, "shared"),
            "table could not be read: malformed answer: view without a query",
        ),
    )
    assert [d.dataset_id for d in result.datasets] == [ds, src]
    assert result.datasets[0].access == (
        AccessEntry(GranteeKind.SPECIAL_GROUP, "projectReaders", "roles/bigquery.dataViewer"),
    )
