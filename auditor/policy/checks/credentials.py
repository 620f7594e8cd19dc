"""Checks that tenant table definitions hold no credentials."""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.detect.names import classify_column
from auditor.model import CheckContext, CheckResult, Inventory, Location, Origin, Status
from auditor.policy.checks import register
from auditor.policy.checks.common import (
    column_location,
    describe,
    table_location,
    table_resource,
    tables_in_scope,
)
from auditor.policy.rule import Rule


@register(
    "no-credential-columns",
    description=(
        "Tables in scope have no column that looks like it holds a secret value, plain, "
        "encrypted or hashed. Param allow_hashes: globs on column names (e.g. '*_key_hash') "
        "whose hashes of secrets are accepted as lookup hashes."
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "allow_hashes": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "uniqueItems": True,
            },
        },
    },
)
def no_credential_columns(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    allow_hashes = tuple(str(g) for g in rule.params.get("allow_hashes", ()))
    for table in tables_in_scope(inventory.tables, rule, inventory):
        resource = table_resource(table)
        hits = 0
        for path, field in table.columns():
            verdict = classify_column(
                path, field.type, field.description, allow_hashes=allow_hashes, table=table.name
            )
            if not verdict.credential:
                continue
            hits += 1
            yield CheckResult(
                status=Status.FAIL,
                resource=resource,
                column=path,
                location=column_location(table, field.line),
                message=(
                    f"{describe(table)} has credential-like column '{path}' "
                    f"({field.canonical_type}): {verdict.reason}"
                ),
                evidence={
                    "table": table.name,
                    "type": field.canonical_type,
                    "keyword": verdict.keyword or "",
                    "signal": verdict.signal.value,
                },
            )
        if not hits:
            count = sum(1 for _ in table.columns())
            yield CheckResult(
                status=Status.PASS,
                resource=resource,
                location=table_location(table),
                message=f"{describe(table)}: none of its {count} columns looks like a credential",
            )


_DEFAULT_TABLE_PATTERN = (
    r"(^|_)(api_?keys?|credentials?|secrets?|passwords?|tokens?|private_?keys?)($|_)"
)


@register(
    "no-credential-tables",
    description=(
        "No template in scope defines a credential table: the onboarding engine creates every "
        "template of the folder in each tenant dataset."
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "table_name_pattern": {"type": "string", "format": "regex", "minLength": 1},
        },
    },
)
def no_credential_tables(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    pattern = re.compile(
        str(rule.params.get("table_name_pattern", _DEFAULT_TABLE_PATTERN)), re.IGNORECASE
    )
    for table in tables_in_scope(inventory.templates, rule):
        if table.origin is not Origin.TEMPLATE:
            continue
        resource = table_resource(table)
        match = pattern.search(table.name)
        if match:
            yield CheckResult(
                status=Status.FAIL,
                resource=resource,
                location=Location(table.location.path, 1),
                message=(
                    f"template {resource} defines credential table '{table.name}' in the tenant "
                    f"onboarding folder: every tenant dataset would get it"
                ),
                evidence={"table": table.name, "matched": match.group(0).strip("_")},
            )
        else:
            yield CheckResult(
                status=Status.PASS,
                resource=resource,
                location=Location(table.location.path, 1),
                message=f"template {resource} ('{table.name}') is not a credential table",
            )
