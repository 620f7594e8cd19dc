"""The effective-access graph: for each path kind a passing and a failing estate, with the
exact principals and the exact hop lists; then conditions, deny policies, gaps, the GenAI
catalog, the explanation and the three check kinds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from auditor.access import (
    AccessGap,
    AccessGraph,
    Capability,
    GapKind,
    Hop,
    HopKind,
    explain,
    is_genai,
    to_json,
)
from auditor.access.conditions import Truth, evaluate
from auditor.access.principals import GenAIKind
from auditor.access.roles import RoleCatalog, parse_catalog
from auditor.errors import InputError
from auditor.model import (
    AccessEntry,
    CheckContext,
    Condition,
    CustomRole,
    Dataset,
    DenyPolicy,
    DenyRule,
    GranteeKind,
    GroupMembership,
    IamBinding,
    Inventory,
    ResourcePolicy,
    Severity,
    Status,
    Table,
    dataset_resource,
    table_resource_name,
)
from auditor.policy.checks import REGISTRY
from auditor.policy.checks import access as access_checks  # noqa: F401  (registers the kinds)
from auditor.policy.engine import evaluate as run_rules
from auditor.policy.loader import load_rule
from auditor.policy.rule import Rule
from auditor.resources import POLICIES_DIR

P = "p"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CUSTOMERS = dataset_resource(P, "customers")
ACME = dataset_resource(P, "acme")
GLOBEX = dataset_resource(P, "globex")
VIEWER = "roles/bigquery.dataViewer"
GENAI_EMAIL = "service-123@gcp-sa-aiplatform.iam.gserviceaccount.com"
GENAI = f"serviceAccount:{GENAI_EMAIL}"
APP_EMAIL = "app@p.iam.gserviceaccount.com"
APP = f"serviceAccount:{APP_EMAIL}"
RUNNER_EMAIL = "runner@p.iam.gserviceaccount.com"
RUNNER = f"serviceAccount:{RUNNER_EMAIL}"
ALICE = "user:alice@convergence.example"
BOT = "user:ai-bot@convergence.example"
ANCESTRY = ("projects/p", "folders/1", "organizations/9")

Paths = dict[str, list[tuple[Hop, ...]]]


# --- building estates ------------------------------------------------------------------------


def entry(
    kind: GranteeKind,
    entity: str,
    role: str | None = VIEWER,
    condition: str | None = None,
    target_types: tuple[str, ...] = (),
) -> AccessEntry:
    cond = Condition(condition) if condition else None
    if kind in (GranteeKind.VIEW, GranteeKind.ROUTINE, GranteeKind.DATASET):
        role = None
    return AccessEntry(kind, entity, role, target_types, cond)


def ds(name: str, *entries: AccessEntry) -> Dataset:
    return Dataset(P, name, access=entries)


def binding(role: str, *members: str, condition: str | None = None) -> IamBinding:
    return IamBinding(role, members, Condition(condition) if condition else None)


def estate(
    *datasets: Dataset,
    tables: Sequence[Table] = (),
    project: Sequence[IamBinding] = (),
    folder: Sequence[IamBinding] = (),
    org: Sequence[IamBinding] = (),
    extra_policies: Sequence[ResourcePolicy] = (),
    groups: Sequence[tuple[str, str]] = (),
    deny: Sequence[DenyPolicy] = (),
    custom_roles: Sequence[CustomRole] = (),
) -> Inventory:
    """The customers and acme datasets (plus `datasets`, replacing same-named ones), the
    project's ancestry and IAM policies, every table's IAM read."""
    by_name = {"customers": ds("customers"), "acme": ds("acme")}
    by_name.update({d.dataset_id: d for d in datasets})
    return Inventory(
        root=".",
        project=P,
        datasets=tuple(by_name.values()),
        live_tables=tuple(tables),
        ancestry=ANCESTRY,
        iam_policies=(
            ResourcePolicy("projects/p", tuple(project)),
            ResourcePolicy("folders/1", tuple(folder)),
            ResourcePolicy("organizations/9", tuple(org)),
            *extra_policies,
        ),
        group_memberships=tuple(GroupMembership(g, m) for g, m in groups),
        deny_policies=tuple(deny),
        custom_roles=tuple(custom_roles),
    )


def table(dataset: str, name: str, *iam: IamBinding, kind: str = "TABLE") -> Table:
    return Table(P, dataset, name, type=kind, iam=tuple(iam))


def reach(inventory: Inventory, now: datetime | None = NOW) -> Paths:
    """principal -> hop lists of every path to the customers dataset; no gaps allowed."""
    answer = AccessGraph.build(inventory, now=now).readers("customers")
    assert answer.gaps == ()
    found: Paths = {}
    for path in answer.paths:
        found.setdefault(path.principal, []).append(path.hops)
    return found


def acl_hop(member: str, dataset: str = CUSTOMERS, role: str = VIEWER) -> Hop:
    return Hop(HopKind.DATASET_ACL, dataset, role, member)


# --- the matrix: one failing and one passing estate per path kind ----------------------------

U = GranteeKind.USER
G = GranteeKind.GROUP
CUSTOMERS_T = table_resource_name(P, "customers", "profiles")
ACME_V = table_resource_name(P, "acme", "usage_v")

MATRIX: list[tuple[str, Inventory, Paths]] = [
    (
        "direct-acl: fail",
        estate(ds("customers", entry(U, GENAI_EMAIL))),
        {GENAI: [(acl_hop(GENAI),)]},
    ),
    ("direct-acl: pass (tenant only)", estate(ds("acme", entry(U, GENAI_EMAIL))), {}),
    (
        "default projectReaders + roles/viewer: fail",
        estate(
            ds("customers", entry(GranteeKind.SPECIAL_GROUP, "projectReaders", "READER")),
            project=[binding("roles/viewer", GENAI)],
        ),
        {
            GENAI: [
                (
                    Hop(HopKind.BASIC_ROLE, "projectViewer:p", "roles/viewer", GENAI, "projects/p"),
                    acl_hop("projectViewer:p"),
                )
            ]
        },
    ),
    (
        "default projectReaders: pass (no basic role, only jobUser)",
        estate(
            ds("customers", entry(GranteeKind.SPECIAL_GROUP, "projectReaders", "READER")),
            project=[binding("roles/bigquery.jobUser", GENAI)],
        ),
        {},
    ),
    (
        "project-level dataViewer: fail",
        estate(project=[binding(VIEWER, GENAI)]),
        {GENAI: [(Hop(HopKind.RESOURCE_IAM, "projects/p", VIEWER, GENAI),)]},
    ),
    (
        "project-level: pass (metadataViewer reads no data)",
        estate(project=[binding("roles/bigquery.metadataViewer", GENAI)]),
        {},
    ),
    (
        "folder-level grant: fail",
        estate(folder=[binding("roles/bigquery.dataEditor", GENAI)]),
        {GENAI: [(Hop(HopKind.RESOURCE_IAM, "folders/1", "roles/bigquery.dataEditor", GENAI),)]},
    ),
    (
        "folder-level: pass (a folder that is not an ancestor)",
        estate(extra_policies=[ResourcePolicy("folders/2", (binding(VIEWER, GENAI),))]),
        {},
    ),
    (
        "nested group: fail",
        estate(
            ds("customers", entry(G, "outer@convergence.example")),
            groups=[
                ("outer@convergence.example", "group:inner@convergence.example"),
                ("inner@convergence.example", GENAI),
            ],
        ),
        {
            GENAI: [
                (
                    Hop(HopKind.GROUP_MEMBER, "group:inner@convergence.example", "member", GENAI),
                    Hop(
                        HopKind.GROUP_MEMBER,
                        "group:outer@convergence.example",
                        "member",
                        "group:inner@convergence.example",
                    ),
                    acl_hop("group:outer@convergence.example"),
                )
            ]
        },
    ),
    (
        "group: pass (the GenAI agent's group is granted tenant data only)",
        estate(
            ds("customers", entry(G, "analysts@convergence.example")),
            ds("acme", entry(G, "ai@convergence.example")),
            groups=[("analysts@convergence.example", ALICE), ("ai@convergence.example", GENAI)],
        ),
        {
            ALICE: [
                (
                    Hop(
                        HopKind.GROUP_MEMBER, "group:analysts@convergence.example", "member", ALICE
                    ),
                    acl_hop("group:analysts@convergence.example"),
                )
            ]
        },
    ),
    (
        "domain: fail (a known account of the domain)",
        estate(
            ds("customers", entry(GranteeKind.DOMAIN, "convergence.example")),
            ds("acme", entry(U, "ai-bot@convergence.example")),
        ),
        {
            "domain:convergence.example": [(acl_hop("domain:convergence.example"),)],
            BOT: [
                (
                    Hop(
                        HopKind.DOMAIN_MEMBER,
                        "domain:convergence.example",
                        "account in the domain",
                        BOT,
                    ),
                    acl_hop("domain:convergence.example"),
                )
            ],
        },
    ),
    (
        "domain: pass (another domain)",
        estate(
            ds("customers", entry(GranteeKind.DOMAIN, "partner.example")),
            ds("acme", entry(U, "ai-bot@convergence.example")),
        ),
        {"domain:partner.example": [(acl_hop("domain:partner.example"),)]},
    ),
    (
        "allAuthenticatedUsers: fail",
        estate(ds("customers", entry(GranteeKind.SPECIAL_GROUP, "allAuthenticatedUsers"))),
        {"allAuthenticatedUsers": [(acl_hop("allAuthenticatedUsers"),)]},
    ),
    (
        "allAuthenticatedUsers: pass (on a tenant dataset)",
        estate(ds("acme", entry(GranteeKind.SPECIAL_GROUP, "allAuthenticatedUsers"))),
        {},
    ),
    (
        "table IAM: fail",
        estate(tables=[table("customers", "profiles", binding(VIEWER, GENAI))]),
        {GENAI: [(Hop(HopKind.TABLE_IAM, CUSTOMERS_T, VIEWER, GENAI),)]},
    ),
    (
        "table IAM: pass (metadata only)",
        estate(
            tables=[table("customers", "profiles", binding("roles/bigquery.metadataViewer", GENAI))]
        ),
        {},
    ),
    (
        "authorized view from a tenant dataset: fail",
        estate(
            ds("customers", entry(GranteeKind.VIEW, "projects/p/datasets/acme/tables/usage_v")),
            ds("acme", entry(U, GENAI_EMAIL)),
            tables=[table("acme", "usage_v", kind="VIEW")],
        ),
        {
            GENAI: [
                (
                    acl_hop(GENAI, ACME),
                    Hop(HopKind.AUTHORIZED_VIEW, CUSTOMERS, "authorized view", ACME_V),
                )
            ]
        },
    ),
    (
        "authorized view: pass (the tenant view is not authorized on customers)",
        estate(ds("acme", entry(U, GENAI_EMAIL)), tables=[table("acme", "usage_v", kind="VIEW")]),
        {},
    ),
    (
        "authorized view chain of two: fail",
        estate(
            ds("customers", entry(GranteeKind.VIEW, "projects/p/datasets/acme/tables/usage_v")),
            ds("acme", entry(GranteeKind.VIEW, "projects/p/datasets/globex/tables/g_v")),
            ds("globex", entry(U, GENAI_EMAIL)),
            tables=[table("acme", "usage_v", kind="VIEW"), table("globex", "g_v", kind="VIEW")],
        ),
        {
            GENAI: [
                (
                    acl_hop(GENAI, GLOBEX),
                    Hop(
                        HopKind.AUTHORIZED_VIEW,
                        ACME,
                        "authorized view",
                        table_resource_name(P, "globex", "g_v"),
                    ),
                    Hop(HopKind.AUTHORIZED_VIEW, CUSTOMERS, "authorized view", ACME_V),
                )
            ]
        },
    ),
    (
        "authorized dataset (views of a tenant): fail through table IAM on one of its views",
        estate(
            ds(
                "customers",
                entry(GranteeKind.DATASET, "projects/p/datasets/acme", target_types=("VIEWS",)),
            ),
            tables=[table("acme", "usage_v", binding(VIEWER, GENAI), kind="VIEW")],
        ),
        {
            GENAI: [
                (
                    Hop(HopKind.TABLE_IAM, ACME_V, VIEWER, GENAI),
                    Hop(
                        HopKind.AUTHORIZED_DATASET, CUSTOMERS, "authorized dataset: its views", ACME
                    ),
                )
            ]
        },
    ),
    (
        "authorized dataset: pass (table IAM on a plain table, not a view)",
        estate(
            ds(
                "customers",
                entry(GranteeKind.DATASET, "projects/p/datasets/acme", target_types=("VIEWS",)),
            ),
            tables=[table("acme", "runs", binding(VIEWER, GENAI))],
        ),
        {},
    ),
    (
        "authorized routine: fail (routines.get on its dataset)",
        estate(
            ds("customers", entry(GranteeKind.ROUTINE, "projects/p/datasets/acme/routines/mask")),
            ds("acme", entry(GranteeKind.IAM_MEMBER, GENAI, "roles/bigquery.metadataViewer")),
        ),
        {
            GENAI: [
                (
                    acl_hop(GENAI, ACME, "roles/bigquery.metadataViewer"),
                    Hop(
                        HopKind.AUTHORIZED_ROUTINE,
                        CUSTOMERS,
                        "authorized routine",
                        f"{ACME}/routines/mask",
                    ),
                )
            ]
        },
    ),
    (
        "authorized routine: pass (jobUser cannot call it)",
        estate(
            ds("customers", entry(GranteeKind.ROUTINE, "projects/p/datasets/acme/routines/mask")),
            ds("acme", entry(GranteeKind.IAM_MEMBER, GENAI, "roles/bigquery.jobUser")),
        ),
        {},
    ),
    (
        "impersonation, transitive: fail",
        estate(
            ds("customers", entry(U, APP_EMAIL)),
            project=[binding("roles/iam.serviceAccountUser", RUNNER)],
            extra_policies=[
                ResourcePolicy(
                    f"projects/p/serviceAccounts/{RUNNER_EMAIL}",
                    (binding("roles/iam.serviceAccountTokenCreator", GENAI),),
                )
            ],
        ),
        {
            APP: [(acl_hop(APP),)],
            RUNNER: [
                (
                    Hop(
                        HopKind.IMPERSONATION,
                        APP,
                        "roles/iam.serviceAccountUser",
                        RUNNER,
                        "projects/p",
                    ),
                    acl_hop(APP),
                )
            ],
            GENAI: [
                (
                    Hop(
                        HopKind.IMPERSONATION,
                        RUNNER,
                        "roles/iam.serviceAccountTokenCreator",
                        GENAI,
                        f"projects/p/serviceAccounts/{RUNNER_EMAIL}",
                    ),
                    Hop(
                        HopKind.IMPERSONATION,
                        APP,
                        "roles/iam.serviceAccountUser",
                        RUNNER,
                        "projects/p",
                    ),
                    acl_hop(APP),
                )
            ],
        },
    ),
    (
        "impersonation: pass (the impersonable account reads tenant data only)",
        estate(
            ds("acme", entry(U, APP_EMAIL)),
            extra_policies=[
                ResourcePolicy(
                    f"projects/p/serviceAccounts/{APP_EMAIL}",
                    (binding("roles/iam.serviceAccountTokenCreator", GENAI),),
                )
            ],
        ),
        {},
    ),
]


@pytest.mark.parametrize(("case", "inventory", "expected"), MATRIX, ids=[m[0] for m in MATRIX])
def test_path_matrix(case: str, inventory: Inventory, expected: Paths) -> None:
    assert reach(inventory) == expected


# --- deny policies -----------------------------------------------------------------------------

GENAI_V2 = f"principal://iam.googleapis.com/projects/-/serviceAccounts/{GENAI_EMAIL}"
PROJECT_ATTACHMENT = "cloudresourcemanager.googleapis.com%2Fprojects%2Fp"


def deny_rule(
    denied: Sequence[str],
    permissions: Sequence[str] = ("bigquery.googleapis.com/tables.getData",),
    exceptions: Sequence[str] = (),
    condition: str | None = None,
) -> DenyPolicy:
    rule = DenyRule(
        tuple(denied),
        tuple(permissions),
        tuple(exceptions),
        condition=Condition(condition) if condition else None,
    )
    return DenyPolicy(PROJECT_ATTACHMENT, "policies/no-genai-data", (rule,))


GENAI_PATH = (Hop(HopKind.RESOURCE_IAM, "projects/p", VIEWER, GENAI),)
ALICE_PATH = (Hop(HopKind.RESOURCE_IAM, "projects/p", VIEWER, ALICE),)


@pytest.mark.parametrize(
    ("deny", "expected"),
    [
        pytest.param(deny_rule([GENAI_V2]), {ALICE: [ALICE_PATH]}, id="blocks-the-agent"),
        pytest.param(
            deny_rule([GENAI_V2], ["bigquery.googleapis.com/*"]),
            {ALICE: [ALICE_PATH]},
            id="wildcard-permission",
        ),
        pytest.param(
            deny_rule(["principalSet://goog/public:all"], exceptions=[GENAI_V2]),
            {GENAI: [GENAI_PATH]},
            id="exception-lets-the-agent-through",
        ),
        pytest.param(
            deny_rule([GENAI_V2], ["bigquery.googleapis.com/datasets.update"]),
            {ALICE: [ALICE_PATH], GENAI: [GENAI_PATH]},
            id="other-permission",
        ),
        pytest.param(
            deny_rule(["principalSet://goog/group/ai@convergence.example"]),
            {ALICE: [ALICE_PATH]},
            id="group-principal-set",
        ),
    ],
)
def test_deny_policies(deny: DenyPolicy, expected: Paths) -> None:
    inventory = estate(
        project=[binding(VIEWER, GENAI, ALICE)],
        deny=[deny],
        groups=[("ai@convergence.example", GENAI)],
    )
    assert reach(inventory) == expected


def test_conditional_deny_keeps_the_path_marked() -> None:
    deny = deny_rule([GENAI_V2], condition="resource.matchTag('p/env', 'prod')")
    graph = AccessGraph.build(estate(project=[binding(VIEWER, GENAI)], deny=[deny]), now=NOW)
    (path,) = graph.readers("customers").paths
    assert (path.principal, path.hops, path.denials, path.conditional) == (
        GENAI,
        GENAI_PATH,
        ("policies/no-genai-data",),
        True,
    )


def test_deny_on_the_impersonated_account_blocks_the_impersonator_too() -> None:
    app_v2 = f"principal://iam.googleapis.com/projects/-/serviceAccounts/{APP_EMAIL}"
    inventory = estate(
        ds("customers", entry(U, APP_EMAIL)),
        project=[binding("roles/iam.serviceAccountTokenCreator", GENAI)],
        deny=[deny_rule([app_v2])],
    )
    assert reach(inventory) == {}


def test_paths_for_goes_through_public_grants_and_honours_deny() -> None:
    inventory = estate(ds("customers", entry(GranteeKind.IAM_MEMBER, "allUsers")))
    graph = AccessGraph.build(inventory, now=NOW)
    (path,) = graph.paths_for(GENAI, "customers").paths
    assert path.hops == (
        Hop(HopKind.PUBLIC, "allUsers", "includes every principal", GENAI),
        acl_hop("allUsers"),
    )
    denied = AccessGraph.build(
        estate(
            ds("customers", entry(GranteeKind.IAM_MEMBER, "allUsers")), deny=[deny_rule([GENAI_V2])]
        ),
        now=NOW,
    )
    assert denied.paths_for(GENAI, "customers").paths == ()
    assert [p.principal for p in denied.readers("customers").paths] == ["allUsers"]


# --- IAM conditions ----------------------------------------------------------------------------

EXPIRY = 'request.time < timestamp("{}")'


@pytest.mark.parametrize(
    ("expires", "now", "expected"),
    [
        pytest.param("2026-01-01T00:00:00Z", NOW, {}, id="expired"),
        pytest.param(
            "2027-01-01T00:00:00Z", NOW, {GENAI: [(acl_hop(GENAI),)]}, id="not-yet-expired"
        ),
    ],
)
def test_expiring_grant(expires: str, now: datetime, expected: Paths) -> None:
    customers = ds("customers", entry(U, GENAI_EMAIL, condition=EXPIRY.format(expires)))
    assert reach(estate(customers), now) == expected


def test_without_evaluation_time_a_time_bound_grant_is_conditional() -> None:
    condition = EXPIRY.format("2026-01-01T00:00:00Z")
    customers = ds("customers", entry(U, GENAI_EMAIL, condition=condition))
    assert reach(estate(customers), now=None) == {
        GENAI: [(Hop(HopKind.DATASET_ACL, CUSTOMERS, VIEWER, GENAI, condition=condition),)]
    }


@pytest.mark.parametrize(
    ("expression", "truth"),
    [
        ('request.time < timestamp("2027-01-01T00:00:00Z")', Truth.TRUE),
        ("(request.time <= timestamp('2026-01-01T00:00:00+00:00'))", Truth.FALSE),
        ('timestamp("2026-01-01T00:00:00Z") > request.time', Truth.FALSE),
        ('request.time > timestamp("2027-01-01T00:00:00Z")', Truth.UNKNOWN),  # starts later
        (
            'request.time < timestamp("2027-01-01T00:00:00Z") && resource.name.startsWith("x")',
            Truth.UNKNOWN,
        ),
        (
            'request.time < timestamp("2026-01-01T00:00:00Z") && resource.name.startsWith("x")',
            Truth.FALSE,
        ),
        (
            'request.time < timestamp("2026-01-01T00:00:00Z") || '
            'request.time < timestamp("2027-01-01T00:00:00Z")',
            Truth.TRUE,
        ),
        ('resource.name.startsWith("a && b")', Truth.UNKNOWN),
        ('!(request.time < timestamp("2027-01-01T00:00:00Z"))', Truth.UNKNOWN),
    ],
)
def test_condition_evaluation(expression: str, truth: Truth) -> None:
    assert evaluate(Condition(expression), NOW).truth is truth


# --- robustness: cycles, roles, gaps ----------------------------------------------------------


def test_group_cycle_gives_simple_paths() -> None:
    inventory = estate(
        ds("customers", entry(G, "a@convergence.example")),
        groups=[
            ("a@convergence.example", "group:b@convergence.example"),
            ("b@convergence.example", "group:a@convergence.example"),
            ("b@convergence.example", ALICE),
        ],
    )
    assert reach(inventory) == {
        ALICE: [
            (
                Hop(HopKind.GROUP_MEMBER, "group:b@convergence.example", "member", ALICE),
                Hop(
                    HopKind.GROUP_MEMBER,
                    "group:a@convergence.example",
                    "member",
                    "group:b@convergence.example",
                ),
                acl_hop("group:a@convergence.example"),
            )
        ]
    }


def test_group_cycle_memo_does_not_lose_paths() -> None:
    """a contains x, x contains c, c contains a: every group is reached by both users,
    whichever group the walk meets first."""
    a, c, x = (f"group:{n}@convergence.example" for n in "acx")
    u_a, u_x = "user:ua@convergence.example", "user:ux@convergence.example"
    inventory = estate(
        ds("customers", *(entry(G, g.removeprefix("group:")) for g in (c, a, x))),
        groups=[
            (a.removeprefix("group:"), x),
            (x.removeprefix("group:"), c),
            (c.removeprefix("group:"), a),
            (a.removeprefix("group:"), u_a),
            (x.removeprefix("group:"), u_x),
        ],
    )
    found = reach(inventory)
    granted = {(who, hops[-1].member) for who, paths in found.items() for hops in paths}
    assert granted == {(u, g) for u in (u_a, u_x) for g in (a, c, x)}
    assert (  # to group c's entry: ua is in a, a is in c
        Hop(HopKind.GROUP_MEMBER, a, "member", u_a),
        Hop(HopKind.GROUP_MEMBER, c, "member", a),
        acl_hop(c),
    ) in found[u_a]


def test_impersonation_cycle_gives_simple_paths() -> None:
    token = "roles/iam.serviceAccountTokenCreator"
    inventory = estate(
        ds("customers", entry(U, APP_EMAIL)),
        extra_policies=[
            ResourcePolicy(f"projects/p/serviceAccounts/{APP_EMAIL}", (binding(token, RUNNER),)),
            ResourcePolicy(f"projects/p/serviceAccounts/{RUNNER_EMAIL}", (binding(token, APP),)),
        ],
    )
    assert reach(inventory) == {
        APP: [(acl_hop(APP),)],
        RUNNER: [
            (
                Hop(
                    HopKind.IMPERSONATION,
                    APP,
                    token,
                    RUNNER,
                    f"projects/p/serviceAccounts/{APP_EMAIL}",
                ),
                acl_hop(APP),
            )
        ],
    }


def test_self_grant_roles_and_custom_roles() -> None:
    inventory = estate(
        ds("customers", entry(U, "owner@convergence.example", "OWNER")),
        project=[
            binding("roles/bigquery.securityAdmin", ALICE),
            binding("projects/p/roles/aiReader", GENAI),
        ],
        custom_roles=[
            CustomRole("projects/p/roles/aiReader", ("bigquery.tables.getData", "x.y.z"))
        ],
    )
    answer = AccessGraph.build(inventory, now=NOW).readers("customers")
    assert {(p.principal, p.capability) for p in answer.paths} == {
        ("user:owner@convergence.example", Capability.READ),
        (ALICE, Capability.SELF_GRANT),
        (GENAI, Capability.READ),
    }


def test_unknown_role_is_a_gap_never_harmless() -> None:
    inventory = estate(project=[binding("roles/mystery.superUser", GENAI)])
    answer = AccessGraph.build(inventory, now=NOW).readers("customers")
    assert answer.paths == ()
    assert answer.gaps == (
        AccessGap(
            GapKind.UNKNOWN_ROLE,
            "projects/p",
            "role roles/mystery.superUser (granted on projects/p) is not in the role catalog: "
            "whether its members can read data is unknown",
            # The principals a worst-case resolution would let in: only the role's holder.
            anyone=False,
            affects=(GENAI,),
        ),
    )


def test_unread_group_policy_and_table_iam_are_gaps() -> None:
    inventory = Inventory(
        root=".",
        datasets=(ds("customers", entry(G, "unknown@convergence.example")),),
        live_tables=(Table(P, "customers", "profiles"),),
    )
    answer = AccessGraph.build(inventory, now=NOW).readers("customers")
    assert [p.principal for p in answer.paths] == ["group:unknown@convergence.example"]
    assert [(g.kind, g.scope) for g in answer.gaps] == [
        (GapKind.MISSING_POLICY, "projects/p"),
        (GapKind.TABLE_IAM_UNREAD, CUSTOMERS_T),
        (GapKind.UNEXPANDED_GROUP, "group:unknown@convergence.example"),
        (GapKind.UNKNOWN_ANCESTRY, "projects/p"),
    ]


def test_role_catalog() -> None:
    roles = RoleCatalog.load()
    assert roles.normalise("READER") == VIEWER
    assert roles.permissions("WRITER") == roles.permissions("roles/bigquery.dataEditor")
    assert roles.permissions("roles/unknown.role") is None
    assert "bigquery.tables.getData" not in (roles.permissions("roles/viewer") or ())
    with pytest.raises(InputError, match="untracked permissions"):
        parse_catalog(
            {
                "version": 2,
                "source": "test",
                "published": "2026-08-22",
                "tracked": ["a.b.c"],
                "legacy": {},
                "roles": {"roles/x": ["d.e.f"]},
            },
            "roles.json",
        )


# --- GenAI catalog -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "kind"),
    [
        (GENAI, GenAIKind.SERVICE_AGENT),
        (
            "serviceAccount:service-1@gcp-sa-aiplatform-cc.iam.gserviceaccount.com",
            GenAIKind.SERVICE_AGENT,
        ),
        (
            "serviceAccount:service-1@gcp-sa-vertex-rag.iam.gserviceaccount.com",
            GenAIKind.SERVICE_AGENT,
        ),
        (
            "serviceAccount:Service-1@GCP-SA-DiscoveryEngine.iam.gserviceaccount.com",
            GenAIKind.SERVICE_AGENT,
        ),
        (
            "serviceAccount:bqcx-123-ab1c@gcp-sa-bigquery-condel.iam.gserviceaccount.com",
            GenAIKind.CONNECTION,
        ),
        ("serviceAccount:genai-summariser@p.iam.gserviceaccount.com", GenAIKind.PLATFORM),
        (APP, None),
        ("serviceAccount:service-1@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com", None),
        ("user:gcp-sa-aiplatform@convergence.example", None),
    ],
)
def test_genai_catalog(member: str, kind: GenAIKind | None) -> None:
    match = is_genai(member, ["serviceAccount:genai-*@p.iam.gserviceaccount.com"])
    assert (match.kind if match else None) is kind


# --- explanation -------------------------------------------------------------------------------


def test_explain_names_each_hop_and_the_cuts() -> None:
    inventory = estate(
        ds("customers", entry(G, "ai@convergence.example")),
        groups=[("ai@convergence.example", GENAI)],
        project=[binding(VIEWER, "group:ai@convergence.example")],
    )
    answer = AccessGraph.build(inventory, now=NOW).readers("customers")
    assert explain(answer, principal=GENAI) == (
        # Paths numbered 1..n, each whole: later hops under the first, in order.
        f"{GENAI} can read {CUSTOMERS} by 2 paths:\n"
        f"  1. {GENAI} is a member of group:ai@convergence.example\n"
        f"     -> group:ai@convergence.example holds {VIEWER} in the access list of "
        f"{CUSTOMERS}\n"
        f"  2. {GENAI} is a member of group:ai@convergence.example\n"
        f"     -> group:ai@convergence.example holds {VIEWER} on projects/p, which covers "
        "every dataset below it\n"
        "  what would cut it:\n"
        "    one change removes all 2 paths, any of:\n"
        f"      - remove {GENAI} from group:ai@convergence.example\n"
    )
    assert to_json(answer)["paths"][0] == {
        "principal": GENAI,
        "target": CUSTOMERS,
        "capability": "read",
        "table_level": False,
        "conditional": False,
        "denials": [],
        "hops": [
            {
                "kind": "group-member",
                "member": GENAI,
                "subject": "group:ai@convergence.example",
                "detail": "member",
            },
            {
                "kind": "dataset-acl",
                "member": "group:ai@convergence.example",
                "subject": CUSTOMERS,
                "detail": VIEWER,
            },
        ],
    }


# --- the check kinds ---------------------------------------------------------------------------


def check(kind: str, inventory: Inventory, **params: object) -> set[tuple[str, str, str | None]]:
    rule = Rule(
        id="AUD-900",
        name=f"test-{kind}",
        title="t",
        severity=Severity.CRITICAL,
        rationale="r",
        remediation="cut it",
        check=kind,
        params=params,
    )
    findings = run_rules(inventory, [rule], REGISTRY, CheckContext(evaluation_time=NOW))
    return {(f.status.value, f.resource, f.principal) for f in findings}


def test_genai_check_fails_per_principal_and_target_and_ignores_tenants() -> None:
    inventory = estate(
        ds("customers", entry(U, "bqcx-1-abcd@gcp-sa-bigquery-condel.iam.gserviceaccount.com")),
        ds("acme", entry(U, GENAI_EMAIL), entry(U, "genai-bot@p.iam.gserviceaccount.com")),
        tables=[
            table(
                "customers",
                "profiles",
                binding(VIEWER, "serviceAccount:genai-bot@p.iam.gserviceaccount.com"),
            )
        ],
        project=[binding("roles/bigquery.jobUser", GENAI)],
    )
    assert check("genai-cannot-reach", inventory, genai_members=["serviceAccount:genai-*"]) == {
        (
            "FAIL",
            CUSTOMERS,
            "serviceAccount:bqcx-1-abcd@gcp-sa-bigquery-condel.iam.gserviceaccount.com",
        ),
        ("FAIL", CUSTOMERS_T, "serviceAccount:genai-bot@p.iam.gserviceaccount.com"),
    }


def test_genai_check_passes_when_genai_reads_tenant_data_only() -> None:
    inventory = estate(
        ds("acme", entry(U, GENAI_EMAIL)), ds("customers", entry(U, "x@convergence.example"))
    )
    assert check("genai-cannot-reach", inventory) == {("PASS", CUSTOMERS, None)}


def test_genai_check_public_domain_and_gap_results() -> None:
    inventory = estate(
        ds(
            "customers",
            entry(GranteeKind.SPECIAL_GROUP, "allAuthenticatedUsers"),
            entry(GranteeKind.DOMAIN, "convergence.example"),
            entry(G, "unread@convergence.example"),
        )
    )
    results = check(
        "genai-cannot-reach", inventory, genai_members=["user:ai-*@convergence.example"]
    )
    assert results == {
        ("FAIL", CUSTOMERS, "allAuthenticatedUsers"),
        ("FAIL", CUSTOMERS, "domain:convergence.example"),
        ("ERROR", CUSTOMERS, None),
    }


def test_genai_check_evidence_holds_every_path() -> None:
    inventory = estate(ds("customers", entry(U, GENAI_EMAIL)), project=[binding(VIEWER, GENAI)])
    rule = Rule("AUD-900", "t", "t", Severity.CRITICAL, "r", "m", "genai-cannot-reach")
    (finding,) = run_rules(inventory, [rule], REGISTRY, CheckContext(evaluation_time=NOW))
    assert finding.status is Status.FAIL
    assert finding.evidence["paths"] == [
        [acl_hop(GENAI).to_dict()],
        [Hop(HopKind.RESOURCE_IAM, "projects/p", VIEWER, GENAI).to_dict()],
    ]


def test_public_check() -> None:
    public = estate(
        ds("customers", entry(U, APP_EMAIL)),
        project=[binding("roles/iam.serviceAccountTokenCreator", "allUsers")],
    )
    assert check("protected-not-public", public) == {("FAIL", CUSTOMERS, "allUsers")}
    assert check("protected-not-public", estate()) == {("PASS", CUSTOMERS, None)}


def test_broad_project_roles_check_with_allowed_admins() -> None:
    inventory = estate(
        ds("customers", entry(GranteeKind.SPECIAL_GROUP, "projectReaders", "READER")),
        project=[
            binding("roles/bigquery.admin", "group:platform-admins@convergence.example"),
            binding("roles/viewer", ALICE),
            binding("roles/bigquery.jobUser", GENAI),
        ],
        org=[binding("roles/bigquery.dataViewer", "group:auditors@convergence.example")],
        groups=[
            ("platform-admins@convergence.example", "user:root@convergence.example"),
            ("auditors@convergence.example", "user:eve@convergence.example"),
        ],
    )
    assert check(
        "no-broad-project-data-roles",
        inventory,
        allowed_members=["group:platform-admins@convergence.example"],
    ) == {
        ("FAIL", CUSTOMERS, ALICE),
        ("FAIL", CUSTOMERS, "group:auditors@convergence.example"),
    }
    assert check("no-broad-project-data-roles", estate()) == {("PASS", CUSTOMERS, None)}


@pytest.mark.parametrize(
    "name",
    [
        "AUD-011-genai-cannot-reach-customers.yaml",
        "AUD-012-customers-not-public.yaml",
        "AUD-013-no-broad-project-data-roles.yaml",
    ],
)
def test_shipped_rules_validate_against_their_kinds(name: str) -> None:
    rule = load_rule(POLICIES_DIR / name, REGISTRY)
    assert rule.check in (
        "genai-cannot-reach",
        "protected-not-public",
        "no-broad-project-data-roles",
    )
    assert rule.params["protected_datasets"] == ["customers"]
