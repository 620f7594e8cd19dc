"""Live-estate check kinds on hand-built inventories: exact failing and passing resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from auditor.model import (
    AccessEntry,
    CheckContext,
    Dataset,
    Field,
    GranteeKind,
    IamBinding,
    Inventory,
    Location,
    Origin,
    Severity,
    Table,
    TableSchema,
)
from auditor.policy.checks import REGISTRY, load_all
from auditor.policy.engine import evaluate
from auditor.policy.rule import Rule, Scope, Target

# Checks get the run's context; these tests decide no time-bound condition.
CONTEXT = CheckContext(evaluation_time=datetime(2026, 1, 1, tzinfo=UTC))

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
TENANT_LABELS = {"dataset_role": "tenant"}
TENANT = Scope(Target.TENANT, template_paths=("tenant/*.json",), dataset_labels=TENANT_LABELS)
ANY = Scope()


def run(
    kind: str, inventory: Inventory, scope: Scope = ANY, params: dict[str, Any] | None = None
) -> set[tuple[str, str, str | None]]:
    load_all()
    rule = Rule(
        id="AUD-901",
        name="t",
        title="t",
        severity=Severity.HIGH,
        rationale="r",
        remediation="m",
        check=kind,
        params=params or {},
        scope=scope,
    )
    return {
        (f.status.value, f.resource, f.column or f.principal)
        for f in evaluate(inventory, [rule], REGISTRY, CONTEXT)
    }


def reader(kind: GranteeKind, entity: str) -> AccessEntry:
    return AccessEntry(kind, entity, "roles/bigquery.dataViewer")


def test_public_access_entries_and_table_iam() -> None:
    inventory = Inventory(
        root="bq",
        datasets=(
            Dataset(
                P,
                "initech",
                access=(
                    reader(GranteeKind.SPECIAL_GROUP, "allAuthenticatedUsers"),
                    reader(GranteeKind.IAM_MEMBER, "allUsers"),
                ),
            ),
            Dataset(
                P,
                "acme",
                access=(
                    reader(GranteeKind.GROUP, "allUsers-admins@convergence.example"),
                    reader(GranteeKind.SPECIAL_GROUP, "projectReaders"),
                ),
            ),
        ),
        live_tables=(
            Table(
                P,
                "acme",
                "x_meta_runs",
                iam=(IamBinding("roles/bigquery.dataViewer", ("allUsers", "group:a@x.example")),),
            ),
            Table(P, "acme", "unread", iam=None),
        ),
    )
    assert run("no-public-access", inventory) == {
        ("FAIL", f"{BQ}/initech", "allAuthenticatedUsers"),
        ("FAIL", f"{BQ}/initech", "allUsers"),
        ("PASS", f"{BQ}/acme", None),
        ("FAIL", f"{BQ}/acme/tables/x_meta_runs", "allUsers"),
    }


def test_cmek_on_datasets_and_tables() -> None:
    key = "projects/p/locations/us/keyRings/r/cryptoKeys/k"
    inventory = Inventory(
        root="bq",
        datasets=(Dataset(P, "acme", default_kms_key=key), Dataset(P, "umbrella")),
        live_tables=(
            Table(P, "acme", "a", kms_key=key),
            Table(P, "umbrella", "b"),
            Table(P, "umbrella", "v", type="VIEW"),
        ),
    )
    assert run("dataset-default-cmek", inventory) == {
        ("PASS", f"{BQ}/acme", None),
        ("FAIL", f"{BQ}/umbrella", None),
    }
    assert run("table-cmek", inventory) == {
        ("PASS", f"{BQ}/acme/tables/a", None),
        ("FAIL", f"{BQ}/umbrella/tables/b", None),
    }


def tpl(name: str, *fields: Field) -> TableSchema:
    return TableSchema(name, fields, Origin.TEMPLATE, Location(f"tenant/{name}.json", 1))


def test_live_drift_against_templates() -> None:
    dq = tpl(
        "x_meta_dq_results",
        Field("pass_rate", "FLOAT"),
        Field("rows_failed", "INTEGER"),
        Field("check", "RECORD", fields=(Field("id", "STRING"),)),
    )
    runs = tpl("x_meta_pipeline_runs", Field("run_id", "STRING", mode="REQUIRED"))
    other = TableSchema(
        "customer_profiles",
        (Field("x", "STRING"),),
        Origin.TEMPLATE,
        Location("customers/customer_profiles.json", 1),
    )
    good = (
        Table(
            P,
            "acme",
            "x_meta_dq_results",
            fields=(
                Field("pass_rate", "FLOAT64"),
                Field("rows_failed", "INT64"),
                Field("check", "STRUCT", fields=(Field("id", "STRING"),)),
            ),
        ),
        Table(
            P, "acme", "x_meta_pipeline_runs", fields=(Field("run_id", "STRING", mode="REQUIRED"),)
        ),
    )
    drifted = (
        Table(
            P,
            "umbrella",
            "x_meta_dq_results",
            fields=(
                Field("pass_rate", "STRING"),
                Field("check", "STRUCT", fields=(Field("id", "STRING"),)),
                Field("api_token", "STRING"),
            ),
        ),
        Table(P, "umbrella", "notes", fields=(Field("x", "STRING"),)),
        Table(P, "umbrella", "notes_view", type="VIEW"),
    )
    inventory = Inventory(
        root="bq",
        templates=(dq, runs, other),
        datasets=(
            Dataset(P, "acme", labels=TENANT_LABELS),
            Dataset(P, "umbrella", labels=TENANT_LABELS),
            Dataset(P, "scratch"),
        ),
        live_tables=good + drifted,
    )
    assert run("live-drift", inventory, TENANT) == {
        ("PASS", f"{BQ}/acme/tables/x_meta_dq_results", None),
        ("PASS", f"{BQ}/acme/tables/x_meta_pipeline_runs", None),
        ("FAIL", f"{BQ}/umbrella/tables/x_meta_dq_results", "pass_rate"),
        ("FAIL", f"{BQ}/umbrella/tables/x_meta_dq_results", "rows_failed"),
        ("FAIL", f"{BQ}/umbrella/tables/x_meta_dq_results", "api_token"),
        ("FAIL", f"{BQ}/umbrella/tables/x_meta_pipeline_runs", None),
        ("FAIL", f"{BQ}/umbrella/tables/notes", None),
    }


def test_live_drift_without_templates_is_an_error_not_a_pass() -> None:
    inventory = Inventory(root="bq", datasets=(Dataset(P, "acme", labels=TENANT_LABELS),))
    assert run("live-drift", inventory, TENANT) == {("ERROR", f"{BQ}/acme", None)}


def test_live_credential_columns_use_dataset_labels_for_scope() -> None:
    inventory = Inventory(
        root="bq",
        datasets=(Dataset(P, "globex", labels=TENANT_LABELS), Dataset(P, "customers")),
        live_tables=(
            Table(
                P,
                "globex",
                "x_meta_step_logs",
                fields=(Field("api_token", "STRING"), Field("token_count", "INT64")),
            ),
            Table(P, "customers", "customer_api_keys", fields=(Field("api_token", "STRING"),)),
        ),
    )
    assert run("no-credential-columns", inventory, TENANT) == {
        ("FAIL", f"{BQ}/globex/tables/x_meta_step_logs", "api_token"),
    }


def test_classified_datasets() -> None:
    conventions = {
        "conventions": {
            "tenant": {"dataset_labels": TENANT_LABELS},
            "customers": {
                "datasets": ["customers"],
                "dataset_labels": {"dataset_role": "customers"},
            },
        }
    }
    inventory = Inventory(
        root="bq",
        datasets=(
            Dataset(P, "acme", labels=TENANT_LABELS),
            Dataset(P, "customers"),
            Dataset(P, "scratch_analytics", labels={"team": "bi"}),
            Dataset(P, "confused", labels={"dataset_role": "customers"}),
            Dataset(P, "customers_copy", labels=TENANT_LABELS | {"x": "y"}),
        ),
    )
    result = run("classified-datasets", inventory, params=conventions)
    assert result == {
        ("PASS", f"{BQ}/acme", None),
        ("PASS", f"{BQ}/customers", None),
        ("FAIL", f"{BQ}/scratch_analytics", None),
        ("PASS", f"{BQ}/confused", None),
        ("PASS", f"{BQ}/customers_copy", None),
    }
    both = Inventory(root="bq", datasets=(Dataset(P, "customers", labels=TENANT_LABELS),))
    assert run("classified-datasets", both, params=conventions) == {
        ("FAIL", f"{BQ}/customers", None),
    }
