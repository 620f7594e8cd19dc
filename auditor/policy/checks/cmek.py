"""Customer-managed encryption keys on datasets and tables (CIS GCP 7.2, 7.3)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import CheckContext, CheckResult, Inventory, Status
from auditor.policy.checks import register
from auditor.policy.checks.live_scope import datasets_in_scope
from auditor.policy.rule import Rule


@register(
    "dataset-default-cmek",
    description="Every dataset in scope has a default customer-managed encryption key.",
    params_schema={"type": "object", "additionalProperties": False, "properties": {}},
    permissions=("bigquery.datasets.get",),
)
def dataset_default_cmek(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    for dataset in datasets_in_scope(inventory, rule):
        if dataset.default_kms_key:
            yield CheckResult(
                status=Status.PASS,
                resource=dataset.resource,
                message=f"dataset {dataset.dataset_id} defaults to CMEK {dataset.default_kms_key}",
            )
        else:
            yield CheckResult(
                status=Status.FAIL,
                resource=dataset.resource,
                message=(
                    f"dataset {dataset.dataset_id} has no default customer-managed encryption "
                    f"key: new tables are encrypted with Google-managed keys"
                ),
            )


@register(
    "table-cmek",
    description="Every table in a dataset in scope is encrypted with a customer-managed key.",
    params_schema={"type": "object", "additionalProperties": False, "properties": {}},
    permissions=("bigquery.tables.get",),
)
def table_cmek(inventory: Inventory, rule: Rule, context: CheckContext) -> Iterator[CheckResult]:
    in_scope = {d.dataset_id for d in datasets_in_scope(inventory, rule)}
    for table in inventory.live_tables:
        # Views store no data; only tables have encryption to check.
        if table.dataset_id not in in_scope or table.type == "VIEW":
            continue
        name = f"{table.dataset_id}.{table.table_id}"
        if table.kms_key:
            yield CheckResult(
                status=Status.PASS,
                resource=table.resource,
                message=f"table {name} is encrypted with CMEK {table.kms_key}",
            )
        else:
            yield CheckResult(
                status=Status.FAIL,
                resource=table.resource,
                message=f"table {name} is not encrypted with a customer-managed key",
            )
