"""A policy rule as loaded from one YAML file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from auditor.model import Location, RuleInfo, Severity, TableSchema


class Target(StrEnum):
    """Which kind of dataset a rule is about."""

    TENANT = "tenant"
    CUSTOMERS = "customers"
    ANY = "any"


@dataclass(frozen=True)
class Scope:
    """Which template paths and dataset names count as the rule's target.

    Patterns are fnmatch globs (case-sensitive; `*` also matches `/`). An empty scope
    matches everything.
    """

    target: Target = Target.ANY
    template_paths: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()

    def matches_template_path(self, path: str) -> bool:
        return any(fnmatchcase(path, p) for p in self.template_paths)

    def matches_dataset(self, dataset: str) -> bool:
        return any(fnmatchcase(dataset, p) for p in self.datasets)

    def matches_table(self, table: TableSchema) -> bool:
        """Whether a template (by its path) or a SQL-doc table (by its dataset) is in scope."""
        if not self.template_paths and not self.datasets:
            return True
        if table.dataset is None:
            return self.matches_template_path(table.location.path)
        return self.matches_dataset(table.dataset)


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    title: str
    severity: Severity
    rationale: str
    remediation: str
    check: str
    params: Mapping[str, Any] = field(default_factory=dict)
    scope: Scope = field(default_factory=Scope)
    references: tuple[str, ...] = ()
    frameworks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: Location | None = None

    @property
    def info(self) -> RuleInfo:
        return RuleInfo(
            id=self.id,
            name=self.name,
            title=self.title,
            severity=self.severity,
            rationale=self.rationale,
            remediation=self.remediation,
            references=self.references,
            frameworks=self.frameworks,
        )
