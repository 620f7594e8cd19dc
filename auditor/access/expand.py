"""Step 2 of the access graph: from a granted member to the concrete principals that hold
what it holds, each with its hops. Groups to their members (nested), projectReaders/
Writers/Owners to the holders of roles/viewer/editor/owner, a service account to itself and
to whoever can impersonate it (transitively), a domain to itself and its known accounts."""

from __future__ import annotations

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
from auditor.access.roles import IMPERSONATE, RoleCatalog
from auditor.model import IamBinding, Inventory

_NOT_ON_STACK = 1 << 30

End = tuple[str, tuple[Hop, ...]]  # a concrete principal and its hops up to the member


class Expansion(EstateIndex):
    def __init__(self, inventory: Inventory, now: datetime | None, roles: RoleCatalog) -> None:
        super().__init__(inventory, now, roles)
        self._expansions: dict[str, tuple[tuple[End, ...], frozenset[AccessGap]]] = {}

    def _expand(self, member: str, gaps: set[AccessGap]) -> tuple[End, ...]:
        ends, found, _ = self._expand_from(member, {})
        gaps |= found
        return ends

    def _expand_from(
        self, member: str, stack: dict[str, int]
    ) -> tuple[tuple[End, ...], frozenset[AccessGap], int]:
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
        ends: list[End] = [(member, ())] if terminal else []
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
                        anyone=False,
                        affects=(member,),
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
            # An unknown role may impersonate: a what-if edge (see _unknown_hops).
            if perms is not None and not perms & IMPERSONATE:
                continue
            active, condition = self._condition(binding.condition)
            if not active:
                continue
            for m in binding.members:
                holder = canonical(m)
                hop = Hop(HopKind.IMPERSONATION, member, binding.role, holder, resource, condition)
                edges.append((hop, holder))
        return edges
