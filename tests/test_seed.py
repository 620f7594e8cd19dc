"""The demo estate seeder: the estate as data, its rows, and the estate a real engine holds.

Tests marked `emulator` seed a real local engine through the real BigQuery client and read
the estate back with the same client; the rest check the pure parts (estate, rows).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from auditor.demo.conform import conform
from auditor.demo.estate import build_estate
from auditor.demo.plants import DEFAULT_PLANTED, PlantedViolation, ViolationKind, planted_violations
from auditor.demo.rows import dataset_rows
from auditor.demo.seed import SeedError, reset, seed
from auditor.demo.specs import (
    CUSTOMER_LOOKUP_VIEW,
    GENAI_AGENT,
    ML_ENGINEERS,
    PLATFORM_ADMINS,
    CellValue,
    DatasetKind,
    SeedOptions,
    kms_key,
    onboarding_account,
    tenant_ids,
)
from auditor.errors import UsageError
from auditor.model import GranteeKind


class LocalBigQuery(Protocol):
    """What these tests use of conftest's engine fixtures."""

    @property
    def endpoint(self) -> str: ...


PROJECT = "gac-prod-471220"
TENANTS_KEY = kms_key(PROJECT, "tenants")
CUSTOMERS_KEY = kms_key(PROJECT, "customers")
DEFAULT_DATASETS = ("customers", "acme_corp", "globex", "initech", "umbrella", "scratch_analytics")

EXPECTED_PLANTED = {
    PlantedViolation(
        ViolationKind.CREDENTIAL_COLUMN, "globex", "x_meta_step_logs", "api_token",
        "extra column api_token STRING in a tenant table (values left NULL)",
    ),
    PlantedViolation(
        ViolationKind.PUBLIC_DATASET, "initech", None, None,
        "specialGroup:allAuthenticatedUsers READER",
    ),
    PlantedViolation(
        ViolationKind.PUBLIC_DATASET, "initech", None, None, "iamMember:allUsers READER"
    ),
    PlantedViolation(
        ViolationKind.SCHEMA_DRIFT, "umbrella", "x_meta_dq_results", "pass_rate",
        "type STRING, template says FLOAT",
    ),
    PlantedViolation(
        ViolationKind.SCHEMA_DRIFT, "umbrella", "x_meta_dq_results", "rows_failed",
        "column missing, template says INTEGER",
    ),
    PlantedViolation(
        ViolationKind.MISSING_DEFAULT_CMEK, "umbrella", None, None,
        "no default KMS key (CIS GCP 7.3); its tables keep their CMEK",
    ),
    PlantedViolation(
        ViolationKind.GENAI_PATH, "acme_corp", "customer_lookup", None,
        "view customer_lookup over customers.customer_profiles, authorized on customers: "
        f"serviceAccount:{GENAI_AGENT} (READER on every tenant) reads customers through it",
    ),
    PlantedViolation(
        ViolationKind.GENAI_PATH, "customers", None, None,
        "groupByEmail:ml-engineers@convergence.example READER; its members "
        "(examples/demo-iam) include serviceAccount:rag-indexer@<project>.iam.gserviceaccount.com,"
        " a platform AI account (AUD-011 genai_members), and a nested group",
    ),
    PlantedViolation(
        ViolationKind.CONTENT_SECRET, "globex", "x_meta_step_logs", "error_message",
        "a Google API key (google-api-key) in a logged request URL",
    ),
    PlantedViolation(
        ViolationKind.CONTENT_SECRET, "acme_corp", "x_meta_pipeline_runs", "error_message",
        "a bearer token (authorization-bearer) in logged request headers",
    ),
    PlantedViolation(
        ViolationKind.CONTENT_SECRET, "initech", "x_meta_pipeline_runs", "run_config.source.query",
        "a PostgreSQL DSN with its password (url-credentials) in a logged extraction query",
    ),
}  # fmt: skip
CONTENT_SECRETS = {(p.kind, p.dataset) for p in EXPECTED_PLANTED if p.kind == "content-secret"}


def make_client(endpoint: str, project: str = PROJECT) -> bigquery.Client:
    return bigquery.Client(
        project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=endpoint),
    )


# ---------------------------------------------------------------------------- pure parts


def test_tenant_ids_are_named_then_numbered() -> None:
    assert tenant_ids(2) == ("acme_corp", "globex")
    assert tenant_ids(4) == ("acme_corp", "globex", "initech", "umbrella")
    assert tenant_ids(6)[4:] == ("tenant_00005", "tenant_00006")
    assert len(set(tenant_ids(1000))) == 1000
    assert tenant_ids(1000)[-1] == "tenant_01000"


def test_default_planted_violations_are_exactly_the_brief() -> None:
    assert set(DEFAULT_PLANTED) == EXPECTED_PLANTED
    assert len(DEFAULT_PLANTED) == len(EXPECTED_PLANTED)
    assert set(build_estate().planted) == EXPECTED_PLANTED


def test_planted_violations_follow_tenants_and_engine() -> None:
    small_fast = planted_violations(SeedOptions(tenants=3, faithful=False))
    assert {(p.kind, p.dataset, p.detail) for p in small_fast if p.kind != "content-secret"} == {
        (ViolationKind.CREDENTIAL_COLUMN, "globex", EXPECTED_DETAIL_API_TOKEN),
        (ViolationKind.PUBLIC_DATASET, "initech", "specialGroup:allAuthenticatedUsers READER"),
        (ViolationKind.GENAI_PATH, "customers", EXPECTED_DETAIL_ML_ENGINEERS),
    }
    # The secrets in values are cells: both engines store them.
    assert {(p.kind, p.dataset) for p in small_fast if p.kind == "content-secret"} == (
        CONTENT_SECRETS
    )
    # acme_corp alone: the GenAI paths (the view is faithful-only) and its secret value.
    assert {(p.kind, p.dataset) for p in planted_violations(SeedOptions(tenants=1))} == {
        (ViolationKind.GENAI_PATH, "acme_corp"),
        (ViolationKind.GENAI_PATH, "customers"),
        (ViolationKind.CONTENT_SECRET, "acme_corp"),
    }
    assert {
        (p.kind, p.dataset) for p in planted_violations(SeedOptions(tenants=1, faithful=False))
    } == {(ViolationKind.GENAI_PATH, "customers"), (ViolationKind.CONTENT_SECRET, "acme_corp")}


EXPECTED_DETAIL_API_TOKEN = "extra column api_token STRING in a tenant table (values left NULL)"
EXPECTED_DETAIL_ML_ENGINEERS = next(
    p.detail for p in EXPECTED_PLANTED if p.kind is ViolationKind.GENAI_PATH and p.table is None
)


def test_estate_applies_plants_to_the_baseline() -> None:
    estate = build_estate()
    assert tuple(d.dataset_id for d in estate.datasets) == DEFAULT_DATASETS
    names = {
        d.dataset_id: [f["name"] for f in d.table("x_meta_step_logs").fields]
        for d in estate.datasets
        if d.kind is DatasetKind.TENANT
    }
    assert names["globex"][-1] == "api_token"
    assert "api_token" not in names["acme_corp"]
    dq = {
        f["name"]: f["type"] for f in estate.dataset("umbrella").table("x_meta_dq_results").fields
    }
    assert dq["pass_rate"] == "STRING" and "rows_failed" not in dq
    assert estate.dataset("umbrella").kms_key is None
    assert all(t.kms_key == TENANTS_KEY for t in estate.dataset("umbrella").tables)
    assert {(g.kind.value, g.entity) for g in estate.dataset("initech").access} >= {
        ("specialGroup", "allAuthenticatedUsers"),
        ("iamMember", "allUsers"),
    }


def test_fast_estate_has_no_table_iam_or_policy_tags() -> None:
    fast = build_estate(SeedOptions(faithful=False))
    faithful = build_estate()
    assert any(t.iam for t in faithful.dataset("customers").tables)
    assert not any(t.iam for d in fast.datasets for t in d.tables)
    assert "policyTags" not in json.dumps([t.fields for t in fast.dataset("customers").tables])
    assert "policyTags" in json.dumps([t.fields for t in faithful.dataset("customers").tables])
    assert not any(g.kind is GranteeKind.DATASET for d in fast.datasets for g in d.access)


def test_rows_are_deterministic_and_fit_drifted_schemas() -> None:
    estate = build_estate()
    umbrella = estate.dataset("umbrella")
    first = dataset_rows(umbrella, PROJECT, 20, 7, 4)
    assert first == dataset_rows(umbrella, PROJECT, 20, 7, 4)
    assert first != dataset_rows(umbrella, PROJECT, 20, 8, 4)
    assert {len(rows) for rows in first.values()} == {20}
    dq = first["x_meta_dq_results"]
    assert all("rows_failed" not in r for r in dq)
    assert all(isinstance(r["pass_rate"], str) for r in dq if "pass_rate" in r)
    acme = dataset_rows(estate.dataset("acme_corp"), PROJECT, 20, 7, 4)
    assert any(isinstance(r.get("pass_rate"), float) for r in acme["x_meta_dq_results"])
    # Logs read like logs: failures carry BigQuery's own error messages, steps join runs.
    runs = acme["x_meta_pipeline_runs"]
    run_ids = {r["run_id"] for r in runs}
    assert {s["run_id"] for s in acme["x_meta_step_logs"]} <= run_ids
    assert {d["run_id"] for d in acme["x_meta_dq_results"]} <= run_ids
    errors = [s["error_message"] for s in acme["x_meta_step_logs"] if "error_message" in s]
    errors += [r["error_message"] for r in runs if "error_message" in r]
    assert errors and all(isinstance(e, str) and e for e in errors)


def test_customers_rows_hold_ciphertext_as_base64_bytes() -> None:
    customers = build_estate().dataset("customers")
    rows = dataset_rows(customers, PROJECT, 20, 7, 4)
    assert {len(r) for r in rows.values()} == {4}  # one customer per tenant
    assert [r["tenant_id"] for r in rows["customer_profiles"]] == list(tenant_ids(4))
    for row in rows["customer_api_keys"]:
        assert len(base64.b64decode(row["encrypted_api_key"])) >= 96
    for row in rows["customer_cloud_credentials"]:
        assert len(base64.b64decode(row["encrypted_credentials"])) >= 256


def test_conform_drops_unknown_keys_and_fills_required() -> None:
    fields: list[dict[str, Any]] = [
        {"name": "a", "type": "STRING", "mode": "REQUIRED"},
        {"name": "r", "type": "RECORD", "mode": "REPEATED",
         "fields": [{"name": "x", "type": "FLOAT"}]},
        {"name": "j", "type": "JSON"},
    ]  # fmt: skip
    out = conform({"r": [{"x": 1, "gone": 2}], "j": {"k": [1]}, "extra": 3}, fields)
    assert out == {"a": "", "r": [{"x": 1.0}], "j": '{"k":[1]}'}


def test_cell_values_land_in_rows() -> None:
    # The content-secret hook: a CellValue overrides one cell before rows are conformed.
    spec = build_estate().dataset("acme_corp")
    marked = replace(spec, cells=(CellValue("x_meta_step_logs", 2, "metrics.model_name", "M"),))
    rows = dataset_rows(marked, PROJECT, 5, 7, 4)["x_meta_step_logs"]
    assert rows[2]["metrics"]["model_name"] == "M"


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        seed(make_client("http://127.0.0.1:9"), SeedOptions(workers=0))
    with pytest.raises(UsageError):
        seed(make_client("http://127.0.0.1:9"), SeedOptions(project="Not A Project"))


# ---------------------------------------------------------------------------- read back


def _seeded(client: bigquery.Client, project: str) -> dict[str, bigquery.Dataset]:
    return {
        item.dataset_id: client.get_dataset(bigquery.DatasetReference(project, item.dataset_id))
        for item in client.list_datasets(project)
        if (item.labels or {}).get("seeded_by") == "auditor-demo"
    }


def _access(dataset: bigquery.Dataset) -> set[tuple[str | None, str, str]]:
    return {(e.role, str(e.entity_type), str(e.entity_id)) for e in dataset.access_entries}


def _shape(fields: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Name, type, mode and sub-fields: what both engines keep of a schema."""
    return [
        (f["name"], f["type"], f.get("mode", "NULLABLE"), tuple(_shape(f.get("fields", []))))
        for f in fields
    ]


def _table_rows(client: bigquery.Client, table: bigquery.Table) -> list[str]:
    return sorted(
        json.dumps(dict(r), sort_keys=True, default=repr) for r in client.list_rows(table)
    )


def _snapshot(client: bigquery.Client, project: str) -> Iterator[tuple[str, Any]]:
    """Everything the estate is made of, as comparable values."""
    for dataset_id, dataset in sorted(_seeded(client, project).items()):
        yield (
            dataset_id,
            (
                dataset.labels,
                dataset.description,
                dataset.default_encryption_configuration,
                sorted(_access(dataset), key=repr),
            ),
        )
        for item in client.list_tables(dataset):
            table = client.get_table(item)
            shape = _shape([f.to_api_repr() for f in table.schema])
            if table.table_type == "VIEW":  # no rows to list (tabledata.list refuses views)
                yield f"{dataset_id}.{table.table_id}", (shape, table.view_query)
                continue
            yield f"{dataset_id}.{table.table_id}", (shape, _table_rows(client, table))


@pytest.mark.emulator
def test_default_estate_on_the_faithful_engine(faithful_bq: LocalBigQuery) -> None:
    client = make_client(faithful_bq.endpoint)
    messages: list[str] = []
    summary = seed(client, SeedOptions(), progress=messages.append)

    assert summary.datasets == DEFAULT_DATASETS
    assert set(summary.planted) == EXPECTED_PLANTED
    assert (summary.tables, summary.rows, summary.views) == (26, 4 * 5 * 20 + 5 * 4 + 20, 1)
    assert sum("dataset " in m for m in messages) == 6

    live = _seeded(client, PROJECT)
    assert set(live) == set(DEFAULT_DATASETS)
    # Labels.
    assert live["customers"].labels == {"dataset_role": "customers", "seeded_by": "auditor-demo"}
    for tenant in tenant_ids(4):
        assert live[tenant].labels == {
            "dataset_role": "tenant",
            "tenant_id": tenant,
            "seeded_by": "auditor-demo",
        }
    assert "dataset_role" not in live["scratch_analytics"].labels
    # Minimal ACL on customers: no special groups at all; the GenAI paths (5b) add the
    # ml-engineers group and the view acme_corp.customer_lookup.
    views = [e.entity_id for e in live["customers"].access_entries if e.entity_type == "view"]
    assert views == [
        {"projectId": PROJECT, "datasetId": "acme_corp", "tableId": CUSTOMER_LOOKUP_VIEW}
    ]
    assert {a for a in _access(live["customers"]) if a[1] != "view"} == {
        ("OWNER", "groupByEmail", PLATFORM_ADMINS),
        ("READER", "userByEmail", onboarding_account(PROJECT)),
        ("READER", "groupByEmail", ML_ENGINEERS),
    }
    assert live["customers"].default_encryption_configuration.kms_key_name == CUSTOMERS_KEY
    tenant_acl = {
        ("OWNER", "groupByEmail", PLATFORM_ADMINS),
        ("READER", "userByEmail", GENAI_AGENT),
    }
    for tenant in ("acme_corp", "globex", "umbrella"):
        assert _access(live[tenant]) == tenant_acl
    # (2) initech is public.
    assert _access(live["initech"]) == tenant_acl | {
        ("READER", "specialGroup", "allAuthenticatedUsers"),
        ("READER", "iamMember", "allUsers"),
    }
    # (4) umbrella has no default key; the other tenants do; umbrella's tables keep theirs.
    for tenant in ("acme_corp", "globex", "initech"):
        assert live[tenant].default_encryption_configuration.kms_key_name == TENANTS_KEY
    assert live["umbrella"].default_encryption_configuration is None
    estate = build_estate()
    tables: dict[tuple[str, str], bigquery.Table] = {}
    for spec in estate.datasets:
        assert {t.table_id for t in client.list_tables(spec.dataset_id)} == {
            t.table_id for t in spec.tables
        } | {v.view_id for v in spec.views}
        for table_spec in spec.tables:
            table = client.get_table(f"{PROJECT}.{spec.dataset_id}.{table_spec.table_id}")
            tables[spec.dataset_id, table_spec.table_id] = table
            assert _shape([f.to_api_repr() for f in table.schema]) == _shape(table_spec.fields)
            expected_rows = 4 if spec.kind is DatasetKind.CUSTOMERS else 20
            assert table.num_rows == expected_rows, table.full_table_id
            assert table.encryption_configuration.kms_key_name == spec.tables[0].kms_key
    assert tables["umbrella", "x_meta_pipeline_runs"].encryption_configuration.kms_key_name == (
        TENANTS_KEY
    )

    def types(dataset_id: str, table_id: str) -> dict[str, str]:
        return {f.name: f.field_type for f in tables[dataset_id, table_id].schema}

    # (1) globex has an api_token column, the others do not.
    assert types("globex", "x_meta_step_logs")["api_token"] == "STRING"
    for tenant in ("acme_corp", "initech", "umbrella"):
        assert "api_token" not in types(tenant, "x_meta_step_logs")
    # (3) umbrella's dq results drifted; acme's did not.
    drifted = types("umbrella", "x_meta_dq_results")
    assert drifted["pass_rate"] == "STRING" and "rows_failed" not in drifted
    clean = types("acme_corp", "x_meta_dq_results")
    assert clean["pass_rate"] == "FLOAT" and clean["rows_failed"] == "INTEGER"
    # Faithful-only hardening: policy tags on ciphertext columns, table IAM for billing.
    keys = tables["customers", "customer_api_keys"]
    tagged = {f.name for f in keys.schema if f.policy_tags and f.policy_tags.names}
    assert tagged == {"encrypted_api_key"}
    policy = client.get_iam_policy(f"{PROJECT}.customers.customer_subscriptions")
    assert {(b["role"], m) for b in policy.bindings for m in b["members"]} == {
        ("roles/bigquery.dataViewer", f"serviceAccount:billing@{PROJECT}.iam.gserviceaccount.com")
    }
    # Ciphertext is stored as BYTES.
    cipher = [r["encrypted_api_key"] for r in client.list_rows(keys)]
    assert len(cipher) == 4 and all(isinstance(c, bytes) and len(c) >= 96 for c in cipher)


@pytest.mark.emulator
def test_seeding_twice_gives_the_same_estate(faithful_bq: LocalBigQuery) -> None:
    client = make_client(faithful_bq.endpoint)
    options = SeedOptions(tenants=2, rows_per_table=5)
    seed(client, options)
    first = dict(_snapshot(client, PROJECT))
    again = seed(client, options)
    assert dict(_snapshot(client, PROJECT)) == first
    assert again.rows == 2 * 5 * 5 + 5 * 2 + 5
    assert len(first) == 4 + 16 + 1  # datasets, tables, the view acme_corp.customer_lookup


@pytest.mark.emulator
def test_reset_and_refusal_touch_only_the_seeders_datasets(faithful_bq: LocalBigQuery) -> None:
    project = "auditor-seed-test"  # a project of its own: other tests share the engine
    client = make_client(faithful_bq.endpoint, project)
    options = SeedOptions(tenants=1, rows_per_table=2, project=project)
    seed(client, options)
    bystander = client.create_dataset(f"{project}.hand_made", exists_ok=True)
    assert reset(client, project) == ("acme_corp", "customers", "scratch_analytics")
    assert _seeded(client, project) == {}
    assert "hand_made" in {d.dataset_id for d in client.list_datasets(project)}
    # A dataset the seeder would create, but not labelled as its own: refuse, touch nothing.
    client.create_dataset(f"{project}.customers")
    seed_error = pytest.raises(SeedError, match="customers")
    with seed_error:
        seed(client, options)
    assert _seeded(client, project) == {}
    client.delete_dataset(f"{project}.customers")
    client.delete_dataset(bystander)


@pytest.mark.emulator
def test_small_seed_on_the_fast_engine(fast_bq: LocalBigQuery) -> None:
    client = make_client(fast_bq.endpoint)
    options = SeedOptions(tenants=3, rows_per_table=5, faithful=False)
    summary = seed(client, options)
    assert summary.datasets == ("customers", "acme_corp", "globex", "initech", "scratch_analytics")
    assert {(p.kind, p.dataset) for p in summary.planted} == {
        (ViolationKind.CREDENTIAL_COLUMN, "globex"),
        (ViolationKind.PUBLIC_DATASET, "initech"),
        (ViolationKind.GENAI_PATH, "customers"),
    } | CONTENT_SECRETS
    assert (summary.tables, summary.rows) == (21, 3 * 5 * 5 + 5 * 3 + 5)
    live = _seeded(client, PROJECT)
    assert set(live) == set(summary.datasets)
    assert live["initech"].labels["tenant_id"] == "initech"
    assert ("READER", "specialGroup", "allAuthenticatedUsers") in _access(live["initech"])
    assert ("READER", "iamMember", "allUsers") not in _access(live["initech"])
    globex = client.get_table(f"{PROJECT}.globex.x_meta_step_logs")
    assert "api_token" in {f.name for f in globex.schema}
    for dataset_id in summary.datasets:
        for item in client.list_tables(dataset_id):
            table = client.get_table(item)
            assert table.num_rows == (3 if dataset_id == "customers" else 5), table.table_id
    assert set(reset(client, PROJECT)) == set(summary.datasets)
