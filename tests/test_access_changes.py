"""Paths that need a change first, with the exact principals and hops.

Authorized views, datasets and routines: who may only change what one exposes (update the
view's SQL, create a view in an authorized dataset, update an authorized routine) has no path,
because Google drops the authorization of a changed view or routine and a view of an
authorized dataset can be created or changed only with read on what it references
(reference/bigquery/authorized-resources.md). Whoever reads, or may grant itself read on, the
view's dataset or the view is a path, cut by removing that access or the authorization.

Custom roles one may change (`iam.roles.update` where the role is defined): a binding of one
on a service account's policy lets a holder that may change it act as the account, for project
and organization custom roles alike; an organization role is changed only from the
organization.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from auditor.access import AccessAnswer, AccessGraph, Capability, Hop, HopKind, explain
from auditor.access.explain import cuts
from auditor.model import (
    AccessEntry,
    CheckContext,
    CustomRole,
    Dataset,
    DenyPolicy,
    DenyRule,
    GranteeKind,
    GroupMembership,
    IamBinding,
    Inventory,
    ResourcePolicy,
    Status,
    Table,
    dataset_resource,
    table_resource_name,
)
from auditor.policy.checks import REGISTRY
from auditor.policy.checks import access as access_checks  # noqa: F401  (registers the kinds)
from auditor.policy.engine import evaluate as run_rules
from auditor.policy.loader import load_rule
from auditor.resources import POLICIES_DIR

P = "p"
NOW = datetime(2026, 9, 1, tzinfo=UTC)
CUSTOMERS = dataset_resource(P, "customers")
ACME = dataset_resource(P, "acme")
ACME_V = table_resource_name(P, "acme", "usage_v")
MASK = f"{ACME}/routines/mask"
VIEWER = "roles/bigquery.dataViewer"
EDITOR = "roles/bigquery.dataEditor"
ROLE_ADMIN = "roles/iam.roleAdmin"
ORG_ROLE_ADMIN = "roles/iam.organizationRoleAdmin"
VERTEX_EMAIL = "service-1@gcp-sa-aiplatform.iam.gserviceaccount.com"
VERTEX = f"serviceAccount:{VERTEX_EMAIL}"
ETL_EMAIL = "etl@p.iam.gserviceaccount.com"
ETL = f"serviceAccount:{ETL_EMAIL}"
ETL_POLICY = f"projects/p/serviceAccounts/{ETL_EMAIL}"
ALICE = "user:alice@convergence.example"
BOB = "user:bob@convergence.example"
ML = "group:ml@convergence.example"
ROLE_ADMINS = "group:role-admins@convergence.example"
ANCESTRY = ("projects/p", "folders/1", "organizations/9")

VIEW_ENTRY = AccessEntry(GranteeKind.VIEW, "projects/p/datasets/acme/tables/usage_v")
DATASET_ENTRY = AccessEntry(GranteeKind.DATASET, "projects/p/datasets/acme", None, ("VIEWS",))
ROUTINE_ENTRY = AccessEntry(GranteeKind.ROUTINE, "projects/p/datasets/acme/routines/mask")
# Custom roles that change what an authorized object exposes, and nothing else.
VIEW_CHANGER = CustomRole(
    "projects/p/roles/viewChanger",
    ("bigquery.tables.get", "bigquery.tables.list", "bigquery.tables.update"),
)
VIEW_CREATOR = CustomRole(
    "projects/p/roles/viewCreator", ("bigquery.datasets.get", "bigquery.tables.create")
)
ROUTINE_CHANGER = CustomRole("projects/p/roles/routineChanger", ("bigquery.routines.update",))
ACL_CHANGER = CustomRole("projects/p/roles/aclChanger", ("bigquery.datasets.update",))
# Custom roles that let their holder see a service account, not act as it.
ACCOUNT_VIEWER = CustomRole("projects/p/roles/accountViewer", ("iam.serviceAccounts.get",))
ORG_ACCOUNT_VIEWER = CustomRole("organizations/9/roles/accountViewer", ("iam.serviceAccounts.get",))
ORG_METADATA = CustomRole("organizations/9/roles/metadata", ("bigquery.datasets.get",))
ALL_ROLES = (
    VIEW_CHANGER,
    VIEW_CREATOR,
    ROUTINE_CHANGER,
    ACL_CHANGER,
    ACCOUNT_VIEWER,
    ORG_ACCOUNT_VIEWER,
    ORG_METADATA,
)


def estate(
    *,
    customers: Sequence[AccessEntry] = (),
    acme: Sequence[AccessEntry] = (),
    view_iam: Sequence[IamBinding] = (),
    project: Sequence[IamBinding] = (),
    org: Sequence[IamBinding] = (),
    etl: Sequence[IamBinding] = (),
    groups: Sequence[tuple[str, str]] = (),
    deny: Sequence[DenyPolicy] = (),
) -> Inventory:
    """customers (with `customers` entries), the tenant dataset acme with its view usage_v
    (table IAM read), the ETL account's policy; every policy of the hierarchy read."""
    return Inventory(
        root=".",
        project=P,
        datasets=(
            Dataset(P, "customers", access=tuple(customers)),
            Dataset(P, "acme", access=tuple(acme)),
        ),
        live_tables=(Table(P, "acme", "usage_v", type="VIEW", iam=tuple(view_iam)),),
        ancestry=ANCESTRY,
        iam_policies=(
            ResourcePolicy("projects/p", tuple(project)),
            ResourcePolicy("folders/1", ()),
            ResourcePolicy("organizations/9", tuple(org)),
            ResourcePolicy(ETL_POLICY, tuple(etl)),
        ),
        group_memberships=tuple(GroupMembership(g.removeprefix("group:"), m) for g, m in groups),
        deny_policies=tuple(deny),
        custom_roles=ALL_ROLES,
    )


def readers(inventory: Inventory) -> AccessAnswer:
    answer = AccessGraph.build(inventory, now=NOW).readers("customers")
    assert answer.gaps == ()
    return answer


def hops_of(answer: AccessAnswer, principal: str) -> list[tuple[Capability, tuple[Hop, ...]]]:
    return [(p.capability, p.hops) for p in answer.paths if p.principal == principal]


def rule_results(inventory: Inventory, stem: str) -> list[tuple[Status, str | None]]:
    [path] = POLICIES_DIR.glob(f"{stem}-*.yaml")
    findings = run_rules(inventory, [load_rule(path, REGISTRY)], REGISTRY, CheckContext(NOW))
    return sorted(((f.status, f.principal) for f in findings), key=str)


def acl(member: str, role: str) -> AccessEntry:
    return AccessEntry(GranteeKind.IAM_MEMBER, member, role)


def authorized(kind: HopKind) -> Hop:
    return {
        HopKind.AUTHORIZED_VIEW: Hop(kind, CUSTOMERS, "authorized view", ACME_V),
        HopKind.AUTHORIZED_DATASET: Hop(kind, CUSTOMERS, "authorized dataset: its views", ACME),
        HopKind.AUTHORIZED_ROUTINE: Hop(kind, CUSTOMERS, "authorized routine", MASK),
    }[kind]


# ------------------------------------------------------------ changing an authorized object

CHANGE_ONLY = {
    "view: may change its SQL, granted on its dataset": estate(
        customers=[VIEW_ENTRY], acme=[acl(VERTEX, VIEW_CHANGER.name)]
    ),
    "view: may change its SQL, granted on the view (table IAM)": estate(
        customers=[VIEW_ENTRY], view_iam=[IamBinding(VIEW_CHANGER.name, (VERTEX,))]
    ),
    "view: may change its SQL, granted on the project": estate(
        customers=[VIEW_ENTRY], project=[IamBinding(VIEW_CHANGER.name, (VERTEX,))]
    ),
    "authorized dataset: may create views in it": estate(
        customers=[DATASET_ENTRY], acme=[acl(VERTEX, VIEW_CREATOR.name)]
    ),
    "authorized routine: may change it": estate(
        customers=[ROUTINE_ENTRY], acme=[acl(VERTEX, ROUTINE_CHANGER.name)]
    ),
}


@pytest.mark.parametrize("case", CHANGE_ONLY)
def test_who_may_only_change_an_authorized_object_has_no_path(case: str) -> None:
    inventory = CHANGE_ONLY[case]
    assert readers(inventory) == AccessAnswer(paths=())
    assert rule_results(inventory, "AUD-011") == [(Status.PASS, None)]


READ_OR_GRANT: dict[str, tuple[Inventory, Capability, tuple[Hop, ...]]] = {
    "view: WRITER on its dataset reads it": (
        estate(customers=[VIEW_ENTRY], acme=[acl(VERTEX, EDITOR)]),
        Capability.READ,
        (Hop(HopKind.DATASET_ACL, ACME, EDITOR, VERTEX), authorized(HopKind.AUTHORIZED_VIEW)),
    ),
    "view: Data Editor on the view itself reads it": (
        estate(customers=[VIEW_ENTRY], view_iam=[IamBinding(EDITOR, (VERTEX,))]),
        Capability.READ,
        (Hop(HopKind.TABLE_IAM, ACME_V, EDITOR, VERTEX), authorized(HopKind.AUTHORIZED_VIEW)),
    ),
    "view: may rewrite its dataset's access list, so may grant itself read": (
        estate(customers=[VIEW_ENTRY], acme=[acl(VERTEX, ACL_CHANGER.name)]),
        Capability.SELF_GRANT,
        (
            Hop(HopKind.DATASET_ACL, ACME, ACL_CHANGER.name, VERTEX),
            authorized(HopKind.AUTHORIZED_VIEW),
        ),
    ),
    "view: may change the custom role it holds there, so may add read to it": (
        estate(
            customers=[VIEW_ENTRY],
            acme=[acl(VERTEX, VIEW_CHANGER.name)],
            project=[IamBinding(ROLE_ADMIN, (VERTEX,))],
        ),
        Capability.SELF_GRANT,
        (
            Hop(HopKind.ROLE_UPDATE, VIEW_CHANGER.name, ROLE_ADMIN, VERTEX, "projects/p"),
            Hop(HopKind.DATASET_ACL, ACME, VIEW_CHANGER.name, VERTEX),
            authorized(HopKind.AUTHORIZED_VIEW),
        ),
    ),
    "authorized dataset: WRITER on it reads its views": (
        estate(customers=[DATASET_ENTRY], acme=[acl(VERTEX, EDITOR)]),
        Capability.READ,
        (Hop(HopKind.DATASET_ACL, ACME, EDITOR, VERTEX), authorized(HopKind.AUTHORIZED_DATASET)),
    ),
    "authorized routine: WRITER on its dataset calls it": (
        estate(customers=[ROUTINE_ENTRY], acme=[acl(VERTEX, EDITOR)]),
        Capability.READ,
        (Hop(HopKind.DATASET_ACL, ACME, EDITOR, VERTEX), authorized(HopKind.AUTHORIZED_ROUTINE)),
    ),
}


@pytest.mark.parametrize("case", READ_OR_GRANT)
def test_who_reads_or_may_grant_itself_the_authorized_object_is_a_path(case: str) -> None:
    inventory, capability, hops = READ_OR_GRANT[case]
    answer = readers(inventory)
    assert answer.principals() == (VERTEX,)
    assert hops_of(answer, VERTEX) == [(capability, hops)]
    assert rule_results(inventory, "AUD-011") == [(Status.FAIL, VERTEX)]


def test_a_writer_of_the_view_dataset_is_cut_by_its_access_or_the_authorization() -> None:
    answer = readers(estate(customers=[VIEW_ENTRY], acme=[acl(VERTEX, "WRITER")]))
    [path] = answer.paths
    assert cuts(path) == [
        f"remove the access entry {VERTEX} ({EDITOR}) from {ACME}",
        f"remove the authorized view {ACME_V} from the access list of {CUSTOMERS}",
    ]
    assert explain(answer) == (
        f"{VERTEX} can read {CUSTOMERS} by 1 path:\n"
        f"  1. {VERTEX} holds {EDITOR} in the access list of {ACME}\n"
        f"     -> {ACME_V} is an authorized view on {CUSTOMERS}: its readers read what it "
        "selects\n"
        "  what would cut it:\n"
        "    path 1, any of:\n"
        f"      - remove the access entry {VERTEX} ({EDITOR}) from {ACME}\n"
        f"      - remove the authorized view {ACME_V} from the access list of {CUSTOMERS}\n"
    )


# ------------------------------------------------------------ custom roles one may change


def account_hop(role: str, holder: str) -> Hop:
    return Hop(HopKind.IMPERSONATION, ETL, role, holder, ETL_POLICY)


ETL_READS = IamBinding(VIEWER, (ETL,))
ETL_GRANT = Hop(HopKind.RESOURCE_IAM, "projects/p", VIEWER, ETL)


def test_a_custom_role_its_holder_may_change_on_an_account_policy_lets_it_act_as_it() -> None:
    inventory = estate(
        project=[ETL_READS, IamBinding(ROLE_ADMIN, (ALICE, BOB))],
        etl=[IamBinding(ACCOUNT_VIEWER.name, (ALICE, VERTEX))],
    )
    answer = readers(inventory)
    # Alice holds the role and may change it: add getAccessToken, then act as the account.
    # The Vertex AI agent holds it and may not change it; Bob may change it, holds nothing.
    assert answer.principals() == (ETL, ALICE)
    assert hops_of(answer, ALICE) == [
        (
            Capability.SELF_GRANT,
            (
                Hop(HopKind.ROLE_UPDATE, ACCOUNT_VIEWER.name, ROLE_ADMIN, ALICE, "projects/p"),
                account_hop(ACCOUNT_VIEWER.name, ALICE),
                ETL_GRANT,
            ),
        )
    ]
    [alice] = [p for p in answer.paths if p.principal == ALICE]
    assert cuts(alice) == [
        f"remove {ALICE} from the {ROLE_ADMIN} binding on projects/p",
        f"remove {ALICE} from the {ACCOUNT_VIEWER.name} binding on {ETL_POLICY}",
        f"remove {ETL} from the {VIEWER} binding on projects/p",
    ]


def test_a_group_holding_the_role_lets_in_only_its_members_who_may_change_it() -> None:
    inventory = estate(
        project=[ETL_READS, IamBinding(ROLE_ADMIN, (ROLE_ADMINS,))],
        etl=[IamBinding(ACCOUNT_VIEWER.name, (ML,))],
        groups=[(ML, ALICE), (ML, VERTEX), (ROLE_ADMINS, ALICE)],
    )
    answer = readers(inventory)
    assert answer.principals() == (ETL, ALICE)
    assert hops_of(answer, ALICE) == [
        (
            Capability.SELF_GRANT,
            (
                Hop(
                    HopKind.ROLE_UPDATE, ACCOUNT_VIEWER.name, ROLE_ADMIN, ROLE_ADMINS, "projects/p"
                ),
                Hop(HopKind.GROUP_MEMBER, ML, "member", ALICE),
                account_hop(ACCOUNT_VIEWER.name, ML),
                ETL_GRANT,
            ),
        )
    ]


@pytest.mark.parametrize(
    ("updater", "expected"),
    [
        ((), False),  # nobody may change it
        ([("organizations/9", ORG_ROLE_ADMIN)], True),
        ([("organizations/9", ROLE_ADMIN)], True),  # Role Administrator on the organization
        ([("projects/p", ROLE_ADMIN)], False),  # a project's role admin cannot change it
        ([("projects/p", ORG_ROLE_ADMIN)], False),  # nor anyone granted on the project
    ],
)
def test_an_organization_custom_role_is_changed_from_the_organization_only(
    updater: Sequence[tuple[str, str]], expected: bool
) -> None:
    grants = {where: [IamBinding(role, (ALICE,))] for where, role in updater}
    inventory = estate(
        project=[ETL_READS, *grants.get("projects/p", [])],
        org=grants.get("organizations/9", []),
        etl=[IamBinding(ORG_ACCOUNT_VIEWER.name, (ALICE,))],
    )
    answer = readers(inventory)
    if not expected:
        assert answer.principals() == (ETL,)
        return
    [(_, role)] = updater
    assert hops_of(answer, ALICE) == [
        (
            Capability.SELF_GRANT,
            (
                Hop(HopKind.ROLE_UPDATE, ORG_ACCOUNT_VIEWER.name, role, ALICE, "organizations/9"),
                account_hop(ORG_ACCOUNT_VIEWER.name, ALICE),
                ETL_GRANT,
            ),
        )
    ]


def test_an_organization_custom_role_granted_on_the_project_its_holder_may_change() -> None:
    inventory = estate(
        project=[IamBinding(ORG_METADATA.name, (ALICE, VERTEX))],
        org=[IamBinding(ORG_ROLE_ADMIN, (ALICE,))],
    )
    answer = readers(inventory)
    assert answer.principals() == (ALICE,)
    assert hops_of(answer, ALICE) == [
        (
            Capability.SELF_GRANT,
            (
                Hop(
                    HopKind.ROLE_UPDATE, ORG_METADATA.name, ORG_ROLE_ADMIN, ALICE, "organizations/9"
                ),
                Hop(HopKind.RESOURCE_IAM, "projects/p", ORG_METADATA.name, ALICE),
            ),
        )
    ]
    # The same role changed by a project's role admin: no path.
    other = estate(
        project=[IamBinding(ORG_METADATA.name, (ALICE,)), IamBinding(ROLE_ADMIN, (ALICE,))]
    )
    assert readers(other).paths == ()


def deny_alice(*permissions: str) -> DenyPolicy:
    rule = DenyRule(("principal://goog/subject/alice@convergence.example",), permissions)
    return DenyPolicy("cloudresourcemanager.googleapis.com%2Fprojects%2Fp", "no-alice", (rule,))


@pytest.mark.parametrize(
    ("denied", "kept"),
    [
        # Every permission the changed role could gain to act as the account: blocked.
        (
            (
                "iam.googleapis.com/serviceAccounts.*",
                "iam.googleapis.com/serviceAccountKeys.create",
            ),
            False,
        ),
        # One of them only: Alice adds another.
        (("iam.googleapis.com/serviceAccounts.getAccessToken",), True),
    ],
)
def test_deny_policies_judge_a_changed_role_by_every_permission_it_could_gain(
    denied: tuple[str, ...], kept: bool
) -> None:
    inventory = estate(
        project=[ETL_READS, IamBinding(ROLE_ADMIN, (ALICE,))],
        etl=[IamBinding(ACCOUNT_VIEWER.name, (ALICE,))],
        deny=[deny_alice(*denied)],
    )
    assert (ALICE in readers(inventory).principals()) is kept


def test_a_genai_agent_that_may_change_a_role_on_an_account_policy_fails_aud_011() -> None:
    inventory = estate(
        project=[ETL_READS, IamBinding(ROLE_ADMIN, (VERTEX,))],
        etl=[IamBinding(ACCOUNT_VIEWER.name, (VERTEX,))],
    )
    assert rule_results(inventory, "AUD-011") == [(Status.FAIL, VERTEX)]
    [path] = POLICIES_DIR.glob("AUD-011-*.yaml")
    findings = run_rules(inventory, [load_rule(path, REGISTRY)], REGISTRY, CheckContext(NOW))
    [fail] = findings
    assert "(can grant itself read)" in fail.message
    assert [h["kind"] for h in fail.evidence["paths"][0]] == [
        "role-update",
        "impersonation",
        "resource-iam",
    ]
