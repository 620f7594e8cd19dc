"""Time the access graph on a generated estate: "who can reach customers", and one principal.

    python benchmarks/access.py [--datasets 10000] [--principals 50000] [--seed 7]

The estate: one project under a folder and an organization; `customers` plus tenant
datasets with the default access list (projectOwners/Writers/Readers), a tenant reader group
and the Vertex AI service agent (allowed on tenants); five tables per tenant (one a view);
users in tenant groups nested into departments and an all-staff group; service accounts
impersonable by a developers group; five tenant views authorized on customers; a deny policy.
Prints the sizes, the time of each step and the answer sizes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
# Run as a plain script from a checkout: make the repo's package importable.
sys.path.insert(0, str(ROOT))

from auditor.access import AccessGraph, is_genai  # noqa: E402
from auditor.access.roles import builtin_catalog  # noqa: E402
from auditor.model import (  # noqa: E402
    AccessEntry,
    Condition,
    Dataset,
    DenyPolicy,
    DenyRule,
    GranteeKind,
    GroupMembership,
    IamBinding,
    Inventory,
    ResourcePolicy,
    Table,
)

PROJECT = "bench-prod"
DOMAIN = "convergence.example"
GENAI = "service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com"
T = TypeVar("T")


def generate(datasets: int, principals: int, seed: int) -> Inventory:
    rng = random.Random(seed)
    tenants = datasets - 1
    n_sas = max(principals // 50, 1)
    n_groups = max(principals // 12, 3)
    n_users = principals - n_sas - n_groups
    users = [f"user:u{i:05d}@{DOMAIN}" for i in range(n_users)]
    sas = [f"app{i:04d}@{PROJECT}.iam.gserviceaccount.com" for i in range(n_sas)]
    departments = [f"dept{i:03d}@{DOMAIN}" for i in range(max(n_groups // 40, 1))]
    tenant_groups = [
        f"tenant{i:05d}-readers@{DOMAIN}" for i in range(n_groups - len(departments) - 3)
    ]

    memberships = [GroupMembership(g, u) for u in users for g in [rng.choice(tenant_groups)]]
    memberships += [GroupMembership(rng.choice(departments), f"group:{g}") for g in tenant_groups]
    memberships += [GroupMembership(f"all-staff@{DOMAIN}", f"group:{d}") for d in departments]
    memberships += [GroupMembership(f"developers@{DOMAIN}", u) for u in rng.sample(users, 300)]
    memberships += [GroupMembership(f"platform-admins@{DOMAIN}", u) for u in users[:5]]

    default_acl = (
        AccessEntry(GranteeKind.SPECIAL_GROUP, "projectOwners", "roles/bigquery.dataOwner"),
        AccessEntry(GranteeKind.SPECIAL_GROUP, "projectWriters", "roles/bigquery.dataEditor"),
        AccessEntry(GranteeKind.SPECIAL_GROUP, "projectReaders", "roles/bigquery.dataViewer"),
    )
    tenant_ids = [f"tenant_{i:05d}" for i in range(tenants)]
    authorizing = tenant_ids[:5]
    all_datasets = [
        Dataset(
            PROJECT,
            tid,
            access=(
                *default_acl,
                AccessEntry(GranteeKind.GROUP, tenant_groups[i % len(tenant_groups)], "READER"),
                AccessEntry(GranteeKind.USER, GENAI, "READER"),
                AccessEntry(GranteeKind.USER, sas[i % len(sas)], "WRITER"),
            ),
        )
        for i, tid in enumerate(tenant_ids)
    ]
    all_datasets.append(
        Dataset(
            PROJECT,
            "customers",
            access=(
                *default_acl,
                AccessEntry(GranteeKind.GROUP, f"platform-admins@{DOMAIN}", "OWNER"),
                AccessEntry(GranteeKind.GROUP, departments[0], "READER"),
                AccessEntry(GranteeKind.USER, sas[0], "READER"),
                *(
                    AccessEntry(GranteeKind.VIEW, f"projects/{PROJECT}/datasets/{t}/tables/usage_v")
                    for t in authorizing
                ),
            ),
        )
    )
    tables = [
        Table(PROJECT, tid, name, type="VIEW" if name == "usage_v" else "TABLE", iam=())
        for tid in tenant_ids
        for name in (
            "x_meta_pipeline_runs",
            "x_meta_step_logs",
            "x_meta_dq_results",
            "jobs",
            "usage_v",
        )
    ]
    tables += [
        Table(PROJECT, "customers", name, iam=())
        for name in ("customer_profiles", "api_keys", "cloud_credentials", "subscriptions")
    ]
    expiring = Condition('request.time < timestamp("2027-01-01T00:00:00Z")')
    project_policy = ResourcePolicy(
        f"projects/{PROJECT}",
        (
            IamBinding("roles/owner", (f"group:platform-admins@{DOMAIN}",)),
            IamBinding("roles/editor", tuple(f"user:{u[5:]}" for u in users[5:25])),
            IamBinding("roles/viewer", (f"group:{departments[-1]}",)),
            IamBinding("roles/bigquery.jobUser", (f"group:all-staff@{DOMAIN}",)),
            IamBinding("roles/aiplatform.serviceAgent", (f"serviceAccount:{GENAI}",)),
            IamBinding(
                "roles/iam.serviceAccountTokenCreator", (f"group:developers@{DOMAIN}",), expiring
            ),
        ),
    )
    sa_policies = [
        ResourcePolicy(
            f"projects/{PROJECT}/serviceAccounts/{sa}",
            (IamBinding("roles/iam.serviceAccountUser", (rng.choice(users),)),),
        )
        for sa in sas
    ]
    deny = DenyPolicy(
        f"cloudresourcemanager.googleapis.com%2Fprojects%2F{PROJECT}",
        "policies/no-contractor-data",
        (
            DenyRule(
                (f"principalSet://goog/group/{departments[1 % len(departments)]}",),
                ("bigquery.googleapis.com/tables.getData",),
            ),
        ),
    )
    return Inventory(
        root=".",
        project=PROJECT,
        datasets=tuple(all_datasets),
        live_tables=tuple(tables),
        ancestry=(f"projects/{PROJECT}", "folders/100", "organizations/1"),
        iam_policies=(
            project_policy,
            ResourcePolicy("folders/100", ()),
            ResourcePolicy(
                "organizations/1",
                (
                    IamBinding(
                        "roles/bigquery.dataViewer", (f"group:{departments[2 % len(departments)]}",)
                    ),
                ),
            ),
            *sa_policies,
        ),
        deny_policies=(deny,),
        group_memberships=tuple(memberships),
    )


BASELINE: list[float] = []


def timed(label: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    ratio = f"  ({seconds / BASELINE[0]:5.1f}x baseline)" if BASELINE else ""
    print(f"  {label:<44} {seconds:8.3f} s{ratio}")
    return result


def touch_everything(inventory: Inventory) -> int:
    """The baseline: one pass over every grant an answer could depend on, doing nothing with
    it. Any "who can reach" answer must at least read these."""
    seen = 0
    for dataset in inventory.datasets:
        seen += sum(1 for entry in dataset.access if entry.entity)
    for table in inventory.live_tables:
        seen += sum(len(b.members) for b in table.iam or ())
    for policy in inventory.iam_policies:
        seen += sum(len(b.members) for b in policy.bindings)
    seen += sum(1 for m in inventory.group_memberships if m.member)
    return seen


def load_catalogs() -> int:
    roles = builtin_catalog()
    is_genai(f"serviceAccount:{GENAI}")  # loads the GenAI catalog and the service agents
    return len(roles.roles)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--principals", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    now = datetime(2026, 6, 1, tzinfo=UTC)

    print(f"access graph benchmark: {args.datasets:,} datasets, {args.principals:,} principals")
    inventory = timed(
        "generate the estate", lambda: generate(args.datasets, args.principals, args.seed)
    )
    entries = sum(len(d.access) for d in inventory.datasets)
    print(
        f"  ({entries:,} access entries, {len(inventory.live_tables):,} tables, "
        f"{len(inventory.group_memberships):,} memberships, "
        f"{len(inventory.iam_policies):,} IAM policies)"
    )
    timed("baseline: one pass over every grant", lambda: touch_everything(inventory))
    start = time.perf_counter()
    touch_everything(inventory)
    BASELINE.append(time.perf_counter() - start)
    # What a scan pays once for the role catalog (every predefined role), the GenAI
    # catalog and Google's service-agent list; the graph below starts from them loaded.
    catalogs = timed("load the role and service-agent catalogs", load_catalogs)
    print(f"    -> {catalogs:,} predefined roles")
    start = time.perf_counter()
    graph = timed("build the graph (indexes)", lambda: AccessGraph.build(inventory, now=now))
    answer = timed('readers("customers"), cold', lambda: graph.readers("customers"))
    total = time.perf_counter() - start
    print(f"  build + readers(\"customers\")                 {total:8.3f} s  (target < 2 s)")
    print(
        f"    -> {len(answer.principals()):,} principals, {len(answer.paths):,} paths, "
        f"{len(answer.gaps)} gaps"
    )
    timed('readers("customers"), warm', lambda: graph.readers("customers"))
    genai = f"serviceAccount:{GENAI}"
    fresh = AccessGraph.build(inventory, now=now)
    mine = timed(
        "paths_for(the Vertex AI agent), fresh graph", lambda: fresh.paths_for(genai, "customers")
    )
    print(f"    -> {len(mine.paths)} paths")
    user = answer.paths[len(answer.paths) // 2].principal
    timed("paths_for(one user), warm graph", lambda: graph.paths_for(user, "customers"))
    tenant = timed('readers("tenant_00042")', lambda: graph.readers("tenant_00042"))
    print(f"    -> {len(tenant.principals()):,} principals, {len(tenant.paths):,} paths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
