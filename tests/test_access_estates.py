"""Estates as real organisations build them: a project binding dozens of Google's predefined
roles, drawn at random (seeded) from the reference copy of Google's definitions, to GenAI
service agents of many products and to everyone else. `auditor scan --exports` must finish
complete (exit 0 or 1, never 3: every predefined role is known) and AUD-011 must report
exactly the GenAI principals whose roles reach `customers`, each with exactly its paths.

The expected answer is computed here from the reference alone (not from the catalog or the
graph): a role reaches the data when it holds bigquery.tables.getData, or may grant itself
read (datasets.update/setIamPolicy, or setIamPolicy on the project, a folder or the
organization); a role that may act as a service account (actAs, getAccessToken, signBlob,
signJwt, setIamPolicy on accounts, keys.create, implicitDelegation) reaches what the
project's ETL account reads.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.access.catalog import REFERENCE, Reference, read_reference
from auditor.cli import main
from tests.support.estates import ExportEstate

P = "gac-prod-471220"
N = "612345678901"
CUSTOMERS = f"//bigquery.googleapis.com/projects/{P}/datasets/customers"
ETL = f"serviceAccount:etl@{P}.iam.gserviceaccount.com"
GENAI = [
    f"serviceAccount:service-{N}@gcp-sa-aiplatform.iam.gserviceaccount.com",
    f"serviceAccount:service-{N}@gcp-sa-discoveryengine.iam.gserviceaccount.com",
    f"serviceAccount:service-{N}@gcp-sa-dialogflow.iam.gserviceaccount.com",
    f"serviceAccount:service-{N}@gcp-sa-vertex-rag.iam.gserviceaccount.com",
    f"serviceAccount:service-{N}@gcp-sa-cloudaicompanion.iam.gserviceaccount.com",
    f"serviceAccount:service-{N}@gcp-sa-prod-dai-core.iam.gserviceaccount.com",
    f"serviceAccount:service-{N}@gcp-sa-contactcenterinsights.iam.gserviceaccount.com",
    f"serviceAccount:service-{N}@cloud-ml.iam.gserviceaccount.com",
    f"serviceAccount:bqcx-{N}-k3x9@gcp-sa-bigquery-condel.iam.gserviceaccount.com",
    f"serviceAccount:rag-indexer@{P}.iam.gserviceaccount.com",  # AUD-011's platform pattern
]
OTHERS = [
    "user:ana@convergence.example",
    "group:analysts@convergence.example",
    f"serviceAccount:service-{N}@gcp-sa-logging.iam.gserviceaccount.com",
    f"serviceAccount:service-{N}@container-engine-robot.iam.gserviceaccount.com",
    f"serviceAccount:service-{N}@gcp-sa-datastream.iam.gserviceaccount.com",
]
RAG = f"serviceAccount:rag-indexer@{P}.iam.gserviceaccount.com"
ACCOUNTS = (ETL, RAG)  # the project's own (user-managed) service accounts
RESOURCES = [f"projects/{P}", "folders/615723004981", "organizations/482910375812"]
READ = "bigquery.tables.getData"
SELF_GRANT = {
    "bigquery.datasets.update",
    "bigquery.datasets.setIamPolicy",
    "resourcemanager.projects.setIamPolicy",
    "resourcemanager.folders.setIamPolicy",
    "resourcemanager.organizations.setIamPolicy",
}
IMPERSONATE = {
    "iam.serviceAccounts.actAs",
    "iam.serviceAccounts.getAccessToken",
    "iam.serviceAccounts.signBlob",
    "iam.serviceAccounts.signJwt",
    "iam.serviceAccounts.setIamPolicy",
    "iam.serviceAccountKeys.create",
    "iam.serviceAccounts.implicitDelegation",
}
ROLES_PER_ESTATE = 60
SEEDS = (1, 2, 3, 4, 5)

Hop = dict[str, str]
Path_ = tuple[str, ...]  # a path as its hops' JSON, for set comparison


@pytest.fixture(scope="module")
def reference() -> Reference:
    return read_reference(REFERENCE)


def draw_roles(reference: Reference, rng: random.Random) -> list[str]:
    """Two thirds from every role, one third from those that hold something the graph
    follows (so each estate has readers, self-granters and impersonators)."""
    every = sorted(reference.roles)
    tracked = READ, *SELF_GRANT, *IMPERSONATE
    relevant = [r for r in every if set(reference.roles[r]) & set(tracked)]
    picked = rng.sample(every, 2 * ROLES_PER_ESTATE // 3)
    picked += rng.sample(relevant, ROLES_PER_ESTATE - len(picked))
    return picked


def build(reference: Reference, seed: int) -> tuple[ExportEstate, dict[str, set[Path_]]]:
    """The estate, and for every GenAI principal that reaches customers, its paths."""
    rng = random.Random(seed)
    estate = ExportEstate(project=P, number=N)
    estate.dataset("customers", [("groupByEmail", "platform-admins@convergence.example", "OWNER")])
    estate.table("customers", "customer_profiles")
    estate.group("platform-admins@convergence.example", ["user:admin@convergence.example"])
    estate.group("analysts@convergence.example", ["user:bo@convergence.example"])
    for account in ACCOUNTS:
        estate.account(account.removeprefix("serviceAccount:"))
    # The ETL account reads every dataset of the project: whoever can act as it can too.
    bindings = [(f"projects/{P}", "roles/bigquery.dataViewer", ETL)]
    for role in draw_roles(reference, rng):
        bindings.append((rng.choice(RESOURCES), role, rng.choice(GENAI + OTHERS)))
    for resource, role, member in bindings:
        estate.bind(resource, role, member)
    expected = {
        member: found
        for member in GENAI
        if (found := expected_paths(reference, bindings, member, frozenset()))
    }
    return estate, expected


def expected_paths(
    reference: Reference,
    bindings: list[tuple[str, str, str]],
    member: str,
    visited: frozenset[str],
) -> set[Path_]:
    """Every path of `member` to customers: its own reading (or self-granting) bindings,
    and through each project service account it may act as (a binding on the project, its
    folder or organization covers every account of the project), never twice the same node."""
    found: set[Path_] = set()
    for resource, role, holder in bindings:
        if holder != member:
            continue
        perms = set(reference.roles[role])
        if READ in perms or perms & SELF_GRANT:
            found.add(path(hop("resource-iam", member, resource, role)))
        if not perms & IMPERSONATE:
            continue
        for account in ACCOUNTS:
            if account == member or account in visited:
                continue
            via = hop("impersonation", member, account, role, policy=resource)
            for rest in expected_paths(reference, bindings, account, visited | {member}):
                found.add((*path(via), *rest))
    return found


def hop(kind: str, member: str, subject: str, detail: str, policy: str = "") -> Hop:
    out = {"kind": kind, "member": member, "subject": subject, "detail": detail}
    if policy:
        out["policy"] = policy
    return out


def path(*hops: Hop) -> Path_:
    return tuple(json.dumps(h, sort_keys=True) for h in hops)


def scan(folder: Path, out: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        main,
        ["scan", "--exports", str(folder), "-f", "json", "-o", str(out),
         "--evaluation-time", "2026-09-01"],
    )  # fmt: skip
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(out.read_text(encoding="utf-8"))


def findings(report: dict[str, Any], rule: str, status: str) -> Iterator[dict[str, Any]]:
    return (f for f in report["findings"] if f["rule_id"] == rule and f["status"] == status)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_random_estate_scans_complete_and_names_exactly_its_genai_readers(
    reference: Reference, seed: int, tmp_path: Path
) -> None:
    estate, expected = build(reference, seed)
    code, report = scan(estate.write(tmp_path / "exports"), tmp_path / "report.json")

    assert report["run"]["complete"] is True, report["run"]["coverage"]
    assert [f for f in report["findings"] if f["status"] == "ERROR"] == []
    assert code in (0, 1)
    found = {f["principal"]: f for f in findings(report, "AUD-011", "FAIL")}
    assert set(found) == set(expected)
    for principal, finding in found.items():
        assert finding["resource"] == CUSTOMERS
        got = {path(*hops) for hops in finding["evidence"]["paths"]}
        assert got == expected[principal], principal
    if not expected:
        assert [f["resource"] for f in findings(report, "AUD-011", "PASS")] == [CUSTOMERS]


def test_the_draws_cover_what_the_graph_follows(reference: Reference) -> None:
    """The seeds are not all trivial: across them some GenAI principal reads, some may grant
    itself read and some impersonates the ETL account."""
    kinds: set[str] = set()
    for seed in SEEDS:
        _, expected = build(reference, seed)
        for paths in expected.values():
            for p in paths:
                first = json.loads(p[0])
                perms = set(reference.roles[first["detail"]])
                if first["kind"] == "impersonation":
                    kinds.add("impersonation")
                else:
                    kinds.add("read" if READ in perms else "self-grant")
    assert kinds == {"read", "self-grant", "impersonation"}
