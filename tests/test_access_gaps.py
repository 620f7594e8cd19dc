"""A coverage gap counts only where it can change the answer; AUD-015's readers allowlist;
roles that do not exist; delegation chains and custom roles one may change.

Each rule's result for `customers` is asserted exactly: the failing principals, and whether
the rule is an ERROR (a gap that could hide a path it is about) or a PASS (gaps that cannot
change it are kept as evidence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from auditor.access import AccessGraph, Capability, GapKind, HopKind
from auditor.model import (
    AccessEntry,
    CheckContext,
    CustomRole,
    Dataset,
    GranteeKind,
    GroupMembership,
    IamBinding,
    Inventory,
    ResourcePolicy,
    RoleStatus,
    Status,
    dataset_resource,
)
from auditor.policy.checks import REGISTRY
from auditor.policy.checks import access as access_checks  # noqa: F401  (registers the kinds)
from auditor.policy.engine import evaluate as run_rules
from auditor.policy.loader import load_rule
from auditor.resources import POLICIES_DIR

P = "p"
NOW = datetime(2026, 9, 1, tzinfo=UTC)
CUSTOMERS = dataset_resource(P, "customers")
VIEWER = "roles/bigquery.dataViewer"
MYSTERY = "roles/mystery.reader"  # in no catalog
VERTEX = "serviceAccount:service-1@gcp-sa-aiplatform.iam.gserviceaccount.com"
LOGGING = "serviceAccount:service-1@gcp-sa-logging.iam.gserviceaccount.com"
ETL = "serviceAccount:etl@p.iam.gserviceaccount.com"
ALICE = "user:alice@convergence.example"
ADMINS = "group:platform-admins@convergence.example"
ANCESTRY = ("projects/p", "folders/1", "organizations/9")


def estate(
    *,
    project: Sequence[IamBinding] = (),
    org: Sequence[IamBinding] = (),
    access: Sequence[AccessEntry] = (),
    groups: Sequence[tuple[str, str]] = (),
    roles: Sequence[CustomRole] = (),
    accounts: Sequence[ResourcePolicy] = (),
) -> Inventory:
    owner = AccessEntry(GranteeKind.GROUP, "platform-admins@convergence.example", "OWNER")
    return Inventory(
        root=".",
        project=P,
        datasets=(Dataset(P, "customers", access=(owner, *access)),),
        ancestry=ANCESTRY,
        iam_policies=(
            ResourcePolicy("projects/p", tuple(project)),
            ResourcePolicy("folders/1", ()),
            ResourcePolicy("organizations/9", tuple(org)),
            *accounts,
        ),
        group_memberships=(
            GroupMembership(
                "platform-admins@convergence.example", "user:admin@convergence.example"
            ),
            *(GroupMembership(g, m) for g, m in groups),
        ),
        custom_roles=tuple(roles),
    )


def results(inventory: Inventory, stem: str, **params: Any) -> list[tuple[Status, str | None]]:
    """(status, principal) of one shipped rule on `customers`, its params overridden."""
    [path] = POLICIES_DIR.glob(f"{stem}-*.yaml")
    rule = load_rule(path, REGISTRY)
    if params:
        rule = replace(rule, params={**rule.params, **params})
    findings = run_rules(inventory, [rule], REGISTRY, CheckContext(NOW))
    return sorted(((f.status, f.principal) for f in findings), key=str)


def status(inventory: Inventory, stem: str) -> list[Status]:
    return sorted({s for s, _ in results(inventory, stem)})


# ---------------------------------------------------------------------------- relevance


def test_an_unknown_role_held_by_a_user_cannot_let_genai_in() -> None:
    inventory = estate(project=[IamBinding(MYSTERY, (ALICE,))])
    assert results(inventory, "AUD-011") == [(Status.PASS, None)]
    [gap] = AccessGraph.build(inventory, now=NOW).readers("customers").gaps
    assert (gap.kind, gap.anyone, gap.affects) == (GapKind.UNKNOWN_ROLE, False, (ALICE,))
    # AUD-012: a user is not the public. AUD-013: a project-level unknown role might read.
    assert results(inventory, "AUD-012") == [(Status.PASS, None)]
    assert results(inventory, "AUD-013") == [(Status.ERROR, None)]


@pytest.mark.parametrize(
    "holder",
    [
        "group:unexpanded@convergence.example",  # its members are not in the inventory
        "allUsers",
        "domain:convergence.example",
        VERTEX,
    ],
)
def test_an_unknown_role_held_by_what_may_be_genai_is_an_error(holder: str) -> None:
    inventory = estate(project=[IamBinding(MYSTERY, (holder,))])
    assert results(inventory, "AUD-011") == [(Status.ERROR, None)]


def test_an_unknown_role_held_by_an_account_genai_can_impersonate_is_an_error() -> None:
    impersonable = ResourcePolicy(
        "projects/p/serviceAccounts/etl@p.iam.gserviceaccount.com",
        (IamBinding("roles/iam.serviceAccountTokenCreator", (VERTEX,)),),
    )
    inventory = estate(project=[IamBinding(MYSTERY, (ETL,))], accounts=[impersonable])
    assert results(inventory, "AUD-011") == [(Status.ERROR, None)]
    alone = estate(project=[IamBinding(MYSTERY, (ETL,))])  # nobody GenAI can act as it
    assert results(alone, "AUD-011") == [(Status.PASS, None)]


def test_a_gap_about_a_principal_already_reported_changes_nothing() -> None:
    inventory = estate(project=[IamBinding(VIEWER, (VERTEX,)), IamBinding(MYSTERY, (VERTEX,))])
    assert results(inventory, "AUD-011") == [(Status.FAIL, VERTEX)]


def test_public_gaps_are_about_public_principals_only() -> None:
    group = estate(project=[IamBinding(MYSTERY, ("group:unexpanded@convergence.example",))])
    assert results(group, "AUD-012") == [(Status.PASS, None)]
    public = estate(project=[IamBinding(MYSTERY, ("allAuthenticatedUsers",))])
    assert results(public, "AUD-012") == [(Status.ERROR, None)]


def test_organization_viewer_on_the_organization_makes_no_rule_an_error() -> None:
    inventory = estate(
        org=[
            IamBinding("roles/resourcemanager.organizationViewer", ("domain:convergence.example",))
        ]
    )
    for stem in ("AUD-011", "AUD-012", "AUD-013", "AUD-015"):
        assert status(inventory, stem) == [Status.PASS], stem


def test_a_missing_policy_can_hide_anyone() -> None:
    inventory = estate()
    inventory = Inventory(
        root=".",
        project=P,
        datasets=inventory.datasets,
        ancestry=ANCESTRY,
        iam_policies=inventory.iam_policies[:2],  # the organization's is missing
        group_memberships=inventory.group_memberships,
    )
    for stem in ("AUD-011", "AUD-012", "AUD-013", "AUD-015"):
        assert status(inventory, stem) == [Status.ERROR], stem


# ---------------------------------------------------------------------------- looked-up roles


def test_a_role_that_does_not_exist_grants_nothing_and_the_result_says_so() -> None:
    gone = CustomRole(MYSTERY, (), RoleStatus.DELETED, "IAM roles.get: 404 Not Found")
    inventory = estate(project=[IamBinding(MYSTERY, (VERTEX,))], roles=[gone])
    answer = AccessGraph.build(inventory, now=NOW).readers("customers")
    assert (answer.principals(), answer.gaps) == (("user:admin@convergence.example",), ())
    assert answer.notes == (
        f"role {MYSTERY} (granted on projects/p) does not exist (IAM roles.get: 404 Not Found): "
        "its bindings grant nothing",
    )
    [path] = POLICIES_DIR.glob("AUD-011-*.yaml")
    [finding] = run_rules(inventory, [load_rule(path, REGISTRY)], REGISTRY, CheckContext(NOW))
    assert finding.status is Status.PASS
    assert "does not exist (IAM roles.get: 404 Not Found)" in finding.message
    assert finding.evidence["notes"] == list(answer.notes)


def test_an_unresolved_lookup_stays_a_gap_that_says_why() -> None:
    failed = CustomRole(MYSTERY, (), RoleStatus.UNRESOLVED, "IAM roles.get: 403 Forbidden")
    inventory = estate(project=[IamBinding(MYSTERY, (VERTEX,))], roles=[failed])
    [gap] = AccessGraph.build(inventory, now=NOW).readers("customers").gaps
    assert gap.reason == (
        f"role {MYSTERY} (granted on projects/p) is not in the role catalog and its lookup "
        "failed (IAM roles.get: 403 Forbidden): whether its members can read data is unknown"
    )
    assert results(inventory, "AUD-011") == [(Status.ERROR, None)]


def test_a_looked_up_definition_is_used() -> None:
    found = CustomRole(MYSTERY, ("bigquery.tables.getData",), RoleStatus.DEFINED, "IAM roles.get")
    inventory = estate(project=[IamBinding(MYSTERY, (VERTEX,))], roles=[found])
    assert results(inventory, "AUD-011") == [(Status.FAIL, VERTEX)]


# ---------------------------------------------------------------------------- escalation


def test_implicit_delegation_is_a_link_of_a_chain_only() -> None:
    delegate = CustomRole("projects/p/roles/delegate", ("iam.serviceAccounts.implicitDelegation",))
    relay = "serviceAccount:relay@p.iam.gserviceaccount.com"
    etl_policy = ResourcePolicy(
        "projects/p/serviceAccounts/etl@p.iam.gserviceaccount.com",
        (IamBinding("roles/iam.serviceAccountTokenCreator", (relay,)),),
    )
    relay_policy = ResourcePolicy(
        "projects/p/serviceAccounts/relay@p.iam.gserviceaccount.com",
        (IamBinding(delegate.name, (VERTEX,)),),
    )
    chain = estate(
        project=[IamBinding(VIEWER, (ETL,))], roles=[delegate], accounts=[etl_policy, relay_policy]
    )
    answer = AccessGraph.build(chain, now=NOW).paths_for(VERTEX, "customers")
    assert [[h.kind for h in p.hops] for p in answer.paths] == [
        [HopKind.IMPERSONATION, HopKind.IMPERSONATION, HopKind.RESOURCE_IAM]
    ]
    # Delegating straight to the account that reads: a link with nothing after it.
    direct = ResourcePolicy(
        "projects/p/serviceAccounts/etl@p.iam.gserviceaccount.com",
        (IamBinding(delegate.name, (VERTEX,)),),
    )
    alone = estate(project=[IamBinding(VIEWER, (ETL,))], roles=[delegate], accounts=[direct])
    assert AccessGraph.build(alone, now=NOW).paths_for(VERTEX, "customers").paths == ()


def test_who_may_change_a_custom_role_they_hold_can_grant_themselves_read() -> None:
    custom = CustomRole("projects/p/roles/meta", ("bigquery.datasets.get",))
    inventory = estate(
        project=[
            IamBinding(custom.name, (ALICE, VERTEX)),
            IamBinding("roles/iam.roleAdmin", ("group:role-admins@convergence.example",)),
        ],
        groups=[("role-admins@convergence.example", ALICE)],
        roles=[custom],
    )
    answer = AccessGraph.build(inventory, now=NOW).readers("customers")
    [path] = [p for p in answer.paths if p.principal == ALICE]
    assert path.capability is Capability.SELF_GRANT
    assert [(h.kind, h.member, h.subject, h.detail) for h in path.hops] == [
        (HopKind.ROLE_UPDATE, "group:role-admins@convergence.example", custom.name,
         "roles/iam.roleAdmin"),
        (HopKind.RESOURCE_IAM, ALICE, "projects/p", custom.name),
    ]  # fmt: skip
    assert VERTEX not in answer.principals()  # holds the role, cannot change it


# ---------------------------------------------------------------------------- AUD-015


def test_the_readers_allowlist_reports_everyone_else() -> None:
    inventory = estate(
        access=[AccessEntry(GranteeKind.GROUP, "analysts@convergence.example", "READER")],
        project=[IamBinding(VIEWER, (ETL, LOGGING))],
        groups=[("analysts@convergence.example", ALICE), ("analysts@convergence.example", VERTEX)],
        accounts=[
            ResourcePolicy(
                "projects/p/serviceAccounts/etl@p.iam.gserviceaccount.com",
                (IamBinding("roles/iam.serviceAccountUser", ("user:dev@convergence.example",)),),
            )
        ],
    )
    approved = [ADMINS, "group:analysts@convergence.example", ETL]
    found = results(inventory, "AUD-015", approved_readers=approved)
    # Approved: the admins, the analysts group's members (alice, even the Vertex agent: the
    # group is approved, AUD-011 is the rule that catches it), the ETL account. Not: the
    # developer who can act as the ETL account, and the Logging service agent.
    assert found == [(Status.FAIL, LOGGING), (Status.FAIL, "user:dev@convergence.example")]


def test_a_service_agent_outside_both_lists_is_named_with_its_product() -> None:
    inventory = estate(project=[IamBinding(VIEWER, (LOGGING,))])
    [path] = POLICIES_DIR.glob("AUD-015-*.yaml")
    findings = run_rules(inventory, [load_rule(path, REGISTRY)], REGISTRY, CheckContext(NOW))
    [fail] = [f for f in findings if f.status is Status.FAIL]
    assert fail.principal == LOGGING
    assert (
        "Google-managed service agent of Cloud Logging Service Account (logging.googleapis.com), "
        "not an approved reader" in fail.message
    )
    assert results(inventory, "AUD-011") == [(Status.PASS, None)]  # not a GenAI agent


def test_the_shipped_allowlist_passes_the_admins() -> None:
    assert results(estate(), "AUD-015") == [(Status.PASS, None)]


@pytest.mark.parametrize(("holder", "expected"), [(VERTEX, Status.ERROR), (ALICE, Status.PASS)])
def test_an_unknown_role_on_an_account_policy_matters_if_its_holder_could_be_genai(
    holder: str, expected: Status
) -> None:
    """Whether MYSTERY lets its holder act as the ETL account (which reads customers) is
    unknown: that could let the Vertex AI agent in, not alice."""
    policy = ResourcePolicy(
        "projects/p/serviceAccounts/etl@p.iam.gserviceaccount.com",
        (IamBinding(MYSTERY, (holder,)),),
    )
    inventory = estate(project=[IamBinding(VIEWER, (ETL,))], accounts=[policy])
    assert results(inventory, "AUD-011") == [(expected, None)]
    [gap] = AccessGraph.build(inventory, now=NOW).readers("customers").gaps
    assert gap.affects == (holder,)
