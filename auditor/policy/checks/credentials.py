"""Checks that tenant table definitions hold no credentials."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

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

# AUD-001 and AUD-002 judge the same columns of the same templates: classify each once.
_classify = lru_cache(maxsize=65_536)(classify_column)


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
            verdict = _classify(
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
# Without a credential-store name, a table is one when at least this share of its top-level
# columns holds credential material (oauth_grants: access_token, refresh_token, ...). One
# credential column among many (a webhook secret in a queue table) is AUD-001's finding.
_DEFAULT_MIN_SHARE = 1 / 3


@register(
    "no-credential-tables",
    description=(
        "No template in scope defines a credential table: one whose columns hold credential "
        "material (the table name is supporting evidence only). The onboarding engine "
        "creates every template of the folder in each tenant dataset."
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "table_name_pattern": {"type": "string", "format": "regex", "minLength": 1},
            "min_credential_share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        },
    },
)
def no_credential_tables(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    pattern = re.compile(
        str(rule.params.get("table_name_pattern", _DEFAULT_TABLE_PATTERN)), re.IGNORECASE
    )
    min_share = float(rule.params.get("min_credential_share", _DEFAULT_MIN_SHARE))
    for table in tables_in_scope(inventory.templates, rule):
        if table.origin is not Origin.TEMPLATE:
            continue
        resource = table_resource(table)
        credential = [
            (path, field)
            for path, field in table.columns()
            if _classify(path, field.type, field.description).credential
        ]
        top = [path for path, _ in credential if "." not in path]
        share = len(top) / len(table.fields) if table.fields else 0.0
        named = pattern.search(table.name)
        evidence = {
            "table": table.name,
            "credential_columns": [path for path, _ in credential],
            "matched": named.group(0).strip("_") if named else "",
        }
        first_line = next((f.line for _, f in credential if f.line is not None), None)
        if credential and (named or share >= min_share):
            why = (
                f"its name ('{table.name}') says so too"
                if named
                else f"{len(top)} of its {len(table.fields)} top-level columns are"
            )
            yield CheckResult(
                status=Status.FAIL,
                resource=resource,
                location=Location(table.location.path, first_line or 1),
                message=(
                    f"template {resource} defines a credential table: column(s) "
                    f"{', '.join(repr(p) for p, _ in credential[:3])} hold credential "
                    f"material and {why}; every tenant dataset would get it"
                ),
                evidence=evidence,
            )
            continue
        if named:
            detail = "its name looks like one, but none of its columns holds credential material"
        elif credential:
            detail = (
                f"{len(credential)} credential-like column(s) among {len(table.fields)} "
                "top-level columns (AUD-001 reports each)"
            )
        else:
            detail = "none of its columns holds credential material"
        yield CheckResult(
            status=Status.PASS,
            resource=resource,
            location=Location(table.location.path, 1),
            message=f"template {resource} ('{table.name}') is not a credential table: {detail}",
            evidence=evidence,
        )
