"""Check that the protected dataset stores secrets only as encrypted BYTES."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.detect.names import classify_column
from auditor.model import CheckContext, CheckResult, Inventory, Status
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
    "secrets-encrypted-bytes",
    description="Every secret-holding column in scope is BYTES (KMS ciphertext), never text.",
    params_schema={"type": "object", "additionalProperties": False, "properties": {}},
)
def secrets_encrypted_bytes(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    for table in tables_in_scope(inventory.tables, rule, inventory):
        resource = table_resource(table)
        secret_columns = 0
        failed = False
        for path, field in table.columns():
            # A RECORD only groups values; its leaves are judged one by one.
            if field.is_record:
                continue
            # Hashes are one-way already; this rule is about plaintext secrets. The table's
            # name counts as for AUD-001 (`value` of a secret store is a secret).
            verdict = classify_column(
                path, field.type, field.description, count_hashes=False, table=table.name
            )
            if not verdict.credential:
                continue
            secret_columns += 1
            if field.canonical_type == "BYTES":
                continue
            failed = True
            yield CheckResult(
                status=Status.FAIL,
                resource=resource,
                column=path,
                location=column_location(table, field.line),
                message=(
                    f"{describe(table)} stores secret column '{path}' as {field.canonical_type}; "
                    f"secrets must be KMS-encrypted BYTES ({verdict.reason})"
                ),
                evidence={"table": table.name, "type": field.canonical_type},
            )
        if not failed:
            yield CheckResult(
                status=Status.PASS,
                resource=resource,
                location=table_location(table),
                message=(
                    f"{describe(table)}: {secret_columns} secret column(s), all encrypted BYTES"
                ),
            )
