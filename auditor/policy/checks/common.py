"""Small helpers shared by the schema checks."""

from __future__ import annotations

from auditor.model import Location, Origin, TableSchema
from auditor.policy.rule import Rule


def tables_in_scope(tables: tuple[TableSchema, ...], rule: Rule) -> list[TableSchema]:
    return [t for t in tables if rule.scope.matches_table(t)]


def table_resource(table: TableSchema) -> str:
    """A template is its file; a SQL-doc table is `file#table`, since one doc holds many tables."""
    if table.origin is Origin.TEMPLATE:
        return table.location.path
    return f"{table.location.path}#{table.name}"


def describe(table: TableSchema) -> str:
    if table.origin is Origin.TEMPLATE:
        return f"template {table.location.path}"
    return f"SQL doc table {table.dataset or '?'}.{table.name} ({table.location.path})"


def column_location(table: TableSchema, line: int | None) -> Location:
    return Location(table.location.path, line if line is not None else table.location.line)
