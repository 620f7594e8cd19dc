"""Check that SQL schema docs agree with the JSON templates the code actually uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from auditor.model import CheckContext, CheckResult, Inventory, Location, Status, TableSchema
from auditor.policy.checks import register
from auditor.policy.checks.common import column_location, table_resource, tables_in_scope
from auditor.policy.checks.schemadiff import ColumnDiff, DiffKind, diff_columns
from auditor.policy.rule import Rule


@register(
    "sql-doc-drift",
    description=(
        "Every table a SQL doc documents has a JSON template, with the same columns, types "
        "and modes."
    ),
    params_schema={"type": "object", "additionalProperties": False, "properties": {}},
)
def sql_doc_drift(inventory: Inventory, rule: Rule, context: CheckContext) -> Iterator[CheckResult]:
    templates: dict[str, TableSchema] = {}
    for tpl in inventory.templates:
        templates.setdefault(tpl.name.lower(), tpl)
    unreadable = {PurePosixPath(gap.scope).stem.lower() for gap in inventory.gaps}
    for doc in tables_in_scope(inventory.sql_tables, rule):
        resource = table_resource(doc)
        template = templates.get(doc.name.lower())
        if template is None and doc.name.lower() in unreadable:
            # The template exists but could not be read: its gap already makes the run incomplete.
            yield CheckResult(
                status=Status.SKIPPED,
                resource=resource,
                location=doc.location,
                message=f"template for '{doc.name}' could not be read; drift not checked",
            )
            continue
        if template is None:
            yield CheckResult(
                status=Status.FAIL,
                resource=resource,
                location=doc.location,
                message=(
                    f"{doc.location.path} documents table '{doc.name}' but no JSON template "
                    f"defines it"
                ),
            )
            continue
        yield from _compare(doc, template, resource)


def _compare(doc: TableSchema, template: TableSchema, resource: str) -> Iterator[CheckResult]:
    where_tpl = template.location.path
    diffs = diff_columns(doc.fields, template.fields)
    for diff in diffs:
        if diff.kind is DiffKind.MISSING:
            assert diff.expected is not None
            yield CheckResult(
                status=Status.FAIL,
                resource=resource,
                column=diff.path,
                location=doc.location,
                message=(
                    f"column '{diff.path}' ({diff.expected.canonical_type}) is in template "
                    f"{where_tpl}:{diff.expected.line} but missing from the SQL doc"
                ),
                evidence={
                    "template": str(Location(where_tpl, diff.expected.line)),
                    "drift": "missing",
                },
            )
        elif diff.kind is DiffKind.EXTRA:
            assert diff.actual is not None
            yield CheckResult(
                status=Status.FAIL,
                resource=resource,
                column=diff.path,
                location=column_location(doc, diff.actual.line),
                message=(
                    f"column '{diff.path}' ({diff.actual.canonical_type}) is in the SQL doc but "
                    f"not in template {where_tpl}"
                ),
                evidence={"template": where_tpl, "drift": "extra"},
            )
        else:
            assert diff.actual is not None and diff.expected is not None
            yield CheckResult(
                status=Status.FAIL,
                resource=resource,
                column=diff.path,
                location=column_location(doc, diff.actual.line),
                message=(
                    f"column '{diff.path}' is {ColumnDiff.spell(diff.actual)} in the SQL doc but "
                    f"{ColumnDiff.spell(diff.expected)} in template {where_tpl}:"
                    f"{diff.expected.line}"
                ),
                evidence={
                    "template": str(Location(where_tpl, diff.expected.line)),
                    "drift": "type",
                },
            )
    if not diffs:
        yield CheckResult(
            status=Status.PASS,
            resource=resource,
            location=doc.location,
            message=f"SQL doc table '{doc.name}' matches template {where_tpl}",
        )
