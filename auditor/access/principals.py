"""IAM member strings, and which of them are GenAI principals.

Members are compared in one canonical form: the prefix as IAM writes it (`user:`,
`group:`, `serviceAccount:`, `domain:`), the email or domain lower-cased. Dataset special
groups become the IAM convenience members `projectViewer:P` / `projectEditor:P` /
`projectOwner:P` (projectReaders / projectWriters / projectOwners of the dataset's project).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from typing import Any

import yaml

from auditor.access.agents import agent_catalog, is_google_managed
from auditor.errors import InputError
from auditor.model import AccessEntry, GranteeKind

ALL_USERS = "allUsers"
ALL_AUTHENTICATED_USERS = "allAuthenticatedUsers"
PUBLIC = frozenset({ALL_USERS, ALL_AUTHENTICATED_USERS})

_EMAIL_PREFIXES = ("user", "group", "serviceAccount", "domain")
# Dataset special group -> IAM convenience member prefix -> the basic role behind it.
SPECIAL_GROUPS: Mapping[str, str] = {
    "projectReaders": "projectViewer",
    "projectWriters": "projectEditor",
    "projectOwners": "projectOwner",
}
BASIC_ROLE_OF: Mapping[str, str] = {
    "projectViewer": "roles/viewer",
    "projectEditor": "roles/editor",
    "projectOwner": "roles/owner",
}
_SERVICE_ACCOUNT_SUFFIX = ".gserviceaccount.com"
_IAM_SA_SUFFIX = ".iam.gserviceaccount.com"


def canonical(member: str) -> str:
    """`user:Alice@X.com` -> `user:alice@x.com`; other members unchanged."""
    prefix, sep, rest = member.partition(":")
    if sep and prefix in _EMAIL_PREFIXES:
        return f"{prefix}:{rest.strip().lower()}"
    return member.strip()


def acl_member(entry: AccessEntry, project: str) -> str | None:
    """The IAM member a dataset access entry grants to; None for view/routine/dataset
    entries (authorized objects, not principals)."""
    entity = entry.entity.strip()
    match entry.kind:
        case GranteeKind.USER:
            email = entity.lower()
            kind = "serviceAccount" if email.endswith(_SERVICE_ACCOUNT_SUFFIX) else "user"
            return f"{kind}:{email}"
        case GranteeKind.GROUP:
            return f"group:{entity.lower()}"
        case GranteeKind.DOMAIN:
            return f"domain:{entity.lower()}"
        case GranteeKind.SPECIAL_GROUP | GranteeKind.IAM_MEMBER:
            if entity in SPECIAL_GROUPS:
                return f"{SPECIAL_GROUPS[entity]}:{project}"
            return canonical(entity)
        case _:
            return None


def special_group(member: str) -> tuple[str, str] | None:
    """`projectViewer:P` -> ("projectViewer", "P")."""
    prefix, sep, project = member.partition(":")
    return (prefix, project) if sep and prefix in BASIC_ROLE_OF else None


def email(member: str) -> str | None:
    prefix, sep, rest = member.partition(":")
    return rest if sep and prefix in ("user", "group", "serviceAccount") else None


def user_domain(member: str) -> str | None:
    """The domain of a `user:` member: the accounts a `domain:` grant covers."""
    if not member.startswith("user:"):
        return None
    return member.rpartition("@")[2] or None


def is_service_agent(sa_email: str) -> bool:
    """A Google-managed service agent (documented, service-N@gcp-sa-*.iam..., N@cloudservices
    ...): no one is granted impersonation of it, and its address names no project."""
    return is_google_managed(sa_email)


def stands_for_others(member: str) -> bool:
    """A member at the end of a path that stands for principals not known here: an
    unexpanded group, allUsers/allAuthenticatedUsers, a domain, an unresolved special
    group (projectViewer:P ...)."""
    return (
        member in PUBLIC
        or member.startswith(("group:", "domain:"))
        or special_group(member) is not None
    )


def may_include(member: str, principal: str) -> bool:
    """Whether `member` (a path's end) is, or may stand for, `principal`."""
    if member in (principal, ALL_USERS):
        return True
    if member == ALL_AUTHENTICATED_USERS:
        return principal not in PUBLIC
    if member.startswith("domain:"):
        return user_domain(principal) == member.removeprefix("domain:")
    return member.startswith("group:") or special_group(member) is not None


def service_account_project(sa_email: str) -> str | None:
    """The project id of a user-managed service account (`x@P.iam.gserviceaccount.com`,
    `P@appspot.gserviceaccount.com`); None when the address does not say it (the Compute
    default account names its project by number)."""
    local, _, domain = sa_email.partition("@")
    if is_google_managed(sa_email):
        return None
    if domain.endswith(_IAM_SA_SUFFIX):
        return domain.removesuffix(_IAM_SA_SUFFIX)
    if domain == "appspot.gserviceaccount.com":
        return local
    return None


# --- GenAI principals ---------------------------------------------------------------------


class GenAIKind(StrEnum):
    SERVICE_AGENT = "google-service-agent"
    CONNECTION = "bigquery-connection"
    PLATFORM = "platform-account"


@dataclass(frozen=True)
class GenAIMatch:
    member: str
    kind: GenAIKind
    product: str
    reason: str


@dataclass(frozen=True)
class _Agent:
    domain: str  # glob on the label before .iam.gserviceaccount.com
    account: str  # glob on the part before @
    product: str
    kind: GenAIKind
    role: str | None


def is_genai(member: str, extra_patterns: Sequence[str] = ()) -> GenAIMatch | None:
    """Whether a member is a GenAI principal: one of Google's AI service agents, a BigQuery
    connection's service account, or a platform account matching one of `extra_patterns`
    (fnmatch on the whole member string, e.g. `serviceAccount:genai-*@*`)."""
    member = canonical(member)
    for pattern in extra_patterns:
        if fnmatchcase(member, canonical(pattern)):
            return GenAIMatch(
                member, GenAIKind.PLATFORM, "platform AI account", f"matches {pattern!r}"
            )
    if not member.startswith("serviceAccount:"):
        return None
    local, _, domain = member.removeprefix("serviceAccount:").partition("@")
    if not domain.endswith(_IAM_SA_SUFFIX):
        return None
    label = domain.removesuffix(_IAM_SA_SUFFIX)
    catalog = _genai_catalog()
    for agent in catalog.agents:
        if fnmatchcase(label, agent.domain) and fnmatchcase(local, agent.account):
            role = f" (default role {agent.role})" if agent.role else ""
            what = "service agent" if agent.kind is GenAIKind.SERVICE_AGENT else "account"
            return GenAIMatch(
                member, agent.kind, agent.product, f"{agent.product} {what}: {domain}{role}"
            )
    documented = agent_catalog().find(f"{local}@{domain}")
    if documented is not None and documented.api in catalog.apis:
        return GenAIMatch(
            member,
            GenAIKind.SERVICE_AGENT,
            documented.product,
            f"{documented.product}: {domain} (service agent of {documented.api})",
        )
    return None


def genai_domain(member: str, extra_patterns: Sequence[str]) -> GenAIMatch | None:
    """For a `domain:D` member: whether a platform pattern names accounts of domain D (the
    grant then reaches them even when the inventory does not list them)."""
    if not member.startswith("domain:"):
        return None
    domain = member.removeprefix("domain:")
    for pattern in extra_patterns:
        _, at, domain_glob = canonical(pattern).rpartition("@")
        if at and fnmatchcase(domain, domain_glob):
            return GenAIMatch(
                member,
                GenAIKind.PLATFORM,
                "platform AI account",
                f"accounts of {domain} may match {pattern!r}",
            )
    return None


@dataclass(frozen=True)
class GenAICatalog:
    agents: tuple[_Agent, ...]
    apis: frozenset[str]  # every documented service agent of these APIs is GenAI
    reconciled: str  # date of the service-agent list the catalog was checked against


@cache
def _genai_catalog() -> GenAICatalog:
    text = resources.files("auditor.access").joinpath("genai_agents.yaml").read_text("utf-8")
    return parse_agents(yaml.safe_load(text), "genai_agents.yaml")


def parse_agents(doc: Any, source: str) -> GenAICatalog:
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise InputError(source, "expected a mapping with version: 1")
    agents: list[_Agent] = []
    for key, kind in (
        ("service_agents", GenAIKind.SERVICE_AGENT),
        ("connections", GenAIKind.CONNECTION),
    ):
        agents.extend(_agent(item, kind, source) for item in _items(doc.get(key), key, source))
    apis, reconciled = doc.get("apis", []), doc.get("reconciled", "")
    if not isinstance(apis, list) or not all(isinstance(a, str) for a in apis):
        raise InputError(source, "'apis' must be a list of API names")
    if not isinstance(reconciled, str):
        raise InputError(source, "'reconciled' must be a date (YYYY-MM-DD) in quotes")
    return GenAICatalog(tuple(agents), frozenset(apis), reconciled)


def _items(value: object, key: str, source: str) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
        raise InputError(source, f"'{key}' must be a list of mappings")
    return value


def _agent(item: Mapping[str, Any], kind: GenAIKind, source: str) -> _Agent:
    domain, product = item.get("domain"), item.get("product")
    account, role = item.get("account", "*"), item.get("role")
    if not (isinstance(domain, str) and isinstance(product, str) and isinstance(account, str)):
        raise InputError(source, f"entry {dict(item)!r}: needs string domain and product")
    if role is not None and not isinstance(role, str):
        raise InputError(source, f"entry {domain}: role must be a string")
    return _Agent(domain.lower(), account.lower(), product, kind, role)
