"""The remediation planner, offline: the demo estate's snapshot and hand-made inventories,
judged by the shipped policy pack, planned, and checked action by action.

tests/data/remediate/demo-estate.snapshot.json is `auditor snapshot` of the demo estate
(auditor.demo.seed, faithful engine, examples/demo-iam) restricted to its six datasets; to
refresh it (e.g. after a snapshot format change), seed a faithful engine and run
    auditor snapshot --endpoint URL --iam-exports examples/demo-iam --dataset customers \
      --dataset acme_corp --dataset globex --dataset initech --dataset umbrella \
      --dataset scratch_analytics -o tests/data/remediate/demo-estate.snapshot.json
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from auditor.audit import audit
from auditor.cli import main
from auditor.cli.common import load_rules
from auditor.detect.names import classify_column
from auditor.errors import InputError, UsageError
from auditor.model import (
    AccessEntry,
    Condition,
    Dataset,
    Field,
    Finding,
    GranteeKind,
    IamBinding,
    Inventory,
    Location,
    Origin,
    Status,
    Table,
    TableSchema,
    walk_fields,
)
from auditor.remediate.actions import (
    ACTION_TYPES,
    ALLOWED_METHODS,
    ActionKind,
    AddColumns,
    CreateDataset,
    CreateTable,
    DatasetAction,
    RemoveAccessEntries,
    RemoveTableIamMember,
    SetLabels,
    TableAction,
)
from auditor.remediate.plan import (
    REMEDIATORS,
    Plan,
    Resolution,
    desired_state,
    plan_harden_customers,
    plan_provision_tenant,
    plan_remediation,
)
from auditor.remediate.planfile import dump_plan, load_plan, plan_to_dict
from auditor.resources import format_schema
from auditor.sources.snapshot.read import read_snapshot

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
SNAPSHOT = Path(__file__).parent / "data" / "remediate" / "demo-estate.snapshot.json"
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
ADMINS = AccessEntry(
    GranteeKind.GROUP, "platform-admins@convergence.example", "roles/bigquery.dataOwner"
)
READER = "roles/bigquery.dataViewer"


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def demo() -> Inventory:
    return read_snapshot(SNAPSHOT)


@pytest.fixture(scope="module")
def rules() -> tuple[list[Any], dict[str, Any]]:
    return load_rules([])


def findings_of(
    inventory: Inventory, rules: tuple[list[Any], dict[str, Any]]
) -> tuple[Finding, ...]:
    return audit(inventory, rules[0], rules[1], lambda: WHEN).report.findings


def plan_for(inventory: Inventory, rules: tuple[list[Any], dict[str, Any]], **kw: Any) -> Plan:
    return plan_remediation(
        findings_of(inventory, rules),
        inventory,
        desired_state(inventory, P),
        {r.id: r.check for r in rules[0]},
        created_at=WHEN,
        source="test",
        **kw,
    )


def short(resource: str) -> str:
    return resource.removeprefix(f"{BQ}/").replace("/tables/", ".")


def key(f: Any) -> tuple[str, str, str | None, str | None]:
    return (f.rule_id, short(f.resource), f.column, f.principal)


def assert_non_destructive(plan: Plan, inventory: Inventory) -> None:
    """The property every generated plan must have: it creates and patches, and no action
    removes a table, a column, rows, a label, or any access entry it does not name."""
    datasets = {d.dataset_id: d for d in inventory.datasets}
    tables = {(t.dataset_id, t.table_id): t for t in inventory.live_tables}
    for action in plan.actions:
        cls = ACTION_TYPES[action.kind]
        assert not cls.DESTRUCTIVE
        preview = plan.previews[action.id]
        assert preview["method"] in ALLOWED_METHODS
        assert preview["http"].split()[0] in ("POST", "PATCH")
        ds = datasets.get(action.dataset_id)
        if isinstance(action, CreateDataset):
            assert ds is None
            continue
        if isinstance(action, TableAction):
            table = tables.get((action.dataset_id, action.table_id or ""))
            if isinstance(action, CreateTable):
                assert table is None
                fields = action.fields
            else:
                assert table is not None
                after = action.effect(table)
                assert after is not None
                kept = {p.lower(): f.canonical_type + f.mode for p, f in walk_fields(after.fields)}
                for path, f in walk_fields(table.fields):
                    assert kept[path.lower()] == f.canonical_type + f.mode, (action, path)
                if isinstance(action, RemoveTableIamMember):
                    removed = {(b.role, m) for b in table.iam or () for m in b.members} - {
                        (b.role, m) for b in after.iam or () for m in b.members
                    }
                    assert removed <= {(g.role, g.member) for g in action.grants}
                fields = tuple(c.field for c in getattr(action, "columns", ()))
            labels = (ds.labels if ds else {}) or {}
            if labels.get("dataset_role") == "tenant" or any(
                isinstance(a, CreateDataset)
                and a.dataset_id == action.dataset_id
                and a.labels.get("dataset_role") == "tenant"
                for a in plan.actions
            ):
                for path, f in walk_fields(fields):
                    assert not classify_column(path, f.type, f.description).credential, path
            continue
        assert isinstance(action, DatasetAction) and ds is not None
        after_ds = action.effect(ds)
        assert after_ds is not None
        assert set(after_ds.labels) >= set(ds.labels)
        if isinstance(action, RemoveAccessEntries):
            assert set(action.entries) <= set(ds.access)
            assert after_ds.access == tuple(e for e in ds.access if e not in action.entries)
        else:
            assert after_ds.access == ds.access


# ----------------------------------------------------------------------------- the demo estate

FIXED = {
    ("AUD-006", "initech", None, "allAuthenticatedUsers"),
    ("AUD-006", "initech", None, "allUsers"),
    ("AUD-007", "umbrella", None, None),
    ("AUD-009", "umbrella.x_meta_dq_results", "rows_failed", None),
    (
        "AUD-011",
        "customers",
        None,
        "serviceAccount:rag-indexer@gac-prod-471220.iam.gserviceaccount.com",
    ),
    (
        "AUD-011",
        "customers",
        None,
        "serviceAccount:service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com",
    ),
}
MANUAL = {
    ("AUD-001", "globex.x_meta_step_logs", "api_token", None),
    ("AUD-009", "globex.x_meta_step_logs", "api_token", None),
    ("AUD-009", "umbrella.x_meta_dq_results", "pass_rate", None),
    ("AUD-010", "scratch_analytics", None, None),
    ("AUD-013", "customers", None, "group:bi-analysts@convergence.example"),
    # AUD-015 (readers allowlist): everyone outside the approved admins and accounts who
    # reads customers: the two GenAI principals, the ml-engineers' nested ml-research users
    # and the bi-analysts users (their project-wide dataViewer). Cutting access is a review.
    *(
        ("AUD-015", "customers", None, member)
        for member in (
            f"serviceAccount:rag-indexer@{P}.iam.gserviceaccount.com",
            "serviceAccount:service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com",
            "user:amara.diallo@convergence.example",
            "user:kenji.watanabe@convergence.example",
            "user:priya.nair@convergence.example",
            "user:sofia.rossi@convergence.example",
            "user:wei.zhang@convergence.example",
        )
    ),
}


def test_demo_plan_fixes_exactly_what_can_be_fixed_without_loss(
    demo: Inventory, rules: Any
) -> None:
    plan = plan_for(demo, rules)
    assert {key(f) for f in plan.findings if f.resolution is Resolution.FIXED} == FIXED
    assert {key(f) for f in plan.findings if f.resolution is Resolution.MANUAL} == MANUAL
    assert [(a.id, a.kind, short(a.resource)) for a in plan.actions] == [
        ("A01", ActionKind.SET_DEFAULT_ENCRYPTION, "umbrella"),
        ("A02", ActionKind.REMOVE_ACCESS_ENTRIES, "customers"),
        ("A03", ActionKind.REMOVE_ACCESS_ENTRIES, "initech"),
        ("A04", ActionKind.ADD_COLUMNS, "umbrella.x_meta_dq_results"),
    ]
    by_id = {a.id: a for a in plan.actions}
    assert by_id["A01"].kms_key.endswith("/cryptoKeys/tenants")  # type: ignore[attr-defined]
    # Exactly the offending entries: the public pair on initech; on customers the group
    # that holds the RAG indexer and the authorized view the Vertex agent reads through.
    assert {(e.kind, e.entity) for e in by_id["A03"].entries} == {  # type: ignore[attr-defined]
        (GranteeKind.SPECIAL_GROUP, "allAuthenticatedUsers"),
        (GranteeKind.IAM_MEMBER, "allUsers"),
    }
    assert {(e.kind, e.entity) for e in by_id["A02"].entries} == {  # type: ignore[attr-defined]
        (GranteeKind.GROUP, "ml-engineers@convergence.example"),
        (GranteeKind.VIEW, f"projects/{P}/datasets/acme_corp/tables/customer_lookup"),
    }
    assert [(c.parent, c.field.name, c.field.mode) for c in by_id["A04"].columns] == [  # type: ignore[attr-defined]
        (None, "rows_failed", "NULLABLE")
    ]
    assert_non_destructive(plan, demo)


def test_every_failing_finding_is_accounted_for(demo: Inventory, rules: Any) -> None:
    plan = plan_for(demo, rules)
    failing = {f.fingerprint for f in findings_of(demo, rules) if f.status is Status.FAIL}
    assert {f.fingerprint for f in plan.findings} == failing
    ids = {a.id for a in plan.actions} | {m.id for m in plan.manual_steps}
    for f in plan.findings:
        assert f.actions and set(f.actions) <= ids
    for fp in {fp for a in plan.actions for fp in a.fixes}:
        assert fp in failing


def test_credential_columns_get_a_manual_step_never_an_action(demo: Inventory, rules: Any) -> None:
    plan = plan_for(demo, rules)
    target = f"{BQ}/globex/tables/x_meta_step_logs"
    assert not [a for a in plan.actions if a.resource == target]
    (step,) = [m for m in plan.manual_steps if m.resource == target]
    assert "never dropped or rewritten" in step.why
    assert any("policy tag" in s for s in step.steps)
    assert any("customers" in s for s in step.steps)


def test_manual_commands_quote_names_from_the_estate(demo: Inventory, rules: Any) -> None:
    """Table ids may hold spaces and more; a pasted manual step must not run any of it."""
    hostile = "x_meta_step_logs $(touch pwned); rm -rf ~ 'q'"
    renamed = dataclasses.replace(
        demo,
        live_tables=tuple(
            dataclasses.replace(t, table_id=hostile)
            if (t.dataset_id, t.table_id) == ("globex", "x_meta_step_logs")
            else t
            for t in demo.live_tables
        ),
    )
    plan = plan_for(renamed, rules)
    (command,) = [
        s
        for m in plan.manual_steps
        if m.resource == f"{BQ}/globex/tables/{hostile}"
        for s in m.steps
        if "bq update --schema" in s
    ]
    words = shlex.split(command.split("policyTags on ", 1)[1])
    assert words == [f"{P}:globex.{hostile}"]


def test_project_iam_is_a_manual_step_with_the_command(demo: Inventory, rules: Any) -> None:
    plan = plan_for(demo, rules)
    (step,) = [m for m in plan.manual_steps if m.resource == f"projects/{P}"]
    assert step.steps[0] == (
        f"gcloud projects remove-iam-policy-binding {P} "
        "--member=group:bi-analysts@convergence.example --role=roles/bigquery.dataViewer"
    )
    # The alternatives are the other cuts of the same paths, not the same edge again.
    assert sum("bi-analysts@convergence.example from the roles" in s for s in step.steps) == 0


def test_only_resource_and_only_rule_narrow_the_plan(demo: Inventory, rules: Any) -> None:
    plan = plan_for(demo, rules, only_resources=("initech",))
    assert [short(a.resource) for a in plan.actions] == ["initech"]
    assert {f.rule_id for f in plan.findings} == {"AUD-006"}
    plan = plan_for(demo, rules, only_resources=("*.x_meta_dq_results",))
    assert [a.kind for a in plan.actions] == [ActionKind.ADD_COLUMNS]


def test_waived_and_passing_findings_are_not_remediated(demo: Inventory, rules: Any) -> None:
    findings = findings_of(demo, rules)
    waived = tuple(
        dataclasses.replace(f, status=Status.WAIVED) if f.rule_id == "AUD-006" else f
        for f in findings
    )
    plan = plan_remediation(
        waived,
        demo,
        desired_state(demo, P),
        {r.id: r.check for r in rules[0]},
        created_at=WHEN,
        source="t",
    )
    assert "initech" not in {short(a.resource) for a in plan.actions}


# ----------------------------------------------------------------------------- action types


def test_no_action_type_deletes_anything() -> None:
    assert set(ACTION_TYPES) == set(ActionKind)
    schema = json.loads(format_schema("plan").read_text())
    kinds = schema["$defs"]["action"]["properties"]["kind"]["enum"]
    assert sorted(kinds) == sorted(k.value for k in ActionKind)
    for kind, cls in ACTION_TYPES.items():
        assert cls.KIND is kind
        assert cls.DESTRUCTIVE is False
        assert cls.PERMISSIONS, kind
        assert not any("delete" in p or "updateData" in p for p in cls.PERMISSIONS), kind
        # Every kind has a parameter schema in the plan format.
        assert any(
            rule["if"]["properties"]["kind"]["const"] == kind.value
            for rule in schema["$defs"]["action"]["allOf"]
        )
    assert all(m.endswith((".insert", ".patch", ".setIamPolicy")) for m in ALLOWED_METHODS)


def test_remove_access_entries_removes_exactly_the_named_entries() -> None:
    cond = Condition("request.time < timestamp('2030-01-01T00:00:00Z')")
    entries = (
        ADMINS,
        AccessEntry(GranteeKind.SPECIAL_GROUP, "allAuthenticatedUsers", READER),
        AccessEntry(GranteeKind.GROUP, "g@x.com", READER),
        AccessEntry(GranteeKind.GROUP, "g@x.com", READER, condition=cond),
        AccessEntry(GranteeKind.GROUP, "g@x.com", "roles/bigquery.dataEditor"),
        AccessEntry(GranteeKind.IAM_MEMBER, "allUsers", READER),
    )
    ds = Dataset(P, "t", "US", {"dataset_role": "tenant"}, access=entries)
    action = RemoveAccessEntries(project=P, dataset_id="t", entries=(entries[1], entries[3]))
    after = action.effect(ds)
    assert after is not None
    assert after.access == (entries[0], entries[2], entries[4], entries[5])
    assert not action.satisfied(ds) and action.satisfied(after)
    body = action.api(ds, None).body["access"]
    assert body == [
        {"groupByEmail": "platform-admins@convergence.example", "role": "OWNER"},
        {"groupByEmail": "g@x.com", "role": "READER"},
        {"groupByEmail": "g@x.com", "role": "WRITER"},
        {"iamMember": "allUsers", "role": "READER"},
    ]


def test_set_labels_merges_and_never_removes() -> None:
    ds = Dataset(P, "t", labels={"team": "a", "dataset_role": "x"})
    after = SetLabels(project=P, dataset_id="t", labels={"dataset_role": "tenant"}).effect(ds)
    assert after is not None and after.labels == {"team": "a", "dataset_role": "tenant"}


# ----------------------------------------------------------------------------- hand-made estates


def tenant_template(name: str, fields: tuple[Field, ...]) -> TableSchema:
    return TableSchema(name, fields, Origin.TEMPLATE, Location(f"tenant/{name}.json"))


def f_(name: str, type_: str = "STRING", mode: str = "NULLABLE", *sub: Field) -> Field:
    return Field(name, type_, mode, fields=tuple(sub))


RUNS = tenant_template(
    "x_runs",
    (
        f_("run_id", "STRING", "REQUIRED"),
        f_("rows", "INTEGER"),
        f_("config", "RECORD", "NULLABLE", f_("source"), f_("retries", "INTEGER")),
        f_("stats", "RECORD", "NULLABLE", f_("bytes", "INTEGER")),
    ),
)


def live(dataset: str, table: str, *fields: Field, iam: tuple[IamBinding, ...] = ()) -> Table:
    return Table(
        P,
        dataset,
        table,
        fields=fields,
        kms_key="projects/p/locations/us/keyRings/r/cryptoKeys/k",
        iam=iam,
    )


def test_missing_columns_required_nested_and_records(rules: Any) -> None:
    # t1 lacks the REQUIRED run_id, the nested config.retries and the whole stats record.
    table = live(
        "t1", "x_runs", f_("rows", "INTEGER"), f_("config", "RECORD", "NULLABLE", f_("source"))
    )
    inventory = Inventory(
        root="t",
        project=P,
        templates=(RUNS,),
        datasets=(
            Dataset(
                P,
                "t1",
                "US",
                {"dataset_role": "tenant"},
                access=(ADMINS,),
                default_kms_key="projects/p/locations/us/keyRings/r/cryptoKeys/k",
            ),
        ),
        live_tables=(table,),
    )
    plan = plan_for(inventory, rules)
    (action,) = plan.actions
    assert isinstance(action, AddColumns)
    assert [(c.parent, c.field.name) for c in action.columns] == [
        ("config", "retries"),
        (None, "stats"),
    ]
    resolved = {f.column: f.resolution for f in plan.findings if f.rule_id == "AUD-009"}
    assert resolved == {
        "run_id": Resolution.MANUAL,  # REQUIRED: BigQuery cannot add it to a table with rows
        "config.retries": Resolution.FIXED,
        "stats": Resolution.FIXED,
        "stats.bytes": Resolution.FIXED,  # comes with its record
    }
    after = action.effect(table)
    assert after is not None
    assert [p for p, _ in walk_fields(after.fields)] == [
        "rows",
        "config",
        "config.source",
        "config.retries",
        "stats",
        "stats.bytes",
    ]
    assert not action.reversible  # a nested column cannot be dropped again
    assert_non_destructive(plan, inventory)


def test_public_table_iam_and_special_groups(rules: Any) -> None:
    binding = IamBinding(READER, ("allUsers", "user:a@x.com"))
    other = IamBinding("roles/bigquery.dataEditor", ("allUsers",), Condition("true"))
    table = live("t1", "x_runs", *RUNS.fields, iam=(binding, other))
    ds = Dataset(
        P,
        "t1",
        "US",
        {"dataset_role": "tenant"},
        access=(ADMINS, AccessEntry(GranteeKind.SPECIAL_GROUP, "projectReaders", READER)),
        default_kms_key="projects/p/locations/us/keyRings/r/cryptoKeys/k",
    )
    inventory = Inventory(
        root="t", project=P, templates=(RUNS,), datasets=(ds,), live_tables=(table,)
    )
    plan = plan_for(inventory, rules)
    (action,) = plan.actions  # projectReaders alone is no finding of the shipped pack
    assert isinstance(action, RemoveTableIamMember)
    assert {(g.role, g.member, g.condition) for g in action.grants} == {
        (READER, "allUsers", None),
        ("roles/bigquery.dataEditor", "allUsers", Condition("true")),
    }
    after = action.effect(table)
    assert after is not None and after.iam == (IamBinding(READER, ("user:a@x.com",)),)
    assert_non_destructive(plan, inventory)
    # Provisioning the same tenant also drops the project special group (minimal ACL).
    prov = plan_provision_tenant(
        "t1", inventory, desired_state(inventory, P), created_at=WHEN, source="t"
    )
    kinds = {a.kind: a for a in prov.actions}
    assert set(kinds) == {
        ActionKind.SET_LABELS,
        ActionKind.REMOVE_ACCESS_ENTRIES,
        ActionKind.REMOVE_TABLE_IAM_MEMBER,
    }
    assert kinds[ActionKind.SET_LABELS].labels == {"tenant_id": "t1"}  # type: ignore[attr-defined]
    assert_non_destructive(prov, inventory)


def test_provision_a_new_tenant_from_the_templates(demo: Inventory) -> None:
    desired = desired_state(demo, P, {"labels": {"cost_center": "cc-7"}})
    plan = plan_provision_tenant("hooli", demo, desired, created_at=WHEN, source="t")
    first, *tables = plan.actions
    assert isinstance(first, CreateDataset)
    assert first.labels == {"dataset_role": "tenant", "tenant_id": "hooli", "cost_center": "cc-7"}
    assert first.kms_key == f"projects/{P}/locations/us/keyRings/platform/cryptoKeys/tenants"
    assert first.access == (ADMINS,)
    assert first.body()["access"] == [
        {"groupByEmail": "platform-admins@convergence.example", "role": "OWNER"}
    ]
    assert sorted(t.table_id for t in tables) == sorted(  # type: ignore[type-var]
        t.name for t in desired.tenant_templates
    )
    assert all(isinstance(t, CreateTable) and t.kms_key == first.kms_key for t in tables)
    assert not plan.manual_steps
    assert_non_destructive(plan, demo)
    # Provisioning an existing compliant tenant plans nothing.
    again = plan_provision_tenant(
        "acme_corp", demo, desired_state(demo, P), created_at=WHEN, source="t"
    )
    assert again.actions == () and again.manual_steps == ()


def test_provision_never_creates_a_credential_table_or_column(demo: Inventory) -> None:
    bad = (
        tenant_template("x_meta_api_keys", (f_("id"),)),
        tenant_template("x_runs", (f_("run_id"), f_("auth_token"))),
        tenant_template("x_ok", (f_("run_id"), f_("token_count", "INTEGER"))),
        # AUD-001's judgement, table name included: `value` of a secret store is a secret
        tenant_template("XSecretStore", (f_("name"), f_("value"))),
    )
    inventory = dataclasses.replace(demo, templates=bad)
    plan = plan_provision_tenant(
        "hooli", inventory, desired_state(inventory, P), created_at=WHEN, source="t"
    )
    assert [a.table_id for a in plan.actions if isinstance(a, CreateTable)] == ["x_ok"]
    assert sorted(m.title for m in plan.manual_steps) == [
        "fix template tenant/XSecretStore.json before creating XSecretStore",
        "fix template tenant/x_meta_api_keys.json before creating x_meta_api_keys",
        "fix template tenant/x_runs.json before creating x_runs",
    ]
    assert_non_destructive(plan, inventory)


def test_harden_customers(demo: Inventory) -> None:
    customers = next(d for d in demo.datasets if d.dataset_id == "customers")
    weak = dataclasses.replace(
        customers,
        labels={"seeded_by": "auditor-demo"},
        default_kms_key=None,
        access=(
            *customers.access,
            AccessEntry(GranteeKind.SPECIAL_GROUP, "projectReaders", READER),
            AccessEntry(GranteeKind.SPECIAL_GROUP, "allAuthenticatedUsers", READER),
            AccessEntry(GranteeKind.IAM_MEMBER, "allUsers", READER),
        ),
    )
    tables = tuple(t for t in demo.live_tables if t.table_id != "customer_usage_quotas")
    inventory = dataclasses.replace(
        demo,
        datasets=tuple(weak if d is customers else d for d in demo.datasets),
        live_tables=tables,
    )
    plan = plan_harden_customers(
        inventory, desired_state(inventory, P), created_at=WHEN, source="t"
    )
    assert [(a.kind, short(a.resource)) for a in plan.actions] == [
        (ActionKind.SET_LABELS, "customers"),
        (ActionKind.SET_DEFAULT_ENCRYPTION, "customers"),
        (ActionKind.REMOVE_ACCESS_ENTRIES, "customers"),
        (ActionKind.CREATE_TABLE, "customers.customer_usage_quotas"),
    ]
    removal = plan.actions[2]
    assert isinstance(removal, RemoveAccessEntries)
    assert set(removal.entries) == set(weak.access) - set(customers.access)
    assert_non_destructive(plan, inventory)
    # The last owner is never removed: a manual step asks for a named owner first.
    owned = dataclasses.replace(
        weak,
        access=(
            AccessEntry(GranteeKind.SPECIAL_GROUP, "projectOwners", "roles/bigquery.dataOwner"),
        ),
    )
    inventory = dataclasses.replace(inventory, datasets=(owned,))
    plan = plan_harden_customers(
        inventory, desired_state(inventory, P), created_at=WHEN, source="t"
    )
    assert not any(isinstance(a, RemoveAccessEntries) for a in plan.actions)
    assert any("named owner" in m.title for m in plan.manual_steps)


def test_bad_desired_state_config_is_refused(demo: Inventory) -> None:
    with pytest.raises(UsageError, match=r"kms_keys\.tenant"):
        desired_state(demo, P, {"kms_keys": {"tenant": "not-a-key"}})
    with pytest.raises(UsageError, match="allAuthenticatedUsers"):
        desired_state(
            demo, P, {"access": [{"role": "READER", "specialGroup": "allAuthenticatedUsers"}]}
        )
    with pytest.raises(UsageError, match="customers"):
        plan_provision_tenant(
            "customers", demo, desired_state(demo, P), created_at=WHEN, source="t"
        )


# ----------------------------------------------------------------------------- random estates

EXTRA_COLUMNS = ("api_token", "notes", "client_secret", "retry_count", "password_hash")
ENTRIES = (
    AccessEntry(GranteeKind.SPECIAL_GROUP, "projectReaders", READER),
    AccessEntry(GranteeKind.SPECIAL_GROUP, "projectWriters", "roles/bigquery.dataEditor"),
    AccessEntry(GranteeKind.SPECIAL_GROUP, "allAuthenticatedUsers", READER),
    AccessEntry(GranteeKind.IAM_MEMBER, "allUsers", READER),
    AccessEntry(GranteeKind.GROUP, "analysts@convergence.example", READER),
    AccessEntry(GranteeKind.DOMAIN, "convergence.example", READER),
)


@st.composite
def drifted_tenant(
    draw: st.DrawFn, templates: tuple[TableSchema, ...]
) -> tuple[Dataset, tuple[Table, ...]]:
    name = draw(st.sampled_from(("t_a", "t_b", "globex")))
    tables = []
    for template in templates:
        if draw(st.integers(0, 5)) == 0:
            continue  # a missing table
        fields = list(template.fields)
        for _ in range(draw(st.integers(0, 2))):
            if fields:
                fields.pop(draw(st.integers(0, len(fields) - 1)))
        for extra in draw(st.lists(st.sampled_from(EXTRA_COLUMNS), max_size=2, unique=True)):
            fields.append(Field(extra, draw(st.sampled_from(("STRING", "INT64", "BYTES")))))
        if fields and draw(st.booleans()):
            i = draw(st.integers(0, len(fields) - 1))
            fields[i] = dataclasses.replace(fields[i], type="STRING", mode="NULLABLE")
        iam = (IamBinding(READER, ("allUsers",)),) if draw(st.integers(0, 4)) == 0 else ()
        tables.append(
            Table(
                P,
                name,
                template.name,
                fields=tuple(fields),
                iam=iam,
                kms_key=draw(
                    st.sampled_from((None, "projects/p/locations/us/keyRings/r/cryptoKeys/k"))
                ),
            )
        )
    access = (ADMINS, *draw(st.lists(st.sampled_from(ENTRIES), max_size=4, unique=True)))
    ds = Dataset(
        P,
        name,
        "US",
        {"dataset_role": "tenant"},
        access=access,
        default_kms_key=draw(
            st.sampled_from((None, "projects/p/locations/us/keyRings/r/cryptoKeys/k"))
        ),
    )
    return ds, tuple(tables)


TEMPLATES = read_snapshot(SNAPSHOT).templates
TENANT_TEMPLATES = tuple(t for t in TEMPLATES if t.location.path.startswith("tenant/"))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drifted_tenant(TENANT_TEMPLATES))
def test_no_generated_plan_is_destructive(
    rules: Any, estate: tuple[Dataset, tuple[Table, ...]]
) -> None:
    ds, tables = estate
    inventory = Inventory(
        root="t", project=P, templates=TEMPLATES, datasets=(ds,), live_tables=tables
    )
    plans = [
        plan_for(inventory, rules),
        plan_provision_tenant(
            ds.dataset_id, inventory, desired_state(inventory, P), created_at=WHEN, source="t"
        ),
        plan_provision_tenant(
            "fresh", inventory, desired_state(inventory, P), created_at=WHEN, source="t"
        ),
    ]
    for plan in plans:
        assert_non_destructive(plan, inventory)
        # ...and the file it is written to reads back as the same plan.
        assert plan_to_dict(load_plan(dump_plan(plan), "p.json")) == plan_to_dict(plan)
    # Every credential-like column found live is a manual step, never touched by an action.
    for table in tables:
        creds = [p for p, f in walk_fields(table.fields) if classify_column(p, f.type).credential]
        if creds:
            assert not any(
                a.resource == table.resource
                and isinstance(a, AddColumns)
                and any(c.field.name in creds for c in a.columns)
                for a in plans[0].actions
            )
            assert any(m.resource == table.resource for m in plans[0].manual_steps)


def test_every_check_kind_of_the_pack_has_a_remediator_or_a_manual_fallback(rules: Any) -> None:
    kinds = {r.check for r in rules[0]}
    automatic = kinds & set(REMEDIATORS)
    # The kinds whose findings the planner can fix or explain specifically.
    assert automatic >= {
        "no-public-access",
        "dataset-default-cmek",
        "live-drift",
        "genai-cannot-reach",
        "no-broad-project-data-roles",
    }


# ----------------------------------------------------------------------------- the plan file


def test_plan_file_round_trips_and_matches_its_schema(demo: Inventory, rules: Any) -> None:
    plan = plan_for(demo, rules)
    text = dump_plan(plan)
    doc = json.loads(text)
    Draft202012Validator(json.loads(format_schema("plan").read_text())).validate(doc)
    loaded = load_plan(text, "plan.json")
    assert dump_plan(loaded) == text
    assert loaded.digest() == plan.digest() == doc["digest"]
    assert doc["summary"] == {
        "actions": 4,
        "manual_steps": 5,  # + the AUD-015 review of the 7 unapproved readers of customers
        "findings": 18,
        "fixed": 6,
        "by_kind": {"AddColumns": 1, "RemoveAccessEntries": 2, "SetDefaultEncryption": 1},
    }
    assert doc["precondition_mode"] == "etag"
    for action in doc["actions"]:
        assert action["destructive"] is False
        assert action["preconditions"][0]["etag"]
        assert len(action["preconditions"][0]["sha256"]) == 64


def edited(text: str, change: Any) -> str:
    doc = json.loads(text)
    change(doc)
    return json.dumps(doc, indent=2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["actions"][0]["params"].update(
                kms_key="projects/x/locations/us/keyRings/r/cryptoKeys/other"
            ),
            "its api body is not what its params say",
        ),
        (
            lambda d: d["actions"][1]["api"].update(http="POST https://bigquery.googleapis.com/x"),
            "its api says",
        ),
        (
            lambda d: d["actions"][2].update(permissions=["bigquery.datasets.get"]),
            "its permissions",
        ),
        (lambda d: d["actions"][3].update(kind="DeleteTable"), "actions/3/kind"),
        (
            lambda d: d["actions"][3]["params"]["columns"][0]["field"].update(mode="REQUIRED"),
            "not a valid plan at actions/3/params",
        ),
        (lambda d: d["actions"][0].update(destructive=True), "actions/0/destructive"),
    ],
)
def test_an_inconsistent_plan_file_is_refused(
    demo: Inventory, rules: Any, change: Any, message: str
) -> None:
    text = dump_plan(plan_for(demo, rules))
    with pytest.raises(InputError, match=message) as caught:
        load_plan(edited(text, change), "plan.json")
    assert caught.value.path == "plan.json" and caught.value.line is not None


def test_a_reviewer_may_delete_actions(demo: Inventory, rules: Any) -> None:
    text = dump_plan(plan_for(demo, rules))
    plan = load_plan(edited(text, lambda d: d["actions"].pop(1)), "plan.json")
    assert [a.id for a in plan.actions] == ["A01", "A03", "A04"]


# ----------------------------------------------------------------------------- the CLI, offline


def test_cli_plans_from_a_snapshot_and_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(
        main,
        [
            "remediate",
            "plan",
            "--snapshot",
            str(SNAPSHOT),
            "-o",
            str(out),
            "--only-resource",
            "initech",
            "--only-resource",
            "umbrella*",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = load_plan(out.read_text(), str(out))
    assert [(a.kind, short(a.resource)) for a in plan.actions] == [
        (ActionKind.SET_DEFAULT_ENCRYPTION, "umbrella"),
        (ActionKind.REMOVE_ACCESS_ENTRIES, "initech"),
        (ActionKind.ADD_COLUMNS, "umbrella.x_meta_dq_results"),
    ]
    assert "A02 RemoveAccessEntries   initech" in result.output
    assert "Nothing has changed" in result.output
    result = CliRunner().invoke(
        main,
        ["remediate", "plan", "--snapshot", str(SNAPSHOT), "-o", str(out), "--only", "AUD-007"],
    )
    assert result.exit_code == 0, result.output
    assert [a.kind for a in load_plan(out.read_text(), "p").actions] == [
        ActionKind.SET_DEFAULT_ENCRYPTION
    ]


def test_cli_refuses_a_bad_kms_key_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "remediate",
            "plan",
            "--snapshot",
            str(SNAPSHOT),
            "-o",
            str(tmp_path / "p.json"),
            "--kms-key",
            "tenant=nope",
        ],
    )
    assert result.exit_code == 2
    assert "kms_keys.tenant" in result.output
    assert not (tmp_path / "p.json").exists()


def _entries(items: Iterable[AccessEntry]) -> set[tuple[str, str]]:
    return {(e.kind.value, e.entity) for e in items}


# ----------------------------------------------------------------------------- the journal


def test_an_invalid_journal_is_refused_naming_the_line(tmp_path: Path) -> None:
    run = {
        "at": "2025-01-01T00:00:00Z",
        "record": "run",
        "op": "apply",
        "journal_version": "1",
        "plan_digest": "0" * 64,
        "plan": "p.json",
        "project": P,
    }
    bad = {
        "at": "2025-01-01T00:00:01Z",
        "record": "action",
        "action_id": "A01",
        "kind": "DropTable",
        "resource": f"{BQ}/x",
        "status": "done",
    }
    path = tmp_path / "p.journal.jsonl"
    path.write_text(json.dumps(run) + "\n" + json.dumps(bad) + "\n")
    code = CliRunner().invoke(
        main, ["remediate", "rollback", str(path), "--endpoint", "http://127.0.0.1:9"]
    )
    assert code.exit_code == 2
    assert f"{path}:2: invalid record at kind" in code.output


def test_a_line_cut_short_by_a_crash_is_dropped(tmp_path: Path) -> None:
    from auditor.remediate.journal import Journal

    run = {
        "record": "run",
        "op": "apply",
        "journal_version": "1",
        "plan_digest": "0" * 64,
        "plan": "p.json",
        "project": P,
    }
    journal = Journal(tmp_path / "j.jsonl", lambda: WHEN)
    journal.append(run)
    with journal.path.open("a") as out:
        out.write('{"record": "action", "action_id": "A0')
    assert [r["record"] for r in journal.records()] == ["run"]
    journal.repair()
    journal.append(run)
    assert [r["record"] for r in journal.records()] == ["run", "run"]


# ----------------------------------------------------------------------------- where it goes


def test_the_plan_records_its_endpoint_and_prints_pasteable_commands(
    demo: Inventory, rules: Any, tmp_path: Path
) -> None:
    endpoint = "http://127.0.0.1:9050"
    plan = plan_for(demo, rules, endpoint=endpoint)
    assert plan.endpoint == endpoint
    again = load_plan(dump_plan(plan), "p.json")
    assert again.endpoint == endpoint and again.digest() == plan.digest()
    (command,) = [
        s
        for m in plan.manual_steps
        if m.title == "classify dataset scratch_analytics"
        for s in m.steps
        if "auditor provision" in s
    ]
    pasted = command.split("(or `", 1)[1].removesuffix("`)")
    assert shlex.split(pasted) == [
        "auditor", "provision", "scratch_analytics", "--project", P, "--endpoint", endpoint
    ]  # fmt: skip
    # Google's API: no endpoint, in the plan (null) and in the command.
    google = plan_for(demo, rules)
    assert google.endpoint is None and plan_to_dict(google)["endpoint"] is None
    assert any(
        s.endswith(f"(or `auditor provision scratch_analytics --project {P}`)")
        for m in google.manual_steps
        for s in m.steps
    )
    # A plan written before the endpoint was recorded: Google's API, as it then meant.
    old = plan_to_dict(plan)
    del old["endpoint"]
    assert load_plan(json.dumps(old), "old.json").endpoint is None


def test_a_plan_from_a_snapshot_goes_where_the_snapshot_came_from(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(
        main,
        ["remediate", "plan", "--snapshot", str(SNAPSHOT), "-o", str(out), "--only", "AUD-007"],
    )
    assert result.exit_code == 0, result.output
    assert load_plan(out.read_text(), "p").endpoint == read_snapshot(SNAPSHOT).root
    assert read_snapshot(SNAPSHOT).root.startswith("http://127.0.0.1:")
    result = CliRunner().invoke(
        main,
        ["remediate", "plan", "--snapshot", str(SNAPSHOT), "-o", str(out), "--only", "AUD-007",
         "--endpoint", "http://127.0.0.1:1234"],
    )  # fmt: skip
    assert load_plan(out.read_text(), "p").endpoint == "http://127.0.0.1:1234"
