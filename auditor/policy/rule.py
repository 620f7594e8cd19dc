"""A policy rule as loaded from one YAML file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from auditor.io.files import glob_match
from auditor.model import Location, RuleInfo, Severity, TableSchema


class Target(StrEnum):
    """Which kind of dataset a rule is about."""

    TENANT = "tenant"
    CUSTOMERS = "customers"
    ANY = "any"


@dataclass(frozen=True)
class Scope:
    """Which template paths and dataset names count as the rule's target.

    Patterns are fnmatch globs (case-sensitive; `*` also matches `/`; `**/` may also match no
    folder, auditor.io.files.glob_match). A live dataset is in
    scope when its name matches a glob or when it carries every label of `dataset_labels`.
    An empty scope matches everything.
    """

    target: Target = Target.ANY
    template_paths: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    dataset_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.template_paths or self.datasets or self.dataset_labels)

    def matches_template_path(self, path: str) -> bool:
        return any(glob_match(path, p) for p in self.template_paths)

    def matches_dataset(self, dataset: str, labels: Mapping[str, str] | None = None) -> bool:
        if any(fnmatchcase(dataset, p) for p in self.datasets):
            return True
        wanted = self.dataset_labels
        return (
            bool(wanted)
            and labels is not None
            and all(labels.get(k) == v for k, v in wanted.items())
        )

    def matches_table(self, table: TableSchema, labels: Mapping[str, str] | None = None) -> bool:
        """Whether a template (by its path) or a SQL-doc/live table (by its dataset's name and
        labels) is in scope."""
        if self.is_empty:
            return True
        if table.dataset is None:
            return self.matches_template_path(table.location.path)
        return self.matches_dataset(table.dataset, labels)


class ExampleInput(StrEnum):
    """Where a doc example's file sits, which says how the rule reads it."""

    REPO = "repo"  # the platform repo the gate reads: table templates, SQL docs
    EXPORTS = "exports"  # an offline export folder (docs/offline-exports.md)
    ROWS = "rows"  # a table's rows as the content scan samples them (D.T.json)


@dataclass(frozen=True)
class DocExample:
    """One whole input file of a rule's doc: what fails ("example") or passes ("use instead")."""

    note: str
    input: ExampleInput
    path: str  # under its input, e.g. datasets/customers.json
    text: str


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
    # The rule's doc beyond its metadata: what it checks, and an input it fails and passes.
    description: str = ""
    example: DocExample | None = None
    use_instead: DocExample | None = None

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
