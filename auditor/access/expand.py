"""Step 2 of the access graph: from a granted member to the concrete principals that hold
what it holds, each with its hops. Groups to their members (nested), projectReaders/
Writers/Owners to the holders of roles/viewer/editor/owner, a service account to itself and
to whoever can impersonate it (transitively), a domain to itself and its known accounts.

Impersonation includes holders of a custom role that lacks every impersonation permission
but that someone may change (`iam.roles.update` where the role is defined, on the project
chain or the organization): such an edge holds only for a principal that is (or can act as)
one of the role's updaters, which the graph checks once the path's principal is known
(`_role_updaters`). Who may change a role is found without such edges: a change to one
custom role that first needs a change to another is not followed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from auditor.access.index import EstateIndex
from auditor.access.paths import AccessGap, GapKind, Hop, HopKind
from auditor.access.principals import (
    BASIC_ROLE_OF,
    canonical,
    email,
    is_service_agent,
    special_group,
)
from auditor.access.roles import IMPERSONATE, ROLE_UPDATE, RoleCatalog
from auditor.model import IamBinding, Inventory

_NOT_ON_STACK = 1 << 30

End = tuple[str, tuple[Hop, ...]]  # a concrete principal and its hops up to the member
Updaters = Mapping[str, Hop]  # principal -> the hop by which it may change a custom role
_Memo = dict[str, tuple[tuple[End, ...], frozenset[AccessGap]]]


class Expansion(EstateIndex):
    def __init__(self, inventory: Inventory, now: datetime | None, roles: RoleCatalog) -> None:
        super().__init__(inventory, now, roles)
        # Two memos: with the impersonation edges that need a custom role changed first
        # (paths), and without them (who may change a role: no recursion through roles).
        self._expansions: _Memo = {}
        self._plain_expansions: _Memo = {}
        self._updaters: dict[str, tuple[Updaters | None, frozenset[AccessGap]]] = {}
        # Roles of the impersonation edges that hold only once the role is changed.
        self._roles_to_change: set[str] = set()

    def _expand(
        self, member: str, gaps: set[AccessGap], *, with_role_changes: bool = True
    ) -> tuple[End, ...]:
        ends, found, _ = self._expand_from(member, {}, with_role_changes)
        gaps |= found
        return ends

    def _expand_from(
        self, member: str, stack: dict[str, int], with_role_changes: bool
    ) -> tuple[tuple[End, ...], frozenset[AccessGap], int]:
        """Depth-first over "who holds what `member` holds", cycle-safe. A result is
        memoized unless it was cut by a cycle through a node above it (then it depends on
        the stack); paths never repeat a node."""
        memos = self._expansions if with_role_changes else self._plain_expansions
        memo = memos.get(member)
        if memo is not None:
            return memo[0], memo[1], _NOT_ON_STACK
        depth = len(stack)
        stack[member] = depth
        low = _NOT_ON_STACK
        found: set[AccessGap] = set()
        terminal, edges = self._incoming(member, found, with_role_changes)
        ends: list[End] = [(member, ())] if terminal else []
        for hop, child in edges:
            if child in stack:
                low = min(low, stack[child])
                continue
            sub, sub_gaps, sub_low = self._expand_from(child, stack, with_role_changes)
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
            memos[member] = result
        return result[0], result[1], low

    def _incoming(
        self, member: str, gaps: set[AccessGap], with_role_changes: bool
    ) -> tuple[bool, list[tuple[Hop, str]]]:
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
                        anyone=False,
                        affects=(member,),
                    )
                )
                return True, []
            return False, [(Hop(HopKind.GROUP_MEMBER, member, "member", m), m) for m in members]
        if special := special_group(member):
            return self._basic_role_holders(member, special[1], BASIC_ROLE_OF[special[0]], gaps)
        if member.startswith("serviceAccount:"):
            return True, self._impersonators(member, gaps, with_role_changes)
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

    def _impersonators(
        self, member: str, gaps: set[AccessGap], with_role_changes: bool
    ) -> list[tuple[Hop, str]]:
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
            # An unknown role may impersonate: a what-if edge (see _unknown_hops).
            updaters: Updaters | None = None
            if perms is not None and not perms & IMPERSONATE:
                # A custom role someone may change: an edge for its holders that may be
                # (or stand for, or act as) one who can change it.
                if not with_role_changes:
                    continue
                updaters = self._role_updaters(binding.role, gaps)
                if not updaters:
                    continue
                self._roles_to_change.add(binding.role)
            active, condition = self._condition(binding.condition)
            if not active:
                continue
            for m in binding.members:
                holder = canonical(m)
                if updaters is not None and holder.startswith("user:") and holder not in updaters:
                    continue  # a user is only itself: it cannot change the role
                hop = Hop(HopKind.IMPERSONATION, member, binding.role, holder, resource, condition)
                edges.append((hop, holder))
        return edges

    def _role_updaters(self, role: str, gaps: set[AccessGap]) -> Updaters | None:
        """The principals that may change a custom role (iam.roles.update where it is
        defined), each with the hop that says how; None for a predefined role."""
        if role not in self._updaters:
            found: set[AccessGap] = set()
            bindings = self._role_owner_bindings(role, found)
            updaters: dict[str, Hop] | None = None if bindings is None else {}
            if bindings is not None and updaters is not None:
                for resource, binding in bindings:
                    perms = self._permissions(binding.role, resource, found) or frozenset()
                    active, condition = self._condition(binding.condition)
                    if ROLE_UPDATE not in perms or not active:
                        continue
                    for m in binding.members:
                        member = canonical(m)
                        hop = Hop(
                            HopKind.ROLE_UPDATE, role, binding.role, member, resource, condition
                        )
                        for principal, _ in self._expand(member, found, with_role_changes=False):
                            updaters.setdefault(principal, hop)
            self._updaters[role] = (updaters, frozenset(found))
        known, found_gaps = self._updaters[role]
        gaps |= found_gaps
        return known
