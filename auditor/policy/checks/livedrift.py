"""Live tables against the templates they were created from, and datasets nobody classified."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from auditor.model import (
    CheckContext,
    CheckResult,
    Inventory,
    Status,
    Table,
    TableSchema,
    table_resource_name,
)
from auditor.policy.checks import register
from auditor.policy.checks.live_scope import datasets_in_scope
from auditor.policy.checks.schemadiff import ColumnDiff, DiffKind, diff_columns
from auditor.policy.rule import Rule, Scope


@register(
    "live-drift",
    description=(
        "Every dataset in scope has exactly the tables of the templates in scope, with the same "
        "columns, types and modes."
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "report_extra_tables": {
                "type": "boolean",
                "description": "Also fail tables that no template defines (default true).",
            }
        },
    },
    permissions=("bigquery.tables.list", "bigquery.tables.get"),
)
def live_drift(inventory: Inventory, rule: Rule, context: CheckContext) -> Iterator[CheckResult]:
    templates = {
        t.name.lower(): t
        for t in inventory.templates
        if rule.scope.matches_template_path(t.location.path)
    }
    datasets = datasets_in_scope(inventory, rule)
    if datasets and not templates:
        # Without the expected schemas nothing can be judged: say so instead of passing.
        yield CheckResult(
            status=Status.ERROR,
            resource=datasets[0].resource,
            message="no templates in scope were loaded, so live drift could not be checked",
        )
        return
    by_dataset: dict[str, list[Table]] = defaultdict(list)
    for live_table in inventory.live_tables:
        by_dataset[live_table.dataset_id].append(live_table)
    extra = bool(rule.params.get("report_extra_tables", True))
    unread = {gap.scope for gap in inventory.gaps}
    for dataset in datasets:
        live = {t.table_id.lower(): t for t in by_dataset[dataset.dataset_id]}
        for key, template in sorted(templates.items()):
            table = live.get(key)
            resource = table_resource_name(dataset.project, dataset.dataset_id, template.name)
            if table is None and (resource in unread or dataset.resource in unread):
                # Not listed or not read is not missing: its gap makes the run incomplete.
                yield CheckResult(
                    status=Status.SKIPPED,
                    resource=resource,
                    message=f"table {dataset.dataset_id}.{template.name} could not be read; "
                    "drift not checked",
                )
                continue
            if table is None:
                yield CheckResult(
                    status=Status.FAIL,
                    resource=resource,
                    message=(
                        f"dataset {dataset.dataset_id} lacks table {template.name} "
                        f"(template {template.location.path})"
                    ),
                    evidence={"drift": "missing_table", "template": template.location.path},
                )
                continue
            yield from _compare(table, template)
        if extra:
            for key, other in sorted(live.items()):
                if key not in templates and other.type == "TABLE":
                    yield CheckResult(
                        status=Status.FAIL,
                        resource=other.resource,
                        message=(
                            f"table {dataset.dataset_id}.{other.table_id} is not defined by any "
                            f"template in scope"
                        ),
                        evidence={"drift": "extra_table"},
                    )


def _compare(table: Table, template: TableSchema) -> Iterator[CheckResult]:
    name = f"{table.dataset_id}.{table.table_id}"
    source = template.location.path
    diffs = diff_columns(table.fields, template.fields)
    for diff in diffs:
        evidence: Mapping[str, Any] = {"drift": diff.kind.value, "template": source}
        if diff.kind is DiffKind.MISSING:
            message = f"table {name} lacks column '{diff.path}' that template {source} defines"
        elif diff.kind is DiffKind.EXTRA:
            assert diff.actual is not None
            message = (
                f"table {name} has column '{diff.path}' ({diff.actual.canonical_type}) that "
                f"template {source} does not define"
            )
        else:
            assert diff.actual is not None and diff.expected is not None
            message = (
                f"column '{diff.path}' of table {name} is {ColumnDiff.spell(diff.actual)} but "
                f"template {source} says {ColumnDiff.spell(diff.expected)}"
            )
        yield CheckResult(
            status=Status.FAIL,
            resource=table.resource,
            column=diff.path,
            message=message,
            evidence=evidence,
        )
    if not diffs:
        yield CheckResult(
            status=Status.PASS,
            resource=table.resource,
            message=f"table {name} matches template {source}",
        )


_CONVENTION_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "datasets": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "dataset_labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@register(
    "classified-datasets",
    description=(
        "Every live dataset is either a tenant dataset or the customers dataset by the "
        "platform's conventions; anything else is reported, not ignored."
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["conventions"],
        "properties": {
            "conventions": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": _CONVENTION_SCHEMA,
            }
        },
    },
    permissions=("bigquery.datasets.get",),
)
def classified_datasets(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    conventions = {
        kind: Scope(
            datasets=tuple(spec.get("datasets", ())),
            dataset_labels=dict(spec.get("dataset_labels", {})),
        )
        for kind, spec in rule.params["conventions"].items()
    }
    for dataset in inventory.datasets:
        kinds = sorted(
            kind
            for kind, scope in conventions.items()
            if scope.matches_dataset(dataset.dataset_id, dataset.labels)
        )
        if len(kinds) == 1:
            yield CheckResult(
                status=Status.PASS,
                resource=dataset.resource,
                message=f"dataset {dataset.dataset_id} is a {kinds[0]} dataset",
            )
        elif not kinds:
            yield CheckResult(
                status=Status.FAIL,
                resource=dataset.resource,
                message=(
                    f"dataset {dataset.dataset_id} matches no dataset convention "
                    f"({', '.join(sorted(conventions))}): nobody vouches for what it holds"
                ),
                evidence={"labels": dict(dataset.labels)},
            )
        else:
            yield CheckResult(
                status=Status.FAIL,
                resource=dataset.resource,
                message=(
                    f"dataset {dataset.dataset_id} matches several conventions "
                    f"({', '.join(kinds)}): its protection level is ambiguous"
                ),
                evidence={"labels": dict(dataset.labels)},
            )
