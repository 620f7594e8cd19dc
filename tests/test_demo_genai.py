"""The demo estate's GenAI paths to the customers dataset, with its IAM, end to end.

The estate (auditor/demo/estate.py, GENAI_PATH_PLANTS) plants

(a) an authorized view: acme_corp.customer_lookup selects from customers.customer_profiles
    and is authorized on customers (faithful engine only); the Vertex AI service agent, READER
    on every tenant dataset, reaches customers through it;
(b) a group path: group:ml-engineers READER on customers; its members in the demo IAM include
    the platform's RAG indexer (a GenAI principal by AUD-011's genai_members) and a nested group.

The IAM half lives in examples/demo-iam, an offline export folder: a hardened project (owner
platform-admins, the onboarding account, bi-analysts with roles/bigquery.dataViewer on the
project, which AUD-013 reports, the Vertex AI agent without any project-level data role) and
a deny policy that keeps the contractors group (nested in bi-analysts) from table data.

The pure tests check the data; the emulator tests run `auditor demo` once on the faithful
engine and read its JSON report.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from auditor.access.principals import is_genai
from auditor.access.roles import GET_DATA, RoleCatalog
from auditor.cli import main
from auditor.cli.local import DEMO_IAM_EXPORTS
from auditor.demo.estate import build_estate
from auditor.demo.plants import ViolationKind, planted_violations
from auditor.demo.specs import (
    CUSTOMER_LOOKUP_VIEW,
    GENAI_AGENT,
    ML_ENGINEERS,
    SeedOptions,
    rag_indexer_account,
)
from auditor.model import GranteeKind
from auditor.resources import POLICIES_DIR, PROJECT_DIR
from auditor.sources.exports import load_exports
from tests.conftest import LocalBigQuery

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
CUSTOMERS = f"{BQ}/customers"
ACME = f"{BQ}/acme_corp"
VIEW = f"{ACME}/tables/{CUSTOMER_LOOKUP_VIEW}"
VERTEX_AGENT = f"serviceAccount:{GENAI_AGENT}"
RAG_INDEXER = f"serviceAccount:{rag_indexer_account(P)}"
ML = f"group:{ML_ENGINEERS}"
BI_ANALYSTS = "group:bi-analysts@convergence.example"
CONTRACTOR = "user:j.doe@partner-analytics.example"
VIEWER = "roles/bigquery.dataViewer"

# The hop lists of the two planted GenAI paths, as the JSON report's evidence spells them.
VIEW_PATH = [
    {"kind": "dataset-acl", "member": VERTEX_AGENT, "subject": ACME, "detail": VIEWER},
    {"kind": "authorized-view", "member": VIEW, "subject": CUSTOMERS, "detail": "authorized view"},
]
GROUP_PATH = [
    {"kind": "group-member", "member": RAG_INDEXER, "subject": ML, "detail": "member"},
    {"kind": "dataset-acl", "member": ML, "subject": CUSTOMERS, "detail": VIEWER},
]


def _policy(stem: str) -> dict[str, Any]:
    [path] = POLICIES_DIR.glob(f"{stem}-*.yaml")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


# ---------------------------------------------------------------------------- the data


def test_the_estate_plants_both_paths_on_the_faithful_engine() -> None:
    estate = build_estate()
    customers = estate.dataset("customers")
    assert (GranteeKind.VIEW, f"projects/{P}/datasets/acme_corp/tables/customer_lookup") in {
        (g.kind, g.entity) for g in customers.access
    }
    assert (GranteeKind.GROUP, ML_ENGINEERS, "READER") in {
        (g.kind, g.entity, g.role) for g in customers.access
    }
    [view] = estate.dataset("acme_corp").views
    assert view.view_id == CUSTOMER_LOOKUP_VIEW
    assert view.query == (
        f"SELECT customer_id, company_name FROM `{P}.customers.customer_profiles`"
    )
    # The agent is READER on every tenant (allowed) and named on customers nowhere.
    for spec in estate.datasets:
        granted = (GranteeKind.USER, GENAI_AGENT) in {(g.kind, g.entity) for g in spec.access}
        assert granted == (spec.kind.value == "tenant"), spec.dataset_id
    genai = [p for p in estate.planted if p.kind is ViolationKind.GENAI_PATH]
    assert {(p.dataset, p.table) for p in genai} == {
        ("acme_corp", CUSTOMER_LOOKUP_VIEW),
        ("customers", None),
    }


def test_the_fast_engine_gets_the_group_path_only() -> None:
    fast = build_estate(SeedOptions(faithful=False))
    assert not any(d.views for d in fast.datasets)
    assert not any(g.kind is GranteeKind.VIEW for d in fast.datasets for g in d.access)
    assert [(p.dataset, p.table) for p in fast.planted if p.kind is ViolationKind.GENAI_PATH] == [
        ("customers", None)
    ]
    # Without acme_corp there is no view to plant.
    assert not any(
        p.kind is ViolationKind.GENAI_PATH and p.dataset == "acme_corp"
        for p in planted_violations(SeedOptions(tenants=0))
    )


def test_the_view_follows_the_project() -> None:
    estate = build_estate(SeedOptions(project="other-project-1", tenants=1))
    [view] = estate.dataset("acme_corp").views
    assert "`other-project-1.customers.customer_profiles`" in view.query
    assert any(
        g.entity == "projects/other-project-1/datasets/acme_corp/tables/customer_lookup"
        for g in estate.dataset("customers").access
    )


def test_the_demo_iam_loads_completely() -> None:
    assert DEMO_IAM_EXPORTS == PROJECT_DIR / "examples" / "demo-iam"
    exports = load_exports(DEMO_IAM_EXPORTS)
    assert exports.problems == ()
    assert exports.gaps == ()
    assert exports.project == P
    assert exports.ancestry == (
        f"projects/{P}",
        "folders/418205736491",
        "organizations/902745163820",
    )
    assert [d.attachment for d in exports.deny_policies] == [
        f"cloudresourcemanager.googleapis.com/projects/{P}"
    ]
    members = {(m.group, m.member) for m in exports.group_memberships}
    assert (ML_ENGINEERS, RAG_INDEXER) in members
    assert (ML_ENGINEERS, "group:ml-research@convergence.example") in members
    assert ("bi-analysts@convergence.example", "group:contractors@convergence.example") in members


def test_every_role_of_the_demo_iam_is_known() -> None:
    exports = load_exports(DEMO_IAM_EXPORTS)
    catalog = RoleCatalog.load(exports.custom_roles)
    roles = {b.role for p in exports.iam_policies for b in p.bindings}
    assert roles and {r for r in roles if catalog.permissions(r) is None} == set()


def test_the_vertex_agent_has_no_project_level_data_role() -> None:
    exports = load_exports(DEMO_IAM_EXPORTS)
    catalog = RoleCatalog.load(exports.custom_roles)
    held = {
        b.role
        for p in exports.iam_policies
        if not p.resource.startswith(f"projects/{P}/serviceAccounts/")
        for b in p.bindings
        if VERTEX_AGENT in b.members
    }
    assert held == {"roles/bigquery.jobUser"}
    assert GET_DATA not in (catalog.permissions("roles/bigquery.jobUser") or frozenset())
    project = next(p for p in exports.iam_policies if p.resource == f"projects/{P}")
    assert [b.members for b in project.bindings if b.role == VIEWER] == [(BI_ANALYSTS,)]


def test_aud_011_declares_the_rag_indexer_genai() -> None:
    patterns = _policy("AUD-011")["check"]["params"]["genai_members"]
    assert is_genai(RAG_INDEXER, patterns) is not None
    assert is_genai(f"serviceAccount:onboarding@{P}.iam.gserviceaccount.com", patterns) is None
    assert is_genai(f"serviceAccount:billing@{P}.iam.gserviceaccount.com", patterns) is None


# ---------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def demo_report(
    faithful_bq: LocalBigQuery, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, dict[str, Any]]:
    """`auditor demo` on the session's faithful engine (kept running for the other tests)."""
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--keep-running", "--output-dir", str(out)])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads((out / "scan.json").read_text(encoding="utf-8"))


def _fails(report: dict[str, Any], rule: str) -> dict[str | None, dict[str, Any]]:
    found = [f for f in report["findings"] if f["rule_name"] == rule and f["status"] == "FAIL"]
    by_principal = {f.get("principal"): f for f in found}
    assert len(by_principal) == len(found)
    return by_principal


@pytest.mark.emulator
def test_auditor_demo_is_complete_and_exits_1(demo_report: tuple[int, dict[str, Any]]) -> None:
    code, report = demo_report
    assert report["run"]["complete"] is True, report["run"]["coverage"]
    assert code == 1
    assert not [f for f in report["findings"] if f["status"] == "ERROR"]


@pytest.mark.emulator
def test_one_finding_per_genai_principal_with_its_hops(
    demo_report: tuple[int, dict[str, Any]],
) -> None:
    _, report = demo_report
    genai = _fails(report, "genai-cannot-reach-customers")
    assert set(genai) == {VERTEX_AGENT, RAG_INDEXER}
    assert {f["resource"] for f in genai.values()} == {CUSTOMERS}
    # (a) the authorized view is the Vertex AI agent's only path.
    assert genai[VERTEX_AGENT]["evidence"]["paths"] == [VIEW_PATH]
    # (b) the RAG indexer reads customers as a member of ml-engineers.
    assert genai[RAG_INDEXER]["evidence"]["paths"] == [GROUP_PATH]
    assert genai[RAG_INDEXER]["evidence"]["conditional"] == [False]
    assert len(genai[VERTEX_AGENT]["evidence"]["cuts"][0]) == 2


@pytest.mark.emulator
def test_genai_access_to_tenants_is_no_finding(demo_report: tuple[int, dict[str, Any]]) -> None:
    _, report = demo_report
    fails = [f for f in report["findings"] if f["status"] == "FAIL"]
    genai_principals = {VERTEX_AGENT, RAG_INDEXER}
    assert {f["resource"] for f in fails if f.get("principal") in genai_principals} == {CUSTOMERS}
    passed = {(f["rule_name"], f["resource"]) for f in report["findings"] if f["status"] == "PASS"}
    assert ("customers-not-public", CUSTOMERS) in passed


@pytest.mark.emulator
def test_the_broad_project_role_is_reported_and_the_deny_policy_holds(
    demo_report: tuple[int, dict[str, Any]],
) -> None:
    _, report = demo_report
    broad = _fails(report, "no-broad-project-data-roles")
    assert set(broad) == {BI_ANALYSTS}
    evidence = broad[BI_ANALYSTS]["evidence"]
    assert evidence["bindings"] == [{"resource": f"projects/{P}", "role": VIEWER}]
    # Two analysts, each directly and through the authorized view; the contractor nested in
    # bi-analysts is denied tables.getData on the project, so no path of theirs is left.
    assert evidence["paths_total"] == 4
    members = {hop["member"] for path in evidence["paths"] for hop in path}
    assert "user:amara.diallo@convergence.example" in members
    assert CONTRACTOR not in members
    assert "group:contractors@convergence.example" not in members
