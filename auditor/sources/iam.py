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

Clients, credentials and retries are the shared transport's (auditor.gcp). Reads that do not
depend on each other run concurrently, WORKERS at a time (a service account's policy waits
for the listing that names it, a group's members for the level of groups above it), each
retried by its policy with the IAM APIs' limits (`Retries`); the result and its gaps come
out in the same order whatever the timing. A read that
fails (403, 404, an answer of the wrong shape, retries used up) is a CoverageGap naming the
resource, never an empty result. Nothing here runs at import time.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from google.api_core import exceptions as api_exceptions
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import iam_v2, resourcemanager_v3

# No type stubs for protobuf among the allowed packages; only MessageToDict is used.
from google.protobuf import json_format  # type: ignore[import-untyped]

from auditor.errors import AuditorError
from auditor.gcp import retry
from auditor.gcp.clients import NO_RETRY, authorized_session, credentials_for, rest_client
from auditor.gcp.retry import GarbledAnswer, GaveUp, RetryPolicy
from auditor.gcp.wording import describe, shorten
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
from auditor.sources.iamjson import Malformed

T = TypeVar("T")

API = "the IAM APIs"
POLICY_VERSION = 3  # the version that carries conditions
MAX_ANCESTRY = 32  # folders nest at most 10 deep; anything longer is a loop
MAX_PAGES = 1000
# Reads in flight at once. IAM allows 6,000 read requests per project per minute
# (https://docs.cloud.google.com/iam/quotas, read 2026-12-07): 8 at Google's tens of
# milliseconds stay under it, and a 429 is retried with backoff like any transient answer.
WORKERS = 8
_PROJECT_NUMBER_RE = re.compile(r"projects/\d+")


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
class Retries(RetryPolicy):
    """The shared retry policy with the IAM APIs' limits (auditor.gcp.retry.IAM)."""

    attempts: int = retry.IAM.attempts
    initial: float = retry.IAM.initial
    maximum: float = retry.IAM.maximum
    timeout: float = retry.IAM.timeout
    jitter: bool = retry.IAM.jitter


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
    retries: RetryPolicy | None = None,
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
        credentials = _credentials(endpoints)
    collector = _Collector(project, endpoints, credentials, retries or Retries())
    try:
        return collector.collect(groups, roles, known_roles)
    finally:
        collector.close()


def list_predefined_roles(
    *,
    endpoints: IamEndpoints | None = None,
    credentials: Credentials | None = None,
    retries: RetryPolicy | None = None,
) -> list[dict[str, Any]]:
    """Every predefined role, as IAM `roles.list` (view FULL) answers it: Role objects with
    their includedPermissions. A catalog is all or nothing, so any failure (after retries)
    raises AuditorError naming the page and the reason."""
    endpoints = endpoints or IamEndpoints()
    if credentials is None:
        credentials = _credentials(endpoints)
    retries = retries or Retries()
    session = authorized_session(credentials)
    rest = _Rest(session, endpoints.iam, retries.timeout)
    found: list[dict[str, Any]] = []
    token = ""
    try:
        for page in range(MAX_PAGES):
            params = {"view": "FULL", "pageSize": "1000", **({"pageToken": token} if token else {})}
            try:
                answer = retry.call(partial(rest.call, "GET", "/v1/roles", params), retries)
            except GaveUp as gave_up:
                reason = _reason(gave_up.error) + gave_up.note
                raise AuditorError(f"IAM roles.list: {reason}") from None
            for at, item in iamjson.list_items(answer, "roles", (f"page {page + 1}",)):
                found.append(iamjson.object_at(item, at, "a role"))
            next_token = answer.get("nextPageToken", "") if isinstance(answer, dict) else ""
            if not isinstance(next_token, str) or (next_token and next_token == token):
                raise Malformed("a bad or repeated nextPageToken", (f"page {page + 1}",))
            if not next_token:
                return found
            token = next_token
        raise Malformed(f"more than {MAX_PAGES} pages")
    except Malformed as exc:
        raise AuditorError(f"IAM roles.list: {_reason(exc)}") from None
    finally:
        session.close()  # type: ignore[no-untyped-call]


def _credentials(endpoints: IamEndpoints) -> Credentials:
    """Application default credentials for Google's endpoints, anonymous ones otherwise."""
    return credentials_for(API, None if endpoints.is_google else endpoints.iam)


# ---------------------------------------------------------------------------- collecting


class _Collector:
    def __init__(
        self,
        project: str,
        endpoints: IamEndpoints,
        credentials: Credentials,
        retries: RetryPolicy,
    ) -> None:
        self.project = project
        self.retries = retries
        self.gaps: list[CoverageGap] = []
        self._task = threading.local()  # .gaps: the gaps of the read this thread runs
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="iam-collect")
        manager = partial(rest_client, api=API, credentials=credentials)
        crm = endpoints.resource_manager
        self.projects = manager(resourcemanager_v3.ProjectsClient, endpoint=crm)
        self.folders = manager(resourcemanager_v3.FoldersClient, endpoint=crm)
        self.organizations = manager(resourcemanager_v3.OrganizationsClient, endpoint=crm)
        self.deny = manager(iam_v2.PoliciesClient, endpoint=endpoints.iam)
        self.session = authorized_session(credentials)
        self.iam = _Rest(self.session, endpoints.iam, retries.timeout)
        self.identity = _Rest(self.session, endpoints.cloud_identity, retries.timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.session.close()  # type: ignore[no-untyped-call]
        for client in (self.projects, self.folders, self.organizations, self.deny):
            client.transport.close()  # type: ignore[no-untyped-call]

    def collect(
        self,
        extra_groups: Iterable[str],
        extra_roles: Iterable[str],
        known_roles: Container[str] | None,
    ) -> IamCollection:
        ancestry, project_ids = self.ancestry()  # one after another: each names the next
        # Every read that needs only the ancestry starts at once; a service account's policy
        # and a deny policy start when the listing that names them is in.
        allow = [self.start(partial(self.allow_policy, resource)) for resource in ancestry]
        listing = self.start(self.accounts)
        deny_names = [self.start(partial(self.deny_names, resource)) for resource in ancestry]
        custom = [self.start(partial(self.custom_roles, resource)) for resource in ancestry]
        accounts, account_gaps = listing.result()
        account_policies = [
            self.start(partial(self.account_policy, email)) for email in sorted(accounts or ())
        ]
        deny_reads = []
        for resource, names in zip(ancestry, deny_names, strict=True):
            listed, list_gaps = names.result()
            reads = [
                self.start(partial(self.deny_policy, resource, name, project_ids))
                for name in sorted(listed or ())
            ]
            deny_reads.append((list_gaps, reads))
        # Results and gaps in reading order: allow policies, service accounts, deny policies
        # (each resource's listing, then its policies), custom roles.
        policies = [p for p in self.results(allow) if p is not None]
        self.gaps.extend(account_gaps)
        policies += [p for p in self.results(account_policies) if p is not None]
        deny: list[DenyPolicy] = []
        for list_gaps, reads in deny_reads:
            self.gaps.extend(list_gaps)
            deny += [p for p in self.results(reads) if p is not None]
        roles = [role for found in self.results(custom) for role in found]
        bound = [b.role for p in policies for b in p.bindings]
        if known_roles is not None:
            unresolved = unresolved_roles([*bound, *extra_roles], known_roles, roles)
            roles += self.results([self.start(partial(self.lookup, n)) for n in unresolved])
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

    # -- reading concurrently, with retries; a failure becomes a gap

    def start(self, read: Callable[[], T]) -> Future[tuple[T, list[CoverageGap]]]:
        """read() on the pool; its future gives (the result, the gaps the read found)."""

        def run() -> tuple[T, list[CoverageGap]]:
            self._task.gaps = []
            try:
                return read(), self._task.gaps
            finally:
                self._task.gaps = None

        return self._pool.submit(run)

    def results(self, reads: Sequence[Future[tuple[T, list[CoverageGap]]]]) -> list[T]:
        """The results of `reads` in their order; their gaps, in the same order, into the
        run's."""
        results = []
        for future in reads:
            result, gaps = future.result()
            self.gaps.extend(gaps)
            results.append(result)
        return results

    def read(self, scope: str, what: str, call: Callable[[], T]) -> T | None:
        """call(), retried while it fails transiently; None and a gap when it fails."""
        try:
            return retry.call(call, self.retries)
        except GaveUp as gave_up:
            self.gap(scope, f"{what}: {_reason(gave_up.error)}{gave_up.note}")
            return None

    def gap(self, scope: str, reason: str) -> None:
        """Into the gaps of the read this thread runs (see start), or the run's."""
        task_gaps = getattr(self._task, "gaps", None)
        (self.gaps if task_gaps is None else task_gaps).append(CoverageGap(scope, reason))

    # -- the hierarchy

    def ancestry(self) -> tuple[list[str], dict[str, str]]:
        """(projects/P, folders/..., organizations/N) and {project number: project id}."""
        first = f"projects/{self.project}"
        ancestry = [first]

        def get_project() -> resourcemanager_v3.Project:
            return self.projects.get_project(
                name=first, retry=NO_RETRY, timeout=self.retries.timeout
            )

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
        return self.folders.get_folder(name=name, retry=NO_RETRY, timeout=self.retries.timeout)

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
        policy = client.get_iam_policy(
            request=request, retry=NO_RETRY, timeout=self.retries.timeout
        )
        return iamjson.allow_policy(resource, json_format.MessageToDict(policy))

    def accounts(self) -> list[str] | None:
        return self.read(f"projects/{self.project}", "service accounts", self.list_accounts)

    def account_policy(self, email: str) -> ResourcePolicy | None:
        resource = iamjson.service_account_resource(self.project, email)
        return self.read(resource, "IAM policy", partial(self.get_account_policy, email))

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

    def deny_names(self, resource: str) -> list[str] | None:
        return self.read(resource, "deny policies", partial(self.list_deny_names, resource))

    def deny_policy(
        self, resource: str, name: str, project_ids: Mapping[str, str]
    ) -> DenyPolicy | None:
        read = partial(self.get_deny_policy, name, project_ids)
        policy = self.read(resource, f"deny policy {name}", read)
        return None if policy is None else _attached_to(policy, resource)

    def list_deny_names(self, resource: str) -> list[str]:
        parent = iamjson.deny_list_parent(resource)
        found = self.deny.list_policies(parent=parent, retry=NO_RETRY, timeout=self.retries.timeout)
        return [policy.name for policy in found]

    def get_deny_policy(self, name: str, project_ids: Mapping[str, str]) -> DenyPolicy:
        got = self.deny.get_policy(name=name, retry=NO_RETRY, timeout=self.retries.timeout)
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

    def lookup(self, name: str) -> CustomRole:
        """roles.get of the role: its definition, DELETED for one that does not exist,
        UNRESOLVED (with why) for one whose answer failed or was malformed."""

        def get() -> Any:
            return self.iam.call("GET", f"/v1/{_role_path(name)}", {})

        try:
            answer = retry.call(get, self.retries)
        except GaveUp as gave_up:
            detail = f"IAM roles.get: {_reason(gave_up.error)}"
            if isinstance(gave_up.error, api_exceptions.NotFound):
                return CustomRole(name, (), RoleStatus.DELETED, detail)
            return CustomRole(name, (), RoleStatus.UNRESOLVED, detail + gave_up.note)
        try:
            role = iamjson.looked_up_role(answer, name)
        except Malformed as exc:
            return CustomRole(name, (), RoleStatus.UNRESOLVED, f"IAM roles.get: {_reason(exc)}")
        note = f": {role.detail}" if role.detail else ""
        return replace(role, detail=f"IAM roles.get{note}")

    # -- groups

    def memberships(self, seeds: Iterable[str]) -> list[GroupMembership]:
        """Members of every seed group and of every group nested in one, breadth first: a
        level of groups at a time, each group once."""
        found: list[GroupMembership] = []
        seen: set[str] = set()
        level: Sequence[str] = list(seeds)
        while level:
            groups = []
            for group in level:
                if group.lower() not in seen:
                    seen.add(group.lower())
                    groups.append(group)
            reads = [self.start(partial(self.group_members, group)) for group in groups]
            level = []
            for members in self.results(reads):
                for member in members or ():
                    found.append(member)
                    if member.member.startswith("group:"):
                        level.append(member.member.removeprefix("group:"))
        return found

    def group_members(self, group: str) -> list[GroupMembership] | None:
        return self.read(f"group:{group}", "group members", partial(self.members, group))

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
        except ValueError:  # garbled or cut short in transit: worth another try
            raise GarbledAnswer(
                f"{method} {path} answered with something that is not JSON"
            ) from None

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


def _reason(exc: BaseException) -> str:
    """Status and a short message, fit for a CoverageGap (auditor.gcp.wording; a lost
    connection or transport timeout named by its exception, as these gaps always were)."""
    if isinstance(exc, Malformed):
        where = "/".join(str(part) for part in exc.pointer)
        return shorten(f"malformed answer: {exc.message}" + (f" (at {where})" if where else ""))
    return describe(exc, transport_kind=False)


def _membership_key(m: GroupMembership) -> tuple[str, str]:
    return (m.group.lower(), m.member.lower())
