"""What the access graph answers: paths (hop lists) from a principal to a resource, and the
coverage gaps that make an answer incomplete. Plain frozen data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from auditor.access.principals import may_include
from auditor.model import CoverageGap


class HopKind(StrEnum):
    """One kind of edge. Grant edges name the policy that holds them; the others follow from
    group membership, domains, public principals or authorized objects."""

    DATASET_ACL = "dataset-acl"  # an access entry of the dataset
    TABLE_IAM = "table-iam"  # a binding of a table's IAM policy
    RESOURCE_IAM = "resource-iam"  # a binding on the project, a folder or the organization
    BASIC_ROLE = "basic-role"  # roles/viewer|editor|owner: makes the member projectReaders...
    IMPERSONATION = "impersonation"  # may act as a service account
    GROUP_MEMBER = "group-member"
    DOMAIN_MEMBER = "domain-member"  # an account of a domain: grant
    PUBLIC = "public"  # allUsers / allAuthenticatedUsers include the principal
    AUTHORIZED_VIEW = "authorized-view"
    AUTHORIZED_DATASET = "authorized-dataset"
    AUTHORIZED_ROUTINE = "authorized-routine"
    # May change a custom role that a later hop holds (iam.roles.update): add to it the read,
    # self-grant or impersonation permission the path needs.
    ROLE_UPDATE = "role-update"


GRANT_KINDS = frozenset(
    {HopKind.DATASET_ACL, HopKind.TABLE_IAM, HopKind.RESOURCE_IAM}
)  # the hop where a role with the read (or self-grant) permission is bound


class Capability(StrEnum):
    READ = "read"  # holds bigquery.tables.getData
    SELF_GRANT = "self-grant"  # may rewrite an access policy (or a custom role) to read


@dataclass(frozen=True)
class Hop:
    """One step of a path, read from the principal towards the resource: `member` takes the
    step and reaches `subject` (a group, a special group, a service account, a dataset, a
    table, a project/folder/organization). `detail` is the role, or how the step holds.
    `policy` is the resource whose policy records the edge when it is not the subject
    (impersonation and basic-role bindings). `condition` is the IAM condition (CEL) the
    edge depends on, when it could not be decided."""

    kind: HopKind
    subject: str
    detail: str
    member: str
    policy: str = ""
    condition: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {
            "kind": self.kind.value,
            "member": self.member,
            "subject": self.subject,
            "detail": self.detail,
        }
        if self.policy:
            out["policy"] = self.policy
        if self.condition is not None:
            out["condition"] = self.condition
        return out


@dataclass(frozen=True)
class AccessPath:
    """A way for `principal` to read `target` (a dataset, or a table when the grant is
    table-level). `denials` names conditional deny policies that may block it."""

    principal: str
    target: str
    hops: tuple[Hop, ...]
    capability: Capability = Capability.READ
    table_level: bool = False
    denials: tuple[str, ...] = ()

    @property
    def conditional(self) -> bool:
        return bool(self.denials) or any(h.condition is not None for h in self.hops)

    @property
    def grant(self) -> Hop:
        """The hop that binds the role with the read (or self-grant) permission."""
        return next(h for h in self.hops if h.kind in GRANT_KINDS)

    def sort_key(self) -> tuple[str, str, tuple[tuple[str, ...], ...]]:
        hops = tuple((h.kind.value, h.subject, h.detail, h.member, h.policy) for h in self.hops)
        return (self.principal, self.target, hops)

    def to_dict(self) -> dict[str, object]:
        return {
            "principal": self.principal,
            "target": self.target,
            "capability": self.capability.value,
            "table_level": self.table_level,
            "conditional": self.conditional,
            "denials": list(self.denials),
            "hops": [h.to_dict() for h in self.hops],
        }


class GapKind(StrEnum):
    UNKNOWN_ROLE = "unknown-role"
    UNEXPANDED_GROUP = "unexpanded-group"
    MISSING_POLICY = "missing-policy"
    UNKNOWN_ANCESTRY = "unknown-ancestry"
    TABLE_IAM_UNREAD = "table-iam-unread"
    UNKNOWN_DATASET = "unknown-dataset"
    UNKNOWN_SERVICE_ACCOUNT_PROJECT = "unknown-service-account-project"
    # Not a gap: a binding of a role that does not exist (it grants nothing). It travels
    # with the gaps while the graph works and ends up in AccessAnswer.notes.
    DELETED_ROLE = "deleted-role"


@dataclass(frozen=True, order=True)
class AccessGap:
    """Something the graph could not resolve; paths through it may be missing.

    Who it could matter for: anyone (`anyone`), or only `affects`, the principals that would
    gain a path if the unknown resolved the worst way (an unknown role held by user:alice
    affects user:alice and whoever can act as her, not everyone). A principal that stands
    for others (an unexpanded group, allUsers, a domain) stands for them in `affects` too."""

    kind: GapKind
    scope: str
    reason: str
    anyone: bool = True
    affects: tuple[str, ...] = ()

    def may_affect(self, principal: str) -> bool:
        """Whether the gap could hide a path of `principal`."""
        return self.anyone or any(may_include(a, principal) for a in self.affects)

    def coverage_gap(self) -> CoverageGap:
        return CoverageGap(scope=self.scope, reason=self.reason)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind.value,
            "scope": self.scope,
            "reason": self.reason,
        }
        if not self.anyone:
            out["affects"] = list(self.affects)
        return out


@dataclass(frozen=True)
class AccessAnswer:
    """Paths, coverage gaps, and notes: facts that shaped the answer without leaving it
    incomplete (e.g. a binding of a role that no longer exists, which grants nothing)."""

    paths: tuple[AccessPath, ...]
    gaps: tuple[AccessGap, ...] = ()
    notes: tuple[str, ...] = ()

    def principals(self) -> tuple[str, ...]:
        return tuple(sorted({p.principal for p in self.paths}))

    def by_principal(self) -> Mapping[str, tuple[AccessPath, ...]]:
        grouped: dict[str, list[AccessPath]] = {}
        for path in self.paths:
            grouped.setdefault(path.principal, []).append(path)
        return {k: tuple(v) for k, v in sorted(grouped.items())}
