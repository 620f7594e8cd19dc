"""IAM deny policies: whether a rule stops an identity from using a permission.

Principals in deny rules use the IAM v2 forms; the ones understood here are
`principal://goog/subject/EMAIL` (a user), `principalSet://goog/group/EMAIL` (the group's
members, nested), `principalSet://goog/public:all` (everyone) and
`principal://iam.googleapis.com/projects/-/serviceAccounts/EMAIL`. A denied principal in
another form is taken not to cover the identity, and an exception in another form makes the
rule's effect uncertain: either way the path stays reported (fail-safe). A rule with a
condition (resource tags) may or may not apply: the path is kept and marked conditional.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import unquote

from auditor.access.principals import PUBLIC
from auditor.model import DenyPolicy, DenyRule

_USER = re.compile(r"principal://goog/subject/(?P<email>[^/]+)")
_GROUP = re.compile(r"principalSet://goog/group/(?P<email>[^/]+)")
_SERVICE_ACCOUNT = re.compile(
    r"principal://iam\.googleapis\.com/projects/[^/]+/serviceAccounts/(?P<email>[^/]+)"
)
_EVERYONE = "principalSet://goog/public:all"
_RESOURCE_MANAGER = "cloudresourcemanager.googleapis.com/"

GroupsOf = Callable[[str], frozenset[str]]  # member -> every group containing it, nested


@dataclass(frozen=True)
class DenyVerdict:
    blocked: bool
    maybe: tuple[str, ...] = ()  # deny policies that may block it (conditional or uncertain)


ALLOWED = DenyVerdict(False)


def v2_permission(permission: str) -> str:
    """`bigquery.tables.getData` -> `bigquery.googleapis.com/tables.getData`."""
    service, _, rest = permission.partition(".")
    host = "cloudresourcemanager" if service == "resourcemanager" else service
    return f"{host}.googleapis.com/{rest}"


def attachment_resource(attachment: str) -> str:
    """`cloudresourcemanager.googleapis.com%2Fprojects%2Fp` -> `projects/p`."""
    text = unquote(attachment).removeprefix("//")
    return text.removeprefix(_RESOURCE_MANAGER)


class DenyIndex:
    def __init__(self, policies: Iterable[DenyPolicy], groups_of: GroupsOf) -> None:
        self._by_resource: dict[str, list[tuple[str, DenyRule]]] = {}
        for policy in policies:
            rules = self._by_resource.setdefault(attachment_resource(policy.attachment), [])
            rules.extend((policy.name, rule) for rule in policy.rules)
        self._groups_of = groups_of

    def __bool__(self) -> bool:
        return bool(self._by_resource)

    def check(
        self, identity: str, permissions: Iterable[str], attached_to: Iterable[str]
    ) -> DenyVerdict:
        """Whether `identity` is denied every one of `permissions` (alternatives: any one
        left allowed keeps the path) by the deny policies attached to `attached_to` (the
        resource's ancestors)."""
        resources = tuple(attached_to)
        verdicts = [self._one(identity, v2_permission(p), resources) for p in permissions]
        if not verdicts or any(not v.blocked and not v.maybe for v in verdicts):
            return ALLOWED
        if all(v.blocked for v in verdicts):
            return DenyVerdict(True)
        return DenyVerdict(False, tuple(sorted({n for v in verdicts for n in v.maybe})))

    def _one(self, identity: str, permission: str, attached_to: tuple[str, ...]) -> DenyVerdict:
        maybe: list[str] = []
        for resource in attached_to:
            for name, rule in self._by_resource.get(resource, ()):
                if not _denies_permission(rule, permission):
                    continue
                if not self._covers_any(rule.denied_principals, identity):
                    continue
                excepted = [self._covers(p, identity) for p in rule.exception_principals]
                if any(e is True for e in excepted):
                    continue
                if rule.condition is not None or any(e is None for e in excepted):
                    maybe.append(name)
                    continue
                return DenyVerdict(True)
        return DenyVerdict(False, tuple(maybe))

    def _covers_any(self, principals: Iterable[str], identity: str) -> bool:
        return any(self._covers(p, identity) is True for p in principals)

    def _covers(self, principal: str, identity: str) -> bool | None:
        """True/False when the form is understood, None otherwise."""
        if principal == _EVERYONE:
            return True
        if identity in PUBLIC or identity.startswith("domain:"):
            return False if _known_form(principal) else None
        if m := _USER.fullmatch(principal):
            return identity == f"user:{m['email'].lower()}"
        if m := _SERVICE_ACCOUNT.fullmatch(principal):
            return identity == f"serviceAccount:{m['email'].lower()}"
        if m := _GROUP.fullmatch(principal):
            group = f"group:{m['email'].lower()}"
            return identity == group or group in self._groups_of(identity)
        return None


def _known_form(principal: str) -> bool:
    return any(r.fullmatch(principal) for r in (_USER, _GROUP, _SERVICE_ACCOUNT))


def _denies_permission(rule: DenyRule, permission: str) -> bool:
    return any(fnmatchcase(permission, p) for p in rule.denied_permissions) and not any(
        fnmatchcase(permission, p) for p in rule.exception_permissions
    )
