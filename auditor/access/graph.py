"""The effective-access graph: every principal that can read a BigQuery dataset, by every path.

A query works backwards from the dataset:

1. grants on it (`_Reach`): its access entries, the IAM bindings of its project and the
   project's ancestors, table IAM (table-level), and authorized views / datasets / routines,
   which hand the dataset to whoever can read the authorizing object (recursively);
2. each granted member is expanded to concrete principals: groups to their members
   (nested), projectReaders/Writers/Owners to the holders of roles/viewer/editor/owner, a
   service account to itself and to whoever can impersonate it (transitively), a domain to
   itself and the known accounts of the domain;
3. deny policies remove (or, when conditional, mark) paths; IAM conditions that have expired
   at `now` remove edges, undecidable ones mark them.

Indexes are built once; expansions and per-project grants are memoized, so repeated
questions cost what their answers cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from auditor.access.conditions import Truth, evaluate
from auditor.access.deny import DenyIndex
from auditor.access.paths import (
    AccessAnswer,
    AccessGap,
    AccessPath,
    Capability,
    GapKind,
    Hop,
    HopKind,
)
from auditor.access.principals import (
    ALL_AUTHENTICATED_USERS,
    ALL_USERS,
    BASIC_ROLE_OF,
    PUBLIC,
    acl_member,
    canonical,
    email,
    is_service_agent,
    service_account_project,
    special_group,
    user_domain,
)
from auditor.access.roles import (
    DATASET_GRANT,
    GET_DATA,
    IMPERSONATE,
    POLICY_GRANT,
    ROUTINE_GET,
    TABLE_GRANT,
    RoleCatalog,
)
from auditor.model import (
    BIGQUERY_RESOURCE_PREFIX,
    Condition,
    Dataset,
    GranteeKind,
    IamBinding,
    Inventory,
    ResourcePolicy,
    Table,
)

_AUTHORIZED = (GranteeKind.VIEW, GranteeKind.DATASET, GranteeKind.ROUTINE)
_REF = re.compile(
    r"projects/(?P<p>[^/]+)/datasets/(?P<d>[^/]+)(?:/(?P<kind>tables|routines)/(?P<n>[^/]+))?"
)
_SA_POLICY = re.compile(r"projects/(?P<p>[^/]+)/serviceAccounts/(?P<email>[^/]+)")
_DATASET_ID = re.compile(r"(?:projects/)?(?P<p>[^/:.]+)(?:[:.]|/datasets/)(?P<d>[^/:.]+)")
_NOT_ON_STACK = 1 << 30
_VIEW_TYPES = ("VIEW", "MATERIALIZED_VIEW")

_End = tuple[str, tuple[Hop, ...]]  # a concrete principal and its hops up to the member


class _Want(Enum):
    """What a reader needs: table data, or to call a routine (authorized routines)."""

    READ = GET_DATA
    ROUTINE = ROUTINE_GET


@dataclass(frozen=True)
class _Reach:
    """`member` can read `target` through `hops` (from the member, exclusive)."""

    member: str
    hops: tuple[Hop, ...]
    target: str
    table_level: bool
    capability: Capability
    project: str  # the project whose deny policies govern the read


@dataclass(frozen=True)
class _Grant:
    member: str
    hop: Hop
    capability: Capability


class AccessGraph:
    """Who can read which dataset, by which path. Build once per inventory."""

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
            if sa := _SA_POLICY.fullmatch(policy.resource):
                self._sa_policies.setdefault(sa["email"].lower(), []).append(policy)
            else:
                self._policies[policy.resource] = policy
        self._members: dict[str, list[str]] = {}
        for membership in inventory.group_memberships:
            group = canonical(f"group:{membership.group}")
            self._members.setdefault(group, []).append(canonical(membership.member))
        self._deny = DenyIndex(inventory.deny_policies, self._groups_of)
        # Memos, filled on demand.
        self._chains: dict[str, tuple[tuple[str, ...], frozenset[AccessGap]]] = {}
        self._ancestor_grants: dict[
            tuple[str, _Want], tuple[list[_Grant], frozenset[AccessGap]]
        ] = {}
        self._expansions: dict[str, tuple[tuple[_End, ...], frozenset[AccessGap]]] = {}
        self._raw: dict[str, tuple[list[tuple[AccessPath, str]], frozenset[AccessGap]]] = {}
        self._containing: dict[str, list[str]] | None = None
        self._groups_memo: dict[str, frozenset[str]] = {}
        self._users_by_domain: dict[str, list[str]] | None = None

    @classmethod
    def build(cls, inventory: Inventory, *, now: datetime | None) -> AccessGraph:
        """`now` decides time-bound IAM conditions; None leaves them undecided (conditional)."""
        return cls(inventory, now, RoleCatalog.load(inventory.custom_roles))

    # --- questions ---------------------------------------------------------------------------

    def readers(self, dataset: str) -> AccessAnswer:
        """Every principal that can read the dataset (`D`, `P.D`, `P:D`, `projects/P/datasets/D`
        or its full resource name; a bare id means every dataset of that name), every path."""
        gaps: set[AccessGap] = set()
        paths: set[AccessPath] = set()
        for ds in self._resolve(dataset, gaps):
            raw, raw_gaps = self._raw_paths(ds)
            gaps |= raw_gaps
            paths.update(p for path, project in raw if (p := self._deny_filter(path, project)))
        return _answer(paths, gaps)

    def paths_for(self, principal: str, dataset: str) -> AccessAnswer:
        """Every path by which one principal reads the dataset, including through allUsers,
        allAuthenticatedUsers and `domain:` grants that cover it."""
        who = canonical(principal)
        gaps: set[AccessGap] = set()
        paths: set[AccessPath] = set()
        for ds in self._resolve(dataset, gaps):
            raw, raw_gaps = self._raw_paths(ds)
            gaps |= raw_gaps
            for path, project in raw:
                mine = _as_principal(who, path)
                if mine is not None and (kept := self._deny_filter(mine, project)):
                    paths.add(kept)
        return _answer(paths, gaps)

    # --- step 1: grants on the dataset -------------------------------------------------------

    def _raw_paths(self, ds: Dataset) -> tuple[list[tuple[AccessPath, str]], frozenset[AccessGap]]:
        """Every path before deny policies, with the project that governs each read."""
        cached = self._raw.get(ds.resource)
        if cached is not None:
            return cached
        gaps: set[AccessGap] = set()
        reaches = self._dataset_readers(ds, frozenset(), gaps)
        for table in self._tables.get((ds.project, ds.dataset_id), ()):
            reaches.extend(self._table_reaches(table, gaps))
        found: dict[AccessPath, str] = {}
        for reach in reaches:
            for principal, hops in self._expand(reach.member, gaps):
                path = AccessPath(
                    principal=principal,
                    target=reach.target,
                    hops=hops + reach.hops,
                    capability=reach.capability,
                    table_level=reach.table_level,
                )
                found.setdefault(path, reach.project)
        result = (list(found.items()), frozenset(gaps))
        self._raw[ds.resource] = result
        return result

    def _dataset_readers(
        self, ds: Dataset, visiting: frozenset[str], gaps: set[AccessGap]
    ) -> list[_Reach]:
        """Dataset-level readers: access entries, ancestors' IAM, authorized objects."""
        reaches = self._direct(ds, _Want.READ, gaps)
        reaches.extend(self._authorized(ds, visiting | {ds.resource}, gaps))
        return reaches

    def _direct(self, ds: Dataset, want: _Want, gaps: set[AccessGap]) -> list[_Reach]:
        reaches: list[_Reach] = []
        for entry in ds.access:
            if entry.kind in _AUTHORIZED or entry.role is None:
                continue
            member = acl_member(entry, ds.project)
            role = self._roles.normalise(entry.role)
            capability = self._capability(role, ds.resource, want, DATASET_GRANT, gaps)
            active, condition = self._condition(entry.condition)
            if member is None or capability is None or not active:
                continue
            hop = Hop(HopKind.DATASET_ACL, ds.resource, role, member, condition=condition)
            reaches.append(_Reach(member, (hop,), ds.resource, False, capability, ds.project))
        for grant in self._ancestors(ds.project, want, gaps):
            reaches.append(
                _Reach(grant.member, (grant.hop,), ds.resource, False, grant.capability, ds.project)
            )
        return reaches

    def _ancestors(self, project: str, want: _Want, gaps: set[AccessGap]) -> list[_Grant]:
        """Bindings on the project, its folders and organization that read every dataset
        below (or may grant themselves that)."""
        key = (project, want)
        if key not in self._ancestor_grants:
            found: set[AccessGap] = set()
            grants: list[_Grant] = []
            for resource, binding in self._chain_bindings(project, found):
                capability = self._capability(
                    binding.role, resource, want, DATASET_GRANT | POLICY_GRANT, found
                )
                active, condition = self._condition(binding.condition)
                if capability is None or not active:
                    continue
                for m in binding.members:
                    member = canonical(m)
                    hop = Hop(
                        HopKind.RESOURCE_IAM, resource, binding.role, member, condition=condition
                    )
                    grants.append(_Grant(member, hop, capability))
            self._ancestor_grants[key] = (grants, frozenset(found))
        grants, found_gaps = self._ancestor_grants[key]
        gaps |= found_gaps
        return grants

    def _table_reaches(self, table: Table, gaps: set[AccessGap]) -> list[_Reach]:
        if table.iam is None:
            gaps.add(
                AccessGap(
                    GapKind.TABLE_IAM_UNREAD,
                    table.resource,
                    f"the IAM policy of table {table.dataset_id}.{table.table_id} was not read: "
                    "table-level grants on it are unchecked",
                )
            )
            return []
        reaches: list[_Reach] = []
        for binding in table.iam:
            capability = self._capability(
                binding.role, table.resource, _Want.READ, TABLE_GRANT, gaps
            )
            active, condition = self._condition(binding.condition)
            if capability is None or not active:
                continue
            for m in binding.members:
                member = canonical(m)
                hop = Hop(
                    HopKind.TABLE_IAM, table.resource, binding.role, member, condition=condition
                )
                reaches.append(
                    _Reach(member, (hop,), table.resource, True, capability, table.project)
                )
        return reaches

    def _authorized(
        self, ds: Dataset, visiting: frozenset[str], gaps: set[AccessGap]
    ) -> list[_Reach]:
        """Readers of the views, datasets (their views) and routines authorized on `ds`."""
        reaches: list[_Reach] = []
        for entry in ds.access:
            if entry.kind not in _AUTHORIZED:
                continue
            ref = _REF.fullmatch(entry.entity.strip())
            source = self._datasets.get((ref["p"], ref["d"])) if ref else None
            if ref is None or source is None:
                gaps.add(
                    AccessGap(
                        GapKind.UNKNOWN_DATASET,
                        ds.resource,
                        f"authorized {entry.kind.value} {entry.entity} is not in the inventory: "
                        "who can use it is unknown",
                    )
                )
                continue
            if source.resource in visiting:
                continue
            obj = BIGQUERY_RESOURCE_PREFIX + entry.entity.strip()
            if entry.kind is GranteeKind.ROUTINE:
                via = self._direct(source, _Want.ROUTINE, gaps)
                hop = Hop(HopKind.AUTHORIZED_ROUTINE, ds.resource, "authorized routine", obj)
            else:
                via = self._dataset_readers(source, visiting, gaps)
                tables = self._tables.get((source.project, source.dataset_id), ())
                if entry.kind is GranteeKind.VIEW:
                    views = [t for t in tables if t.table_id == ref["n"]]
                    hop = Hop(HopKind.AUTHORIZED_VIEW, ds.resource, "authorized view", obj)
                else:
                    views = [t for t in tables if t.type in _VIEW_TYPES]
                    detail = "authorized dataset: its views"
                    hop = Hop(HopKind.AUTHORIZED_DATASET, ds.resource, detail, source.resource)
                for view in views:
                    via.extend(self._table_reaches(view, gaps))
            reaches.extend(
                _Reach(r.member, (*r.hops, hop), ds.resource, False, r.capability, r.project)
                for r in via
            )
        return reaches

    # --- step 2: members to principals -------------------------------------------------------

    def _expand(self, member: str, gaps: set[AccessGap]) -> tuple[_End, ...]:
        ends, found, _ = self._expand_from(member, {})
        gaps |= found
        return ends

    def _expand_from(
        self, member: str, stack: dict[str, int]
    ) -> tuple[tuple[_End, ...], frozenset[AccessGap], int]:
        """Depth-first over "who holds what `member` holds", cycle-safe. A result is
        memoized unless it was cut by a cycle through a node above it (then it depends on
        the stack); paths never repeat a node."""
        memo = self._expansions.get(member)
        if memo is not None:
            return memo[0], memo[1], _NOT_ON_STACK
        depth = len(stack)
        stack[member] = depth
        low = _NOT_ON_STACK
        found: set[AccessGap] = set()
        terminal, edges = self._incoming(member, found)
        ends: list[_End] = [(member, ())] if terminal else []
        for hop, child in edges:
            if child in stack:
                low = min(low, stack[child])
                continue
            sub, sub_gaps, sub_low = self._expand_from(child, stack)
            low = min(low, sub_low)
            found |= sub_gaps
            for principal, hops in sub:
                # A memoized path through a node on the stack would repeat it: drop it, and
                # count it as a cycle so this (now partial) result is not memoized.
                repeats = [stack[n] for n in (principal, *(h.member for h in hops)) if n in stack]
                if repeats:
                    low = min(low, *repeats)
                else:
                    ends.append((principal, (*hops, hop)))
        del stack[member]
        result = (tuple(ends), frozenset(found))
        if low >= depth:
            self._expansions[member] = result
        return result[0], result[1], low

    def _incoming(self, member: str, gaps: set[AccessGap]) -> tuple[bool, list[tuple[Hop, str]]]:
        """(whether `member` is itself a principal at the end of a path, edges from the
        members that hold what it holds)."""
        if member.startswith("group:"):
            members = self._members.get(member)
            if members is None:
                gaps.add(
                    AccessGap(
                        GapKind.UNEXPANDED_GROUP,
                        member,
                        f"the members of {member} are not in the inventory: it stands for "
                        "all of them",
                    )
                )
                return True, []
            return False, [(Hop(HopKind.GROUP_MEMBER, member, "member", m), m) for m in members]
        if special := special_group(member):
            return self._basic_role_holders(member, special[1], BASIC_ROLE_OF[special[0]], gaps)
        if member.startswith("serviceAccount:"):
            return True, self._impersonators(member, gaps)
        if member.startswith("domain:"):
            hops = [
                (Hop(HopKind.DOMAIN_MEMBER, member, "account in the domain", u), u)
                for u in self._users_in(member.removeprefix("domain:"))
            ]
            return True, hops
        # A deleted principal (deleted:user:...) reaches nothing.
        return not member.startswith("deleted:"), []

    def _basic_role_holders(
        self, member: str, project: str, role: str, gaps: set[AccessGap]
    ) -> tuple[bool, list[tuple[Hop, str]]]:
        edges: list[tuple[Hop, str]] = []
        for resource, binding in self._chain_bindings(project, gaps):
            if binding.role != role:
                continue
            active, condition = self._condition(binding.condition)
            if not active:
                continue
            for m in binding.members:
                holder = canonical(m)
                hop = Hop(HopKind.BASIC_ROLE, member, role, holder, resource, condition)
                edges.append((hop, holder))
        # Without the project's policy the special group stays unresolved, as itself.
        return f"projects/{project}" not in self._policies, edges

    def _impersonators(self, member: str, gaps: set[AccessGap]) -> list[tuple[Hop, str]]:
        address = email(member) or ""
        if is_service_agent(address):
            return []
        bindings: list[tuple[str, IamBinding]] = [
            (policy.resource, b)
            for policy in self._sa_policies.get(address, ())
            for b in policy.bindings
        ]
        project = self._service_account_project(address)
        if project is None:
            gaps.add(
                AccessGap(
                    GapKind.UNKNOWN_SERVICE_ACCOUNT_PROJECT,
                    member,
                    f"the project of {member} is unknown: who may impersonate it through "
                    "project, folder or organization roles is unchecked",
                )
            )
        else:
            bindings.extend(self._chain_bindings(project, gaps))
        edges: list[tuple[Hop, str]] = []
        for resource, binding in bindings:
            perms = self._permissions(binding.role, resource, gaps)
            if not perms or not perms & IMPERSONATE:
                continue
            active, condition = self._condition(binding.condition)
            if not active:
                continue
            for m in binding.members:
                holder = canonical(m)
                hop = Hop(HopKind.IMPERSONATION, member, binding.role, holder, resource, condition)
                edges.append((hop, holder))
        return edges

    # --- step 3: deny policies ---------------------------------------------------------------

    def _deny_filter(self, path: AccessPath, project: str) -> AccessPath | None:
        """None when a deny policy blocks the path; the path marked with the conditional
        deny policies that may block it otherwise. The identity that uses a permission is
        the principal, or the service account it impersonates at that point."""
        if not self._deny:
            return path
        identity = path.principal
        maybe: set[str] = set()
        for hop in path.hops:
            if hop.kind is not HopKind.IMPERSONATION:
                continue
            perms = (self._roles.permissions(hop.detail) or frozenset()) & IMPERSONATE
            sa_project = self._service_account_project(email(hop.subject) or "", hop.policy)
            verdict = self._deny.check(identity, sorted(perms), self._chain_quiet(sa_project))
            if verdict.blocked:
                return None
            maybe.update(verdict.maybe)
            identity = hop.subject
        verdict = self._deny.check(identity, [GET_DATA], self._chain_quiet(project))
        if verdict.blocked:
            return None
        maybe.update(verdict.maybe)
        return replace(path, denials=tuple(sorted(maybe))) if maybe else path

    # --- helpers -----------------------------------------------------------------------------

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
            for resource in chain:
                if resource not in self._policies:
                    gaps.add(
                        AccessGap(
                            GapKind.MISSING_POLICY,
                            resource,
                            f"the IAM policy of {resource} is not in the inventory: grants "
                            "made there are unchecked",
                        )
                    )
            self._chains[project] = (chain, frozenset(gaps))
        return self._chains[project]

    def _chain_quiet(self, project: str | None) -> tuple[str, ...]:
        return self._chain(project)[0] if project else ()

    def _chain_bindings(self, project: str, gaps: set[AccessGap]) -> list[tuple[str, IamBinding]]:
        chain, chain_gaps = self._chain(project)
        gaps |= chain_gaps
        return [
            (resource, binding)
            for resource in chain
            if (policy := self._policies.get(resource)) is not None
            for binding in policy.bindings
        ]

    def _permissions(self, role: str, where: str, gaps: set[AccessGap]) -> frozenset[str] | None:
        perms = self._roles.permissions(role)
        if perms is None:
            gaps.add(
                AccessGap(
                    GapKind.UNKNOWN_ROLE,
                    where,
                    f"role {role} (granted on {where}) is not in the role catalog: whether "
                    "its members can read data is unknown",
                )
            )
        return perms

    def _capability(
        self,
        role: str,
        where: str,
        want: _Want,
        grant_permissions: frozenset[str],
        gaps: set[AccessGap],
    ) -> Capability | None:
        perms = self._permissions(role, where, gaps)
        if perms is None:
            return None
        if want.value in perms:
            return Capability.READ
        return Capability.SELF_GRANT if perms & grant_permissions else None

    def _condition(self, condition: Condition | None) -> tuple[bool, str | None]:
        """(whether the edge can hold now, the condition when it could not be decided)."""
        verdict = evaluate(condition, self._now)
        if verdict.truth is Truth.FALSE:
            return False, None
        if verdict.truth is Truth.UNKNOWN and condition is not None:
            return True, condition.expression
        return True, None

    def _service_account_project(self, address: str, policy: str = "") -> str | None:
        project = service_account_project(address)
        if project is None:
            for sa_policy in self._sa_policies.get(address, ()):
                found = _SA_POLICY.fullmatch(sa_policy.resource)
                if found and found["p"] != "-":
                    return found["p"]
            found = _SA_POLICY.fullmatch(policy)
            if found and found["p"] != "-":
                return found["p"]
        return project

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


def _as_principal(who: str, path: AccessPath) -> AccessPath | None:
    """`path` seen from `who`: itself, or through a public or domain grant covering `who`."""
    if path.principal == who:
        return path
    if path.principal == ALL_USERS and who != ALL_USERS:
        detail = "includes every principal"
    elif path.principal == ALL_AUTHENTICATED_USERS and who not in PUBLIC:
        detail = "includes every authenticated principal"
    elif path.principal.startswith("domain:") and user_domain(who) == path.principal[7:]:
        hop = Hop(HopKind.DOMAIN_MEMBER, path.principal, "account in the domain", who)
        return replace(path, principal=who, hops=(hop, *path.hops))
    else:
        return None
    hop = Hop(HopKind.PUBLIC, path.principal, detail, who)
    return replace(path, principal=who, hops=(hop, *path.hops))


def _answer(paths: Iterable[AccessPath], gaps: Iterable[AccessGap]) -> AccessAnswer:
    return AccessAnswer(
        paths=tuple(sorted(paths, key=AccessPath.sort_key)), gaps=tuple(sorted(set(gaps)))
    )
