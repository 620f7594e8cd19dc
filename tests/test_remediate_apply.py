"""Remediation end to end on the faithful local engine seeded with the demo estate:
scan -> plan -> apply -> scan again -> rollback, through the CLI.

What the faithful engine (local-bigquery) does with preconditions, checked here: every
datasets.patch / tables.patch changes the etag and a stale If-Match gets 412; table IAM has
its own etag and a stale one is refused. So plans made here carry etags
(precondition_mode "etag"); test_content_digests_guard_when_there_is_no_etag strips them to
exercise the fallback (the content digest of what the plan saw).

Every test leaves the demo estate as it found it (rollback); `pristine` checks that after
each test and reseeds if a failed test left something behind.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from auditor.cli import main
from auditor.demo.seed import SeedOptions, seed
from auditor.model import Dataset, Table, walk_fields
from auditor.remediate.actions import TableAction, entry_key
from auditor.remediate.plan import Plan
from auditor.remediate.planfile import read_plan
from auditor.resources import PROJECT_DIR
from auditor.sources.bigquery import CollectOptions, collect, make_client
from tests.conftest import LocalBigQuery
from tests.support.faultproxy import FaultProxy, google_error

pytestmark = pytest.mark.emulator

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
DEMO = ("customers", "acme_corp", "globex", "initech", "umbrella", "scratch_analytics")
ONLY = [arg for d in DEMO for arg in ("--dataset", d)]
IAM = ["--iam-exports", str(PROJECT_DIR / "examples" / "demo-iam")]
FIXED = {
    ("AUD-006", f"{BQ}/initech", None, "allAuthenticatedUsers"),
    ("AUD-006", f"{BQ}/initech", None, "allUsers"),
    ("AUD-007", f"{BQ}/umbrella", None, None),
    ("AUD-009", f"{BQ}/umbrella/tables/x_meta_dq_results", "rows_failed", None),
    (
        "AUD-011",
        f"{BQ}/customers",
        None,
        "serviceAccount:rag-indexer@gac-prod-471220.iam.gserviceaccount.com",
    ),
    (
        "AUD-011",
        f"{BQ}/customers",
        None,
        "serviceAccount:service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com",
    ),
}
TIMES: dict[str, float] = {}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def estate(faithful_bq: LocalBigQuery) -> Iterator[LocalBigQuery]:
    seed(make_client(P, faithful_bq.endpoint), SeedOptions())
    yield faithful_bq
    client = make_client(P, faithful_bq.endpoint)
    for item in client.list_datasets(include_all=True):
        if item.dataset_id.startswith("rx_"):
            client.delete_dataset(item.reference, delete_contents=True, not_found_ok=True)
    if TIMES:
        print("\nremediation timings on the demo estate (s):", json.dumps(TIMES, sort_keys=True))


@pytest.fixture(scope="module")
def seeded(estate: LocalBigQuery) -> dict[str, Any]:
    return state(estate.endpoint)


@pytest.fixture(autouse=True)
def pristine(estate: LocalBigQuery, seeded: dict[str, Any]) -> Iterator[None]:
    yield
    if state(estate.endpoint) != seeded:
        seed(make_client(P, estate.endpoint), SeedOptions())
        pytest.fail("the test left the demo estate changed (reseeded it)")


# ----------------------------------------------------------------------------- helpers


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def scan(endpoint: str, tmp_path: Path, *only: str) -> dict[str, Any]:
    out = tmp_path / f"scan-{uuid.uuid4().hex[:6]}.json"
    code, output = cli(
        "scan",
        "--endpoint",
        endpoint,
        *IAM,
        *(only or ONLY),
        "-f",
        "json",
        "-o",
        str(out),
        "--fail-on",
        "none",
    )
    assert code == 0, output
    report: dict[str, Any] = json.loads(out.read_text())
    assert report["run"]["complete"], report["run"]["coverage"]
    return report


def failing(report: Mapping[str, Any]) -> set[tuple[str, str, str | None, str | None]]:
    return {
        (f["rule_id"], f["resource"], f.get("column"), f.get("principal"))
        for f in report["findings"]
        if f["status"] == "FAIL"
    }


def make_plan(endpoint: str, tmp_path: Path, *extra: str) -> tuple[Path, Plan]:
    path = tmp_path / "plan.json"
    code, output = cli(
        "remediate", "plan", "--endpoint", endpoint, *IAM, *ONLY, "-o", str(path), *extra
    )
    assert code == 0, output
    return path, read_plan(path)


def live(
    endpoint: str, datasets: tuple[str, ...] = DEMO
) -> tuple[dict[str, Dataset], dict[tuple[str, str], Table]]:
    got = collect(make_client(P, endpoint), P, CollectOptions(datasets=datasets, fast_path=False))
    assert not got.gaps, got.gaps
    return (
        {d.dataset_id: d for d in got.datasets},
        {(t.dataset_id, t.table_id): t for t in got.tables},
    )


def normal(
    datasets: Mapping[str, Dataset | None], tables: Mapping[tuple[str, str], Table | None]
) -> dict[str, Any]:
    """Dataset access/labels/key and table schemas/keys/IAM, comparable across reads and
    predictions (access as a set: BigQuery keeps no meaningful order)."""
    out: dict[str, Any] = {}
    for name, d in sorted(datasets.items()):
        if d is None:
            continue
        out[name] = {
            "access": sorted(json.dumps(entry_key(e), sort_keys=True) for e in d.access),
            "labels": dict(d.labels),
            "kms": d.default_kms_key,
            "location": (d.location or "").upper(),
        }
    for (ds, name), t in sorted(tables.items()):
        if t is None:
            continue
        out[f"{ds}.{name}"] = {
            "type": t.type,
            "kms": t.kms_key,
            "fields": [
                (p, f.canonical_type, f.mode, f.description) for p, f in walk_fields(t.fields)
            ],
            "iam": sorted((b.role, sorted(b.members)) for b in t.iam or ()),
        }
    return out


def state(endpoint: str, datasets: tuple[str, ...] = DEMO) -> dict[str, Any]:
    return normal(*live(endpoint, datasets))


def predict(
    before: tuple[dict[str, Dataset], dict[tuple[str, str], Table]], plan: Plan
) -> dict[str, Any]:
    """The estate after the plan, from the actions' pure effects."""
    datasets: dict[str, Any] = dict(before[0])
    tables: dict[tuple[str, str], Any] = dict(before[1])
    for action in plan.actions:
        if isinstance(action, TableAction):
            k = (action.dataset_id, action.table_id or "")
            tables[k] = action.effect(tables.get(k))
        else:
            datasets[action.dataset_id] = action.effect(datasets.get(action.dataset_id))  # type: ignore[attr-defined]
    return normal(datasets, tables)


def journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ----------------------------------------------------------------------------- the cycle


def test_scan_plan_apply_scan_rollback(estate: LocalBigQuery, tmp_path: Path, seeded: Any) -> None:
    ep = estate.endpoint
    before_models = live(ep)
    first = scan(ep, tmp_path)
    path, plan = make_plan(ep, tmp_path)
    assert state(ep) == seeded  # nothing changes without apply
    assert plan.precondition_mode == "etag"
    by_key = {(f.rule_id, f.resource, f.column, f.principal): f for f in plan.findings}
    assert {k for k, f in by_key.items() if f.resolution.value == "fixed"} == FIXED

    t0 = time.monotonic()
    code, output = cli("remediate", "apply", str(path), "--endpoint", ep)
    TIMES["apply (cli, 4 actions)"] = round(time.monotonic() - t0, 2)
    assert code == 0, output
    assert "applied 4, already in place 0, done earlier 0" in output
    # Exactly what the actions say changed, and nothing else.
    assert state(ep) == predict(before_models, plan)

    second = scan(ep, tmp_path)
    # Cutting the two GenAI paths (the ml-engineers entry, the authorized view) also takes
    # their readers off AUD-015's list; the bi-analysts users (project-wide role) remain.
    also_resolved = {
        ("AUD-015", f"{BQ}/customers", None, member)
        for member in (
            "serviceAccount:rag-indexer@gac-prod-471220.iam.gserviceaccount.com",
            "serviceAccount:service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com",
            "user:priya.nair@convergence.example",
            "user:sofia.rossi@convergence.example",
            "user:wei.zhang@convergence.example",
        )
    }
    assert also_resolved <= failing(first)
    assert failing(second) == failing(first) - FIXED - also_resolved
    fixed_fps = {by_key[k].fingerprint for k in FIXED}
    statuses = {f["fingerprint"]: f["status"] for f in second["findings"]}
    assert all(statuses.get(fp, "PASS") == "PASS" for fp in fixed_fps)

    # Applying twice changes nothing: the journal says done, and without the journal
    # every action finds its effect in place.
    after = state(ep)
    code, output = cli("remediate", "apply", str(path), "--endpoint", ep)
    assert code == 0 and "applied 0, already in place 0, done earlier 4" in output, output
    other = tmp_path / "other.journal.jsonl"
    code, output = cli("remediate", "apply", str(path), "--endpoint", ep, "--journal", str(other))
    assert code == 0 and "applied 0, already in place 4" in output, output
    assert {r["status"] for r in journal(other) if r["record"] == "action"} == {"noop"}
    assert state(ep) == after

    t0 = time.monotonic()
    code, output = cli(
        "remediate", "rollback", str(tmp_path / "plan.journal.jsonl"), "--endpoint", ep
    )
    TIMES["rollback (cli, 4 actions)"] = round(time.monotonic() - t0, 2)
    assert code == 0, output
    assert "undid 4 action(s)" in output
    assert state(ep) == seeded
    assert failing(scan(ep, tmp_path)) == failing(first)
    code, output = cli(
        "remediate", "rollback", str(tmp_path / "plan.journal.jsonl"), "--endpoint", ep
    )
    assert code == 0 and "undid 0 action(s)" in output

    # After a rollback the same plan applies again (its preconditions moved with the journal).
    code, output = cli("remediate", "apply", str(path), "--endpoint", ep)
    assert code == 0 and "applied 4" in output, output
    code, _ = cli("remediate", "rollback", str(tmp_path / "plan.journal.jsonl"), "--endpoint", ep)
    assert code == 0 and state(ep) == seeded


def test_a_stale_plan_is_refused(estate: LocalBigQuery, tmp_path: Path, seeded: Any) -> None:
    ep = estate.endpoint
    path, _ = make_plan(ep, tmp_path)
    client = make_client(P, ep)
    initech = client.get_dataset(f"{P}.initech")
    initech.labels = {"reviewed_by": "someone-else"}
    client.update_dataset(initech, ["labels"])
    try:
        code, output = cli("remediate", "apply", str(path), "--endpoint", ep)
        assert code == 2, output
        assert "stale" in output and "initech: etag" in output
        assert not (tmp_path / "plan.journal.jsonl").exists()  # nothing was attempted
        expected = dict(seeded)
        expected["initech"] = {
            **seeded["initech"],
            "labels": {**seeded["initech"]["labels"], "reviewed_by": "someone-else"},
        }
        assert state(ep) == expected  # umbrella and customers were not touched either
    finally:
        initech = client.get_dataset(f"{P}.initech")
        initech.labels = {"reviewed_by": None}
        client.update_dataset(initech, ["labels"])
    # A journal written for another plan is never mixed with this one.
    other = {
        "at": "2025-01-01T00:00:00Z",
        "record": "run",
        "op": "apply",
        "journal_version": "1",
        "plan_digest": "0" * 64,
        "plan": "x",
        "project": P,
    }
    (tmp_path / "plan.journal.jsonl").write_text(json.dumps(other) + "\n")
    code, output = cli("remediate", "apply", str(path), "--endpoint", ep)
    assert code == 2 and "belongs to another plan" in output, output
    assert state(ep) == seeded


def test_content_digests_guard_when_there_is_no_etag(
    estate: LocalBigQuery, tmp_path: Path, seeded: Any
) -> None:
    ep = estate.endpoint
    path, _ = make_plan(ep, tmp_path, "--only-resource", "umbrella*")
    doc = json.loads(path.read_text())
    for action in doc["actions"]:
        for pre in action["preconditions"]:
            pre.pop("etag", None)
    path.write_text(json.dumps(doc))
    assert read_plan(path).precondition_mode == "sha256"
    client = make_client(P, ep)
    umbrella = client.get_dataset(f"{P}.umbrella")
    umbrella.labels = {"dataset_role": "scratch"}
    client.update_dataset(umbrella, ["labels"])
    code, output = cli("remediate", "apply", str(path), "--endpoint", ep)
    assert code == 2 and "umbrella: its content" in output, output
    umbrella = client.get_dataset(f"{P}.umbrella")
    umbrella.labels = {"dataset_role": "tenant"}
    client.update_dataset(umbrella, ["labels"])
    # Same content again (a new etag, which this plan does not know): accepted.
    code, output = cli("remediate", "apply", str(path), "--endpoint", ep)
    assert code == 0 and "applied 2" in output, output
    code, _ = cli("remediate", "rollback", str(tmp_path / "plan.journal.jsonl"), "--endpoint", ep)
    assert code == 0 and state(ep) == seeded


def test_apply_converges_after_a_crash_halfway(
    estate: LocalBigQuery, tmp_path: Path, seeded: Any
) -> None:
    ep = estate.endpoint
    before_models = live(ep)
    path, plan = make_plan(ep, tmp_path)
    journal_path = tmp_path / "plan.journal.jsonl"
    with FaultProxy(ep) as proxy:
        proxy.fail("PATCH", r"/datasets/initech$", 400, google_error(400, "Injected", "invalid"))
        code, output = cli("remediate", "apply", str(path), "--endpoint", proxy.url)
    assert code == 3, output
    assert "A03" in output and "apply again" in output
    statuses = [
        (r["action_id"], r["status"]) for r in journal(journal_path) if r["record"] == "action"
    ]
    assert statuses == [
        ("A01", "started"),
        ("A01", "done"),
        ("A02", "started"),
        ("A02", "done"),
        ("A03", "started"),
        ("A03", "failed"),
    ]
    halfway = state(ep)
    assert halfway["initech"] == seeded["initech"] and halfway["umbrella"] != seeded["umbrella"]

    code, output = cli("remediate", "apply", str(path), "--endpoint", ep)
    assert code == 0 and "applied 2, already in place 0, done earlier 2" in output, output
    assert state(ep) == predict(before_models, plan)

    # A crash after a write but before its record: the action is `started` only. The next
    # run finds its effect in place, records it done (with its undo) and goes on.
    lines = journal_path.read_text().splitlines()
    last_done = max(i for i, line in enumerate(lines) if '"A04"' in line and '"done"' in line)
    journal_path.write_text("\n".join(lines[:last_done]) + "\n")
    code, output = cli("remediate", "apply", str(path), "--endpoint", ep)
    assert code == 0 and "already in place 1, done earlier 3" in output, output
    recovered = [
        r
        for r in journal(journal_path)
        if r.get("action_id") == "A04" and r.get("status") == "done"
    ]
    assert recovered[-1]["undo"][0]["op"] == "drop_added_columns"

    code, output = cli("remediate", "rollback", str(journal_path), "--endpoint", ep)
    assert code == 0 and "undid 4" in output, output
    assert state(ep) == seeded


# ----------------------------------------------------------------------------- provisioning


def test_provision_a_tenant_and_scan_it_clean(estate: LocalBigQuery, tmp_path: Path) -> None:
    ep = estate.endpoint
    tenant = f"rx_{uuid.uuid4().hex[:8]}"
    client = make_client(P, ep)
    path = tmp_path / "provision.json"
    code, output = cli("provision", tenant, "--endpoint", ep, "-o", str(path))
    assert code == 0, output
    assert "A01 CreateDataset" in output and "Nothing has changed" in output
    with pytest.raises(NotFound):
        client.get_dataset(f"{P}.{tenant}")  # a plan only

    t0 = time.monotonic()
    code, output = cli("provision", tenant, "--endpoint", ep, "-o", str(path), "--apply")
    TIMES["provision tenant --apply (cli, 6 actions)"] = round(time.monotonic() - t0, 2)
    assert code == 0 and "applied 6" in output, output
    created = client.get_dataset(f"{P}.{tenant}")
    assert created.labels == {"dataset_role": "tenant", "tenant_id": tenant}
    assert [e.to_api_repr() for e in created.access_entries] == [
        {"role": "OWNER", "groupByEmail": "platform-admins@convergence.example"}
    ]

    report = scan(ep, tmp_path, "--dataset", tenant)
    mine = [f for f in report["findings"] if f"/datasets/{tenant}" in f["resource"]]
    assert mine and not [f for f in mine if f["status"] == "FAIL"], [
        (f["rule_id"], f["resource"], f.get("column")) for f in mine if f["status"] == "FAIL"
    ]
    passed = {f["rule_id"] for f in mine if f["status"] == "PASS"}
    assert passed >= {"AUD-001", "AUD-006", "AUD-007", "AUD-008", "AUD-009", "AUD-010"}

    # Idempotent: provisioning it again plans nothing.
    code, output = cli("provision", tenant, "--endpoint", ep, "-o", str(tmp_path / "again.json"))
    assert code == 0 and "0 action(s)" in output and "Nothing to apply" in output, output

    code, output = cli(
        "remediate", "rollback", str(tmp_path / "provision.journal.jsonl"), "--endpoint", ep
    )
    assert code == 0 and "undid 6" in output, output
    with pytest.raises(NotFound):
        client.get_dataset(f"{P}.{tenant}")


def test_rollback_never_destroys_data_written_since(estate: LocalBigQuery, tmp_path: Path) -> None:
    ep = estate.endpoint
    tenant = f"rx_{uuid.uuid4().hex[:8]}"
    code, output = cli(
        "provision", tenant, "--endpoint", ep, "-o", str(tmp_path / "p.json"), "--apply"
    )
    assert code == 0, output
    client = make_client(P, ep)
    errors = client.insert_rows_json(
        f"{P}.{tenant}.x_meta_step_logs", [_row(client, tenant, "x_meta_step_logs")]
    )
    assert not errors
    ds = client.get_dataset(f"{P}.{tenant}")
    ds.default_encryption_configuration = bigquery.EncryptionConfiguration(
        f"projects/{P}/locations/us/keyRings/platform/cryptoKeys/other"
    )
    client.update_dataset(ds, ["default_encryption_configuration"])
    code, output = cli("remediate", "rollback", str(tmp_path / "p.journal.jsonl"), "--endpoint", ep)
    assert code == 3, output
    assert "x_meta_step_logs was kept: it holds data now (1 rows)" in output
    assert f"dataset {tenant} was kept: it is not empty" in output
    tables = {t.table_id for t in client.list_tables(f"{P}.{tenant}")}
    assert tables == {"x_meta_step_logs"}  # the four empty ones went, the one with data stayed


def _row(client: bigquery.Client, dataset: str, table: str) -> dict[str, Any]:
    """A minimal row: every REQUIRED top-level column filled with a value of its type."""
    values = {
        "STRING": "x",
        "TIMESTAMP": "2025-01-01T00:00:00Z",
        "INTEGER": 1,
        "INT64": 1,
        "FLOAT": 1.0,
        "BOOLEAN": True,
        "DATE": "2025-01-01",
        "JSON": "{}",
    }
    schema = client.get_table(f"{P}.{dataset}.{table}").schema
    return {f.name: values.get(f.field_type, "x") for f in schema if f.mode == "REQUIRED"}


def test_provision_customers_hardens_and_keeps_every_other_entry(
    estate: LocalBigQuery, tmp_path: Path, seeded: Any
) -> None:
    ep = estate.endpoint
    client = make_client(P, ep)
    customers = client.get_dataset(f"{P}.customers")
    original_labels = dict(customers.labels)
    customers.access_entries = [
        *customers.access_entries,
        bigquery.AccessEntry("READER", "specialGroup", "projectReaders"),
        bigquery.AccessEntry("READER", "specialGroup", "allAuthenticatedUsers"),
    ]
    customers.labels = {"dataset_role": None}
    customers.default_encryption_configuration = None
    client.update_dataset(
        customers, ["access_entries", "labels", "default_encryption_configuration"]
    )
    weak = state(ep)
    try:
        code, output = cli(
            "provision", "customers", "--endpoint", ep, "-o", str(tmp_path / "c.json"), "--apply"
        )
        assert code == 0 and "applied 3" in output, output
        hard = state(ep)
        assert hard["customers"]["labels"] == original_labels
        assert (
            hard["customers"]["kms"]
            == f"projects/{P}/locations/us/keyRings/platform/cryptoKeys/customers"
        )
        # Exactly the two broad entries went; the group and the authorized view (not this
        # command's business) stayed.
        assert hard["customers"]["access"] == seeded["customers"]["access"]
        assert {k: v for k, v in hard.items() if k != "customers"} == {
            k: v for k, v in weak.items() if k != "customers"
        }
        code, output = cli(
            "remediate", "rollback", str(tmp_path / "c.journal.jsonl"), "--endpoint", ep
        )
        assert code == 0, output
        assert state(ep) == weak
    finally:
        customers = client.get_dataset(f"{P}.customers")
        customers.access_entries = [
            e
            for e in customers.access_entries
            if e.entity_id not in ("projectReaders", "allAuthenticatedUsers")
        ]
        customers.labels = original_labels
        customers.default_encryption_configuration = bigquery.EncryptionConfiguration(
            seeded["customers"]["kms"]
        )
        client.update_dataset(
            customers, ["access_entries", "labels", "default_encryption_configuration"]
        )
    assert state(ep) == seeded
