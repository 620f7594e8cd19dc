"""The effective-access graph: every principal that can read a BigQuery dataset, by every path.

A query works backwards from the dataset:

1. grants on it (`_Reach`): its access entries, the IAM bindings of its project and the
   project's ancestors, table IAM (table-level), and authorized views / datasets / routines,
   which hand the dataset to whoever can read the authorizing object (recursively). Whoever
   may only change such a view or routine (or create a view in an authorized dataset) gains
   no path: BigQuery drops the authorization of a changed view or routine, and a view of an
   authorized dataset can be created or changed only with read on what it references
   (reference/bigquery/authorized-resources.md); whoever can read, or grant itself read on,
   the view's dataset or the view is a path already;
2. each granted member is expanded to concrete principals: groups to their members
   (nested), projectReaders/Writers/Owners to the holders of roles/viewer/editor/owner, a
   service account to itself and to whoever can impersonate it (transitively), a domain to
   itself and the known accounts of the domain;
3. deny policies remove (or, when conditional, mark) paths; IAM conditions that have expired
   at `now` remove edges, undecidable ones mark them.

A custom role a principal may change (`iam.roles.update` where the role is defined) counts
for what it could be given: a binding of it on the dataset's grants, or on a service account's
policy or its project chain, is a path for the principals that hold it and may change it
(capability SELF_GRANT, a ROLE_UPDATE hop first).

A binding of a role the catalog does not know is followed too, as a what-if: the paths
through it are not answers, they name the principals its coverage gap could matter for
(`AccessGap.affects`). An unknown role held by user:alice affects user:alice (and whoever
can act as her), not everyone.

Indexes are built once; expansions and per-project grants are memoized, so repeated
questions cost what their answers cost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from auditor.access.deny import DenyIndex
from auditor.access.expand import Expansion, Updaters
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
    PUBLIC,
    acl_member,
    canonical,
    email,
    user_domain,
)
from auditor.access.roles import (
    DATASET_GRANT,
    DELEGATE,
    GET_DATA,
    IMPERSONATE,
    POLICY_GRANT,
    ROUTINE_GET,
    TABLE_GRANT,
    RoleCatalog,
)
from auditor.model import (
    BIGQUERY_RESOURCE_PREFIX,
    Dataset,
    GranteeKind,
    Inventory,
    Table,
)

_AUTHORIZED = (GranteeKind.VIEW, GranteeKind.DATASET, GranteeKind.ROUTINE)
_REF = re.compile(
    r"projects/(?P<p>[^/]+)/datasets/(?P<d>[^/]+)(?:/(?P<kind>tables|routines)/(?P<n>[^/]+))?"
)
_VIEW_TYPES = ("VIEW", "MATERIALIZED_VIEW")
# Hops that hold because of a role binding (the role is the hop's detail).
_ROLE_HOPS = frozenset(
    {
        HopKind.DATASET_ACL,
        HopKind.TABLE_IAM,
        HopKind.RESOURCE_IAM,
        HopKind.IMPERSONATION,
        HopKind.ROLE_UPDATE,
    }
)


class _Want(Enum):
    """What a reader needs: table data, or to call a routine (authorized routines)."""

    READ = GET_DATA
    ROUTINE = ROUTINE_GET


@dataclass(frozen=True)
class _Reach:
    """`member` can read `target` through `hops` (from the member, exclusive). With
    `updaters`, only after changing the custom role of the grant: only those principals."""

    member: str
    hops: tuple[Hop, ...]
    target: str
    table_level: bool
    capability: Capability
    project: str  # the project whose deny policies govern the read
    updaters: Updaters | None = None


@dataclass(frozen=True)
class _Grant:
    member: str
    hop: Hop
    capability: Capability
    updaters: Updaters | None = None


@dataclass(frozen=True)
class _Raw:
    """A dataset's paths before deny policies (with the project governing each read), the
    what-if paths through unknown roles (with the gaps they stand for), and the gaps."""

    paths: list[tuple[AccessPath, str]]
    what_ifs: list[tuple[AccessPath, str, tuple[AccessGap, ...]]]
    gaps: frozenset[AccessGap]


class AccessGraph(Expansion):
    """Who can read which dataset, by which path. Build once per inventory."""

    def __init__(self, inventory: Inventory, now: datetime | None, roles: RoleCatalog) -> None:
        super().__init__(inventory, now, roles)
        self._deny = DenyIndex(inventory.deny_policies, self._groups_of)
        # Memos, filled on demand.
        self._ancestor_grants: dict[
            tuple[str, _Want], tuple[list[_Grant], frozenset[AccessGap]]
        ] = {}
        self._raw: dict[str, _Raw] = {}
        self._delegates: dict[str, bool] = {}

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
        affected: dict[AccessGap, set[str]] = {}
        for ds in self._resolve(dataset, gaps):
            raw = self._raw_paths(ds)
            gaps |= raw.gaps
            for path, project in raw.paths:
                if (kept := self._deny_filter(path, project)) is not None:
                    paths.add(kept)
            for path, project, unknown in raw.what_ifs:
                if (kept := self._deny_filter(path, project)) is not None:
                    for gap in unknown:
                        affected.setdefault(gap, set()).add(kept.principal)
        return _answer(paths, gaps, affected)

    def paths_for(self, principal: str, dataset: str) -> AccessAnswer:
        """Every path by which one principal reads the dataset, including through allUsers,
        allAuthenticatedUsers and `domain:` grants that cover it; the gaps that could hide
        one more."""
        who = canonical(principal)
        gaps: set[AccessGap] = set()
        paths: set[AccessPath] = set()
        affected: dict[AccessGap, set[str]] = {}
        for ds in self._resolve(dataset, gaps):
            raw = self._raw_paths(ds)
            gaps |= raw.gaps
            for path, project in raw.paths:
                mine = _as_principal(who, path)
                if mine is not None and (kept := self._deny_filter(mine, project)):
                    paths.add(kept)
            for path, project, unknown in raw.what_ifs:
                mine = _as_principal(who, path)
                if mine is not None and self._deny_filter(mine, project) is not None:
                    for gap in unknown:
                        affected.setdefault(gap, set()).add(who)
        answer = _answer(paths, gaps, affected)
        return replace(answer, gaps=tuple(g for g in answer.gaps if g.may_affect(who)))

    # --- step 1: grants on the dataset -------------------------------------------------------

    def _raw_paths(self, ds: Dataset) -> _Raw:
        cached = self._raw.get(ds.resource)
        if cached is not None:
            return cached
        gaps: set[AccessGap] = set()
        reaches = self._dataset_readers(ds, frozenset(), gaps)
        for table in self._tables.get((ds.project, ds.dataset_id), ()):
            reaches.extend(self._table_reaches(table, gaps))
        found: dict[AccessPath, str] = {}
        what_ifs: dict[AccessPath, tuple[str, tuple[AccessGap, ...]]] = {}
        for reach in reaches:
            for principal, hops in self._expand(reach.member, gaps):
                first = self._role_changes(principal, hops, reach.updaters, gaps)
                if first is None:
                    continue
                path = AccessPath(
                    principal=principal,
                    target=reach.target,
                    hops=first + hops + reach.hops,
                    capability=Capability.SELF_GRANT if first else reach.capability,
                    table_level=reach.table_level,
                )
                if unknown := self._unknown_hops(path.hops):
                    what_ifs.setdefault(path, (reach.project, unknown))
                elif _delegation_holds(path.hops, self._delegate_only):
                    found.setdefault(path, reach.project)
        raw = _Raw(
            list(found.items()),
            [(path, project, unknown) for path, (project, unknown) in what_ifs.items()],
            frozenset(gaps),
        )
        self._raw[ds.resource] = raw
        return raw

    def _role_changes(
        self,
        principal: str,
        hops: tuple[Hop, ...],
        grant_updaters: Updaters | None,
        gaps: set[AccessGap],
    ) -> tuple[Hop, ...] | None:
        """The custom-role changes `principal` must make for a path to hold (one per role: the
        grant's, and that of each impersonation hop whose role lacks every impersonation
        permission), each a ROLE_UPDATE hop; None when it may not make one of them."""
        needed: list[Hop] = []
        if grant_updaters is not None:
            if (update := grant_updaters.get(principal)) is None:
                return None
            needed.append(update)
        for hop in hops if self._roles_to_change else ():
            if hop.kind is not HopKind.IMPERSONATION or hop.detail not in self._roles_to_change:
                continue
            updaters = self._role_updaters(hop.detail, gaps) or {}
            if (update := updaters.get(principal)) is None:
                return None
            if update not in needed:
                needed.append(update)
        return tuple(needed)

    def _unknown_hops(self, hops: Iterable[Hop]) -> tuple[AccessGap, ...]:
        """The gaps of the unknown roles a path goes through (a what-if path), if any."""
        if not self._role_gaps:
            return ()
        found: list[AccessGap] = []
        for hop in hops:
            if hop.kind in _ROLE_HOPS and self._unknown(hop.detail):
                where = hop.policy if hop.kind is HopKind.IMPERSONATION else hop.subject
                gap = self._role_gaps.get((self._roles.normalise(hop.detail), where))
                if gap is not None:
                    found.append(gap)
        return tuple(found)

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
            active, condition = self._condition(entry.condition)
            if member is None or not active:
                continue
            granted = self._grant(role, ds.resource, want, DATASET_GRANT, gaps)
            if granted is None:
                continue
            hop = Hop(HopKind.DATASET_ACL, ds.resource, role, member, condition=condition)
            capability, updaters = granted
            reaches.append(
                _Reach(member, (hop,), ds.resource, False, capability, ds.project, updaters)
            )
        for grant in self._ancestors(ds.project, want, gaps):
            reaches.append(
                _Reach(
                    grant.member,
                    (grant.hop,),
                    ds.resource,
                    False,
                    grant.capability,
                    ds.project,
                    grant.updaters,
                )
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
                active, condition = self._condition(binding.condition)
                if not active:
                    continue
                granted = self._grant(
                    binding.role, resource, want, DATASET_GRANT | POLICY_GRANT, found
                )
                if granted is None:
                    continue
                for m in binding.members:
                    member = canonical(m)
                    hop = Hop(
                        HopKind.RESOURCE_IAM, resource, binding.role, member, condition=condition
                    )
                    grants.append(_Grant(member, hop, *granted))
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
            active, condition = self._condition(binding.condition)
            if not active:
                continue
            granted = self._grant(binding.role, table.resource, _Want.READ, TABLE_GRANT, gaps)
            if granted is None:
                continue
            capability, updaters = granted
            for m in binding.members:
                member = canonical(m)
                hop = Hop(
                    HopKind.TABLE_IAM, table.resource, binding.role, member, condition=condition
                )
                reaches.append(
                    _Reach(
                        member, (hop,), table.resource, True, capability, table.project, updaters
                    )
                )
        return reaches

    def _grant(
        self,
        role: str,
        where: str,
        want: _Want,
        grant_permissions: frozenset[str],
        gaps: set[AccessGap],
    ) -> tuple[Capability, Updaters | None] | None:
        """What a binding of `role` on `where` gives its members: read, or a way to grant
        themselves read (rewriting a policy, or changing the custom role itself); None when
        neither. An unknown role is taken to read, for the what-if paths of its gap."""
        perms = self._permissions(role, where, gaps)
        if perms is None:
            return Capability.READ, None
        if want.value in perms:
            return Capability.READ, None
        if perms & grant_permissions:
            return Capability.SELF_GRANT, None
        updaters = self._role_updaters(role, gaps)
        return (Capability.SELF_GRANT, updaters) if updaters else None

    def _delegate_only(self, role: str) -> bool:
        """Whether a role's only way to act as an account is implicitDelegation (memoized:
        asked once per impersonation hop of every path)."""
        only = self._delegates.get(role)
        if only is None:
            perms = self._roles.permissions(role) or frozenset()
            only = self._delegates[role] = perms & IMPERSONATE == {DELEGATE}
        return only

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
                replace(r, hops=(*r.hops, hop), target=ds.resource, table_level=False) for r in via
            )
        return reaches

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
            if not perms:  # a custom role to be changed: it may gain any of them
                perms = IMPERSONATE - {DELEGATE}
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


def _delegation_holds(hops: tuple[Hop, ...], delegate_only: Callable[[str], bool]) -> bool:
    """Whether every delegation-only impersonation hop (implicitDelegation alone) is a link
    of a chain: followed by an impersonation by the account it delegates to."""
    for i, hop in enumerate(hops):
        if hop.kind is not HopKind.IMPERSONATION or not delegate_only(hop.detail):
            continue
        after = hops[i + 1] if i + 1 < len(hops) else None
        if after is None or after.kind is not HopKind.IMPERSONATION or after.member != hop.subject:
            return False
    return True


def _answer(
    paths: Iterable[AccessPath],
    gaps: Iterable[AccessGap],
    affected: Mapping[AccessGap, set[str]],
) -> AccessAnswer:
    """Sorted paths; gaps with the principals an unknown role could matter for; deleted
    roles as notes."""
    kept: set[AccessGap] = set()
    notes: set[str] = set()
    for gap in gaps:
        if gap.kind is GapKind.DELETED_ROLE:
            notes.add(gap.reason)
        elif gap.kind is GapKind.UNKNOWN_ROLE:
            kept.add(replace(gap, affects=tuple(sorted(affected.get(gap, ())))))
        else:
            kept.add(gap)
    return AccessAnswer(
        paths=tuple(sorted(paths, key=AccessPath.sort_key)),
        gaps=tuple(sorted(kept)),
        notes=tuple(sorted(notes)),
    )
