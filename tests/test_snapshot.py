"""Inventory snapshots: exact round trip, the file format, and every way a file can be bad."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from auditor.errors import AuditorError, InputError
from auditor.model import (
    AccessEntry,
    Condition,
    ContentScan,
    CoverageGap,
    CustomRole,
    Dataset,
    DenyPolicy,
    DenyRule,
    Field,
    GranteeKind,
    GroupMembership,
    IamBinding,
    InputFile,
    Inventory,
    Location,
    Origin,
    Problem,
    ResourcePolicy,
    RoleStatus,
    Table,
    TableSchema,
    ValueHit,
)
from auditor.resources import format_schema
from auditor.sources.snapshot import read as snapshot_read
from auditor.sources.snapshot.format import MAX_FIELD_DEPTH, MAX_JSON_DEPTH, SNAPSHOT_VERSION
from auditor.sources.snapshot.read import load_snapshot, read_snapshot
from auditor.sources.snapshot.write import dump_snapshot

PATH = "nightly/snapshot.json"
CREATED = datetime(2025, 1, 31, 3, 0, tzinfo=timezone(timedelta(hours=1)))
CONDITION = Condition(
    expression='request.time < timestamp("2025-06-01T00:00:00Z")',
    title="expires",
    description="temporary access for the migration",
)
RUNS_FIELDS = (
    Field("run_id", "STRING", "REQUIRED", "Pipeline run id"),
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
                    ),
                ),
            ),
            Field("retries", "INTEGER"),
        ),
    ),
)
ACCESS = (
    AccessEntry(GranteeKind.USER, "owner@example.com", "roles/bigquery.dataOwner"),
    AccessEntry(GranteeKind.GROUP, "analysts@example.com", "roles/bigquery.dataViewer"),
    AccessEntry(GranteeKind.SPECIAL_GROUP, "projectReaders", "roles/bigquery.dataViewer"),
    AccessEntry(GranteeKind.IAM_MEMBER, "allUsers", "roles/bigquery.dataViewer", (), CONDITION),
    AccessEntry(GranteeKind.VIEW, "projects/p/datasets/reporting/tables/runs_v"),
    AccessEntry(GranteeKind.ROUTINE, "projects/p/datasets/udfs/routines/mask"),
    AccessEntry(GranteeKind.DATASET, "projects/p/datasets/shared", target_types=("VIEWS",)),
    AccessEntry(GranteeKind.DOMAIN, "example.com", "roles/bigquery.dataViewer"),
)


ANCESTRY = ("projects/p", "folders/111", "organizations/222")
IAM_POLICIES = (
    ResourcePolicy(
        "projects/p",
        (
            IamBinding("roles/viewer", ("group:analysts@example.com",)),
            IamBinding("roles/bigquery.dataViewer", ("user:a@example.com",), CONDITION),
        ),
        "BwYAAA==",
    ),
    ResourcePolicy("folders/111", ()),
    ResourcePolicy(
        "projects/p/serviceAccounts/etl@p.iam.gserviceaccount.com",
        (IamBinding("roles/iam.serviceAccountUser", ("group:ops@example.com",)),),
        "BwYBBB==",
    ),
)
DENY_POLICIES = (
    DenyPolicy(
        attachment="cloudresourcemanager.googleapis.com/projects/p",
        name="policies/cloudresourcemanager.googleapis.com%2Fprojects%2F123/denypolicies/no-genai",
        rules=(
            DenyRule(
                denied_principals=("principalSet://goog/public:all",),
                denied_permissions=("bigquery.googleapis.com/tables.getData",),
                exception_principals=("principalSet://goog/group/admins@example.com",),
                exception_permissions=("bigquery.googleapis.com/tables.get",),
                condition=Condition("resource.matchTag('123/env', 'prod')", "prod only"),
            ),
            DenyRule(
                ("principal://goog/subject/x@example.com",), ("iam.googleapis.com/roles.list",)
            ),
        ),
    ),
    DenyPolicy(
        "cloudresourcemanager.googleapis.com/organizations/222", "policies/o/denypolicies/e", ()
    ),
)
GROUP_MEMBERSHIPS = (
    GroupMembership("analysts@example.com", "user:a@example.com"),
    GroupMembership("analysts@example.com", "group:ops@example.com"),
    GroupMembership("ops@example.com", "serviceAccount:etl@p.iam.gserviceaccount.com"),
)
CUSTOM_ROLES = (
    CustomRole("projects/p/roles/reader", ("bigquery.tables.get", "bigquery.tables.getData")),
    CustomRole("organizations/222/roles/empty", ()),
    CustomRole("roles/retired.viewer", (), RoleStatus.DELETED, "IAM roles.get: 404 Not Found"),
    CustomRole("roles/new.role", (), RoleStatus.UNRESOLVED, "IAM roles.get: 403 Forbidden"),
)
RUNS = "//bigquery.googleapis.com/projects/p/datasets/acme/tables/x_meta_pipeline_runs"
CONTENT_SCANS = (
    ContentScan(RUNS, "local", 200, ("run_id", "error_message", "config.auth.token")),
    ContentScan(f"{RUNS}_empty", "pushdown", 0, ()),
)
VALUE_HITS = (
    ValueHit(RUNS, "error_message", "google-api-key", 3, "AIza\u2026[redacted 35 chars]",
             "0123456789abcdef"),
    ValueHit(RUNS, "config.auth.token", "jwt", 1, "eyJh\u2026[redacted 151 chars]",
             "fedcba9876543210"),
)  # fmt: skip


def realistic() -> Inventory:
    """A tenant dataset and the protected one, templates, SQL docs, problems and gaps."""
    template = TableSchema(
        name="x_meta_pipeline_runs",
        fields=(
            Field("run_id", "STRING", "REQUIRED", "Pipeline run id", line=3),
            Field("config", "RECORD", fields=(Field("token", "STRING", line=8),), line=6),
        ),
        origin=Origin.TEMPLATE,
        location=Location("schemas/tenant/x_meta_pipeline_runs.json", 1),
    )
    sql_table = TableSchema(
        name="customer_api_keys",
        fields=(Field("api_key_hash", "BYTES", description="SHA-256 of the key", line=12),),
        origin=Origin.SQL_DOC,
        location=Location("schemas/sql/customers_auth_dataset.sql", 10),
        dataset="customers",
    )
    tenant = Dataset(
        project="p",
        dataset_id="acme",
        location="EU",
        labels={"tenant": "acme", "kind": "tenant"},
        description="Operational logs of tenant acme",
        access=ACCESS,
        etag="BwXyZ==",
    )
    customers = Dataset(
        project="p",
        dataset_id="customers",
        location="EU",
        default_kms_key="projects/p/locations/eu/keyRings/r/cryptoKeys/k",
    )
    runs = Table(
        project="p",
        dataset_id="acme",
        table_id="x_meta_pipeline_runs",
        fields=RUNS_FIELDS,
        labels={"pii": "none"},
        iam=(
            IamBinding("roles/bigquery.dataViewer", ("group:ops@example.com",)),
            IamBinding(
                "roles/bigquery.dataEditor",
                ("serviceAccount:etl@p.iam.gserviceaccount.com", "user:a@example.com"),
                CONDITION,
            ),
        ),
    )
    view = Table(
        project="p",
        dataset_id="acme",
        table_id="runs_v",
        type="VIEW",
        view_query="SELECT run_id FROM `p.acme.x_meta_pipeline_runs`",
        description="Runs without config",
    )
    no_bindings = Table(project="p", dataset_id="acme", table_id="x_meta_step_logs", iam=())
    return Inventory(
        root="/repo",
        templates=(template,),
        sql_tables=(sql_table,),
        problems=(
            Problem("schemas/tenant/bad.json", "unknown key 'typ'", 4, "config.auth", False),
            Problem("schemas/tenant/broken.json", "unterminated string", 9, unread=True),
        ),
        gaps=(
            CoverageGap(
                "//bigquery.googleapis.com/projects/p/datasets/acme/tables/runs_v",
                "table IAM: permission denied",
            ),
        ),
        inputs=(InputFile("schemas/tenant/x_meta_pipeline_runs.json", "ab" * 32),),
        project="p",
        datasets=(tenant, customers),
        live_tables=(runs, view, no_bindings),
        ancestry=ANCESTRY,
        iam_policies=IAM_POLICIES,
        deny_policies=DENY_POLICIES,
        group_memberships=GROUP_MEMBERSHIPS,
        custom_roles=CUSTOM_ROLES,
        content_scans=CONTENT_SCANS,
        value_hits=VALUE_HITS,
    )


def dumped(inventory: Inventory | None = None) -> str:
    return dump_snapshot(inventory or realistic(), created_at=CREATED, tool_version="0.1.0")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the occurrence-th line containing needle."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def load_error(text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        load_snapshot(text, PATH)
    assert caught.value.path == PATH
    return caught.value


def shipped_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(format_schema("snapshot").read_text(encoding="utf-8"))
    return schema


# ---------------------------------------------------------------------------- round trip


def test_realistic_inventory_round_trips_exactly() -> None:
    inventory = realistic()
    loaded = load_snapshot(dumped(inventory), PATH)
    assert loaded == inventory
    # Equality would hide these: None vs () table IAM, and the enum types themselves.
    assert [t.iam for t in loaded.live_tables][1:] == [None, ()]
    assert all(type(a.kind) is GranteeKind for a in loaded.datasets[0].access)
    assert type(loaded.templates[0].origin) is Origin


def test_output_is_deterministic_ascii_and_ends_with_a_newline() -> None:
    text = dumped()
    assert text == dumped()
    assert text.endswith("}\n")
    assert text.isascii()


def test_output_format() -> None:
    text = dumped()
    assert text.startswith('{\n "created_at": "2025-01-31T02:00:00Z",\n "inventory": {\n')
    doc = json.loads(text)
    assert list(doc) == ["created_at", "inventory", "snapshot_version", "tool"]
    assert doc["snapshot_version"] == SNAPSHOT_VERSION == 4
    assert doc["tool"] == {"name": "auditor", "version": "0.1.0"}
    inv = doc["inventory"]
    # collected_at is the snapshot's created_at; collection describes a run, not the estate.
    outside = ("collected_at", "collection")
    names = [f.name for f in dataclasses.fields(Inventory)]
    assert list(inv) == sorted(n for n in names if n not in outside)
    assert inv["root"] == "/repo"
    assert inv["project"] == "p"
    access = inv["datasets"][0]["access"]
    assert [a["kind"] for a in access] == [a.kind.value for a in ACCESS]  # order kept
    assert access[3]["condition"] == {
        "description": "temporary access for the migration",
        "expression": 'request.time < timestamp("2025-06-01T00:00:00Z")',
        "title": "expires",
    }
    assert access[4] == {
        "condition": None,
        "entity": "projects/p/datasets/reporting/tables/runs_v",
        "kind": "view",
        "role": None,
        "target_types": [],
    }
    assert access[6]["target_types"] == ["VIEWS"]
    assert inv["datasets"][0]["labels"] == {"kind": "tenant", "tenant": "acme"}
    assert inv["datasets"][1]["default_kms_key"].endswith("/cryptoKeys/k")
    assert [t["iam"] for t in inv["live_tables"]][1:] == [None, []]
    token = inv["live_tables"][0]["fields"][1]["fields"][0]["fields"][0]
    assert token == {
        "description": None,
        "fields": [],
        "line": None,
        "mode": "NULLABLE",
        "name": "token",
        "policy_tags": ["projects/p/locations/eu/taxonomies/1/policyTags/2"],
        "type": "STRING",
    }
    assert inv["templates"][0]["origin"] == "template"
    assert inv["templates"][0]["location"] == {
        "line": 1,
        "path": "schemas/tenant/x_meta_pipeline_runs.json",
    }
    assert inv["sql_tables"][0]["dataset"] == "customers"
    assert inv["problems"][1] == {
        "column": None,
        "line": 9,
        "message": "unterminated string",
        "path": "schemas/tenant/broken.json",
        "unread": True,
    }
    assert inv["ancestry"] == ["projects/p", "folders/111", "organizations/222"]  # order kept
    assert inv["iam_policies"][1] == {"bindings": [], "etag": None, "resource": "folders/111"}
    assert inv["iam_policies"][0]["bindings"][1]["condition"]["title"] == "expires"
    assert inv["deny_policies"][0]["rules"][0] == {
        "condition": {
            "description": None,
            "expression": "resource.matchTag('123/env', 'prod')",
            "title": "prod only",
        },
        "denied_permissions": ["bigquery.googleapis.com/tables.getData"],
        "denied_principals": ["principalSet://goog/public:all"],
        "exception_permissions": ["bigquery.googleapis.com/tables.get"],
        "exception_principals": ["principalSet://goog/group/admins@example.com"],
    }
    assert inv["deny_policies"][1]["rules"] == []
    assert inv["group_memberships"][1] == {
        "group": "analysts@example.com",
        "member": "group:ops@example.com",
    }
    assert inv["custom_roles"][1] == {
        "name": "organizations/222/roles/empty",
        "permissions": [],
        "status": "defined",
        "detail": "",
    }
    assert inv["custom_roles"][2] == {
        "name": "roles/retired.viewer",
        "permissions": [],
        "status": "deleted",
        "detail": "IAM roles.get: 404 Not Found",
    }
    assert inv["content_scans"][1] == {
        "columns": [],
        "mode": "pushdown",
        "rows_scanned": 0,
        "table": f"{RUNS}_empty",
    }
    assert inv["value_hits"][0] == {
        "column": "error_message",
        "detector": "google-api-key",
        "fingerprint": "0123456789abcdef",
        "prefix": "AIza\u2026[redacted 35 chars]",
        "rows": 3,
        "table": RUNS,
    }


def test_created_at_is_written_in_utc_naive_taken_as_utc() -> None:
    def created(moment: datetime) -> str:
        text = dump_snapshot(Inventory("r"), created_at=moment, tool_version="1")
        value: str = json.loads(text)["created_at"]
        return value

    assert created(datetime(2025, 1, 31, 2, 0, 0, 250000)) == "2025-01-31T02:00:00.250000Z"
    assert created(datetime(2025, 1, 31, 2, 0, tzinfo=UTC)) == "2025-01-31T02:00:00Z"


def test_output_matches_the_shipped_recursive_schema() -> None:
    schema = shipped_schema()
    Draft202012Validator.check_schema(schema)
    errors = list(Draft202012Validator(schema).iter_errors(json.loads(dumped())))
    assert errors == []


def test_an_empty_inventory_round_trips() -> None:
    assert load_snapshot(dumped(Inventory("")), PATH) == Inventory("")


def test_odd_strings_round_trip() -> None:
    odd = '\ud800 lone surrogate, NUL \x00, \u2028, é, 🔑, "quotes" and \\'
    inventory = Inventory(
        root=odd,
        gaps=(CoverageGap(odd, odd),),
        datasets=(Dataset("p", "d", labels={odd: odd}),),
    )
    text = dumped(inventory)
    assert text.isascii()
    assert load_snapshot(text, PATH) == inventory


def test_layout_does_not_matter_and_integral_numbers_are_ints() -> None:
    doc = json.loads(dumped())
    doc["inventory"]["templates"][0]["fields"][0]["line"] = 3.0
    compact = json.dumps(doc, separators=(",", ":"))  # one line, keys in written order
    loaded = load_snapshot(compact, PATH)
    assert loaded == realistic()
    line = loaded.templates[0].fields[0].line
    assert (line, type(line)) == (3, int)


# ---------------------------------------------------------------------------- the schema


SCHEMA_DEFS: dict[str, type[Any]] = {
    "inventory": Inventory,
    "tableSchema": TableSchema,
    "field": Field,
    "location": Location,
    "problem": Problem,
    "coverageGap": CoverageGap,
    "inputFile": InputFile,
    "dataset": Dataset,
    "accessEntry": AccessEntry,
    "condition": Condition,
    "iamBinding": IamBinding,
    "table": Table,
    "resourcePolicy": ResourcePolicy,
    "denyRule": DenyRule,
    "denyPolicy": DenyPolicy,
    "groupMembership": GroupMembership,
    "customRole": CustomRole,
    "contentScan": ContentScan,
    "valueHit": ValueHit,
}


def test_schema_id_and_dialect() -> None:
    schema = shipped_schema()
    assert schema["$id"] == "urn:auditor:formats:snapshot"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert schema["required"] == list(schema["properties"])


@pytest.mark.parametrize("name", sorted(SCHEMA_DEFS))
def test_schema_describes_every_dataclass_field_and_requires_all(name: str) -> None:
    """A field added to the model fails here until the snapshot format carries it."""
    definition = shipped_schema()["$defs"][name]
    # An inventory's collected_at is the snapshot's own created_at, not a field inside it;
    # its collection figures describe one live run, not the estate, and are not kept.
    carried_outside = {"collected_at", "collection"}
    names = [f.name for f in dataclasses.fields(SCHEMA_DEFS[name]) if f.name not in carried_outside]
    assert list(definition["properties"]) == names
    assert definition["required"] == names
    assert definition["additionalProperties"] is False


def test_schema_enums_are_the_model_enums() -> None:
    defs = shipped_schema()["$defs"]
    assert defs["accessEntry"]["properties"]["kind"]["enum"] == [k.value for k in GranteeKind]
    assert defs["tableSchema"]["properties"]["origin"]["enum"] == [o.value for o in Origin]


# ---------------------------------------------------------------------------- bad files


def test_malformed_json_names_the_line() -> None:
    text = dumped()
    broken_at = line_of(text, '"etag": "BwXyZ=="')
    lines = text.splitlines()
    lines[broken_at - 1] = lines[broken_at - 1].replace('"BwXyZ=="', '"BwXyZ==" "x"')
    error = load_error("\n".join(lines))
    assert (error.line, error.detail) == (
        broken_at,
        "expected ',' or '}' after object member, found '\"'",
    )


def test_truncated_file() -> None:
    lines = dumped().splitlines(keepends=True)
    cut = next(n for n, line in enumerate(lines) if '"entity": "owner@example.com",' in line)
    assert cut > 30
    error = load_error("".join(lines[: cut + 1]))
    assert (error.line, error.detail) == (
        cut + 2,
        "unexpected end of input; expected a string key in double quotes",
    )


def test_wrong_type_names_the_path_and_line() -> None:
    text = dumped()
    bad = text.replace('"role": "roles/bigquery.dataViewer"', '"role": 7', 1)
    error = load_error(bad)
    assert error.line == line_of(bad, '"role": 7')
    assert (
        error.detail
        == "inventory.datasets[0].access[1].role: expected a string or null, got integer 7"
    )
    assert str(error) == f"{PATH}:{error.line}: {error.detail}"


def test_first_problem_in_the_file_is_reported() -> None:
    text = dumped()
    bad = text.replace('"name": "token",', '"name": ["token"],', 2)
    # Keys are sorted, so live_tables comes before templates in the file.
    error = load_error(bad)
    assert error.line == line_of(bad, '"name": [', 1)
    assert error.detail == (
        "inventory.live_tables[0].fields[1].fields[0].fields[0].name: expected a string,"
        " got an array (and 1 more problem)"
    )


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            '"kind": "view"',
            '"kind": "authorizedView"',
            '"authorizedView"',
            "inventory.datasets[0].access[4].kind: expected one of userByEmail, groupByEmail,"
            " domain, specialGroup, iamMember, view, routine, dataset, got string 'authorizedView'",
        ),
        (
            '"etag": "BwXyZ=="',
            '"etga": "BwXyZ=="',
            '"etga"',
            "inventory.datasets[0]: unknown key 'etga' (did you mean 'etag'?)",
        ),
        (
            '"origin": "template"',
            '"origin": "TEMPLATE"',
            '"TEMPLATE"',
            "inventory.templates[0].origin: expected one of template, sql_doc, live,"
            " got string 'TEMPLATE'",
        ),
        (
            '"unread": true',
            '"unread": "yes"',
            '"yes"',
            "inventory.problems[1].unread: expected a boolean, got string 'yes'",
        ),
        (
            '"iam": null',
            '"iam": {}',
            '"iam": {}',
            "inventory.live_tables[1].iam: expected an array or null, got an object",
        ),
        (
            '"tenant": "acme"',
            '"tenant": 1',
            '"tenant": 1',
            "inventory.datasets[0].labels.tenant: expected a string, got integer 1",
        ),
        (
            '"name": "auditor"',
            '"name": "other"',
            '"other"',
            "tool.name: expected string 'auditor', got string 'other'",
        ),
        (
            '"folders/111",',
            "111,",
            " 111,",
            "inventory.ancestry[1]: expected a string, got integer 111",
        ),
        (
            '"resource": "folders/111"',
            '"resource": null',
            '"resource": null',
            "inventory.iam_policies[1].resource: expected a string, got null",
        ),
        (
            '"exception_principals": [',
            '"exception_principal": [',
            '"exception_principal"',
            "inventory.deny_policies[0].rules[0]: unknown key 'exception_principal'"
            " (did you mean 'exception_principals'?)",
        ),
        (
            '"member": "group:ops@example.com"',
            '"member": ["group:ops@example.com"]',
            '"member": [',
            "inventory.group_memberships[1].member: expected a string, got an array",
        ),
        (
            '"permissions": []',
            '"permissions": [7]',
            '"permissions": [7]',
            "inventory.custom_roles[1].permissions[0]: expected a string, got integer 7",
        ),
        (
            '"created_at": "2025-01-31T02:00:00Z"',
            '"created_at": "2025-01-31 02:00"',
            '"created_at"',
            "created_at: expected a UTC time such as 2025-01-31T02:00:00Z,"
            " got string '2025-01-31 02:00'",
        ),
        (
            '"created_at": "2025-01-31T02:00:00Z"',
            '"created_at": "2025-13-31T02:00:00Z"',
            '"created_at"',
            "created_at: '2025-13-31T02:00:00Z' is not a valid time",
        ),
    ],
)
def test_schema_problems(old: str, new: str, needle: str, message: str) -> None:
    text = dumped()
    assert old in text
    bad = text.replace(old, new, 1)
    error = load_error(bad)
    assert (error.line, error.detail) == (line_of(bad, needle), message)


def test_a_field_that_is_not_an_object() -> None:
    doc = json.loads(dumped())
    doc["inventory"]["live_tables"][0]["fields"][1]["fields"][0]["fields"].append(3)
    text = json.dumps(doc, indent=1, sort_keys=True)
    error = load_error(text)
    assert error.detail == (
        "inventory.live_tables[0].fields[1].fields[0].fields[1]: expected an object, got integer 3"
    )
    assert error.line == line_of(text, " 3")


def test_missing_keys_are_named() -> None:
    doc = json.loads(dumped())
    config = doc["inventory"]["live_tables"][0]["fields"][1]
    assert config["name"] == "config"
    del config["mode"], config["fields"]
    text = json.dumps(doc, indent=1, sort_keys=True)
    error = load_error(text)
    assert error.detail == (
        "inventory.live_tables[0].fields[1]: missing required key 'mode' (and 1 more problem)"
    )
    # The object's own line: its keys now are description, line, name, ...
    assert error.line == line_of(text, '"name": "config"') - 3

    del doc["tool"]
    error = load_error(json.dumps(doc, indent=1, sort_keys=True))
    assert (error.line, error.detail) == (
        1,
        "(top level): missing required key 'tool' (and 2 more problems)",
    )


@pytest.mark.parametrize(
    ("version", "shown"),
    [
        ("1", "integer 1"),  # the format before the IAM parts: no silent empty IAM
        ("2", "integer 2"),  # before the content scan: no silent "nothing was scanned"
        ("3", "integer 3"),  # before role lookups: a deleted role would look like an empty one
        ("5", "integer 5"),
        ('"4"', "string '4'"),
        ("4.0", "number 4.0"),
        ("true", "boolean true"),
        ("null", "null"),
        ("0", "integer 0"),
    ],
)
def test_unknown_snapshot_version(version: str, shown: str) -> None:
    text = dumped().replace('"snapshot_version": 4', f'"snapshot_version": {version}')
    text = text.replace('"inventory": {', '"inventory": {"future": true,', 1)  # not reached
    error = load_error(text)
    assert error.detail == (
        f"unsupported snapshot_version {shown}; this auditor reads snapshot_version 4"
        " (take a new snapshot with this version)"
    )
    assert error.line == line_of(text, '"snapshot_version"')


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[]", 1, "(top level): expected an object, got an array"),
        (
            '{"snapshot_version": 4}',
            1,
            "(top level): missing required key 'tool' (and 2 more problems)",
        ),
        ("", 1, "no JSON value (the document is empty)"),
        ('{"a": 1, "a": 2}', 1, "duplicate key 'a' in object"),
    ],
)
def test_not_a_snapshot(text: str, line: int, message: str) -> None:
    error = load_error(text)
    assert (error.line, error.detail) == (line, message)


# ---------------------------------------------------------------------------- depth


def nested(depth: int, name: str = "level") -> tuple[Field, ...]:
    """One RECORD column nesting `depth` levels (built without recursion)."""
    fields: tuple[Field, ...] = (Field(f"{name}{depth}", "STRING", line=depth),)
    for level in range(depth - 1, 0, -1):
        fields = (Field(f"{name}{level}", "RECORD", fields=fields, line=level),)
    return fields


def deep_table(depth: int) -> Inventory:
    return Inventory("r", live_tables=(Table("p", "d", "t", fields=nested(depth)),))


def test_twenty_levels_of_nested_fields_round_trip() -> None:
    inventory = deep_table(20)
    assert load_snapshot(dumped(inventory), PATH) == inventory


def test_the_deepest_fields_a_snapshot_holds() -> None:
    assert MAX_FIELD_DEPTH == 125
    deepest = Inventory(
        "r",
        templates=(TableSchema("t", nested(MAX_FIELD_DEPTH), Origin.TEMPLATE, Location("t")),),
        live_tables=(Table("p", "d", "t", fields=nested(MAX_FIELD_DEPTH)),),
    )
    text = dumped(deepest)
    assert load_snapshot(text, PATH) == deepest
    assert f'"name": "level{MAX_FIELD_DEPTH}"' in text


def test_dump_refuses_fields_it_could_not_read_back() -> None:
    too_deep = Inventory(
        "r",
        sql_tables=(
            TableSchema("t", nested(MAX_FIELD_DEPTH + 1), Origin.SQL_DOC, Location("a.sql")),
        ),
    )
    with pytest.raises(AuditorError) as caught:
        dumped(too_deep)
    assert str(caught.value) == (
        "a.sql: field 'level126' is nested 126 levels deep, more than the 125 a snapshot can hold"
    )
    with pytest.raises(AuditorError):  # and no RecursionError on an absurd one
        dumped(deep_table(5000))


def test_a_too_deep_file_is_an_input_error() -> None:
    doc = json.loads(dumped(deep_table(MAX_FIELD_DEPTH)))
    innermost = doc["inventory"]["live_tables"][0]["fields"][0]
    for _ in range(MAX_FIELD_DEPTH - 1):
        innermost = innermost["fields"][0]
    assert innermost["name"] == f"level{MAX_FIELD_DEPTH}"
    innermost["fields"] = [dict(innermost, name="level126", fields=[])]  # one level more
    text = json.dumps(doc, indent=1, sort_keys=True)
    error = load_error(text)
    assert error.detail == f"nesting deeper than {MAX_JSON_DEPTH} levels"
    # Its own (empty) field list is one container too many; sorted keys put the list
    # three lines above its name: fields, line, mode, name.
    assert error.line == line_of(text, '"name": "level126"') - 3


@pytest.mark.parametrize("opener", ["[", '{"a":', '{"inventory": {"templates": [{"fields": ['])
def test_hostile_nesting_is_an_input_error_not_a_recursion_error(opener: str) -> None:
    error = load_error(opener * 100_000)
    assert error.detail == f"nesting deeper than {MAX_JSON_DEPTH} levels"


def test_loading_does_not_recurse_per_level_inside_jsonschema() -> None:
    """Schema problems in the deepest fields are found and named, without recursion trouble."""
    doc = json.loads(dumped(deep_table(MAX_FIELD_DEPTH)))
    innermost = doc["inventory"]["live_tables"][0]["fields"][0]
    pointer = "inventory.live_tables[0].fields[0]"
    for _ in range(MAX_FIELD_DEPTH - 1):
        innermost = innermost["fields"][0]
        pointer += ".fields[0]"
    innermost["mode"] = None
    error = load_error(json.dumps(doc, indent=1, sort_keys=True))
    assert error.detail == f"{pointer}.mode: expected a string, got null"


# ---------------------------------------------------------------------------- files


def test_read_snapshot(tmp_path: Path) -> None:
    file = tmp_path / "snap.json"
    file.write_text(dumped(), encoding="utf-8")
    # A replay is evaluated as of the collection: the file's created_at.
    assert read_snapshot(file) == dataclasses.replace(realistic(), collected_at=CREATED)


def test_read_snapshot_with_a_bom(tmp_path: Path) -> None:
    file = tmp_path / "snap.json"
    file.write_bytes(b"\xef\xbb\xbf" + dumped().encode("ascii"))
    assert read_snapshot(file) == dataclasses.replace(realistic(), collected_at=CREATED)


def test_read_snapshot_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(InputError) as caught:
        read_snapshot(missing)
    assert str(caught.value) == f"{missing}: not a readable regular file"

    with pytest.raises(InputError) as caught:
        read_snapshot(tmp_path)
    assert caught.value.detail == "not a readable regular file"

    bad_utf8 = tmp_path / "latin1.json"
    bad_utf8.write_bytes(b'{\n "root": "caf\xe9"\n}\n')
    with pytest.raises(InputError) as caught:
        read_snapshot(bad_utf8)
    assert (caught.value.path, caught.value.line, caught.value.detail) == (
        str(bad_utf8),
        2,
        "file is not valid UTF-8",
    )

    big = tmp_path / "big.json"
    big.write_text(dumped(), encoding="utf-8")
    monkeypatch.setattr(snapshot_read, "MAX_SNAPSHOT_BYTES", 1000)
    with pytest.raises(InputError) as caught:
        read_snapshot(big)
    assert caught.value.detail == "file is larger than 1000 bytes; not read"
    with pytest.raises(InputError) as caught:
        load_snapshot(dumped(), PATH)
    assert caught.value.detail == "file is larger than 1000 bytes; not read"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    file = tmp_path / "snap.json"
    file.write_text("{}", encoding="utf-8")
    file.chmod(0)
    try:
        with pytest.raises(InputError) as caught:
            read_snapshot(file)
        assert caught.value.detail == "cannot read file: Permission denied"
    finally:
        file.chmod(0o600)


# ---------------------------------------------------------------------------- any inventory


ODD = st.sampled_from(["", "\ud800", "\x00\x1f", "\u2028", "é🔑", '"\\', " "])
TEXT = st.text(max_size=10) | ODD
NAME = st.text(alphabet="abcdefghij_.{}", min_size=1, max_size=8) | TEXT
OPT_TEXT = st.none() | TEXT
LINE = st.none() | st.integers()
LABELS = st.dictionaries(TEXT, TEXT, max_size=3)
STRINGS = st.lists(TEXT, max_size=3).map(tuple)


def _fields_of(children: st.SearchStrategy[tuple[Field, ...]]) -> st.SearchStrategy[Field]:
    return st.builds(
        Field,
        name=NAME,
        type=st.sampled_from(["STRING", "RECORD", "INTEGER", "STRUCT", "JSON"]) | TEXT,
        mode=st.sampled_from(["NULLABLE", "REQUIRED", "REPEATED"]) | TEXT,
        description=OPT_TEXT,
        fields=children,
        policy_tags=STRINGS,
        line=LINE,
    )


FIELDS: st.SearchStrategy[tuple[Field, ...]] = st.recursive(
    st.just(()),
    lambda children: st.lists(_fields_of(children), min_size=1, max_size=3).map(tuple),
    max_leaves=12,
)
CONDITIONS = st.none() | st.builds(Condition, expression=TEXT, title=OPT_TEXT, description=OPT_TEXT)
TABLE_SCHEMAS = st.builds(
    TableSchema,
    name=NAME,
    fields=FIELDS,
    origin=st.sampled_from(Origin),
    location=st.builds(Location, path=TEXT, line=LINE),
    dataset=OPT_TEXT,
)
ACCESS_ENTRIES = st.builds(
    AccessEntry,
    kind=st.sampled_from(GranteeKind),
    entity=TEXT,
    role=OPT_TEXT,
    target_types=STRINGS,
    condition=CONDITIONS,
)
DATASETS = st.builds(
    Dataset,
    project=NAME,
    dataset_id=NAME,
    location=OPT_TEXT,
    labels=LABELS,
    description=OPT_TEXT,
    access=st.lists(ACCESS_ENTRIES, max_size=4).map(tuple),
    default_kms_key=OPT_TEXT,
    etag=OPT_TEXT,
)
BINDINGS = st.builds(IamBinding, role=TEXT, members=STRINGS, condition=CONDITIONS)
TABLES = st.builds(
    Table,
    project=NAME,
    dataset_id=NAME,
    table_id=NAME,
    type=st.sampled_from(["TABLE", "VIEW", "MATERIALIZED_VIEW", "EXTERNAL", "SNAPSHOT"]),
    fields=FIELDS,
    view_query=OPT_TEXT,
    kms_key=OPT_TEXT,
    labels=LABELS,
    description=OPT_TEXT,
    iam=st.none() | st.lists(BINDINGS, max_size=3).map(tuple),
)
DENY_RULES = st.builds(
    DenyRule,
    denied_principals=STRINGS,
    denied_permissions=STRINGS,
    exception_principals=STRINGS,
    exception_permissions=STRINGS,
    condition=CONDITIONS,
)
IAM_PARTS = {
    "ancestry": STRINGS,
    "iam_policies": st.lists(
        st.builds(
            ResourcePolicy,
            resource=TEXT,
            bindings=st.lists(BINDINGS, max_size=3).map(tuple),
            etag=OPT_TEXT,
        ),
        max_size=3,
    ).map(tuple),
    "deny_policies": st.lists(
        st.builds(
            DenyPolicy,
            attachment=TEXT,
            name=TEXT,
            rules=st.lists(DENY_RULES, max_size=3).map(tuple),
        ),
        max_size=2,
    ).map(tuple),
    "group_memberships": st.lists(
        st.builds(GroupMembership, group=TEXT, member=TEXT), max_size=3
    ).map(tuple),
    "custom_roles": st.lists(
        st.builds(
            CustomRole,
            name=TEXT,
            permissions=STRINGS,
            status=st.sampled_from(RoleStatus),
            detail=TEXT,
        ),
        max_size=2,
    ).map(tuple),
}
CONTENT_PARTS = {
    "content_scans": st.lists(
        st.builds(ContentScan, table=TEXT, mode=TEXT, rows_scanned=st.integers(), columns=STRINGS),
        max_size=2,
    ).map(tuple),
    "value_hits": st.lists(
        st.builds(
            ValueHit,
            table=TEXT,
            column=TEXT,
            detector=TEXT,
            rows=st.integers(),
            prefix=TEXT,
            fingerprint=TEXT,
        ),
        max_size=2,
    ).map(tuple),
}
INVENTORIES = st.builds(
    Inventory,
    root=TEXT,
    templates=st.lists(TABLE_SCHEMAS, max_size=2).map(tuple),
    sql_tables=st.lists(TABLE_SCHEMAS, max_size=2).map(tuple),
    problems=st.lists(
        st.builds(
            Problem, path=TEXT, message=TEXT, line=LINE, column=OPT_TEXT, unread=st.booleans()
        ),
        max_size=2,
    ).map(tuple),
    gaps=st.lists(st.builds(CoverageGap, scope=TEXT, reason=TEXT), max_size=2).map(tuple),
    inputs=st.lists(st.builds(InputFile, path=TEXT, sha256=TEXT), max_size=2).map(tuple),
    project=OPT_TEXT,
    datasets=st.lists(DATASETS, max_size=3).map(tuple),
    live_tables=st.lists(TABLES, max_size=3).map(tuple),
    **IAM_PARTS,
    **CONTENT_PARTS,
)


@settings(
    max_examples=100, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(INVENTORIES, st.datetimes(timezones=st.just(UTC)), TEXT)
def test_any_inventory_round_trips_exactly(
    inventory: Inventory, created_at: datetime, version: str
) -> None:
    text = dump_snapshot(inventory, created_at=created_at, tool_version=version)
    assert load_snapshot(text, PATH) == inventory
    assert dump_snapshot(inventory, created_at=created_at, tool_version=version) == text
