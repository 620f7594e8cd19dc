"""Small helpers shared by the schema checks."""

from __future__ import annotations

from collections.abc import Mapping

from auditor.model import Inventory, Location, Origin, TableSchema
from auditor.policy.rule import Rule


def dataset_labels(inventory: Inventory) -> dict[str, Mapping[str, str]]:
    return {d.dataset_id: d.labels for d in inventory.datasets}


def tables_in_scope(
    tables: tuple[TableSchema, ...], rule: Rule, inventory: Inventory | None = None
) -> list[TableSchema]:
    """Tables the rule's scope covers; live tables are judged by their dataset's labels too."""
    labels = dataset_labels(inventory) if inventory is not None else {}
    return [
        t
        for t in tables
        if rule.scope.matches_table(
            t, labels.get(t.dataset or "") if t.origin is Origin.LIVE else None
        )
    ]


def table_resource(table: TableSchema) -> str:
    """A template is its file; a SQL-doc table is `file#table`, since one doc holds many
    tables; a live table is its full resource name."""
    if table.origin is Origin.SQL_DOC:
        return f"{table.location.path}#{table.name}"
    return table.location.path


def describe(table: TableSchema) -> str:
    if table.origin is Origin.TEMPLATE:
        return f"template {table.location.path}"
    if table.origin is Origin.LIVE:
        return f"table {table.dataset}.{table.name}"
    return f"SQL doc table {table.dataset or '?'}.{table.name} ({table.location.path})"


def column_location(table: TableSchema, line: int | None) -> Location | None:
    """Where in a file a column is defined; None for live tables, which are not files."""
    if table.origin is Origin.LIVE:
        return None
    return Location(table.location.path, line if line is not None else table.location.line)


def table_location(table: TableSchema) -> Location | None:
    return None if table.origin is Origin.LIVE else table.location
