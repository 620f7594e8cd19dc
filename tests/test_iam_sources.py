"""IAM sources: live collection through the real clients against recorded answers served
over local HTTP, the offline exports of the same data, and the shapes both read."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.model import (
    Condition,
    CoverageGap,
    CustomRole,
    DenyPolicy,
    DenyRule,
    GroupMembership,
    IamBinding,
    Inventory,
    Problem,
    ResourcePolicy,
    RoleStatus,
)
from auditor.sources import iam, iamjson
from auditor.sources.exports import ExportLoad, load_exports
from auditor.sources.iam import IamCollection, IamEndpoints, Retries, collect_iam
from auditor.sources.iamjson import Malformed
from auditor.sources.snapshot.read import load_snapshot
from auditor.sources.snapshot.write import dump_snapshot
from tests.support.recorded import RecordedServer

DATA = Path(__file__).parent / "data"
RECORDED = DATA / "recorded" / "iam"
EXPORTS = DATA / "exports"

P = "gac-prod-471220"
PROJECT = f"projects/{P}"
F1, F2 = "folders/615723004981", "folders/309218475561"
ORG = "organizations/482910375812"
SA_GENAI = f"genai-agent@{P}.iam.gserviceaccount.com"
SA_ETL = f"etl@{P}.iam.gserviceaccount.com"
AIP_AGENT = "service-612345678901@gcp-sa-aiplatform.iam.gserviceaccount.com"
EXPIRES = Condition(
    expression='request.time < timestamp("2026-07-01T00:00:00Z")',
    title="until-2026-06-30",
    description="Quarterly access review",
)
SEED_GROUPS = ("platform-admins", "analysts", "auditors", "genai-agents")
DENY_PREFIX = "policies/cloudresourcemanager.googleapis.com"
DENY_PROTECT = f"{DENY_PREFIX}%2Fprojects%2F612345678901/denypolicies/protect-customers"
DENY_PUBLIC = f"{DENY_PREFIX}%2Forganizations%2F482910375812/denypolicies/no-public-principals"


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def recorded() -> Iterator[RecordedServer]:
    with RecordedServer(RECORDED) as server:
        yield server


@pytest.fixture
def server(recorded: RecordedServer) -> Iterator[RecordedServer]:
    recorded.reset()
    yield recorded
    recorded.reset()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def collect(server: RecordedServer, sleeps: Sleeps | None = None, **kwargs: Any) -> IamCollection:
    retries = Retries(sleep=sleeps or Sleeps(), timeout=10)
    return collect_iam(P, endpoints=IamEndpoints.local(server.url), retries=retries, **kwargs)


def policy(parts: IamCollection | ExportLoad, resource: str) -> ResourcePolicy:
    [found] = [p for p in parts.iam_policies if p.resource == resource]
    return found


def members_of(parts: IamCollection | ExportLoad, group: str) -> set[str]:
    return {m.member for m in parts.group_memberships if m.group == group}


def gap_scopes(gaps: tuple[CoverageGap, ...]) -> list[str]:
    return [g.scope for g in gaps]


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    shutil.copytree(EXPORTS, folder)
    return folder


# ---------------------------------------------------------------------------- live


def test_live_collection(server: RecordedServer) -> None:
    parts = collect(server)
    assert parts.gaps == ()
    assert parts.ancestry == (PROJECT, F1, F2, ORG)
    assert [p.resource for p in parts.iam_policies] == [
        PROJECT,
        F1,
        F2,
        ORG,
        f"{PROJECT}/serviceAccounts/{SA_ETL}",
        f"{PROJECT}/serviceAccounts/{SA_GENAI}",
    ]

    project = policy(parts, PROJECT)
    assert project.etag == "BwYdZ1mNq3A="
    assert project.bindings[:3] == (
        IamBinding("roles/owner", ("group:platform-admins@example.com",)),
        IamBinding("roles/bigquery.dataViewer", ("group:analysts@example.com",), EXPIRES),
        IamBinding(
            "roles/bigquery.jobUser",
            ("group:analysts@example.com", f"serviceAccount:{SA_GENAI}"),
        ),
    )
    assert policy(parts, F2) == ResourcePolicy(F2, (), "ACAB")
    assert policy(parts, ORG).bindings[2] == IamBinding(
        f"{ORG}/roles/bqMetadataAuditor", ("group:auditors@example.com",)
    )

    # Who may act as the ETL service account.
    assert policy(parts, f"{PROJECT}/serviceAccounts/{SA_ETL}").bindings == (
        IamBinding("roles/iam.serviceAccountUser", ("group:analysts@example.com",)),
        IamBinding("roles/iam.serviceAccountTokenCreator", (f"serviceAccount:{SA_GENAI}",)),
    )

    assert parts.deny_policies == (
        DenyPolicy(
            attachment=f"cloudresourcemanager.googleapis.com/{PROJECT}",
            name=DENY_PROTECT,
            rules=(
                DenyRule(
                    denied_principals=(
                        "principalSet://goog/group/genai-agents@example.com",
                        f"principal://iam.googleapis.com/projects/-/serviceAccounts/{SA_GENAI}",
                    ),
                    denied_permissions=(
                        "bigquery.googleapis.com/tables.getData",
                        "bigquery.googleapis.com/tables.export",
                    ),
                    exception_principals=("principalSet://goog/group/platform-admins@example.com",),
                    condition=Condition(
                        "resource.matchTag('482910375812/data-class', 'protected')",
                        "Protected data only",
                    ),
                ),
            ),
        ),
        DenyPolicy(
            attachment=f"cloudresourcemanager.googleapis.com/{ORG}",
            name=DENY_PUBLIC,
            rules=(
                DenyRule(
                    denied_principals=("principalSet://goog/public:all",),
                    denied_permissions=(
                        "bigquery.googleapis.com/datasets.get",
                        "bigquery.googleapis.com/tables.getData",
                    ),
                ),
            ),
        ),
    )

    # analysts has two pages and a nested group, followed to its members.
    assert members_of(parts, "analysts@example.com") == {
        "user:alice@example.com",
        "group:contractors@example.com",
        "user:carol@example.com",
    }
    assert members_of(parts, "contractors@example.com") == {
        "user:bob@contractor.example",
        f"serviceAccount:{SA_ETL}",
    }
    assert members_of(parts, "genai-agents@example.com") == {
        f"serviceAccount:{SA_GENAI}",
        f"serviceAccount:{AIP_AGENT}",
    }
    assert {m.group for m in parts.group_memberships} == {
        f"{g}@example.com" for g in (*SEED_GROUPS, "contractors")
    }

    # Custom roles of the project (two pages) and of the organization, sorted by name.
    assert parts.custom_roles == (
        CustomRole(
            f"{ORG}/roles/bqMetadataAuditor",
            (
                "bigquery.datasets.get",
                "bigquery.tables.get",
                "bigquery.tables.list",
                "resourcemanager.projects.get",
            ),
        ),
        CustomRole(
            f"{PROJECT}/roles/pipelineOperator",
            ("bigquery.jobs.create", "bigquery.tables.updateData"),
        ),
        CustomRole(
            f"{PROJECT}/roles/tenantLogReader",
            (
                "bigquery.datasets.get",
                "bigquery.tables.get",
                "bigquery.tables.getData",
                "bigquery.tables.list",
            ),
        ),
    )


def test_policies_are_read_as_version_3(server: RecordedServer) -> None:
    collect(server)
    bodies = [r.body for r in server.requests if r.path.endswith(":getIamPolicy")]
    crm = [b for b in bodies if b is not None]
    assert crm == [{"options": {"requestedPolicyVersion": 3}}] * 4  # project, 2 folders, org
    account_queries = [
        r.query for r in server.requests if "/serviceAccounts/" in r.path and r.method == "POST"
    ]
    assert [q["options.requestedPolicyVersion"] for q in account_queries] == ["3", "3"]


def test_groups_named_elsewhere_are_expanded(server: RecordedServer) -> None:
    """Dataset ACL groups reach collect_iam through `groups`; unknown ones are gaps."""
    parts = collect(server, groups=["contractors@example.com", "nobody@example.com"])
    assert gap_scopes(parts.gaps) == ["group:nobody@example.com"]
    assert parts.gaps[0].reason.startswith("group members: 404 Not Found: no recording for GET")


def test_a_403_on_the_organization_policy_is_a_gap_naming_it(server: RecordedServer) -> None:
    server.fail(
        "POST", rf"^/v3/{ORG}:getIamPolicy$", 403, message="The caller does not have permission"
    )
    parts = collect(server)
    assert parts.gaps == (
        CoverageGap(ORG, "IAM policy: 403 Forbidden: The caller does not have permission"),
    )
    assert ORG not in [p.resource for p in parts.iam_policies]
    assert parts.ancestry == (PROJECT, F1, F2, ORG)  # the hierarchy is still known
    assert len(parts.iam_policies) == 5


def test_an_unreadable_folder_ends_the_ancestry_with_gaps(server: RecordedServer) -> None:
    server.fail("GET", rf"^/v3/{F2}$", 403)
    parts = collect(server)
    assert parts.ancestry == (PROJECT, F1, F2)
    assert gap_scopes(parts.gaps) == [F2, F2]
    assert parts.gaps[0].reason.startswith("folder: 403 Forbidden")
    assert "organization above unknown" in parts.gaps[1].reason
    assert not [r for r in parts.custom_roles if r.name.startswith(ORG)]


def test_cloud_identity_denied_is_a_gap_per_group(server: RecordedServer) -> None:
    server.fail("GET", r"^/v1/groups:lookup$", 403)
    parts = collect(server)
    assert parts.group_memberships == ()
    assert sorted(gap_scopes(parts.gaps)) == sorted(f"group:{g}@example.com" for g in SEED_GROUPS)
    assert all(g.reason.startswith("group members: 403 Forbidden") for g in parts.gaps)


def test_independent_reads_overlap_and_the_result_keeps_its_order(
    server: RecordedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allow, deny, service-account and group reads run several at a time; the policies,
    memberships and gaps come out exactly as one read at a time gives them."""
    server.hold = 0.02  # each answer takes a while, as a remote API's does
    server.fail("GET", rf"^/v1/{ORG}/roles$", 403)  # a gap among the concurrent reads
    server.fail("GET", r"^/v1/groups:lookup$", 404)  # and one per group
    concurrent = collect(server, groups=["extra@example.com"])
    assert server.most_in_flight > 1
    monkeypatch.setattr(iam, "WORKERS", 1)
    server.most_in_flight = 0
    one_at_a_time = collect(server, groups=["extra@example.com"])
    assert server.most_in_flight == 1
    assert concurrent == one_at_a_time
    assert gap_scopes(concurrent.gaps) == [
        ORG,
        *(f"group:{g}@example.com" for g in SEED_GROUPS),
        "group:extra@example.com",
    ]


def test_transient_errors_are_retried(server: RecordedServer) -> None:
    sleeps = Sleeps()
    server.fail("GET", rf"^/v1/{PROJECT}/serviceAccounts$", 429, times=2)
    server.fail("GET", rf"^/v3/{F1}$", 503, times=1)
    parts = collect(server, sleeps)
    assert parts.gaps == ()
    # Reads run concurrently: the two retries' sleeps may come in either order.
    assert sorted(sleeps.delays) == [1.0, 1.0, 2.0]
    assert server.count("GET", rf"^/v1/{PROJECT}/serviceAccounts$") == 3
    assert server.count("GET", rf"^/v3/{F1}$") == 2


def test_retries_give_up_with_a_gap(server: RecordedServer) -> None:
    sleeps = Sleeps()
    server.fail("GET", rf"^/v1/{PROJECT}/serviceAccounts$", 500)
    parts = collect(server, sleeps)
    assert gap_scopes(parts.gaps) == [PROJECT]
    assert parts.gaps[0].reason.endswith("(gave up after 5 attempts)")
    assert parts.gaps[0].reason.startswith("service accounts: 500 Internal Server Error")
    assert sleeps.delays == [1.0, 2.0, 4.0, 8.0]
    assert not [p for p in parts.iam_policies if "/serviceAccounts/" in p.resource]


def test_a_malformed_answer_is_a_gap(server: RecordedServer) -> None:
    server.answer("GET", rf"^/v1/{PROJECT}/serviceAccounts$", text="<html>busy</html>")
    server.answer("GET", r"/denypolicies/protect-customers$", body={"name": 7, "rules": "none"})
    roles = {"roles": [{"name": f"{ORG}/roles/x", "includedPermissions": "all"}]}
    server.answer("GET", rf"^/v1/{ORG}/roles$", body=roles)
    parts = collect(server)
    assert parts.gaps == (
        CoverageGap(
            PROJECT,
            f"service accounts: malformed answer: GET /v1/{PROJECT}/serviceAccounts answered"
            " with something that is not JSON (gave up after 5 attempts)",
        ),
        CoverageGap(
            PROJECT,
            f"deny policy {DENY_PROTECT}: malformed answer: Failed to parse name field:"
            " expected string or bytes-like object, got 'int'.",
        ),
        CoverageGap(
            ORG,
            "custom roles: malformed answer: includedPermissions: expected an array, got a"
            " string (at page 1/roles/0/includedPermissions)",
        ),
    )
    assert [p.name for p in parts.deny_policies] == [DENY_PUBLIC]
    assert [r.name for r in parts.custom_roles if r.name.startswith(ORG)] == []


def test_a_conditional_binding_read_as_version_1_is_a_gap(server: RecordedServer) -> None:
    hidden = {
        "version": 1,
        "bindings": [{"role": "roles/viewer_withcond_8f2c", "members": ["user:x@example.com"]}],
    }
    server.answer("POST", rf"^/v3/{F1}:getIamPolicy$", body=hidden)
    parts = collect(server)
    assert gap_scopes(parts.gaps) == [F1]
    assert "policy version 1 read" in parts.gaps[0].reason


def test_collection_fills_an_inventory_that_round_trips_a_snapshot(server: RecordedServer) -> None:
    parts = collect(server)
    inventory = parts.into(Inventory("live", gaps=(CoverageGap("x", "earlier"),)))
    assert inventory.ancestry == parts.ancestry
    assert inventory.gaps == (CoverageGap("x", "earlier"),)
    text = dump_snapshot(inventory, created_at=datetime(2026, 1, 1, tzinfo=UTC), tool_version="t")
    assert load_snapshot(text, "snap.json") == inventory


# ---------------------------------------------------------------------------- offline


def test_offline_exports_give_the_same_parts_as_live(server: RecordedServer) -> None:
    live = collect(server, groups=["analysts@example.com", "platform-admins@example.com"])
    offline = load_exports(EXPORTS)
    assert offline.problems == ()
    assert offline.gaps == ()
    assert offline.project == P
    for part in ("ancestry", "iam_policies", "deny_policies", "group_memberships", "custom_roles"):
        assert getattr(offline, part) == getattr(live, part), part


def test_offline_exports_read_datasets_tables_and_table_iam() -> None:
    offline = load_exports(EXPORTS)
    assert [d.dataset_id for d in offline.datasets] == ["acme", "customers"]
    acme, customers = offline.datasets
    assert [(a.entity, a.role) for a in acme.access][2:6] == [
        ("platform-admins@example.com", "roles/bigquery.dataOwner"),
        ("projectReaders", "roles/bigquery.dataViewer"),  # READER, normalised
        ("analysts@example.com", "roles/bigquery.dataViewer"),
        (SA_GENAI, "roles/bigquery.dataViewer"),
    ]
    assert acme.access[6].entity == f"{PROJECT}/datasets/reporting/tables/acme_runs"
    assert (
        customers.default_kms_key
        == f"{PROJECT}/locations/eu/keyRings/platform/cryptoKeys/customers"
    )
    assert customers.access[3].condition is not None
    assert [(t.dataset_id, t.table_id, t.type) for t in offline.tables] == [
        ("acme", "runs_v", "VIEW"),
        ("acme", "x_meta_pipeline_runs", "TABLE"),
        ("customers", "customer_api_keys", "TABLE"),
    ]
    view, runs, keys = offline.tables
    assert view.view_query == f"SELECT run_id, started_at FROM `{P}.acme.x_meta_pipeline_runs`"
    assert view.iam == ()
    assert [path for path, _ in runs.schema.columns()] == [
        "run_id",
        "config",
        "config.retries",
        "config.source",
        "config.source.endpoint",
        "config.source.region",
        "started_at",
    ]
    assert runs.fields[1].fields[0].type == "INT64"
    assert runs.iam is not None and runs.iam[0].condition == EXPIRES  # sorted as live
    assert keys.kms_key is not None and keys.fields[1].policy_tags
    assert len(offline.inputs) == 24


def test_exports_fill_an_inventory() -> None:
    offline = load_exports(EXPORTS)
    inventory = offline.into(Inventory("exports", project=None))
    assert inventory.project == P
    assert inventory.datasets == offline.datasets
    assert inventory.live_tables == offline.tables
    assert inventory.custom_roles == offline.custom_roles


def test_a_malformed_export_file_is_a_problem_with_its_line(exports: Path) -> None:
    org_iam = exports / "org-iam.json"
    text = org_iam.read_text()
    org_iam.write_text(text.replace('"version": 1', '"version": 1,', 1))
    comma_line = line_of(text, '"version": 1') + 1  # the parser stops at the '}'
    group_file = exports / "groups" / "auditors@example.com.json"
    memberships = json.loads(group_file.read_text())
    memberships[0]["preferredMemberKey"]["id"] = 42
    group_text = json.dumps(memberships, indent=2)
    group_file.write_text(group_text)
    id_line = line_of(group_text, '"id": 42')

    loaded = load_exports(exports)
    assert loaded.problems == (
        Problem("org-iam.json", "trailing comma before '}'", comma_line, unread=True),
        Problem(
            "groups/auditors@example.com.json",
            "id: expected a string, got an integer",
            id_line,
            unread=True,
        ),
    )
    assert loaded.gaps == (
        CoverageGap(ORG, f"export org-iam.json:{comma_line}: trailing comma before '}}'"),
        CoverageGap(
            "group:auditors@example.com",
            f"export groups/auditors@example.com.json:{id_line}: id: expected a string,"
            " got an integer",
        ),
    )
    # The rest still loads.
    assert ORG not in [p.resource for p in loaded.iam_policies]
    assert len(loaded.iam_policies) == 5
    assert members_of(loaded, "analysts@example.com")
    assert members_of(loaded, "auditors@example.com") == set()


def test_bad_dataset_and_table_files(exports: Path) -> None:
    dataset_file = exports / "datasets" / "acme.json"
    dataset = json.loads(dataset_file.read_text())
    dataset["access"][4] = {"role": "READER", "groupByEmail": "a@example.com", "domain": "x"}
    dataset_text = json.dumps(dataset, indent=2)
    dataset_file.write_text(dataset_text)
    table_file = exports / "tables" / "acme.runs_v.json"
    table = json.loads(table_file.read_text())
    del table["type"]
    table_file.write_text(json.dumps(table, indent=2))

    loaded = load_exports(exports)
    acme = f"//bigquery.googleapis.com/{PROJECT}/datasets/acme"
    assert [(p.path, p.line, p.message) for p in loaded.problems] == [
        (
            "datasets/acme.json",
            line_of(dataset_text, '"domain": "x"') - 3,  # the entry's opening brace
            "access entry #5 left out: 2 grantees instead of one",
        ),
        ("tables/acme.runs_v.json", 1, "not a table as bq show prints it: table without a type"),
    ]
    assert gap_scopes(loaded.gaps) == [acme, f"{acme}/tables/runs_v"]
    # The dataset keeps its other entries; the table is left out, its IAM file with it.
    assert len(loaded.datasets[0].access) == 6
    assert [t.table_id for t in loaded.tables] == ["x_meta_pipeline_runs", "customer_api_keys"]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_missing_export_files_are_gaps(exports: Path) -> None:
    (exports / "groups" / "contractors@example.com.json").unlink()
    (exports / "table-iam" / "acme.runs_v.json").unlink()
    (exports / "folders" / "309218475561-iam.json").unlink()
    (exports / "deny-policies.json").unlink()
    loaded = load_exports(exports)
    assert loaded.problems == ()
    runs_v = f"//bigquery.googleapis.com/{PROJECT}/datasets/acme/tables/runs_v"
    assert [(g.scope, g.reason) for g in loaded.gaps] == [
        (F2, "IAM policy not exported (folders/309218475561-iam.json missing)"),
        (PROJECT, "deny policies not exported (deny-policies.json missing)"),
        (F1, "deny policies not exported (deny-policies.json missing)"),
        (F2, "deny policies not exported (deny-policies.json missing)"),
        (ORG, "deny policies not exported (deny-policies.json missing)"),
        (runs_v, "table IAM policy not exported (table-iam/acme.runs_v.json missing)"),
        (
            "group:contractors@example.com",
            "group members not exported (groups/contractors@example.com.json missing)",
        ),
    ]
    assert next(t for t in loaded.tables if t.table_id == "runs_v").iam is None


def test_unknown_and_unused_files_are_problems(exports: Path) -> None:
    (exports / "project_iam.json").write_text("{}")
    (exports / "folders" / "111-iam.json").write_text("{}")
    (exports / "notes.md").write_text("exported on Monday")
    loaded = load_exports(exports)
    assert [(p.path, p.message) for p in loaded.problems] == [
        (
            "folders/111-iam.json",
            "ignored: nothing else in the export refers to it"
            " (e.g. a folder outside ancestry.json)",
        ),
        (
            "project_iam.json",
            "ignored: not a file of the export layout (docs/offline-exports.md)"
            " (did you mean 'project-iam.json'?)",
        ),
    ]
    assert loaded.gaps == ()


def test_deny_policies_from_a_list_without_rules(exports: Path) -> None:
    listed = [
        {
            "policies": [
                {
                    "name": DENY_PROTECT,
                    "kind": "DenyPolicy",
                }
            ]
        }
    ]
    (exports / "deny-policies.json").write_text(json.dumps(listed, indent=2))
    loaded = load_exports(exports)
    [problem] = loaded.problems
    assert problem.path == "deny-policies.json"
    assert problem.line == 4
    assert problem.message.startswith("deny policy has no 'rules'")
    assert gap_scopes(loaded.gaps) == [PROJECT]
    assert loaded.deny_policies == ()


def test_a_deny_policy_on_a_project_number_needs_project_json(exports: Path) -> None:
    (exports / "project.json").unlink()
    loaded = load_exports(exports)
    assert gap_scopes(loaded.gaps) == [PROJECT]
    assert "add project.json" in loaded.gaps[0].reason
    assert [p.name.rsplit("/", 1)[1] for p in loaded.deny_policies] == ["no-public-principals"]


def test_custom_roles_without_permissions_are_problems(exports: Path) -> None:
    roles = json.loads((exports / "custom-roles.json").read_text())
    del roles[1]["includedPermissions"]  # what `gcloud iam roles list` prints
    (exports / "custom-roles.json").write_text(json.dumps(roles, indent=2))
    loaded = load_exports(exports)
    [problem] = loaded.problems
    assert "has no 'includedPermissions'" in problem.message
    assert [r.name.rsplit("/", 1)[1] for r in loaded.custom_roles] == [
        "bqMetadataAuditor",
        "tenantLogReader",
    ]


def test_basic_view_memberships_use_group_files_for_their_type(exports: Path) -> None:
    """Without `type` (the BASIC view), a member with a groups/ file is a group, one with a
    service account's domain a service account; anything else is a problem."""
    path = exports / "groups" / "analysts@example.com.json"
    memberships = json.loads(path.read_text())
    assert memberships[1]["preferredMemberKey"]["id"] == "contractors@example.com"
    del memberships[1]["type"]
    path.write_text(json.dumps(memberships, indent=2))
    loaded = load_exports(exports)
    assert loaded.problems == ()
    assert "group:contractors@example.com" in members_of(loaded, "analysts@example.com")

    (exports / "groups" / "contractors@example.com.json").unlink()
    loaded = load_exports(exports)
    assert [p.message for p in loaded.problems] == [
        "membership of 'contractors@example.com' has no 'type', so it may be a user or a nested"
        " group; list memberships with the FULL view (gcloud: --view=full)"
    ]
    assert gap_scopes(loaded.gaps) == ["group:analysts@example.com"]
    assert members_of(loaded, "analysts@example.com") == {
        "user:alice@example.com",
        "user:carol@example.com",
    }


def test_a_missing_ancestry_is_a_gap(exports: Path) -> None:
    (exports / "ancestry.json").unlink()
    loaded = load_exports(exports)
    assert loaded.ancestry == (PROJECT,)
    assert [g.reason for g in loaded.gaps][:2] == [
        "resource hierarchy not exported (ancestry.json missing)",
        "resource hierarchy: folders and organization unknown",
    ]


def test_a_malformed_ancestry_falls_back_to_project_json(exports: Path) -> None:
    ancestors = json.loads((exports / "ancestry.json").read_text())
    ancestors[1], ancestors[3] = ancestors[3], ancestors[1]  # the organization in the middle
    text = json.dumps(ancestors, indent=2)
    (exports / "ancestry.json").write_text(text)
    loaded = load_exports(exports)
    assert loaded.problems[0] == Problem(
        "ancestry.json",
        "ancestor 2 is of type 'organization', expected 'folder'",
        line_of(text, '"organization"') - 2,
        unread=True,
    )
    assert loaded.project == P
    assert loaded.ancestry == (PROJECT,)
    assert policy(loaded, PROJECT).etag == "BwYdZ1mNq3A="

    (exports / "project.json").unlink()
    loaded = load_exports(exports)
    assert loaded.project is None
    assert loaded.iam_policies == ()
    unknown = "ignored: the project is unknown (ancestry.json and project.json missing or bad)"
    assert ("project-iam.json", unknown) in [(p.path, p.message) for p in loaded.problems]


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a directory"):
        load_exports(tmp_path / "nope")


# ---------------------------------------------------------------------------- shapes


def test_deny_attachment_maps_the_project_number() -> None:
    name = "policies/cloudresourcemanager.googleapis.com%2Fprojects%2F123/denypolicies/x"
    assert (
        iamjson.deny_attachment(name, (), {"123": "p"})
        == "cloudresourcemanager.googleapis.com/projects/p"
    )
    assert (
        iamjson.deny_attachment(name, (), {}) == "cloudresourcemanager.googleapis.com/projects/123"
    )
    with pytest.raises(Malformed, match="not a deny policy name"):
        iamjson.deny_attachment("policies/x", (), {})
    assert iamjson.deny_list_parent(F1) == (
        "policies/cloudresourcemanager.googleapis.com%2Ffolders%2F615723004981/denypolicies"
    )


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"preferredMemberKey": {"id": "a@x.com"}, "type": "USER"}, "user:a@x.com"),
        ({"preferredMemberKey": {"id": "g@x.com"}, "type": "GROUP"}, "group:g@x.com"),
        (
            {"preferredMemberKey": {"id": "s@p.iam.gserviceaccount.com"}},
            "serviceAccount:s@p.iam.gserviceaccount.com",
        ),
        ({"preferredMemberKey": {"id": "drive"}, "type": "SHARED_DRIVE"}, None),
    ],
)
def test_memberships(item: dict[str, Any], expected: str | None) -> None:
    found = iamjson.membership("g", item, ())
    assert (found.member if found else None) == expected
    if found:
        assert found == GroupMembership("g", expected or "")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"preferredMemberKey": {"id": "a@x.com"}, "type": "OTHER"},
            "type 'OTHER', not an IAM identity",
        ),
        (
            {"preferredMemberKey": {"id": "a", "namespace": "identitysources/9"}},
            "not a Google account",
        ),
        ({"type": "USER"}, "expected an entity key"),
    ],
)
def test_memberships_that_are_not_iam_identities(item: dict[str, Any], message: str) -> None:
    with pytest.raises(Malformed, match=message):
        iamjson.membership("g", item, ())


def test_a_deleted_custom_role_grants_nothing() -> None:
    deleted = {"name": "projects/p/roles/old", "deleted": True}
    assert iamjson.custom_role(deleted, (), permissions_required=True) is None
    empty = {"name": "projects/p/roles/empty"}
    assert iamjson.custom_role(empty, (), permissions_required=False) == CustomRole(
        empty["name"], ()
    )


# ---------------------------------------------------------------------------- roles.get


INSIGHTS = "roles/bigquery.dataInsightsReader"  # newer than the shipped catalog
RETIRED = "roles/legacy.reportViewer"  # IAM answers 404: no such role
ODD = "roles/odd.role"  # IAM answers with includedPermissions: "all"
LEGACY_AUDITOR = f"{ORG}/roles/legacyAuditor"  # an organization role the list left out


def with_unknown_roles(server: RecordedServer) -> None:
    body = json.loads((RECORDED / "resourcemanager" / "projects.getIamPolicy.json").read_text())
    policy = body["response"]["body"]
    for role in (INSIGHTS, RETIRED, ODD, LEGACY_AUDITOR):
        policy["bindings"].append({"role": role, "members": [f"serviceAccount:{AIP_AGENT}"]})
    server.answer("POST", rf"^/v3/{PROJECT}:getIamPolicy$", body=policy)


def test_roles_the_catalog_lacks_are_looked_up_once_each(server: RecordedServer) -> None:
    from auditor.access.roles import builtin_catalog

    with_unknown_roles(server)
    # Dataset ACLs name roles too: INSIGHTS twice over, dataViewer (in the catalog) once.
    extra = (INSIGHTS, "roles/bigquery.dataViewer")
    parts = collect(server, roles=extra, known_roles=builtin_catalog())
    assert parts.gaps == ()  # a lookup never makes the whole run incomplete
    looked_up = {r.name: r for r in parts.custom_roles if r.detail.startswith("IAM roles.get")}
    assert looked_up == {
        INSIGHTS: CustomRole(
            INSIGHTS,
            (
                "bigquery.datasets.get",
                "bigquery.tables.get",
                "bigquery.tables.getData",
                "resourcemanager.projects.get",
            ),
            RoleStatus.DEFINED,
            "IAM roles.get",
        ),
        RETIRED: CustomRole(
            RETIRED,
            (),
            RoleStatus.DELETED,
            f"IAM roles.get: 404 Not Found: The role named {RETIRED} was not found.",
        ),
        ODD: CustomRole(
            ODD,
            (),
            RoleStatus.UNRESOLVED,
            "IAM roles.get: malformed answer: includedPermissions: expected an array, got a"
            " string (at includedPermissions)",
        ),
        LEGACY_AUDITOR: CustomRole(
            LEGACY_AUDITOR, (), RoleStatus.DELETED, "IAM roles.get: marked deleted"
        ),
    }
    for role in (INSIGHTS, RETIRED, ODD, LEGACY_AUDITOR):
        assert server.count("GET", rf"^/v1/{role}$") == 1, role
    # Roles the catalog or the custom-role lists define are not asked for.
    assert server.count("GET", r"^/v1/roles/owner$") == 0
    assert server.count("GET", r"^/v1/roles/bigquery.dataViewer$") == 0
    assert server.count("GET", rf"^/v1/{PROJECT}/roles/tenantLogReader$") == 0


def test_without_a_catalog_nothing_is_looked_up(server: RecordedServer) -> None:
    with_unknown_roles(server)
    parts = collect(server)
    assert server.count("GET", r"^/v1/roles/") == 0
    assert INSIGHTS not in {r.name for r in parts.custom_roles}


def test_a_failed_lookup_leaves_that_role_unresolved_after_retries(
    server: RecordedServer,
) -> None:
    from auditor.access.roles import builtin_catalog

    with_unknown_roles(server)
    server.fail("GET", rf"^/v1/{INSIGHTS}$", 503, times=2)  # then the recording
    server.fail("GET", rf"^/v1/{ODD}$", 403, message="Permission iam.roles.get denied")
    sleeps = Sleeps()
    parts = collect(server, sleeps, known_roles=builtin_catalog())
    by_name = {r.name: r for r in parts.custom_roles}
    assert by_name[INSIGHTS].status is RoleStatus.DEFINED
    assert by_name[ODD] == CustomRole(
        ODD,
        (),
        RoleStatus.UNRESOLVED,
        "IAM roles.get: 403 Forbidden: Permission iam.roles.get denied",
    )
    assert sleeps.delays == [1.0, 2.0]
    assert parts.gaps == ()


def test_role_files_in_an_export_folder(exports: Path) -> None:
    roles = exports / "roles"
    roles.mkdir()
    describe = {
        "name": INSIGHTS,
        "title": "BigQuery Data Insights Reader",
        "includedPermissions": ["bigquery.tables.getData"],
        "stage": "BETA",
        "etag": "AA==",
    }
    (roles / "bigquery.dataInsightsReader.json").write_text(json.dumps(describe, indent=2))
    (roles / "legacy.reportViewer.json").write_text(json.dumps({"name": RETIRED, "deleted": True}))
    (roles / "odd.role.json").write_text(
        '{\n  "name": "roles/odd.role",\n  "includedPermissions": 7\n}\n'
    )
    (roles / "mismatch.json").write_text(
        json.dumps({"name": "roles/other", "includedPermissions": []})
    )
    loaded = load_exports(exports)
    by_name = {r.name: r for r in loaded.custom_roles if r.name.startswith("roles/")}
    assert by_name == {
        INSIGHTS: CustomRole(
            INSIGHTS,
            ("bigquery.tables.getData",),
            RoleStatus.DEFINED,
            "export roles/bigquery.dataInsightsReader.json",
        ),
        RETIRED: CustomRole(
            RETIRED, (), RoleStatus.DELETED, "export roles/legacy.reportViewer.json: marked deleted"
        ),
        ODD: CustomRole(
            ODD,
            (),
            RoleStatus.UNRESOLVED,
            "export roles/odd.role.json:3: role roles/odd.role: includedPermissions: expected an"
            " array, got an integer",
        ),
        "roles/mismatch": CustomRole(
            "roles/mismatch",
            (),
            RoleStatus.UNRESOLVED,
            "export roles/mismatch.json:1: role roles/mismatch: expected the role"
            " 'roles/mismatch', got 'roles/other'",
        ),
    }
    # Each bad file is a problem naming it and the line; no gap: the graph decides whether
    # the unresolved role matters.
    assert [(p.path, p.line) for p in loaded.problems] == [
        ("roles/mismatch.json", 1),
        ("roles/odd.role.json", 3),
    ]
    assert loaded.gaps == ()
    assert {i.path for i in loaded.inputs} >= {"roles/odd.role.json", "roles/mismatch.json"}


# ---------------------------------------------------------------------------- export script


FAKE_GCLOUD = """#!/usr/bin/env bash
# gcloud iam roles describe ROLE --format=json, as recorded for the test.
role=$4
case "$role" in
  roles/iam.serviceAccountUser) echo "ERROR: NOT_FOUND: $role" >&2; exit 1;;
  roles/bigquery.jobUser) [ -n "$DENY" ] && { echo "ERROR: PERMISSION_DENIED" >&2; exit 1; };;
esac
printf '{"name": "%s", "includedPermissions": ["bigquery.jobs.create"], "stage": "GA"}\\n' "$role"
"""


def role_export_section() -> str:
    """The part of docs/offline-exports.md's script that exports predefined roles."""
    doc = (Path(__file__).parent.parent / "docs" / "offline-exports.md").read_text()
    script = doc.split("```bash\n", 1)[1].split("```", 1)[0]
    start = script.index("# Predefined roles in use")
    end = script.index("rm -f roles.err") + len("rm -f roles.err")
    return "set -euo pipefail\n" + script[start:end] + "\n"


def run_role_export(folder: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    gcloud = bin_dir / "gcloud"
    gcloud.write_text(FAKE_GCLOUD)
    gcloud.chmod(0o755)
    return subprocess.run(
        ["bash", "-c", role_export_section()],
        cwd=folder,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.skipif(shutil.which("jq") is None, reason="the export script needs jq")
def test_the_documented_role_export_writes_what_the_loader_reads(
    exports: Path, tmp_path: Path
) -> None:
    before = load_exports(exports)
    done = run_role_export(exports, tmp_path)
    assert done.returncode == 0, done.stderr
    bound = {b.role for p in before.iam_policies for b in p.bindings}
    bound |= {b.role for t in before.tables for b in t.iam or ()}
    for dataset in (exports / "datasets").iterdir():  # as bq prints them: READER, roles/...
        bound |= {e.get("role", "") for e in json.loads(dataset.read_text())["access"]}
    predefined = {r for r in bound if r.startswith("roles/")}
    assert {f"roles/{p.stem}" for p in (exports / "roles").iterdir()} == predefined
    assert not (exports / "roles.err").exists()
    loaded = load_exports(exports)
    assert loaded.problems == before.problems
    by_name = {r.name: r for r in loaded.custom_roles if r.name.startswith("roles/")}
    assert by_name["roles/iam.serviceAccountUser"].status is RoleStatus.DELETED
    assert by_name["roles/owner"] == CustomRole(
        "roles/owner", ("bigquery.jobs.create",), RoleStatus.DEFINED, "export roles/owner.json"
    )


@pytest.mark.skipif(shutil.which("jq") is None, reason="the export script needs jq")
def test_the_role_export_stops_on_an_error_other_than_not_found(
    exports: Path, tmp_path: Path
) -> None:
    done = run_role_export(exports, tmp_path, DENY="1")
    assert done.returncode == 1
    assert "PERMISSION_DENIED" in done.stderr
