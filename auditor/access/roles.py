"""IAM roles -> the permissions that matter for reading BigQuery data.

The predefined roles come from the packaged `roles.yaml` (loaded once, lazily); custom
roles from the inventory. A role found in neither is unknown: `permissions()` returns None
and the graph turns that into a coverage gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from auditor.errors import InputError
from auditor.model import CustomRole

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
# May act as a service account (or grant itself that).
IMPERSONATE = frozenset(
    {
        "iam.serviceAccounts.actAs",
        "iam.serviceAccounts.getAccessToken",
        "iam.serviceAccounts.signBlob",
        "iam.serviceAccounts.signJwt",
        "iam.serviceAccounts.setIamPolicy",
        "iam.serviceAccountKeys.create",
    }
)

_DATA_FILE = "roles.yaml"


@dataclass(frozen=True)
class RoleCatalog:
    """Role name -> tracked permissions; legacy dataset roles map to their IAM names."""

    roles: Mapping[str, frozenset[str]]
    legacy: Mapping[str, str]
    tracked: frozenset[str]

    @classmethod
    def load(cls, custom_roles: Iterable[CustomRole] = ()) -> RoleCatalog:
        """The packaged predefined roles plus the inventory's custom roles (their
        permissions cut down to the tracked ones)."""
        builtin = _builtin()
        roles = dict(builtin.roles)
        for custom in custom_roles:
            roles[custom.name] = frozenset(custom.permissions) & builtin.tracked
        return cls(roles=roles, legacy=builtin.legacy, tracked=builtin.tracked)

    def normalise(self, role: str) -> str:
        """READER/WRITER/OWNER (as the dataset API returns them) -> the IAM role name."""
        return self.legacy.get(role.upper(), role)

    def permissions(self, role: str) -> frozenset[str] | None:
        """The tracked permissions of a role; None when the role is unknown."""
        return self.roles.get(self.normalise(role))


@cache
def _builtin() -> RoleCatalog:
    text = resources.files("auditor.access").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    return parse_catalog(yaml.safe_load(text), _DATA_FILE)


def parse_catalog(doc: Any, source: str) -> RoleCatalog:
    """Validate the data file's shape: every listed permission must be a tracked one."""
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise InputError(source, "expected a mapping with version: 1")
    tracked = _str_list(doc.get("tracked"), source, "'tracked' must list permission names")
    legacy = doc.get("legacy")
    roles = doc.get("roles")
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
        if not isinstance(name, str) or not name.startswith("roles/"):
            raise InputError(source, problem)
        untracked = sorted(set(perms) - known)
        if untracked:
            raise InputError(source, f"role {name}: untracked permissions {untracked}")
        parsed[name] = frozenset(perms)
    return RoleCatalog(
        roles=parsed, legacy={k.upper(): v for k, v in legacy.items()}, tracked=known
    )


def _str_list(value: object, source: str, problem: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(source, problem)
    return value
