"""Live IAM source: who may act on the project from above it, and who is in which group.

collect_iam(project) reads, for one project:
- the resource hierarchy: the project, its folders and its organization (Resource Manager v3,
  google-cloud-resource-manager over REST);
- the allow policy of each of them, as policy version 3 so conditions are kept;
- the IAM deny policies attached to each of them (IAM v2, google-cloud-iam over REST:
  policies.list gives names only, so each policy is then read with policies.get);
- the custom roles of the project and the organization, with their permissions;
- the definition of every other role a binding names that the shipped role catalog lacks
  (a predefined role newer than the catalog, a custom role not listed), with IAM
  `roles.get`, once per role: a role that does not exist (404, or deleted) grants nothing;
  a failed or malformed answer leaves that role, and only it, unresolved;
- the allow policy of each of the project's service accounts (who may act as it);
- the members of every group those policies name, nested groups followed (Cloud Identity).

google-cloud-iam's IAM admin client (iam_admin_v1, for roles and service accounts) has no
REST transport, and Cloud Identity has no maintained client here, so those two APIs are
called as plain REST with a google-auth AuthorizedSession. Every API's base URL is in
IamEndpoints, so the same code talks to Google or to a local recorded server.

A read that fails (403, 404, an answer of the wrong shape, retries used up) is a
CoverageGap naming the resource, never an empty result. Nothing here runs at import time.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import google.auth
import requests
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import AuthorizedSession
from google.cloud import iam_v2, resourcemanager_v3

# No type stubs for protobuf among the allowed packages; only MessageToDict is used.
from google.protobuf import json_format  # type: ignore[import-untyped]

from auditor.errors import AuditorError, MissingCredentials
from auditor.model import (
    CoverageGap,
    CustomRole,
    DenyPolicy,
    GroupMembership,
    Inventory,
    ResourcePolicy,
    RoleStatus,
)
from auditor.sources import iamjson
from auditor.sources.apierrors import server_message, status_line
from auditor.sources.iamjson import Malformed

T = TypeVar("T")

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
POLICY_VERSION = 3  # the version that carries conditions
MAX_ANCESTRY = 32  # folders nest at most 10 deep; anything longer is a loop
MAX_PAGES = 1000
_TRANSIENT_CODES = frozenset({429, 500, 502, 503, 504})
_PROJECT_NUMBER_RE = re.compile(r"projects/\d+")
MAX_REASON = 300
# Everything a read can fail with that is the estate's answer, not a bug here.
_READ_ERRORS = (
    api_exceptions.GoogleAPICallError,
    api_exceptions.RetryError,
    requests.RequestException,
    GoogleAuthError,
    json_format.ParseError,
    Malformed,
)


@dataclass(frozen=True)
class IamEndpoints:
    """Base URL of each API: Google's by default, or a local server's (`local`)."""

    resource_manager: str = "https://cloudresourcemanager.googleapis.com"
    iam: str = "https://iam.googleapis.com"
    cloud_identity: str = "https://cloudidentity.googleapis.com"

    @classmethod
    def local(cls, base_url: str) -> IamEndpoints:
        """Every API at one base URL, e.g. http://127.0.0.1:8080."""
        base = base_url.rstrip("/")
        return cls(resource_manager=base, iam=base, cloud_identity=base)

    @property
    def is_google(self) -> bool:
        return self == IamEndpoints()


@dataclass(frozen=True)
class Retries:
    """Retry policy for 429, 5xx and connection errors: exponential backoff, then a gap."""

    attempts: int = 5
    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    timeout: float = 60.0  # seconds, per request

    def delays(self) -> Iterator[float]:
        delay = self.initial
        for _ in range(self.attempts - 1):
            yield delay
            delay = min(delay * self.multiplier, self.maximum)


@dataclass(frozen=True)
class IamCollection:
    """The IAM parts of an Inventory, in a fixed order: policies follow the ancestry (then
    service accounts by email), deny policies by attachment then name, memberships and
    custom roles sorted."""

    ancestry: tuple[str, ...]
    iam_policies: tuple[ResourcePolicy, ...]
    deny_policies: tuple[DenyPolicy, ...]
    group_memberships: tuple[GroupMembership, ...]
    custom_roles: tuple[CustomRole, ...]
    gaps: tuple[CoverageGap, ...]

    def into(self, inventory: Inventory) -> Inventory:
        """inventory with these parts set and these gaps added."""
        return replace(
            inventory,
            ancestry=self.ancestry,
            iam_policies=self.iam_policies,
            deny_policies=self.deny_policies,
            group_memberships=self.group_memberships,
            custom_roles=self.custom_roles,
            gaps=inventory.gaps + self.gaps,
        )


def collect_iam(
    project: str,
    *,
    endpoints: IamEndpoints | None = None,
    credentials: Credentials | None = None,
    groups: Iterable[str] = (),
    roles: Iterable[str] = (),
    known_roles: Container[str] | None = None,
    retries: Retries | None = None,
) -> IamCollection:
    """Read the IAM around project (a project id). `groups` adds groups to expand beyond
    those the policies name (e.g. the groupByEmail entries of dataset ACLs); `roles` adds
    roles to resolve beyond those the policies bind (those of dataset ACLs and table IAM).
    `known_roles` (the role catalog the caller judges with) says which roles need no
    lookup; None: no role is looked up.

    Without credentials, Google's endpoints use Application Default Credentials and any
    other endpoints anonymous ones. Raises AuditorError only when no credentials exist;
    every other failure is a coverage gap in the result.
    """
    endpoints = endpoints or IamEndpoints()
    if credentials is None:
        credentials = _default_credentials() if endpoints.is_google else _anonymous()
    collector = _Collector(project, endpoints, credentials, retries or Retries())
    try:
        return collector.collect(groups, roles, known_roles)
    finally:
        collector.close()


def list_predefined_roles(
    *,
    endpoints: IamEndpoints | None = None,
    credentials: Credentials | None = None,
    retries: Retries | None = None,
) -> list[dict[str, Any]]:
    """Every predefined role, as IAM `roles.list` (view FULL) answers it: Role objects with
    their includedPermissions. A catalog is all or nothing, so any failure (after retries)
    raises AuditorError naming the page and the reason."""
    endpoints = endpoints or IamEndpoints()
    if credentials is None:
        credentials = _default_credentials() if endpoints.is_google else _anonymous()
    retries = retries or Retries()
    session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    rest = _Rest(session, endpoints.iam, retries.timeout)
    found: list[dict[str, Any]] = []
    token = ""
    try:
        for page in range(MAX_PAGES):
            params = {"view": "FULL", "pageSize": "1000", **({"pageToken": token} if token else {})}
            answer = _with_retries(partial(rest.call, "GET", "/v1/roles", params), retries)
            for at, item in iamjson.list_items(answer, "roles", (f"page {page + 1}",)):
                found.append(iamjson.object_at(item, at, "a role"))
            next_token = answer.get("nextPageToken", "") if isinstance(answer, dict) else ""
            if not isinstance(next_token, str) or (next_token and next_token == token):
                raise Malformed("a bad or repeated nextPageToken", (f"page {page + 1}",))
            if not next_token:
                return found
            token = next_token
        raise Malformed(f"more than {MAX_PAGES} pages")
    except _READ_ERRORS as exc:
        raise AuditorError(f"IAM roles.list: {_reason(exc)}") from None
    finally:
        session.close()  # type: ignore[no-untyped-call]


def _with_retries(call: Callable[[], T], retries: Retries) -> T:
    """call(), retried with backoff while it fails transiently."""
    delays = retries.delays()
    while True:
        try:
            return call()
        except _READ_ERRORS as exc:
            delay = next(delays, None) if _transient(exc) else None
            if delay is None:
                raise
            retries.sleep(delay)


def _anonymous() -> Credentials:
    return AnonymousCredentials()  # type: ignore[no-untyped-call]


def _default_credentials() -> Credentials:
    try:
        found, _ = google.auth.default(scopes=SCOPES)
    except GoogleAuthError as exc:
        raise MissingCredentials("the IAM APIs", detail=str(exc)) from None
    credentials: Credentials = found
    return credentials


# ---------------------------------------------------------------------------- collecting


class _Collector:
    def __init__(
        self, project: str, endpoints: IamEndpoints, credentials: Credentials, retries: Retries
    ) -> None:
        self.project = project
        self.retries = retries
        self.gaps: list[CoverageGap] = []
        options = {"api_endpoint": endpoints.resource_manager}
        self.projects = resourcemanager_v3.ProjectsClient(
            transport="rest", credentials=credentials, client_options=options
        )
        self.folders = resourcemanager_v3.FoldersClient(
            transport="rest", credentials=credentials, client_options=options
        )
        self.organizations = resourcemanager_v3.OrganizationsClient(
            transport="rest", credentials=credentials, client_options=options
        )
        self.deny = iam_v2.PoliciesClient(
            transport="rest",
            credentials=credentials,
            client_options={"api_endpoint": endpoints.iam},
        )
        self.session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        self.iam = _Rest(self.session, endpoints.iam, retries.timeout)
        self.identity = _Rest(self.session, endpoints.cloud_identity, retries.timeout)

    def close(self) -> None:
        self.session.close()  # type: ignore[no-untyped-call]
        for client in (self.projects, self.folders, self.organizations, self.deny):
            client.transport.close()  # type: ignore[no-untyped-call]

    def collect(
        self,
        extra_groups: Iterable[str],
        extra_roles: Iterable[str],
        known_roles: Container[str] | None,
    ) -> IamCollection:
        ancestry, project_ids = self.ancestry()
        policies = [p for p in map(self.allow_policy, ancestry) if p is not None]
        policies += self.service_account_policies()
        deny = [p for resource in ancestry for p in self.deny_policies(resource, project_ids)]
        roles = [r for resource in ancestry for r in self.custom_roles(resource)]
        bound = [b.role for p in policies for b in p.bindings]
        if known_roles is not None:
            roles += self.lookups(unresolved_roles([*bound, *extra_roles], known_roles, roles))
        seeds = [g for p in policies for g in iamjson.binding_groups(p.bindings)]
        seeds += iamjson.deny_groups(tuple(deny))
        memberships = self.memberships([*seeds, *extra_groups])
        return IamCollection(
            ancestry=tuple(ancestry),
            iam_policies=tuple(policies),
            deny_policies=tuple(deny),
            group_memberships=tuple(sorted(set(memberships), key=_membership_key)),
            custom_roles=tuple(sorted(roles, key=lambda r: r.name)),
            gaps=tuple(self.gaps),
        )

    # -- reading with retries; a failure becomes a gap

    def read(self, scope: str, what: str, call: Callable[[], T]) -> T | None:
        """call(), retried while it fails transiently; None and a gap when it fails."""
        value, error, attempts = self.attempt(call)
        if error is None:
            return value
        tries = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
        if isinstance(error, _READ_ERRORS):
            self.gap(scope, f"{what}: {_reason(error)}{tries}")
        else:  # a conversion that trips over the answer (or a bug)
            self.gap(scope, f"{what}: unexpected {type(error).__name__}: {error}")
        return None

    def attempt(self, call: Callable[[], T]) -> tuple[T | None, Exception | None, int]:
        """(call(), None, attempts), retried while it fails transiently; (None, the error,
        attempts) when it fails for good."""
        delays = self.retries.delays()
        attempt = 1
        while True:
            try:
                return call(), None, attempt
            except _READ_ERRORS as exc:
                delay = next(delays, None) if _transient(exc) else None
                if delay is None:
                    return None, exc, attempt
                self.retries.sleep(delay)
                attempt += 1
            except Exception as exc:
                return None, exc, attempt

    def gap(self, scope: str, reason: str) -> None:
        self.gaps.append(CoverageGap(scope, reason))

    # -- the hierarchy

    def ancestry(self) -> tuple[list[str], dict[str, str]]:
        """(projects/P, folders/..., organizations/N) and {project number: project id}."""
        first = f"projects/{self.project}"
        ancestry = [first]

        def get_project() -> resourcemanager_v3.Project:
            return self.projects.get_project(name=first, retry=None, timeout=self.retries.timeout)

        found = self.read(first, "project", get_project)
        if found is None:
            self.gap(first, "resource hierarchy: the project's folders and organization unknown")
            return ancestry, {}
        project_ids = {found.name.removeprefix("projects/"): self.project}
        parent = found.parent
        while parent.startswith("folders/"):
            if parent in ancestry or len(ancestry) >= MAX_ANCESTRY:
                self.gap(parent, "resource hierarchy: folders form a loop or nest too deep")
                return ancestry, project_ids
            ancestry.append(parent)
            folder = self.read(parent, "folder", partial(self.get_folder, parent))
            if folder is None:
                self.gap(parent, "resource hierarchy: the folders and organization above unknown")
                return ancestry, project_ids
            parent = folder.parent
        if parent.startswith("organizations/"):
            ancestry.append(parent)
        elif parent:
            self.gap(first, f"resource hierarchy: unknown kind of parent {parent!r}")
        return ancestry, project_ids

    def get_folder(self, name: str) -> resourcemanager_v3.Folder:
        return self.folders.get_folder(name=name, retry=None, timeout=self.retries.timeout)

    # -- allow policies

    def allow_policy(self, resource: str) -> ResourcePolicy | None:
        return self.read(resource, "IAM policy", partial(self.get_allow_policy, resource))

    def get_allow_policy(self, resource: str) -> ResourcePolicy:
        request = {"resource": resource, "options": {"requested_policy_version": POLICY_VERSION}}
        client: Any = self.projects
        if resource.startswith("folders/"):
            client = self.folders
        elif resource.startswith("organizations/"):
            client = self.organizations
        policy = client.get_iam_policy(request=request, retry=None, timeout=self.retries.timeout)
        return iamjson.allow_policy(resource, json_format.MessageToDict(policy))

    def service_account_policies(self) -> list[ResourcePolicy]:
        accounts = self.read(f"projects/{self.project}", "service accounts", self.list_accounts)
        policies: list[ResourcePolicy] = []
        for email in sorted(accounts or ()):
            resource = iamjson.service_account_resource(self.project, email)
            policy = self.read(resource, "IAM policy", partial(self.get_account_policy, email))
            if policy is not None:
                policies.append(policy)
        return policies

    def list_accounts(self) -> list[str]:
        path = f"/v1/projects/{_segment(self.project)}/serviceAccounts"
        pages = self.iam.pages("GET", path, {"pageSize": "100"}, "accounts")
        return [iamjson.service_account_email(item, at) for at, item in pages]

    def get_account_policy(self, email: str) -> ResourcePolicy:
        path = f"/v1/projects/{_segment(self.project)}/serviceAccounts/{_segment(email)}"
        params = {"options.requestedPolicyVersion": str(POLICY_VERSION)}
        answer = self.iam.call("POST", f"{path}:getIamPolicy", params)
        return iamjson.allow_policy(iamjson.service_account_resource(self.project, email), answer)

    # -- deny policies

    def deny_policies(self, resource: str, project_ids: Mapping[str, str]) -> list[DenyPolicy]:
        names = self.read(resource, "deny policies", partial(self.list_deny_names, resource))
        policies: list[DenyPolicy] = []
        for name in sorted(names or ()):
            read = partial(self.get_deny_policy, name, project_ids)
            policy = self.read(resource, f"deny policy {name}", read)
            if policy is not None:
                policies.append(_attached_to(policy, resource))
        return policies

    def list_deny_names(self, resource: str) -> list[str]:
        parent = iamjson.deny_list_parent(resource)
        found = self.deny.list_policies(parent=parent, retry=None, timeout=self.retries.timeout)
        return [policy.name for policy in found]

    def get_deny_policy(self, name: str, project_ids: Mapping[str, str]) -> DenyPolicy:
        got = self.deny.get_policy(name=name, retry=None, timeout=self.retries.timeout)
        doc = json_format.MessageToDict(iam_v2.Policy.pb(got))
        return iamjson.deny_policy(doc, project_ids=project_ids, rules_required=False)

    # -- custom roles

    def custom_roles(self, resource: str) -> list[CustomRole]:
        if resource.startswith("folders/"):
            return []  # custom roles live in projects and organizations only
        return self.read(resource, "custom roles", partial(self.list_roles, resource)) or []

    def list_roles(self, resource: str) -> list[CustomRole]:
        params = {"view": "FULL", "showDeleted": "false", "pageSize": "1000"}
        pages = self.iam.pages("GET", f"/v1/{resource}/roles", params, "roles")
        found = [iamjson.custom_role(item, at, permissions_required=False) for at, item in pages]
        return [role for role in found if role is not None]

    # -- roles the catalog lacks

    def lookups(self, names: Iterable[str]) -> list[CustomRole]:
        """roles.get of each role, once: its definition, DELETED for one that does not exist,
        UNRESOLVED (with why) for one whose answer failed or was malformed."""
        return [self.lookup(name) for name in names]

    def lookup(self, name: str) -> CustomRole:
        def get() -> Any:
            return self.iam.call("GET", f"/v1/{_role_path(name)}", {})

        answer, error, attempts = self.attempt(get)
        if isinstance(error, api_exceptions.NotFound):
            return CustomRole(name, (), RoleStatus.DELETED, f"IAM roles.get: {_reason(error)}")
        if error is not None:
            tries = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
            detail = f"IAM roles.get: {_reason(error)}{tries}"
            return CustomRole(name, (), RoleStatus.UNRESOLVED, detail)
        try:
            role = iamjson.looked_up_role(answer, name)
        except Malformed as exc:
            return CustomRole(name, (), RoleStatus.UNRESOLVED, f"IAM roles.get: {_reason(exc)}")
        note = f": {role.detail}" if role.detail else ""
        return replace(role, detail=f"IAM roles.get{note}")

    # -- groups

    def memberships(self, seeds: Iterable[str]) -> list[GroupMembership]:
        """Members of every seed group and of every group nested in one, breadth first."""
        found: list[GroupMembership] = []
        seen: set[str] = set()
        queue = deque(seeds)
        while queue:
            group = queue.popleft()
            if group.lower() in seen:
                continue
            seen.add(group.lower())
            members = self.read(f"group:{group}", "group members", partial(self.members, group))
            for member in members or ():
                found.append(member)
                if member.member.startswith("group:"):
                    queue.append(member.member.removeprefix("group:"))
        return found

    def members(self, group: str) -> list[GroupMembership]:
        looked_up = self.identity.call("GET", "/v1/groups:lookup", {"groupKey.id": group})
        name = looked_up.get("name") if isinstance(looked_up, dict) else None
        if not isinstance(name, str) or not name.startswith("groups/"):
            raise Malformed("groups.lookup answered without a group name")
        params = {"view": "FULL", "pageSize": "500"}
        pages = self.identity.pages("GET", f"/v1/{name}/memberships", params, "memberships")
        found = [iamjson.membership(group, item, at) for at, item in pages]
        return [m for m in found if m is not None]


# ---------------------------------------------------------------------------- plain REST


class _Rest:
    """JSON over an authorized session; errors raised as google.api_core exceptions."""

    def __init__(self, session: AuthorizedSession, base_url: str, timeout: float) -> None:
        self.session = session
        self.base = base_url.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, path: str, params: Mapping[str, str]) -> Any:
        response = self.session.request(  # type: ignore[no-untyped-call]
            method, self.base + path, params=dict(params), timeout=self.timeout
        )
        if not 200 <= response.status_code < 300:
            raise api_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
        try:
            return response.json()
        except ValueError:
            raise Malformed(f"{method} {path} answered with something that is not JSON") from None

    def pages(
        self, method: str, path: str, params: Mapping[str, str], key: str
    ) -> Iterator[tuple[tuple[str | int, ...], Any]]:
        """(pointer, item) of every item of a paged list; the pointer names the page."""
        token = ""
        for page in range(MAX_PAGES):
            query = dict(params, pageToken=token) if token else dict(params)
            answer = self.call(method, path, query)
            yield from iamjson.list_items(answer, key, (f"page {page + 1}",))
            next_token = answer.get("nextPageToken", "") if isinstance(answer, dict) else ""
            if not isinstance(next_token, str):
                raise Malformed("nextPageToken is not a string", (f"page {page + 1}",))
            if not next_token:
                return
            if next_token == token:
                raise Malformed("the API answered the same page token twice")
            token = next_token
        raise Malformed(f"more than {MAX_PAGES} pages")


def unresolved_roles(
    bound: Iterable[str], catalog: Container[str], found: Iterable[CustomRole]
) -> list[str]:
    """The roles among `bound` that neither the catalog nor the definitions `found` hold,
    sorted and each once."""
    defined = {r.name for r in found}
    return sorted({r for r in bound if r not in catalog and r not in defined})


def _role_path(name: str) -> str:
    """roles/X, projects/P/roles/X, organizations/O/roles/X with each segment escaped."""
    return "/".join(_segment(part) for part in name.split("/"))


def _attached_to(policy: DenyPolicy, resource: str) -> DenyPolicy:
    """A policy listed under the project is attached to it. Its name says the project number;
    when the number could not be mapped to the id (the project read failed), use the id the
    rest of the inventory uses rather than leave the policy attached to nothing known."""
    attached = policy.attachment.removeprefix(iamjson.CRM)
    if resource.startswith("projects/") and _PROJECT_NUMBER_RE.fullmatch(attached):
        return replace(policy, attachment=iamjson.CRM + resource)
    return policy


def _segment(value: str) -> str:
    return quote(value, safe="@.")


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return exc.code in _TRANSIENT_CODES
    # A body cut short (ChunkedEncodingError) is a lost connection too.
    return isinstance(
        exc, requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError
    )


def _reason(exc: BaseException) -> str:
    """Status and a short message, fit for a CoverageGap (as the BigQuery source words it)."""
    if isinstance(exc, api_exceptions.GoogleAPICallError) and exc.code is not None:
        text = f"{status_line(exc)}: {server_message(exc) or 'no message'}"
    elif isinstance(exc, Malformed):
        where = "/".join(str(part) for part in exc.pointer)
        text = f"malformed answer: {exc.message}" + (f" (at {where})" if where else "")
    elif isinstance(exc, json_format.ParseError):
        text = f"malformed answer: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    line = " ".join(text.split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


def _membership_key(m: GroupMembership) -> tuple[str, str]:
    return (m.group.lower(), m.member.lower())
