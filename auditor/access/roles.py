"""IAM roles -> the permissions that matter for reading BigQuery data.

The predefined roles come from the packaged `roles.json`, generated from Google's published
definitions (`auditor/access/catalog.py`; loaded once, lazily). Roles the catalog lacks come
from the inventory: custom roles, and predefined roles looked up at collection time (IAM
`roles.get`, or `gcloud iam roles describe` files in an export folder). A role found in
neither is unknown: `permissions()` returns None and the graph turns that into a coverage
gap. A role the estate says does not exist (deleted, or `roles.get` answered 404) grants
nothing: `deleted()` names it so the answer can say so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from auditor.errors import InputError
from auditor.model import CustomRole, RoleStatus

GET_DATA = "bigquery.tables.getData"
ROUTINE_GET = "bigquery.routines.get"
# May rewrite the dataset's access list (or its IAM policy) and so grant itself read.
DATASET_GRANT = frozenset({"bigquery.datasets.update", "bigquery.datasets.setIamPolicy"})
TABLE_GRANT = frozenset({"bigquery.tables.setIamPolicy"})
# May rewrite the policy of a project/folder/organization: any role below it.
POLICY_GRANT = frozenset(
    {
        "resourcemanager.projects.setIamPolicy",
        "resourcemanager.folders.setIamPolicy",
        "resourcemanager.organizations.setIamPolicy",
    }
)
# Link of a delegation chain only: lets the holder ask for the tokens of whatever the
# service account may itself impersonate, not for the account's own token.
DELEGATE = "iam.serviceAccounts.implicitDelegation"
# May act as a service account (or grant itself that).
IMPERSONATE = frozenset(
    {
        "iam.serviceAccounts.actAs",
        "iam.serviceAccounts.getAccessToken",
        "iam.serviceAccounts.signBlob",
        "iam.serviceAccounts.signJwt",
        "iam.serviceAccounts.setIamPolicy",
        "iam.serviceAccountKeys.create",
        DELEGATE,
    }
)
# May change the permissions of the custom roles defined where it is granted (a project or
# an organization): a member of a binding of such a role can give itself read through it, or
# the power to act as a service account if the role is bound on the account's policy.
ROLE_UPDATE = "iam.roles.update"

# Every permission the catalog keeps, and why the graph needs it. Reviewed against Google's
# documented escalation paths (IAM "privilege escalation" guidance, the service account
# impersonation and delegation pages, BigQuery's access-control pages). Deliberately left
# out: iam.serviceAccounts.getOpenIdToken (an ID token is not accepted by BigQuery),
# iam.serviceAccountApiKeyBindings.* (bound API keys work for aiplatform.googleapis.com only),
# bigquery.rowAccessPolicies.* and bigquery.dataPolicies.* (they narrow what a reader sees;
# they never grant table data on their own), bigquery.tables.update/create and
# bigquery.routines.update (changing an authorized view or routine drops its authorization,
# and a view of an authorized dataset needs read on what it references:
# reference/bigquery/authorized-resources.md).
TRACKED: Mapping[str, str] = {
    GET_DATA: "reads table data (the question)",
    "bigquery.datasets.get": "sees the dataset",
    ROUTINE_GET: "calls a routine (authorized routines read for their callers)",
    "bigquery.datasets.update": "rewrites the dataset's access list: can grant itself read",
    "bigquery.datasets.setIamPolicy": "the same, through the IAM API",
    "bigquery.tables.setIamPolicy": "grants itself read on a table",
    "resourcemanager.projects.setIamPolicy": "grants itself any role on the project",
    "resourcemanager.folders.setIamPolicy": "grants itself any role on the folder",
    "resourcemanager.organizations.setIamPolicy": "grants itself any role in the organization",
    "iam.serviceAccounts.actAs": "runs code as a service account",
    "iam.serviceAccounts.getAccessToken": "mints a service account's access tokens",
    "iam.serviceAccounts.signBlob": "signs as a service account",
    "iam.serviceAccounts.signJwt": "a self-signed JWT is an access token for Google APIs",
    "iam.serviceAccounts.setIamPolicy": "grants itself one of the above",
    "iam.serviceAccountKeys.create": "a key is the service account's identity",
    DELEGATE: "uses a service account as a link of a token delegation chain",
    ROLE_UPDATE: "adds permissions to a custom role, e.g. one it holds",
}

_DATA_FILE = "roles.json"
CATALOG_VERSION = 2


@dataclass(frozen=True)
class RoleCatalog:
    """Role name -> tracked permissions; legacy dataset roles map to their IAM names."""

    roles: Mapping[str, frozenset[str]]
    legacy: Mapping[str, str]
    tracked: frozenset[str]
    source: str = ""
    published: str = ""
    # Roles the estate says do not exist: name -> how that is known.
    gone: Mapping[str, str] | None = None
    # Roles a lookup could not resolve: name -> why (they stay unknown).
    unresolved: Mapping[str, str] | None = None

    @classmethod
    def load(cls, custom_roles: Iterable[CustomRole] = ()) -> RoleCatalog:
        """The packaged predefined roles plus the inventory's role definitions: custom roles
        and looked-up predefined roles (their permissions cut down to the tracked ones; a
        definition from the estate wins over the packaged one)."""
        builtin = builtin_catalog()
        roles = dict(builtin.roles)
        gone: dict[str, str] = {}
        unresolved: dict[str, str] = {}
        for role in custom_roles:
            match role.status:
                case RoleStatus.DEFINED:
                    roles[role.name] = frozenset(role.permissions) & builtin.tracked
                case RoleStatus.DELETED:
                    roles[role.name] = frozenset()
                    gone[role.name] = role.detail or "deleted"
                case RoleStatus.UNRESOLVED:
                    if role.name not in roles:
                        unresolved[role.name] = role.detail
        return cls(
            roles=roles,
            legacy=builtin.legacy,
            tracked=builtin.tracked,
            source=builtin.source,
            published=builtin.published,
            gone=gone,
            unresolved=unresolved,
        )

    def normalise(self, role: str) -> str:
        """READER/WRITER/OWNER (as the dataset API returns them) -> the IAM role name."""
        return self.legacy.get(role.upper(), role)

    def permissions(self, role: str) -> frozenset[str] | None:
        """The tracked permissions of a role; None when the role is unknown."""
        return self.roles.get(self.normalise(role))

    def deleted(self, role: str) -> str | None:
        """How the estate said a role does not exist; None for a role that does (or is
        unknown)."""
        return (self.gone or {}).get(self.normalise(role))

    def why_unknown(self, role: str) -> str | None:
        """Why a lookup of an unknown role failed; None when none was made or it worked."""
        return (self.unresolved or {}).get(self.normalise(role))

    def __contains__(self, role: object) -> bool:
        return isinstance(role, str) and self.normalise(role) in self.roles


@cache
def builtin_catalog() -> RoleCatalog:
    """The packaged catalog (read and checked once per process)."""
    text = resources.files("auditor.access").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(_DATA_FILE, f"not JSON: {exc}") from None
    return parse_catalog(doc, _DATA_FILE)


def parse_catalog(doc: Any, source: str) -> RoleCatalog:
    """Validate the data file's shape: every listed permission must be a tracked one."""
    if not isinstance(doc, dict) or doc.get("version") != CATALOG_VERSION:
        raise InputError(source, f"expected an object with version: {CATALOG_VERSION}")
    tracked = _str_list(doc.get("tracked"), source, "'tracked' must list permission names")
    legacy = doc.get("legacy")
    roles = doc.get("roles")
    origin, published = doc.get("source"), doc.get("published")
    if not isinstance(origin, str) or not isinstance(published, str):
        raise InputError(source, "'source' and 'published' must be strings")
    if not isinstance(legacy, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in legacy.items()
    ):
        raise InputError(source, "'legacy' must map legacy role names to IAM role names")
    if not isinstance(roles, dict):
        raise InputError(source, "'roles' must map role names to permission lists")
    known = frozenset(tracked)
    parsed: dict[str, frozenset[str]] = {}
    for name, value in roles.items():
        problem = f"role {name!r}: expected roles/NAME: [permissions]"
        perms = _str_list(value, source, problem)
        if not name.startswith("roles/"):
            raise InputError(source, problem)
        untracked = sorted(set(perms) - known)
        if untracked:
            raise InputError(source, f"role {name}: untracked permissions {untracked}")
        parsed[name] = frozenset(perms)
    return RoleCatalog(
        roles=parsed,
        legacy={k.upper(): v for k, v in legacy.items()},
        tracked=known,
        source=origin,
        published=published,
    )


def _str_list(value: object, source: str, problem: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(source, problem)
    return value
