"""One evaluation time, one answer: `auditor scan` and `auditor access explain` agree.

Every access fixture (the estates below, one per kind of path, the checked-in export
example and a seeded random estate) is scanned with a readers allowlist that approves no one
(so AUD-015 reports every reader of customers, with every path) and explained; both must
name the same principals with the same paths, the same flags (conditional, can grant itself
read) and the same target (dataset or table). Time-bound IAM conditions are decided at the
run's evaluation time by both: an expired grant is no path for either, a grant that starts
later is a conditional path for both; a snapshot is judged as of its collection.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.access.catalog import REFERENCE, read_reference
from auditor.cli import main
from auditor.collect import collect_from_exports
from auditor.resources import POLICIES_DIR, SCHEMAS_DIR
from auditor.sources.bigquery import make_client
from auditor.sources.snapshot.write import dump_snapshot
from tests.conftest import LocalBigQuery
from tests.support.estates import ExportEstate
from tests.test_access_estates import build as random_estate

P = "gac-prod-471220"
N = "612345678901"
PROJECT = f"projects/{P}"
FOLDER = "folders/615723004981"
ORG = "organizations/482910375812"
CUSTOMERS = f"//bigquery.googleapis.com/projects/{P}/datasets/customers"
VERTEX = f"serviceAccount:service-{N}@gcp-sa-aiplatform.iam.gserviceaccount.com"
SEARCH = f"serviceAccount:service-{N}@gcp-sa-discoveryengine.iam.gserviceaccount.com"
ETL = f"serviceAccount:etl@{P}.iam.gserviceaccount.com"
ALICE = "user:alice@convergence.example"
VIEWER = "roles/bigquery.dataViewer"
WHEN = "2026-09-01T00:00:00"
EXPIRED = 'request.time < timestamp("2024-06-01T00:00:00Z")'
LATER = 'request.time > timestamp("2027-01-01T00:00:00Z")'

Seen = set[tuple[str, str, bool, bool, str, tuple[str, ...]]]


def base() -> ExportEstate:
    estate = ExportEstate(project=P, number=N)
    estate.dataset("customers", [("groupByEmail", "platform-admins@convergence.example", "OWNER")])
    estate.group("platform-admins@convergence.example", ["user:admin@convergence.example"])
    return estate


def nested_groups() -> ExportEstate:
    estate = base()
    access = estate.datasets["customers"]
    access.append({"groupByEmail": "ml@convergence.example", "role": "READER"})
    estate.group("ml@convergence.example", ["group:research@convergence.example", ALICE])
    estate.group("research@convergence.example", [VERTEX, ALICE])
    return estate


def ancestors_and_basic_roles() -> ExportEstate:
    estate = base()
    estate.datasets["customers"].append({"specialGroup": "projectReaders", "role": "READER"})
    estate.bind(PROJECT, "roles/viewer", ALICE)
    estate.bind(FOLDER, "roles/bigquery.admin", SEARCH)
    estate.bind(ORG, "roles/resourcemanager.organizationViewer", VERTEX)  # reads nothing
    estate.bind(ORG, "roles/iam.securityAdmin", "user:sec@convergence.example")  # self-grant
    return estate


def table_iam_and_view() -> ExportEstate:
    estate = base()
    estate.table("customers", "profiles", {"members": [VERTEX], "role": VIEWER})
    estate.dataset("acme", [("userByEmail", ALICE.removeprefix("user:"), "READER")])
    estate.table("acme", "lookup")
    estate.datasets["customers"].append(
        {"view": {"projectId": P, "datasetId": "acme", "tableId": "lookup"}}
    )
    return estate


def impersonation_and_delegation() -> ExportEstate:
    estate = base()
    estate.account("etl@gac-prod-471220.iam.gserviceaccount.com")
    estate.account("relay@gac-prod-471220.iam.gserviceaccount.com")
    estate.bind(PROJECT, VIEWER, ETL)
    estate.bind(ETL, "roles/iam.serviceAccountTokenCreator", ALICE)
    relay = f"serviceAccount:relay@{P}.iam.gserviceaccount.com"
    estate.bind(ETL, "roles/iam.serviceAccountTokenCreator", relay)
    # A custom role that only delegates: a link of a chain, never a path of its own.
    delegate = f"{PROJECT}/roles/delegateOnly"
    estate.custom_roles.append(
        {"name": delegate, "includedPermissions": ["iam.serviceAccounts.implicitDelegation"]}
    )
    estate.bind(relay, delegate, VERTEX)
    estate.bind(ETL, delegate, SEARCH)
    return estate


def custom_role_update() -> ExportEstate:
    estate = base()
    reader = f"{PROJECT}/roles/metadataOnly"
    estate.custom_roles.append({"name": reader, "includedPermissions": ["bigquery.datasets.get"]})
    estate.bind(PROJECT, reader, ALICE, VERTEX)
    estate.bind(PROJECT, "roles/iam.roleAdmin", ALICE)  # may add getData to the role it holds
    return estate


def authorized_objects_and_their_writers() -> ExportEstate:
    """customers authorizes a view of acme, the views of globex and a routine of initech.
    Who reads (or calls) them reads customers; who may only change them does not (Google
    drops a changed view's or routine's authorization: reference/bigquery/)."""
    estate = base()
    customers = estate.datasets["customers"]
    customers.append({"view": {"projectId": P, "datasetId": "acme", "tableId": "usage_v"}})
    globex = {"projectId": P, "datasetId": "globex"}
    customers.append({"dataset": {"dataset": globex, "targetTypes": ["VIEWS"]}})
    customers.append({"routine": {"projectId": P, "datasetId": "initech", "routineId": "mask"}})
    changer, creator, routines = (
        f"{PROJECT}/roles/{name}" for name in ("viewChanger", "viewCreator", "routineChanger")
    )
    estate.custom_roles += [
        {"name": changer, "includedPermissions": ["bigquery.tables.get", "bigquery.tables.update"]},
        {"name": creator, "includedPermissions": ["bigquery.tables.create"]},
        {"name": routines, "includedPermissions": ["bigquery.routines.update"]},
    ]
    estate.dataset("acme", [("iamMember", VERTEX, "WRITER")])  # reads the view: a path
    estate.table("acme", "usage_v", {"members": [SEARCH], "role": changer})  # may only change it
    estate.dataset("globex", [("userByEmail", "bo@convergence.example", "WRITER")])
    estate.datasets["globex"].append({"iamMember": SEARCH, "role": creator})
    estate.dataset("initech", [("userByEmail", ALICE.removeprefix("user:"), "READER")])
    estate.datasets["initech"].append({"iamMember": SEARCH, "role": routines})
    return estate


def custom_roles_on_accounts_and_the_organization() -> ExportEstate:
    """Custom roles that only see the ETL account (which reads customers), bound on its
    policy: a project role alice may change (Role Administrator on the project), an
    organization role the Agent Builder agent may change (Organization Role Administrator on
    the organization), and the same organization role held by the Vertex AI agent, which may
    change project roles only."""
    estate = base()
    estate.account("etl@gac-prod-471220.iam.gserviceaccount.com")
    estate.bind(PROJECT, VIEWER, ETL)
    project_role, org_role = f"{PROJECT}/roles/accountViewer", f"{ORG}/roles/accountViewer"
    for name in (project_role, org_role):
        estate.custom_roles.append(
            {"name": name, "includedPermissions": ["iam.serviceAccounts.get"]}
        )
    estate.bind(ETL, project_role, ALICE)
    estate.bind(ETL, org_role, SEARCH, VERTEX)
    estate.bind(PROJECT, "roles/iam.roleAdmin", ALICE, VERTEX)
    estate.bind(ORG, "roles/iam.organizationRoleAdmin", SEARCH)
    return estate


def public_and_domain() -> ExportEstate:
    estate = base()
    estate.datasets["customers"].append({"domain": "convergence.example", "role": "READER"})
    estate.datasets["customers"].append({"iamMember": "allUsers", "role": "READER"})
    estate.bind(PROJECT, "roles/bigquery.jobUser", ALICE)  # an account of the domain
    return estate


def deny_policy() -> ExportEstate:
    estate = base()
    estate.bind(PROJECT, VIEWER, "group:analysts@convergence.example")
    estate.group("analysts@convergence.example", [ALICE, "user:bo@convergence.example"])
    estate.deny.append(
        {
            "name": f"policies/cloudresourcemanager.googleapis.com%2Fprojects%2F{N}"
            "/denypolicies/no-alice",
            "rules": [
                {
                    "denyRule": {
                        "deniedPrincipals": ["principal://goog/subject/alice@convergence.example"],
                        "deniedPermissions": ["bigquery.googleapis.com/tables.getData"],
                    }
                }
            ],
        }
    )
    return estate


def conditions() -> ExportEstate:
    estate = base()
    estate.bind(PROJECT, VIEWER, VERTEX, condition=EXPIRED)
    estate.bind(PROJECT, VIEWER, SEARCH, condition=LATER)
    estate.bind(PROJECT, VIEWER, ALICE, condition='resource.name.startsWith("projects/_/x")')
    return estate


def deleted_and_looked_up_roles() -> ExportEstate:
    estate = base()
    estate.bind(PROJECT, "roles/retired.reader", VERTEX)
    estate.bind(PROJECT, "roles/brandnew.reader", SEARCH)
    estate.role_files["roles/retired.reader"] = {"name": "roles/retired.reader", "deleted": True}
    estate.role_files["roles/brandnew.reader"] = {
        "name": "roles/brandnew.reader",
        "includedPermissions": ["bigquery.tables.getData", "bigquery.datasets.get"],
    }
    return estate


def random_seeded() -> ExportEstate:
    return random_estate(read_reference(REFERENCE), seed=7)[0]


ESTATES: dict[str, Callable[[], ExportEstate]] = {
    f.__name__: f
    for f in (
        nested_groups,
        ancestors_and_basic_roles,
        table_iam_and_view,
        impersonation_and_delegation,
        custom_role_update,
        authorized_objects_and_their_writers,
        custom_roles_on_accounts_and_the_organization,
        public_and_domain,
        deny_policy,
        conditions,
        deleted_and_looked_up_roles,
        random_seeded,
    )
}
FIXTURES = [*ESTATES, "tests/data/exports"]


@pytest.fixture
def allow_no_one(tmp_path: Path) -> Path:
    """The shipped AUD-011 and AUD-015, AUD-015 approving nobody: it lists every reader."""
    folder = tmp_path / "policies"
    folder.mkdir()
    shutil.copy(next(POLICIES_DIR.glob("AUD-011-*.yaml")), folder)
    text = next(POLICIES_DIR.glob("AUD-015-*.yaml")).read_text(encoding="utf-8")
    head, _, _ = text.partition("    approved_readers:")
    (folder / "AUD-015.yaml").write_text(head + "    approved_readers: []\n", encoding="utf-8")
    return folder


def exports_of(fixture: str, tmp_path: Path) -> Path:
    if fixture in ESTATES:
        return ESTATES[fixture]().write(tmp_path / fixture)
    return Path(fixture)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout


def scanned(source: list[str], policies: Path, out: Path, *when: str) -> dict[str, Any]:
    run("scan", *source, "-p", str(policies), "-f", "json", "-o", str(out), *when)
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def scan_paths(report: dict[str, Any]) -> Seen:
    seen: Seen = set()
    for f in report["findings"]:
        if f["rule_id"] != "AUD-015" or f["status"] != "FAIL":
            continue
        self_grant = "(can grant itself read)" in f["message"]
        for hops, conditional in zip(
            f["evidence"]["paths"], f["evidence"]["conditional"], strict=True
        ):
            hop_text = tuple(json.dumps(h, sort_keys=True) for h in hops)
            seen.add((f["principal"], f["resource"], conditional, self_grant, "", hop_text))
    return seen


def explain_paths(payload: dict[str, Any], all_self_grant: dict[tuple[str, str], bool]) -> Seen:
    seen: Seen = set()
    for p in payload["paths"]:
        hop_text = tuple(json.dumps(h, sort_keys=True) for h in p["hops"])
        # The scan words "can grant itself read" per principal and target, when every path is.
        self_grant = all_self_grant[(p["principal"], p["target"])]
        seen.add((p["principal"], p["target"], p["conditional"], self_grant, "", hop_text))
    return seen


def explained(source: list[str], *when: str) -> dict[str, Any]:
    _, out = run("access", "explain", *source, "--dataset", "customers", "--json", *when)
    payload: dict[str, Any] = json.loads(out)
    return payload


def self_grant_groups(payload: dict[str, Any]) -> dict[tuple[str, str], bool]:
    groups: dict[tuple[str, str], list[bool]] = {}
    for p in payload["paths"]:
        groups.setdefault((p["principal"], p["target"]), []).append(p["capability"] == "self-grant")
    return {k: all(v) for k, v in groups.items()}


@pytest.mark.parametrize("fixture", FIXTURES)
def test_scan_and_explain_name_the_same_principals_and_paths(
    fixture: str, allow_no_one: Path, tmp_path: Path
) -> None:
    source = ["--exports", str(exports_of(fixture, tmp_path))]
    when = ("--evaluation-time", WHEN)
    report = scanned(source, allow_no_one, tmp_path / "scan.json", *when)
    payload = explained(source, *when)
    assert scan_paths(report) == explain_paths(payload, self_grant_groups(payload))
    assert report["run"]["evaluation_time"] == "2026-09-01T00:00:00Z"
    # The same gaps make both incomplete (AUD-015 counts every gap: it approves no one).
    errors = [f for f in report["findings"] if f["rule_id"] == "AUD-015" and f["status"] == "ERROR"]
    assert bool(errors) == bool(payload["gaps"])


def test_the_fixtures_cover_every_kind_of_hop(tmp_path: Path) -> None:
    kinds: set[str] = set()
    for fixture in FIXTURES:
        payload = explained(
            ["--exports", str(exports_of(fixture, tmp_path))], "--evaluation-time", WHEN
        )
        kinds.update(h["kind"] for p in payload["paths"] for h in p["hops"])
    assert kinds == {
        "dataset-acl",
        "table-iam",
        "resource-iam",
        "basic-role",
        "impersonation",
        "group-member",
        "domain-member",
        "authorized-view",
        "authorized-dataset",
        "authorized-routine",
        "role-update",
    }


ADMIN = "user:admin@convergence.example"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "authorized_objects_and_their_writers",
            {
                ADMIN: [("read", ["group-member", "dataset-acl"])],
                VERTEX: [("read", ["dataset-acl", "authorized-view"])],
                "user:bo@convergence.example": [("read", ["dataset-acl", "authorized-dataset"])],
                ALICE: [("read", ["dataset-acl", "authorized-routine"])],
                # Agent Builder's agent may change the view and the routine and create views
                # in globex, and reads none of them: no path.
            },
        ),
        (
            "custom_roles_on_accounts_and_the_organization",
            {
                ADMIN: [("read", ["group-member", "dataset-acl"])],
                ETL: [("read", ["resource-iam"])],
                ALICE: [("self-grant", ["role-update", "impersonation", "resource-iam"])],
                SEARCH: [("self-grant", ["role-update", "impersonation", "resource-iam"])],
                # The Vertex AI agent holds the organization role and may change project
                # roles only: no path.
            },
        ),
    ],
)
def test_who_may_change_what_reaches_customers(
    fixture: str, expected: dict[str, list[tuple[str, list[str]]]], tmp_path: Path
) -> None:
    source = ["--exports", str(exports_of(fixture, tmp_path))]
    payload = explained(source, "--evaluation-time", WHEN)
    found: dict[str, list[tuple[str, list[str]]]] = {}
    for p in payload["paths"]:
        found.setdefault(p["principal"], []).append(
            (p["capability"], [h["kind"] for h in p["hops"]])
        )
    assert found == expected
    assert payload["gaps"] == []


# ---------------------------------------------------------------------------- time


def genai_fails(report: dict[str, Any]) -> dict[str, list[bool]]:
    """AUD-011's failing principals -> whether each path is conditional."""
    return {
        f["principal"]: f["evidence"]["conditional"]
        for f in report["findings"]
        if f["rule_id"] == "AUD-011" and f["status"] == "FAIL"
    }


def test_an_expired_grant_is_no_path_and_a_later_one_is_conditional(tmp_path: Path) -> None:
    source = ["--exports", str(conditions().write(tmp_path / "exports"))]
    when = ("--evaluation-time", WHEN)
    out = tmp_path / "scan.json"
    run("scan", *source, "-f", "json", "-o", str(out), "--only", "AUD-011", *when)
    report = json.loads(out.read_text(encoding="utf-8"))
    # Vertex AI's grant expired in 2024: no finding. Agent Builder's starts in 2027: reported,
    # marked conditional, and the message says so.
    assert genai_fails(report) == {SEARCH: [True]}
    [search] = [f for f in report["findings"] if f.get("principal") == SEARCH]
    assert "each under a condition" in search["message"]
    payload = explained(source, *when)
    by_principal = {p["principal"]: p["conditional"] for p in payload["paths"]}
    assert VERTEX not in by_principal
    assert by_principal[SEARCH] is True
    code, text = run(
        "access", "explain", *source, "--dataset", "customers", "--principal", VERTEX, *when
    )
    assert (code, text) == (0, f"no path found for {VERTEX}\n")


def test_a_snapshot_is_judged_as_of_its_collection_by_scan_and_explain(tmp_path: Path) -> None:
    """Collected in January 2024, before the Vertex AI grant expired: both commands, without
    --evaluation-time, see its path; with a later --evaluation-time neither does."""
    folder = conditions().write(tmp_path / "exports")
    inventory = collect_from_exports(folder, SCHEMAS_DIR, ("tenant/*.json",), lambda _: None)
    snapshot = tmp_path / "snap.json"
    collected = datetime(2024, 1, 1, tzinfo=UTC)
    snapshot.write_text(dump_snapshot(inventory, created_at=collected, tool_version="test"))
    out = tmp_path / "scan.json"
    source = ["--snapshot", str(snapshot)]
    run("scan", *source, "-f", "json", "-o", str(out), "--only", "AUD-011")
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["run"]["evaluation_time"] == "2024-01-01T00:00:00Z"
    assert genai_fails(report) == {VERTEX: [False], SEARCH: [True]}
    assert {p["principal"] for p in explained(source)["paths"]} >= {VERTEX, SEARCH}
    later = ("--evaluation-time", WHEN)
    run("scan", *source, "-f", "json", "-o", str(out), "--only", "AUD-011", *later)
    assert genai_fails(json.loads(out.read_text(encoding="utf-8"))) == {SEARCH: [True]}
    assert VERTEX not in {p["principal"] for p in explained(source, *later)["paths"]}


@pytest.mark.emulator
def test_nightly_decides_the_conditions_as_scan_and_explain_do(
    fast_bq: LocalBigQuery, tmp_path: Path
) -> None:
    """The live path: datasets from a local BigQuery, IAM from exports. The nightly job,
    the scan and explain all report the later grant (conditional) and not the expired one.
    The engine is the session's: the test protects a dataset of its own and removes it."""
    from google.cloud import bigquery

    client = make_client(fast_bq.project, fast_bq.endpoint)
    dataset = bigquery.Dataset(f"{fast_bq.project}.{LIVE_DATASET}")
    dataset.access_entries = [
        bigquery.AccessEntry("OWNER", "groupByEmail", "platform-admins@convergence.example")
    ]
    client.create_dataset(dataset, exists_ok=True)
    try:
        check_nightly_scan_and_explain(fast_bq, tmp_path)
    finally:
        client.delete_dataset(dataset.reference, delete_contents=True, not_found_ok=True)


LIVE_DATASET = "customers_conditions_test"


def check_nightly_scan_and_explain(fast_bq: LocalBigQuery, tmp_path: Path) -> None:
    iam = conditions().write(tmp_path / "iam")
    policies = tmp_path / "policies"
    policies.mkdir()
    aud_011 = next(POLICIES_DIR.glob("AUD-011-*.yaml")).read_text(encoding="utf-8")
    (policies / "AUD-011.yaml").write_text(aud_011.replace("[customers]", f"[{LIVE_DATASET}]"))
    live = ["--endpoint", fast_bq.endpoint, "--iam-exports", str(iam), "--dataset", LIVE_DATASET]
    when = ("--evaluation-time", WHEN)
    nightly = CliRunner().invoke(
        main,
        ["nightly", *live, "--policies", str(policies), "--output-dir", str(tmp_path / "out"),
         "--history", str(tmp_path / "history.sqlite"), "--log-format", "json", *when],
    )  # fmt: skip
    assert "Traceback" not in nightly.output, nightly.output
    report = json.loads((tmp_path / "out" / "nightly-latest.json").read_text(encoding="utf-8"))
    assert report["run"]["complete"] is True, report["run"]["coverage"]
    assert report["run"]["evaluation_time"] == "2026-09-01T00:00:00Z"
    assert genai_fails(report) == {SEARCH: [True]}
    out = tmp_path / "scan.json"
    scan = ["scan", *live, "-p", str(policies), "-f", "json", "-o", str(out), *when]
    run(*scan, "--content-scan", "off")
    assert genai_fails(json.loads(out.read_text(encoding="utf-8"))) == {SEARCH: [True]}
    source = ["--endpoint", fast_bq.endpoint, "--iam-exports", str(iam)]
    _, text = run("access", "explain", *source, "--dataset", LIVE_DATASET, "--json", *when)
    paths = json.loads(text)["paths"]
    assert {p["principal"]: p["conditional"] for p in paths}.get(SEARCH) is True
    assert VERTEX not in {p["principal"] for p in paths}


def test_the_console_report_says_as_of_when(tmp_path: Path) -> None:
    source = ["--exports", str(conditions().write(tmp_path / "exports"))]
    _, text = run("scan", *source, "--only", "AUD-011", "--evaluation-time", WHEN)
    assert "\nas of:   2026-09-01T00:00:00Z\n" in text
