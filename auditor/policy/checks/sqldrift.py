"""Check that SQL schema docs agree with the JSON templates the code actually uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from auditor.model import CheckResult, Field, Inventory, Location, Status, TableSchema
from auditor.policy.checks import register
from auditor.policy.checks.common import column_location, table_resource, tables_in_scope
from auditor.policy.rule import Rule


def _columns(table: TableSchema) -> dict[str, Field]:
    # Names are case-insensitive in BigQuery.
    return {path.lower(): field for path, field in table.columns()}


def _display(table: TableSchema) -> dict[str, str]:
    return {path.lower(): path for path, _ in table.columns()}


@register(
    "sql-doc-drift",
    description=(
        "Every table a SQL doc documents has a JSON template, with the same columns, types "
        "and modes."
    ),
    params_schema={"type": "object", "additionalProperties": False, "properties": {}},
)
def sql_doc_drift(inventory: Inventory, rule: Rule) -> Iterator[CheckResult]:
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
    doc_cols, tpl_cols = _columns(doc), _columns(template)
    doc_names, tpl_names = _display(doc), _display(template)
    where_tpl = f"{template.location.path}"
    drifted = False
    for key, field in tpl_cols.items():
        if key in doc_cols:
            continue
        drifted = True
        yield CheckResult(
            status=Status.FAIL,
            resource=resource,
            column=tpl_names[key],
            location=doc.location,
            message=(
                f"column '{tpl_names[key]}' ({field.canonical_type}) is in template {where_tpl}"
                f":{field.line} but missing from the SQL doc"
            ),
            evidence={"template": str(Location(where_tpl, field.line)), "drift": "missing"},
        )
    for key, field in doc_cols.items():
        if key not in tpl_cols:
            drifted = True
            yield CheckResult(
                status=Status.FAIL,
                resource=resource,
                column=doc_names[key],
                location=column_location(doc, field.line),
                message=(
                    f"column '{doc_names[key]}' ({field.canonical_type}) is in the SQL doc but "
                    f"not in template {where_tpl}"
                ),
                evidence={"template": where_tpl, "drift": "extra"},
            )
            continue
        expected = tpl_cols[key]
        mismatch = _mismatch(field, expected)
        if mismatch:
            drifted = True
            yield CheckResult(
                status=Status.FAIL,
                resource=resource,
                column=doc_names[key],
                location=column_location(doc, field.line),
                message=(
                    f"column '{doc_names[key]}' is {mismatch[0]} in the SQL doc but {mismatch[1]} "
                    f"in template {where_tpl}:{expected.line}"
                ),
                evidence={"template": str(Location(where_tpl, expected.line)), "drift": "type"},
            )
    if not drifted:
        yield CheckResult(
            status=Status.PASS,
            resource=resource,
            location=doc.location,
            message=f"SQL doc table '{doc.name}' matches template {where_tpl}",
        )


def _mismatch(doc: Field, template: Field) -> tuple[str, str] | None:
    doc_mode, tpl_mode = doc.mode.upper(), template.mode.upper()
    if doc.canonical_type != template.canonical_type or doc_mode != tpl_mode:
        return f"{doc.canonical_type} {doc_mode}", f"{template.canonical_type} {tpl_mode}"
    return None
