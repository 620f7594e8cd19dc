"""Check that every table template and SQL doc is a valid BigQuery schema."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import CheckContext, CheckResult, Inventory, Location, Status
from auditor.policy.checks import register
from auditor.policy.rule import Rule


@register(
    "schema-valid",
    description=(
        "Table templates and SQL docs parse and follow BigQuery's schema rules (types, modes, "
        "names, duplicates, nesting, leaf column count, descriptions, precision and scale). "
        "Files discovery skipped as not BigQuery schemas are not judged."
    ),
    params_schema={"type": "object", "additionalProperties": False, "properties": {}},
)
def schema_valid(inventory: Inventory, rule: Rule, context: CheckContext) -> Iterator[CheckResult]:
    failing: set[str] = set()
    for problem in inventory.problems:
        if not rule.scope.template_paths or rule.scope.matches_template_path(problem.path):
            failing.add(problem.path)
            yield CheckResult(
                status=Status.FAIL,
                resource=problem.path,
                column=problem.column,
                location=problem.location,
                message=f"{problem.path}: {problem.message}",
            )
    for item in inventory.inputs:
        if item.path in failing:
            continue
        if rule.scope.template_paths and not rule.scope.matches_template_path(item.path):
            continue
        yield CheckResult(
            status=Status.PASS,
            resource=item.path,
            location=Location(item.path),
            message=f"{item.path} is a valid schema definition",
        )
