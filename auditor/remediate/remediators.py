"""Remediators: per check kind, what fixes a finding (as intents the planner merges into
actions) or which manual step explains it. Pure; registered in REMEDIATORS by check kind.
The desired-state diff behind provisioning is converge.py; the intents are intents.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from auditor.access.explain import cut
from auditor.access.paths import Hop, HopKind
from auditor.access.principals import acl_member, canonical
from auditor.detect.names import classify_column
from auditor.io.resource_names import dataset_or_table
from auditor.model import (
    BIGQUERY_RESOURCE_PREFIX,
    Condition,
    Finding,
    GranteeKind,
    TableSchema,
    table_resource_name,
    walk_fields,
)
from auditor.policy.checks.schemadiff import DiffKind
from auditor.remediate.actions import (
    IamMemberGrant,
    NewColumn,
)
from auditor.remediate.desired import (
    CREDENTIAL_TABLE_RE,
    ROLE_LABEL,
    TENANT_ID_LABEL,
    DatasetRole,
)
from auditor.remediate.intents import (
    AddColumn,
    Context,
    NewTable,
    RemoveEntry,
    RemoveIam,
    SetKey,
    shell_word,
)

# ----------------------------------------------------------------------------- remediators

Remediator = Callable[[Context, Finding], None]
REMEDIATORS: dict[str, Remediator] = {}


def remediates(*kinds: str) -> Callable[[Remediator], Remediator]:
    """Register a remediator for findings of rules with these check kinds."""

    def add(function: Remediator) -> Remediator:
        for kind in kinds:
            if kind in REMEDIATORS:
                raise ValueError(f"check kind {kind!r} has two remediators")
            REMEDIATORS[kind] = function
        return function

    return add


@remediates("no-public-access")
def _public(ctx: Context, f: Finding) -> None:
    parsed = dataset_or_table(f.resource)
    member = f.principal or ""
    if parsed is None or parsed[0] != ctx.desired.project:
        return fallback(ctx, f)
    _, dataset_id, table_id = parsed
    if table_id is None:
        ds = ctx.datasets.get(dataset_id)
        entries = [
            e
            for e in (ds.access if ds else ())
            if e.kind in (GranteeKind.SPECIAL_GROUP, GranteeKind.IAM_MEMBER) and e.entity == member
        ]
        for entry in entries:
            ctx.add(
                RemoveEntry(dataset_id, entry, f"{member} is public ({f.rule_id})"), f.fingerprint
            )
        if not entries:
            fallback(ctx, f)
        return None
    table = ctx.tables.get((dataset_id, table_id))
    grants = [
        IamMemberGrant(b.role, m, b.condition)
        for b in ((table.iam or ()) if table else ())
        for m in b.members
        if m == member
    ]
    for grant in grants:
        ctx.add(RemoveIam(dataset_id, table_id, grant), f.fingerprint)
    if not grants:
        fallback(ctx, f)
    return None


@remediates("dataset-default-cmek")
def _dataset_cmek(ctx: Context, f: Finding) -> None:
    parsed = dataset_or_table(f.resource)
    if parsed is None or parsed[2] is not None or parsed[1] not in ctx.datasets:
        return fallback(ctx, f)
    dataset_id = parsed[1]
    role = ctx.role(dataset_id)
    key = ctx.desired.key_for(role)
    if key is None:
        ctx.manual(
            f.fingerprint,
            f.resource,
            f"choose a default CMEK for dataset {dataset_id}",
            f"dataset {dataset_id} is neither a tenant nor the customers dataset and the "
            "remediation config names no key for unclassified datasets (kms_keys.other)",
            "classify the dataset (see AUD-010) or set kms_keys.other in the config",
            f"bq update --default_kms_key KEY {shell_word(f'{ctx.desired.project}:{dataset_id}')}",
        )
        return None
    ctx.add(SetKey(dataset_id, key), f.fingerprint)
    return None


@remediates("table-cmek")
def _table_cmek(ctx: Context, f: Finding) -> None:
    parsed = dataset_or_table(f.resource)
    name = f"{parsed[1]}.{parsed[2]}" if parsed else f.resource
    ctx.manual(
        f.fingerprint,
        f.resource,
        f"rewrite table {name} under a customer-managed key",
        "a table's key changes only when its data is rewritten (a copy onto itself); "
        "remediation never rewrites table data, so this is a reviewed manual step",
        "make sure the dataset has a default key (the plan sets missing ones)",
        f"bq cp -f --destination_kms_key KEY {shell_word(name)} {shell_word(name)}",
    )


@remediates("live-drift")
def _live_drift(ctx: Context, f: Finding) -> None:
    parsed = dataset_or_table(f.resource)
    drift = str(f.evidence.get("drift", ""))
    if parsed is None or parsed[2] is None:
        return fallback(ctx, f)
    dataset_id, table_id = parsed[1], parsed[2]
    template = _template_named(ctx, str(f.evidence.get("template", "")), table_id)
    if drift == "missing_table" and template is not None:
        create_table(ctx, dataset_id, template, f.fingerprint)
    elif drift == DiffKind.MISSING.value and template is not None and f.column:
        add_column(ctx, dataset_id, table_id, template, f.column, f.fingerprint)
    elif drift == DiffKind.EXTRA.value and f.column:
        extra_column(ctx, dataset_id, table_id, f.column, f.fingerprint)
    elif drift == DiffKind.CHANGED.value and f.column:
        ctx.manual(
            f.fingerprint,
            f.resource,
            f"restore the type/mode of column {f.column} of {dataset_id}.{table_id}",
            "BigQuery changes a column's type in place only for a few widenings; anything "
            "else rewrites the table's data, which remediation never does. "
            f"{f.message}",
            f"CREATE TABLE {dataset_id}.{table_id}_fixed with the template's schema, copy the "
            "rows with an explicit CAST, compare row counts, then swap the tables in a "
            "reviewed change",
        )
    elif drift == "extra_table":
        ctx.manual(
            f.fingerprint,
            f.resource,
            f"review table {dataset_id}.{table_id}, which no template defines",
            "a table outside the templates bypassed the pre-merge gate; remediation never "
            "deletes a table",
            "if it belongs to the platform, add its template through a reviewed pull request",
            "otherwise move it out of the tenant dataset after review",
        )
    else:
        fallback(ctx, f)
    return None


def _template_named(ctx: Context, path: str, table_id: str) -> TableSchema | None:
    for t in ctx.inventory.templates:
        if t.location.path == path and t.name.lower() == table_id.lower():
            return t
    for t in ctx.inventory.templates:
        if t.location.path == path:
            return t
    return None


def create_table(
    ctx: Context, dataset_id: str, template: TableSchema, fingerprint: str | None
) -> None:
    role = ctx.role(dataset_id)
    resource = table_resource_name(ctx.desired.project, dataset_id, template.name)
    if role is DatasetRole.TENANT:
        reason = _credential_reason(template)
        if reason is not None:
            ctx.manual(
                fingerprint,
                resource,
                f"fix template {template.location.path} before creating {template.name}",
                f"{reason}: a tenant dataset is readable by GenAI principals, so remediation "
                "does not create credential tables or columns in it",
                "remove the credential from the template (AUD-001/AUD-002); keep secrets in "
                "the customers dataset as KMS-encrypted BYTES",
            )
            return
    ds = ctx.datasets.get(dataset_id)
    key = (ds.default_kms_key if ds else None) or ctx.desired.key_for(role)
    ctx.add(NewTable(dataset_id, template, key), fingerprint)


def _credential_reason(template: TableSchema) -> str | None:
    if CREDENTIAL_TABLE_RE.search(template.name):
        return f"template {template.location.path} defines a credential table"
    for path, f in walk_fields(template.fields):
        if classify_column(path, f.type, f.description, table=template.name).credential:
            return f"template {template.location.path} has the credential-like column {path}"
    return None


def add_column(
    ctx: Context,
    dataset_id: str,
    table_id: str,
    template: TableSchema,
    column: str,
    fingerprint: str | None,
) -> None:
    found = {p.lower(): f for p, f in walk_fields(template.fields)}.get(column.lower())
    resource = table_resource_name(ctx.desired.project, dataset_id, table_id)
    if found is None:
        ctx.manual(
            fingerprint,
            resource,
            f"add column {column} to {dataset_id}.{table_id}",
            f"the template {template.location.path} no longer defines {column}",
            "re-run the scan and the planner against the current templates",
        )
        return
    if (
        ctx.role(dataset_id) is DatasetRole.TENANT
        and classify_column(column, found.type, found.description, table=table_id).credential
    ):
        ctx.manual(
            fingerprint,
            resource,
            f"fix template {template.location.path}: column {column} is credential-like",
            "remediation never creates a credential column in a GenAI-readable tenant table",
            "remove the column from the template (AUD-001)",
        )
        return
    if found.mode.upper() == "REQUIRED" or any(
        f.mode.upper() == "REQUIRED" for _, f in walk_fields(found.fields)
    ):
        ctx.manual(
            fingerprint,
            resource,
            f"add REQUIRED column {column} to {dataset_id}.{table_id}",
            "BigQuery adds only NULLABLE or REPEATED columns to an existing table; a "
            "REQUIRED column needs its rows rewritten, which remediation never does",
            f"ALTER TABLE {dataset_id}.{table_id} ADD COLUMN {found.name} "
            f"{found.canonical_type}, backfill it, then recreate the table with the "
            "template's schema in a reviewed change",
        )
        return
    parent = column.rsplit(".", 1)[0] if "." in column else None
    ctx.add(AddColumn(dataset_id, table_id, NewColumn(parent, found)), fingerprint)


def extra_column(
    ctx: Context, dataset_id: str, table_id: str, column: str, fingerprint: str | None
) -> None:
    resource = table_resource_name(ctx.desired.project, dataset_id, table_id)
    table = ctx.tables.get((dataset_id, table_id))
    live = {p.lower(): f for p, f in walk_fields(table.fields if table else ())}.get(column.lower())
    if (
        live is not None
        and classify_column(column, live.type, live.description, table=table_id).credential
    ):
        _credential_manual(ctx, fingerprint, resource, dataset_id, table_id, column)
        return
    ctx.manual(
        fingerprint,
        resource,
        f"review column {column} of {dataset_id}.{table_id}, which its template lacks",
        "remediation is additive: it never drops a column (that would delete its data)",
        "if the column belongs to the platform, add it to the template in a reviewed pull "
        "request; otherwise copy what it holds elsewhere and drop it in a reviewed change",
    )


def _credential_manual(
    ctx: Context,
    fingerprint: str | None,
    resource: str,
    dataset_id: str,
    table_id: str,
    column: str,
) -> None:
    project = ctx.desired.project
    ctx.manual(
        fingerprint,
        resource,
        f"protect credential column {column} of {dataset_id}.{table_id}, then move it to customers",
        "credential columns and values are never dropped or rewritten by remediation: "
        "dropping loses the secret's owner a way to rotate it and hides the incident; "
        "rewriting it needs the key holder. Restrict it now, move it, rotate the secret",
        f"attach a policy tag that no GenAI principal can read to {column} (column-level "
        f"security): bq update --schema with policyTags on "
        f"{shell_word(f'{project}:{dataset_id}.{table_id}')}",
        "copy any values, KMS-encrypted as BYTES, into customers.customer_api_keys or "
        "customers.customer_cloud_credentials, and keep only a non-secret reference here",
        "rotate every secret that was readable in the tenant dataset",
        "drop the column in a reviewed change once it is empty; fix the writer that filled it",
    )


@remediates("no-credential-columns")
def _credential_columns(ctx: Context, f: Finding) -> None:
    parsed = dataset_or_table(f.resource)
    if parsed is not None and parsed[2] is not None and f.column:
        _credential_manual(ctx, f.fingerprint, f.resource, parsed[1], parsed[2], f.column)
        return
    ctx.manual(
        f.fingerprint,
        f.resource,
        f"remove credential column {f.column or ''} from {f.resource}".replace("  ", " "),
        "templates and schema docs are files: the fix is a reviewed pull request",
        f.remediation or "remove the column; keep secrets only in the customers dataset",
    )


@remediates("classified-datasets")
def _classified(ctx: Context, f: Finding) -> None:
    parsed = dataset_or_table(f.resource)
    name = parsed[1] if parsed else f.resource
    ctx.manual(
        f.fingerprint,
        f.resource,
        f"classify dataset {name}",
        "only a person can say what an unclassified dataset holds: a wrong label would "
        "expose it to GenAI (tenant) or hide it from the tenant rules",
        f"if it is a tenant dataset: bq update --set_label {ROLE_LABEL}:tenant "
        f"--set_label {shell_word(f'{TENANT_ID_LABEL}:{name}')} "
        f"{shell_word(f'{ctx.desired.project}:{name}')} "
        f"(or `{ctx.auditor_command('provision', name)}`)",
        "otherwise move its data into a classified dataset and delete it after review",
    )


# --- access paths (the GenAI and public-reach rules)


@remediates("genai-cannot-reach", "protected-not-public")
def _reach(ctx: Context, f: Finding) -> None:
    _cut_paths(ctx, f, broad_only=False)


@remediates("no-broad-project-data-roles")
def _broad(ctx: Context, f: Finding) -> None:
    _cut_paths(ctx, f, broad_only=True)


def _cut_paths(ctx: Context, f: Finding, *, broad_only: bool) -> None:
    paths = f.evidence.get("paths")
    if not isinstance(paths, list) or not paths:
        return fallback(ctx, f)
    cuts = f.evidence.get("cuts") or []
    for n, hops in enumerate(paths):
        if not isinstance(hops, list) or not hops:
            continue
        alternatives = cuts[n] if n < len(cuts) and isinstance(cuts[n], list) else []
        if broad_only:
            for i, hop in enumerate(hops):
                if hop.get("kind") == "basic-role" and i + 1 < len(hops):
                    _cut(ctx, f, hops[i + 1], alternatives)
                elif hop.get("kind") == "resource-iam":
                    _cut(ctx, f, hop, alternatives)
        else:
            _cut(ctx, f, hops[-1], alternatives)
    return None


def _cut(ctx: Context, f: Finding, hop: Mapping[str, Any], alternatives: Sequence[str]) -> None:
    """Remove the edge `hop` when it is a BigQuery grant we can edit; else a manual step."""
    kind, member, subject = hop.get("kind"), str(hop.get("member", "")), str(hop.get("subject", ""))
    parsed = dataset_or_table(subject)
    if parsed is not None and parsed[0] == ctx.desired.project:
        _, dataset_id, table_id = parsed
        ds = ctx.datasets.get(dataset_id)
        if kind == "dataset-acl" and ds is not None and table_id is None:
            entries = [
                e
                for e in ds.access
                if e.role is not None
                and acl_member(e, ds.project) == member
                and e.role == hop.get("detail")
                and _condition_is(e.condition, hop.get("condition"))
            ]
            for entry in entries:
                reason = f"cuts {f.principal or member}'s path to {dataset_id} ({f.rule_id})"
                ctx.add(RemoveEntry(dataset_id, entry, reason), f.fingerprint)
            if entries:
                return
        if kind in ("authorized-view", "authorized-routine", "authorized-dataset") and ds:
            entity = member.removeprefix(BIGQUERY_RESOURCE_PREFIX)
            wanted = {
                "authorized-view": GranteeKind.VIEW,
                "authorized-routine": GranteeKind.ROUTINE,
                "authorized-dataset": GranteeKind.DATASET,
            }[str(kind)]
            entries = [e for e in ds.access if e.kind is wanted and e.entity == entity]
            for entry in entries:
                reason = (
                    f"{wanted.value} {entity} lets {f.principal or 'its readers'} read "
                    f"{dataset_id} ({f.rule_id})"
                )
                ctx.add(RemoveEntry(dataset_id, entry, reason), f.fingerprint)
            if entries:
                return
        if kind == "table-iam" and table_id is not None:
            table = ctx.tables.get((dataset_id, table_id))
            grants = [
                IamMemberGrant(b.role, m, b.condition)
                for b in ((table.iam or ()) if table else ())
                if b.role == hop.get("detail")
                for m in b.members
                if canonical(m) == member
            ]
            for grant in grants:
                ctx.add(RemoveIam(dataset_id, table_id, grant), f.fingerprint)
            if grants:
                return
    where = subject or f.resource
    if kind in ("resource-iam", "basic-role", "impersonation"):
        title = (
            f"remove {member} from the {hop.get('detail')} binding on {hop.get('policy') or where}"
        )
        why = (
            "project, folder and organization IAM is outside what BigQuery remediation "
            "changes: such a binding reaches every dataset below it, and changing it needs "
            "the Resource Manager API and a wider review"
        )
        resource = str(hop.get("policy") or where)
        project, role = resource.removeprefix("projects/"), hop.get("detail")
        command = (
            f"gcloud projects remove-iam-policy-binding {shell_word(project)} "
            f"{shell_word(f'--member={member}')} {shell_word(f'--role={role}')}"
            if resource.startswith("projects/")
            else f"remove {member} from {hop.get('detail')} on {resource}"
        )
        steps: tuple[str, ...] = (
            command,
            "grant what the member needs on tenant datasets instead",
        )
    else:
        title = f"cut the path of {f.principal} to {f.resource}"
        why = "no edge of this path is a BigQuery grant the plan can edit"
        resource = f.resource
        steps = ()
    ctx.manual(
        f.fingerprint,
        resource,
        title,
        why,
        *steps,
        *(f"or: {c}" for c in alternatives if c != _cut_text(hop)),
    )


def _cut_text(hop: Mapping[str, Any]) -> str | None:
    """The access explainer's sentence for cutting this edge (the finding's `cuts` use it)."""
    try:
        kind = HopKind(str(hop.get("kind")))
    except ValueError:
        return None
    edge = Hop(
        kind,
        str(hop.get("subject", "")),
        str(hop.get("detail", "")),
        str(hop.get("member", "")),
        str(hop.get("policy", "")),
        hop.get("condition"),
    )
    return cut(edge)


def _condition_is(condition: Condition | None, expression: Any) -> bool:
    return bool((condition.expression if condition else None) == expression)


def fallback(ctx: Context, f: Finding) -> None:
    ctx.manual(
        f.fingerprint,
        f.resource,
        f"{f.rule_id} ({f.rule_name}) on {_short(f.resource)}",
        "no automatic, non-destructive remediation exists for this finding",
        f.remediation or "see the rule's remediation",
    )


def _short(resource: str) -> str:
    parsed = dataset_or_table(resource)
    if parsed is None:
        return resource
    return f"{parsed[1]}.{parsed[2]}" if parsed[2] else parsed[1]
