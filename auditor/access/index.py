"""The inventory indexed for the access graph: policies by resource, groups both ways, the
resource hierarchy, and the role lookups every step shares (with the gaps and notes they
raise). Built once per graph; everything is memoized."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from auditor.access.conditions import Truth, evaluate
from auditor.access.paths import AccessGap, GapKind
from auditor.access.principals import acl_member, canonical, service_account_project, user_domain
from auditor.access.roles import RoleCatalog
from auditor.model import (
    BIGQUERY_RESOURCE_PREFIX,
    Condition,
    Dataset,
    IamBinding,
    Inventory,
    ResourcePolicy,
    Table,
)

SA_POLICY = re.compile(r"projects/(?P<p>[^/]+)/serviceAccounts/(?P<email>[^/]+)")
_DATASET_ID = re.compile(r"(?:projects/)?(?P<p>[^/:.]+)(?:[:.]|/datasets/)(?P<d>[^/:.]+)")
# A custom role is named after where it is defined; that resource's IAM says who may change it.
_CUSTOM_ROLE = re.compile(r"(?P<owner>(?:projects|organizations)/[^/]+)/roles/[^/]+")


class EstateIndex:
    def __init__(self, inventory: Inventory, now: datetime | None, roles: RoleCatalog) -> None:
        self._inventory = inventory
        self._now = now
        self._roles = roles
        self._datasets = {(d.project, d.dataset_id): d for d in inventory.datasets}
        self._tables: dict[tuple[str, str], list[Table]] = {}
        for table in inventory.live_tables:
            self._tables.setdefault((table.project, table.dataset_id), []).append(table)
        self._policies: dict[str, ResourcePolicy] = {}
        self._sa_policies: dict[str, list[ResourcePolicy]] = {}
        for policy in inventory.iam_policies:
            if sa := SA_POLICY.fullmatch(policy.resource):
                self._sa_policies.setdefault(sa["email"].lower(), []).append(policy)
            else:
                self._policies[policy.resource] = policy
        self._members: dict[str, list[str]] = {}
        for membership in inventory.group_memberships:
            group = canonical(f"group:{membership.group}")
            self._members.setdefault(group, []).append(canonical(membership.member))
        self._chains: dict[str, tuple[tuple[str, ...], frozenset[AccessGap]]] = {}
        self._containing: dict[str, list[str]] | None = None
        self._groups_memo: dict[str, frozenset[str]] = {}
        self._users_by_domain: dict[str, list[str]] | None = None
        # (role, where) -> the gap of an unknown role bound there (what-if paths name it).
        self._role_gaps: dict[tuple[str, str], AccessGap] = {}

    # --- roles and conditions ----------------------------------------------------------------

    def _permissions(self, role: str, where: str, gaps: set[AccessGap]) -> frozenset[str] | None:
        """The tracked permissions of `role`; None (and a gap) when it is unknown. A role the
        estate says does not exist holds none, and leaves a note."""
        perms = self._roles.permissions(role)
        if perms is None:
            why = self._roles.why_unknown(role)
            looked_up = f" and its lookup failed ({why})" if why else ""
            gap = AccessGap(
                GapKind.UNKNOWN_ROLE,
                where,
                f"role {role} (granted on {where}) is not in the role catalog{looked_up}: "
                "whether its members can read data is unknown",
                anyone=False,
            )
            self._role_gaps[(self._roles.normalise(role), where)] = gap
            gaps.add(gap)
        elif (gone := self._roles.deleted(role)) is not None:
            gaps.add(
                AccessGap(
                    GapKind.DELETED_ROLE,
                    where,
                    f"role {role} (granted on {where}) does not exist ({gone}): its bindings "
                    "grant nothing",
                    anyone=False,
                )
            )
        return perms

    def _unknown(self, role: str) -> bool:
        return self._roles.permissions(role) is None

    def _condition(self, condition: Condition | None) -> tuple[bool, str | None]:
        """(whether the edge can hold now, the condition when it could not be decided)."""
        verdict = evaluate(condition, self._now)
        if verdict.truth is Truth.FALSE:
            return False, None
        if verdict.truth is Truth.UNKNOWN and condition is not None:
            return True, condition.expression
        return True, None

    # --- the hierarchy -----------------------------------------------------------------------

    def _chain(self, project: str) -> tuple[tuple[str, ...], frozenset[AccessGap]]:
        """The project and its ancestors, nearest first, with gaps for unread policies."""
        if project not in self._chains:
            gaps: set[AccessGap] = set()
            own = f"projects/{project}"
            ancestry = self._inventory.ancestry
            if ancestry and ancestry[0] == own:
                chain = tuple(ancestry)
            else:
                chain = (own,)
                gaps.add(
                    AccessGap(
                        GapKind.UNKNOWN_ANCESTRY,
                        own,
                        f"the folders and organization above {own} are not in the inventory: "
                        "grants made there are unchecked",
                    )
                )
            gaps.update(self._missing(chain))
            self._chains[project] = (chain, frozenset(gaps))
        return self._chains[project]

    def _missing(self, resources: Iterable[str]) -> list[AccessGap]:
        return [
            AccessGap(
                GapKind.MISSING_POLICY,
                resource,
                f"the IAM policy of {resource} is not in the inventory: grants made there "
                "are unchecked",
            )
            for resource in resources
            if resource not in self._policies
        ]

    def _chain_quiet(self, project: str | None) -> tuple[str, ...]:
        return self._chain(project)[0] if project else ()

    def _chain_bindings(self, project: str, gaps: set[AccessGap]) -> list[tuple[str, IamBinding]]:
        chain, chain_gaps = self._chain(project)
        gaps |= chain_gaps
        return self._bindings_on(chain)

    def _bindings_on(self, resources: Iterable[str]) -> list[tuple[str, IamBinding]]:
        return [
            (resource, binding)
            for resource in resources
            if (policy := self._policies.get(resource)) is not None
            for binding in policy.bindings
        ]

    def _role_owner_bindings(
        self, role: str, gaps: set[AccessGap]
    ) -> list[tuple[str, IamBinding]] | None:
        """The bindings that govern who may change a custom role: those of the project (and
        its ancestors) or the organization that defines it. None for a predefined role."""
        found = _CUSTOM_ROLE.fullmatch(role)
        if found is None:
            return None
        owner = found["owner"]
        if owner.startswith("projects/"):
            return self._chain_bindings(owner.removeprefix("projects/"), gaps)
        gaps.update(self._missing([owner]))
        return self._bindings_on([owner])

    def _service_account_project(self, address: str, policy: str = "") -> str | None:
        project = service_account_project(address)
        if project is None:
            for sa_policy in self._sa_policies.get(address, ()):
                found = SA_POLICY.fullmatch(sa_policy.resource)
                if found and found["p"] != "-":
                    return found["p"]
            found = SA_POLICY.fullmatch(policy)
            if found and found["p"] != "-":
                return found["p"]
        return project

    # --- groups and domains ------------------------------------------------------------------

    def _groups_of(self, member: str) -> frozenset[str]:
        """Every group that contains `member`, directly or through nested groups."""
        if member not in self._groups_memo:
            if self._containing is None:
                self._containing = {}
                for group, members in self._members.items():
                    for m in members:
                        self._containing.setdefault(m, []).append(group)
            seen: set[str] = set()
            todo = list(self._containing.get(member, ()))
            while todo:
                group = todo.pop()
                if group not in seen:
                    seen.add(group)
                    todo.extend(self._containing.get(group, ()))
            self._groups_memo[member] = frozenset(seen)
        return self._groups_memo[member]

    def _users_in(self, domain: str) -> list[str]:
        """The `user:` members the inventory mentions anywhere whose address is in `domain`."""
        if self._users_by_domain is None:
            self._users_by_domain = {}
            for user in sorted(u for u in self._mentioned() if u.startswith("user:")):
                if (d := user_domain(user)) is not None:
                    self._users_by_domain.setdefault(d, []).append(user)
        return self._users_by_domain.get(domain.lower(), [])

    def _mentioned(self) -> set[str]:
        inv = self._inventory
        found = {canonical(m.member) for m in inv.group_memberships}
        found.update(
            m for ds in inv.datasets for e in ds.access if (m := acl_member(e, ds.project))
        )
        policies: Iterable[IamBinding] = [b for p in inv.iam_policies for b in p.bindings]
        tables: Iterable[IamBinding] = [b for t in inv.live_tables for b in t.iam or ()]
        for binding in (*policies, *tables):
            found.update(canonical(m) for m in binding.members)
        return found

    # --- datasets ----------------------------------------------------------------------------

    def _resolve(self, dataset: str, gaps: set[AccessGap]) -> Sequence[Dataset]:
        text = dataset.strip().removeprefix(BIGQUERY_RESOURCE_PREFIX)
        ref = _DATASET_ID.fullmatch(text)
        if ref is not None:
            found = [self._datasets[key]] if (key := (ref["p"], ref["d"])) in self._datasets else []
        else:
            found = [d for d in self._inventory.datasets if d.dataset_id == text]
        if not found:
            gaps.add(
                AccessGap(
                    GapKind.UNKNOWN_DATASET, dataset, f"dataset {dataset} is not in the inventory"
                )
            )
        return found
