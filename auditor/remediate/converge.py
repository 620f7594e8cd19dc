"""`converge`: the desired-state diff behind provisioning. A tenant dataset from the
templates, or the protected customers dataset hardened: labels, default key, no public or
project special-group entries, the template tables and columns. Pure: intents only."""

from __future__ import annotations

from collections.abc import Mapping

from auditor.access.principals import PUBLIC
from auditor.model import AccessEntry, Dataset, GranteeKind, dataset_resource
from auditor.policy.checks.schemadiff import DiffKind, diff_columns
from auditor.remediate.actions import IamMemberGrant, entry_text
from auditor.remediate.desired import PLATFORM_ADMINS, DatasetRole
from auditor.remediate.intents import (
    Context,
    NewDataset,
    RemoveEntry,
    RemoveIam,
    SetKey,
    SetLabel,
)
from auditor.remediate.remediators import add_column, create_table, extra_column

_OWNER = "roles/bigquery.dataOwner"


def converge(
    ctx: Context, dataset_id: str, role: DatasetRole, labels: Mapping[str, str], description: str
) -> None:
    desired = ctx.desired
    ds = ctx.datasets.get(dataset_id)
    resource = dataset_resource(desired.project, dataset_id)
    key = desired.key_for(role)
    if ds is None:
        ctx.add(
            NewDataset(dataset_id, role, tuple(sorted(labels.items())), key, description),
            None,
        )
        ctx.datasets[dataset_id] = Dataset(
            desired.project,
            dataset_id,
            desired.location,
            dict(labels),
            description,
            desired.access,
            key,
        )
        for template in desired.templates_for(role):
            create_table(ctx, dataset_id, template, None)
        return
    for k, v in sorted(labels.items()):
        if ds.labels.get(k) != v:
            ctx.add(SetLabel(dataset_id, k, v), None)
    # From here on the dataset counts as what it is being labelled.
    ctx.datasets[dataset_id] = Dataset(
        ds.project,
        ds.dataset_id,
        ds.location,
        {**ds.labels, **labels},
        ds.description,
        ds.access,
        ds.default_kms_key,
        ds.etag,
    )
    if not ds.default_kms_key:
        if key:
            ctx.add(SetKey(dataset_id, key), None)
        else:
            ctx.manual(
                None,
                resource,
                f"choose a default CMEK for {dataset_id}",
                f"the remediation config names no key for {role.value} datasets",
                f"set kms_keys.{role.value} in the config",
            )
    broad = [e for e in ds.access if _broad_entry(e)]
    owners_left = [e for e in ds.access if e.role == _OWNER and e not in broad]
    for entry in broad:
        if entry.role == _OWNER and not owners_left:
            ctx.manual(
                None,
                resource,
                f"add a named owner to {dataset_id} before removing {entry.entity}",
                "removing the last OWNER entry would leave the dataset with no owner in its "
                "access list",
                f"add OWNER {PLATFORM_ADMINS} (groupByEmail), then re-run provisioning",
            )
            continue
        why = "public" if entry.entity in PUBLIC else "a project special group"
        ctx.add(RemoveEntry(dataset_id, entry, f"{entry_text(entry)} is {why}"), None)
    templates = {t.name.lower(): t for t in desired.templates_for(role)}
    live = {t.table_id.lower(): t for t in ctx.tables_of(dataset_id)}
    for name, template in sorted(templates.items()):
        table = live.get(name)
        if table is None:
            create_table(ctx, dataset_id, template, None)
            continue
        for diff in diff_columns(table.fields, template.fields):
            if diff.kind is DiffKind.MISSING:
                add_column(ctx, dataset_id, table.table_id, template, diff.path, None)
            elif diff.kind is DiffKind.EXTRA and role is DatasetRole.TENANT:
                extra_column(ctx, dataset_id, table.table_id, diff.path, None)
            elif diff.kind is DiffKind.CHANGED:
                ctx.manual(
                    None,
                    table.resource,
                    f"restore the type/mode of column {diff.path} of {dataset_id}.{table.table_id}",
                    "changing a column's type rewrites data, which remediation never does",
                    f"recreate the table with the schema of {template.location.path} and copy "
                    "the rows with an explicit CAST, in a reviewed change",
                )
    for name, table in sorted(live.items()):
        if name not in templates and role is DatasetRole.TENANT and table.type == "TABLE":
            ctx.manual(
                None,
                table.resource,
                f"review table {dataset_id}.{table.table_id}, which no template defines",
                "remediation never deletes a table",
                "add its template through a reviewed pull request, or move it out after review",
            )
    for table in live.values():
        for b in table.iam or ():
            for m in b.members:
                if m in PUBLIC:
                    ctx.add(
                        RemoveIam(
                            dataset_id, table.table_id, IamMemberGrant(b.role, m, b.condition)
                        ),
                        None,
                    )


def _broad_entry(entry: AccessEntry) -> bool:
    """A public grant or a project special group (projectOwners/Writers/Readers)."""
    if entry.kind is GranteeKind.SPECIAL_GROUP:
        return True
    return entry.kind is GranteeKind.IAM_MEMBER and entry.entity in PUBLIC
