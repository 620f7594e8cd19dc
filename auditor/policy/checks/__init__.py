"""The registry of check kinds: name -> pure function of (inventory, rule, context).

Every kind declares a JSON Schema for its parameters, so a policy is validated before
anything runs (tests walk the registry and fail on a kind without one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from auditor.model import CheckContext, CheckResult, Inventory
from auditor.policy.rule import Rule

CheckFunction = Callable[[Inventory, Rule, CheckContext], Iterable[CheckResult]]


@dataclass(frozen=True)
class CheckKind:
    name: str
    description: str
    params_schema: Mapping[str, Any]
    function: CheckFunction
    # IAM permissions the check's data needs when read live (empty: offline inputs only).
    permissions: tuple[str, ...] = ()


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
