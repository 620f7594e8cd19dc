"""The desired state remediation converges on: locations, keys, labels, the ACL of a new
dataset, and the templates of each dataset kind (pure; the config is validated)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from auditor.access.principals import PUBLIC
from auditor.errors import UsageError
from auditor.model import (
    AccessEntry,
    GranteeKind,
    Inventory,
    TableSchema,
)
from auditor.remediate.actions import entry_from_api, entry_to_api

CUSTOMERS_DATASET = "customers"
ROLE_LABEL = "dataset_role"
TENANT_ID_LABEL = "tenant_id"
# Where the templates of each dataset kind live (the same globs the policy pack uses).
TENANT_TEMPLATE_GLOBS = (
    "*templates/customer/onboarding/schemas/*.json",
    "tenant/*.json",
    "*/tenant/*.json",
)
CUSTOMERS_TEMPLATE_GLOBS = ("customers/*.json", "*/customers/*.json")
# A credential store by its table name (AUD-002's pattern): never created in a tenant.
CREDENTIAL_TABLE_RE = re.compile(
    r"(^|_)(api_?keys?|credentials?|secrets?|passwords?|tokens?|private_?keys?)($|_)",
    re.IGNORECASE,
)
DATASET_ID_RE = re.compile(r"[A-Za-z0-9_]{1,1024}")
PLATFORM_ADMINS = "platform-admins@convergence.example"


class DatasetRole(StrEnum):
    TENANT = "tenant"
    CUSTOMERS = "customers"
    OTHER = "other"


# ----------------------------------------------------------------------------- desired state


@dataclass(frozen=True)
class DesiredState:
    """What compliant datasets look like: where they live, their keys and labels, the
    minimal ACL of a new dataset, and the templates of their tables."""

    project: str
    location: str = "US"
    kms_keys: Mapping[str, str] = field(default_factory=dict)  # DatasetRole value -> key
    labels: Mapping[str, str] = field(default_factory=dict)  # extra labels, provisioning
    access: tuple[AccessEntry, ...] = ()  # the ACL of a new dataset
    tenant_templates: tuple[TableSchema, ...] = ()
    customers_templates: tuple[TableSchema, ...] = ()

    def key_for(self, role: DatasetRole) -> str | None:
        return self.kms_keys.get(role.value)

    def templates_for(self, role: DatasetRole) -> tuple[TableSchema, ...]:
        if role is DatasetRole.TENANT:
            return self.tenant_templates
        if role is DatasetRole.CUSTOMERS:
            return self.customers_templates
        return ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "kms_keys": dict(sorted(self.kms_keys.items())),
            "labels": dict(sorted(self.labels.items())),
            "access": [entry_to_api(e) for e in self.access],
            "tenant_templates": sorted(t.location.path for t in self.tenant_templates),
            "customers_templates": sorted(t.location.path for t in self.customers_templates),
        }


def platform_kms_key(project: str, name: str) -> str:
    """The platform's key convention: projects/P/locations/us/keyRings/platform/cryptoKeys/N."""
    return f"projects/{project}/locations/us/keyRings/platform/cryptoKeys/{name}"


CONFIG_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "location": {"type": "string", "minLength": 1},
        "kms_keys": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                r.value: {"type": "string", "pattern": "^projects/[^/]+/locations/[^/]+/"}
                for r in DatasetRole
            },
        },
        "labels": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z][a-z0-9_-]{0,62}$"},
            "additionalProperties": {"type": "string", "pattern": "^[a-z0-9_-]{0,63}$"},
        },
        "access": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {"role": {"enum": ["OWNER", "WRITER", "READER"]}},
                "minProperties": 2,
                "maxProperties": 2,
            },
        },
    },
}


def desired_state(
    inventory: Inventory,
    project: str,
    config: Mapping[str, Any] | None = None,
) -> DesiredState:
    """The desired state from the inventory's templates and a config (validated; see
    CONFIG_SCHEMA). Defaults: location US, the platform's key per dataset role
    (tenants/customers; none for unclassified datasets), ACL OWNER platform-admins."""
    from jsonschema import Draft202012Validator

    config = dict(config or {})
    errors = sorted(Draft202012Validator(CONFIG_SCHEMA).iter_errors(config), key=str)
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise UsageError(f"invalid remediation config at {where}: {errors[0].message}")
    keys = {
        DatasetRole.TENANT.value: platform_kms_key(project, "tenants"),
        DatasetRole.CUSTOMERS.value: platform_kms_key(project, "customers"),
        **config.get("kms_keys", {}),
    }
    raw_access = config.get("access") or [{"role": "OWNER", "groupByEmail": PLATFORM_ADMINS}]
    try:
        access = tuple(entry_from_api(e) for e in raw_access)
    except Exception as exc:  # the source's Malformed: a config error here
        raise UsageError(f"invalid access entry in the remediation config: {exc}") from exc
    for entry in access:
        if entry.kind is GranteeKind.SPECIAL_GROUP or entry.entity in PUBLIC:
            raise UsageError(
                f"the remediation config's access list grants {entry.entity}: a new dataset "
                "gets named principals only"
            )
    return DesiredState(
        project=project,
        location=str(config.get("location", "US")),
        kms_keys=keys,
        labels=dict(config.get("labels", {})),
        access=access,
        tenant_templates=_templates(inventory, TENANT_TEMPLATE_GLOBS),
        customers_templates=_templates(inventory, CUSTOMERS_TEMPLATE_GLOBS),
    )


def _templates(inventory: Inventory, globs: Sequence[str]) -> tuple[TableSchema, ...]:
    found = [t for t in inventory.templates if any(fnmatchcase(t.location.path, g) for g in globs)]
    return tuple(sorted(found, key=lambda t: t.name.lower()))
