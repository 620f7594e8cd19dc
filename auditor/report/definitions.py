"""Where a live table is defined: the template or SQL doc it was created from.

A finding about a live table names the table, not a file. Code scanning (SARIF) needs a file
and a line, and the useful one is the definition the table should match: the template, at
the column's line when the template has that column. Which definition is the table's:

- a template with the table's name, among those the finding's rule looks at (its scope's
  template paths, when it has any);
- else a SQL-doc table with that name whose dataset is the table's dataset, or a
  placeholder (`{tenant_id}`) when no SQL doc names the dataset itself;
- exactly one candidate, or none: an ambiguous name is not guessed (the SARIF writer then
  uses a path made from the resource name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from auditor.io.resource_names import dataset_or_table
from auditor.model import Finding, Inventory, Location, Status, TableSchema
from auditor.policy.rule import Rule

__all__ = ["Definitions", "find_definitions"]

Definitions = Mapping[tuple[str, str | None], Location]

# Findings someone must look at: what SARIF reports.
_REPORTED = frozenset({Status.FAIL, Status.ERROR, Status.WAIVED})


def find_definitions(
    inventory: Inventory, rules: Sequence[Rule], findings: Iterable[Finding]
) -> dict[tuple[str, str | None], Location]:
    """(resource, column) -> definition location, for each reported live-table finding whose
    table has exactly one definition."""
    by_rule = {r.id: r for r in rules}
    found: dict[tuple[str, str | None], Location] = {}
    for f in findings:
        key = (f.resource, f.column)
        if f.status not in _REPORTED or f.location is not None or key in found:
            continue
        name = dataset_or_table(f.resource)
        if name is None:
            continue
        _, dataset, table = name
        if table is None:  # live tables only
            continue
        definition = _definition(inventory, by_rule.get(f.rule_id), dataset, table)
        if definition is not None:
            found[key] = _at_column(definition, f.column)
    return found


def _definition(
    inventory: Inventory, rule: Rule | None, dataset: str, table: str
) -> TableSchema | None:
    name = table.lower()
    scope = rule.scope if rule is not None else None
    templates = [
        t
        for t in inventory.templates
        if t.name.lower() == name
        and (
            scope is None
            or not scope.template_paths
            or scope.matches_template_path(t.location.path)
        )
    ]
    if templates:
        return templates[0] if len(templates) == 1 else None
    named = [t for t in inventory.sql_tables if t.name.lower() == name]
    exact = [t for t in named if t.dataset == dataset]
    if exact:
        return exact[0] if len(exact) == 1 else None
    placeholders = [t for t in named if t.dataset is not None and t.dataset.startswith("{")]
    return placeholders[0] if len(placeholders) == 1 else None


def _at_column(definition: TableSchema, column: str | None) -> Location:
    if column is not None:
        for path, field in definition.columns():
            if path.lower() == column.lower() and field.line is not None:
                return Location(definition.location.path, field.line)
    return definition.location
