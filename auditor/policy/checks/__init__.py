"""The registry of check kinds: name -> pure function of (inventory, rule, context).

Every kind declares a JSON Schema for its parameters, so a policy is validated before
anything runs (tests walk the registry and fail on a kind without one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from auditor.model import CheckContext, CheckResult, Inventory
from auditor.policy.rule import Rule

CheckFunction = Callable[[Inventory, Rule, CheckContext], Iterable[CheckResult]]


class Reads(StrEnum):
    """The parts of a live estate a run reads only when one of its rules needs them
    (datasets, tables and schemas it always reads)."""

    TABLE_IAM = "table-iam"  # each table's IAM policy
    IAM = "iam"  # project, folder and organization policies, deny policies, roles, groups
    CONTENTS = "contents"  # table values (the content scan)


# The permissions through which each part is read: a kind that declares one reads the part.
PART_PERMISSIONS: Mapping[Reads, frozenset[str]] = {
    Reads.TABLE_IAM: frozenset({"bigquery.tables.getIamPolicy"}),
    Reads.IAM: frozenset(
        {
            "resourcemanager.projects.get",
            "resourcemanager.projects.getIamPolicy",
            "resourcemanager.folders.getIamPolicy",
            "resourcemanager.organizations.getIamPolicy",
            "iam.serviceAccounts.getIamPolicy",
            "iam.denypolicies.list",
            "iam.roles.list",
        }
    ),
    Reads.CONTENTS: frozenset({"bigquery.tables.getData"}),
}
# Permissions of what every live run reads anyway (datasets, tables, the metadata queries).
ALWAYS_READ = frozenset(
    {"bigquery.datasets.get", "bigquery.tables.list", "bigquery.tables.get", "bigquery.jobs.create"}
)


@dataclass(frozen=True)
class CheckKind:
    name: str
    description: str
    params_schema: Mapping[str, Any]
    function: CheckFunction
    # IAM permissions the check's data needs when read live (empty: offline inputs only).
    permissions: tuple[str, ...] = ()

    @property
    def reads(self) -> frozenset[Reads]:
        """The optional parts of the estate this kind reads, by its declared permissions."""
        return frozenset(
            p for p, perms in PART_PERMISSIONS.items() if perms & set(self.permissions)
        )


def reads_of(rules: Iterable[Rule], registry: Mapping[str, CheckKind]) -> frozenset[Reads]:
    """What a run of `rules` must read; a rule of an unknown kind needs everything."""
    needed: set[Reads] = set()
    for rule in rules:
        kind = registry.get(rule.check)
        needed |= kind.reads if kind is not None else set(Reads)
    return frozenset(needed)


REGISTRY: dict[str, CheckKind] = {}


def register(
    name: str,
    *,
    description: str,
    params_schema: Mapping[str, Any],
    permissions: tuple[str, ...] = (),
) -> Callable[[CheckFunction], CheckFunction]:
    def add(function: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check kind {name!r} registered twice")
        REGISTRY[name] = CheckKind(name, description, params_schema, function, permissions)
        return function

    return add


def load_all() -> Mapping[str, CheckKind]:
    """Import every check module (each registers its kinds) and return the registry."""
    from auditor.policy.checks import (  # noqa: F401  (imported for registration)
        access,
        cmek,
        content,
        credentials,
        encryption,
        exposure,
        livedrift,
        sqldrift,
        templates,
    )

    return REGISTRY
