"""Checks on who the live estate is open to: public grants (CIS GCP 7.1)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import AccessEntry, CheckContext, CheckResult, GranteeKind, Inventory, Status
from auditor.policy.checks import register
from auditor.policy.checks.live_scope import datasets_in_scope
from auditor.policy.rule import Rule

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


def _public_member(entry: AccessEntry) -> str | None:
    # Both grantee kinds can carry the public principals; compare the whole value, never a
    # substring (a group named "allUsers-admins@x" is not public).
    kinds = (GranteeKind.SPECIAL_GROUP, GranteeKind.IAM_MEMBER)
    return entry.entity if entry.kind in kinds and entry.entity in PUBLIC_MEMBERS else None


@register(
    "no-public-access",
    description=(
        "No dataset access entry or table IAM binding grants allUsers or allAuthenticatedUsers."
    ),
    params_schema={"type": "object", "additionalProperties": False, "properties": {}},
    permissions=("bigquery.datasets.get", "bigquery.tables.getIamPolicy"),
)
def no_public_access(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    in_scope = {d.dataset_id for d in datasets_in_scope(inventory, rule)}
    for dataset in datasets_in_scope(inventory, rule):
        public = [(e, m) for e in dataset.access if (m := _public_member(e)) is not None]
        for entry, member in public:
            yield CheckResult(
                status=Status.FAIL,
                resource=dataset.resource,
                principal=member,
                message=(
                    f"dataset {dataset.dataset_id} grants {entry.role or 'access'} to {member} "
                    f"({entry.kind.value} access entry): anyone"
                    f"{' with a Google account' if member == 'allAuthenticatedUsers' else ''}"
                    f" can use it"
                ),
                evidence={"grantee_kind": entry.kind.value, "role": entry.role or ""},
            )
        if not public:
            yield CheckResult(
                status=Status.PASS,
                resource=dataset.resource,
                message=f"dataset {dataset.dataset_id} has no public access entry",
            )
    for table in inventory.live_tables:
        if table.dataset_id not in in_scope or table.iam is None:
            continue
        for binding in table.iam:
            for member in binding.members:
                if member in PUBLIC_MEMBERS:
                    yield CheckResult(
                        status=Status.FAIL,
                        resource=table.resource,
                        principal=member,
                        message=(
                            f"table {table.dataset_id}.{table.table_id} grants {binding.role} "
                            f"to {member} in its IAM policy"
                        ),
                        evidence={"role": binding.role},
                    )
