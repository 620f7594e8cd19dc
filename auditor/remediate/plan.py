"""The remediation planner: findings + inventory + desired state -> a reviewable Plan.

Pure: no I/O, no clock (the creation time is passed in). Three entry points:

- `plan_remediation`: one fix (or a ManualStep) per FAIL finding, chosen by the rule's check
  kind from the REMEDIATORS registry; findings of kinds with no remediator get a ManualStep
  with the rule's own remediation text, so every finding is accounted for.
- `plan_provision_tenant`: converge one tenant dataset on the templates (create it when it
  does not exist).
- `plan_harden_customers`: converge the protected `customers` dataset (CMEK, labels, no
  public or project special-group entries, missing tables).

Fixes are gathered as small intents, then merged into one action per resource and kind
(one PATCH per dataset, one schema patch per table), each with the preconditions of what
the plan saw: the dataset's etag and content digest, and for table actions the table's
digest. Credential columns and values are never dropped or rewritten, and never created in
a tenant dataset: those get a ManualStep that says why.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from auditor.errors import UsageError
from auditor.io.resource_names import dataset_or_table
from auditor.model import (
    AccessEntry,
    Dataset,
    Field,
    Finding,
    Inventory,
    Status,
    Table,
    dataset_resource,
    table_resource_name,
)
from auditor.remediate.actions import (
    PHASE,
    Action,
    AddColumns,
    CreateDataset,
    CreateTable,
    ManualStep,
    NewColumn,
    Precondition,
    RemoveAccessEntries,
    RemoveTableIamMember,
    SetDefaultEncryption,
    SetLabels,
    dataset_digest,
    iam_digest,
    table_digest,
)
from auditor.remediate.converge import converge
from auditor.remediate.desired import (
    CUSTOMERS_DATASET,
    DATASET_ID_RE,
    ROLE_LABEL,
    TENANT_ID_LABEL,
    DatasetRole,
    DesiredState,
    desired_state,
)
from auditor.remediate.intents import (
    AddColumn,
    Context,
    Intent,
    Manual,
    NewDataset,
    NewTable,
    RemoveEntry,
    RemoveIam,
    SetKey,
    SetLabel,
)
from auditor.remediate.remediators import REMEDIATORS, fallback

PLAN_VERSION = "1"


class Purpose(StrEnum):
    REMEDIATE = "remediate"
    PROVISION_TENANT = "provision-tenant"
    HARDEN_CUSTOMERS = "harden-customers"


class Resolution(StrEnum):
    FIXED = "fixed"  # the plan's actions resolve it
    MANUAL = "manual"  # only manual steps
    PARTIAL = "partial"  # actions cut part of it, a manual step the rest


# ----------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PlannedFinding:
    """A finding the plan addresses, and how."""

    fingerprint: str
    rule_id: str
    rule_name: str
    severity: str
    resource: str
    message: str
    resolution: Resolution
    actions: tuple[str, ...]  # action and manual step ids
    column: str | None = None
    principal: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "severity": self.severity,
            "resource": self.resource,
            "message": self.message,
            "resolution": self.resolution.value,
            "actions": list(self.actions),
        }
        if self.column is not None:
            out["column"] = self.column
        if self.principal is not None:
            out["principal"] = self.principal
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PlannedFinding:
        return cls(
            fingerprint=raw["fingerprint"],
            rule_id=raw["rule_id"],
            rule_name=raw["rule_name"],
            severity=raw["severity"],
            resource=raw["resource"],
            message=raw["message"],
            resolution=Resolution(raw["resolution"]),
            actions=tuple(raw["actions"]),
            column=raw.get("column"),
            principal=raw.get("principal"),
        )


@dataclass(frozen=True)
class Plan:
    project: str
    purpose: Purpose
    created_at: datetime
    source: str  # what the plan was computed from (live project, snapshot file)
    actions: tuple[Action, ...]
    manual_steps: tuple[ManualStep, ...]
    findings: tuple[PlannedFinding, ...]
    desired: Mapping[str, Any]
    # The request of each action as computed against the state the plan saw, by action id.
    previews: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tool_version: str = ""
    # The BigQuery endpoint the estate was read from (None: Google's API): apply and the
    # commands the plan prints use it unless told otherwise.
    endpoint: str | None = None

    @property
    def precondition_mode(self) -> str:
        """etag when every existing resource's dataset precondition has one, else sha256."""
        pre = [p for a in self.actions for p in a.preconditions if p.exists]
        datasets = [p for p in pre if "/tables/" not in p.resource]
        return "etag" if datasets and all(p.etag for p in datasets) else "sha256"

    @property
    def fixed(self) -> tuple[str, ...]:
        return tuple(f.fingerprint for f in self.findings if f.resolution is Resolution.FIXED)

    def digest(self) -> str:
        """Identifies what would be executed: the actions' kinds, targets, parameters and
        preconditions (not the descriptions or previews)."""
        body = [_identity(a) for a in self.actions]
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def action(self, action_id: str) -> Action:
        for a in self.actions:
            if a.id == action_id:
                return a
        raise KeyError(action_id)


def _identity(a: Action) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind.value,
        "project": a.project,
        "dataset": a.dataset_id,
        "params": a.params(),
        "preconditions": [p.to_dict() for p in a.preconditions],
    }


# ----------------------------------------------------------------------------- entry points


def plan_remediation(
    findings: Iterable[Finding],
    inventory: Inventory,
    desired: DesiredState,
    kinds: Mapping[str, str],
    *,
    created_at: datetime,
    source: str,
    only_resources: Sequence[str] = (),
    tool_version: str = "",
    endpoint: str | None = None,
) -> Plan:
    """Fixes for the FAIL findings (whose resources match `only_resources` globs, if any).
    `kinds` maps each rule id to its check kind; `endpoint` is where the estate was read."""
    ctx = Context.build(inventory, desired, endpoint)
    chosen = [
        f for f in findings if f.status is Status.FAIL and _matches(f.resource, only_resources)
    ]
    chosen.sort(key=lambda f: (f.resource, f.rule_id, f.column or "", f.principal or ""))
    for f in chosen:
        remediator = REMEDIATORS.get(kinds.get(f.rule_id, ""), fallback)
        remediator(ctx, f)
    return _assemble(ctx, Purpose.REMEDIATE, chosen, created_at, source, tool_version)


def _matches(resource: str, globs: Sequence[str]) -> bool:
    if not globs:
        return True
    parsed = dataset_or_table(resource)
    names = [resource]
    if parsed is not None:
        names += [parsed[1]] if parsed[2] is None else [f"{parsed[1]}.{parsed[2]}", parsed[1]]
    return any(fnmatchcase(n, g) for n in names for g in globs)


def plan_provision_tenant(
    tenant_id: str,
    inventory: Inventory,
    desired: DesiredState,
    *,
    created_at: datetime,
    source: str,
    tool_version: str = "",
    endpoint: str | None = None,
) -> Plan:
    """Create (or converge) tenant dataset `tenant_id` from the templates."""
    if DATASET_ID_RE.fullmatch(tenant_id) is None:
        raise UsageError(f"not a BigQuery dataset id: {tenant_id!r}")
    if tenant_id == CUSTOMERS_DATASET:
        raise UsageError("`customers` is the protected dataset; use `auditor provision customers`")
    if not desired.tenant_templates:
        raise UsageError("no tenant templates were loaded (schemas/tenant/*.json)")
    ctx = Context.build(inventory, desired, endpoint)
    existing = ctx.datasets.get(tenant_id)
    if existing is not None and ctx.role(tenant_id) is DatasetRole.CUSTOMERS:
        raise UsageError(f"dataset {tenant_id} is labelled as the customers dataset")
    labels = {ROLE_LABEL: "tenant", TENANT_ID_LABEL: tenant_id, **desired.labels}
    converge(
        ctx,
        tenant_id,
        DatasetRole.TENANT,
        labels,
        f"Operational pipeline logs of tenant {tenant_id}. Safe for GenAI: no credentials.",
    )
    return _assemble(ctx, Purpose.PROVISION_TENANT, [], created_at, source, tool_version)


# What hardening the customers dataset leaves alone, by the check kind that judges it. It
# changes the dataset's own settings only; these need the whole estate and its IAM in view,
# which `remediate plan` has (its fix may still be a manual step).
HARDENING_LEAVES: tuple[tuple[str, str], ...] = (
    (
        "genai-cannot-reach",
        "GenAI principals that reach customers through named access entries, authorized "
        "views, groups or IAM",
    ),
    ("protected-not-public", "public access through table IAM or project IAM"),
    ("approved-readers-only", "principals outside its approved readers that reach it"),
    ("no-broad-project-data-roles", "project, folder and organization roles that read its tables"),
    ("table-cmek", "the keys of its existing tables (the default key applies to new ones)"),
    ("secrets-encrypted-bytes", "secrets stored other than as KMS-encrypted BYTES"),
)


def plan_harden_customers(
    inventory: Inventory,
    desired: DesiredState,
    *,
    created_at: datetime,
    source: str,
    tool_version: str = "",
    endpoint: str | None = None,
) -> Plan:
    """Harden (or create) the protected customers dataset."""
    ctx = Context.build(inventory, desired, endpoint)
    labels = {ROLE_LABEL: "customers", **desired.labels}
    converge(
        ctx,
        CUSTOMERS_DATASET,
        DatasetRole.CUSTOMERS,
        labels,
        "Customer registry, KMS-encrypted API keys and cloud credentials, subscriptions and "
        "usage quotas. Highly protected: no GenAI access.",
    )
    return _assemble(ctx, Purpose.HARDEN_CUSTOMERS, [], created_at, source, tool_version)


# ----------------------------------------------------------------------------- assembly


def _assemble(
    ctx: Context,
    purpose: Purpose,
    findings: Sequence[Finding],
    created_at: datetime,
    source: str,
    tool_version: str,
) -> Plan:
    project = ctx.desired.project
    inventory_ds = {d.dataset_id: d for d in ctx.inventory.datasets if d.project == project}
    groups: dict[tuple[int, str, str], list[tuple[Intent, str | None]]] = defaultdict(list)
    manual: dict[tuple[str, str], list[tuple[Manual, str | None]]] = defaultdict(list)
    for intent, fp in ctx.intents:
        if isinstance(intent, Manual):
            manual[(intent.resource, intent.title)].append((intent, fp))
            continue
        kind = _KIND_OF[type(intent)]
        table = getattr(intent, "table", None)
        if isinstance(intent, NewTable):
            table = intent.template.name
        groups[(PHASE[kind], intent.dataset, table or "")].append((intent, fp))

    actions: list[Action] = []
    for (_, dataset_id, table_id), members in sorted(groups.items()):
        fixes = tuple(sorted({fp for _, fp in members if fp is not None}))
        common: dict[str, Any] = {
            "project": project,
            "dataset_id": dataset_id,
            "fixes": fixes,
            "id": f"A{len(actions) + 1:02d}",
        }
        ds = inventory_ds.get(dataset_id)
        table = ctx.tables.get((dataset_id, table_id)) if table_id else None
        action = _build(members, common, ctx.desired)
        if action is None:
            continue
        pre = [_dataset_pre(project, dataset_id, ds)]
        if table_id:
            pre.append(_table_pre(project, dataset_id, table_id, table, action))
        actions.append(_with(action, preconditions=tuple(pre)))

    steps: list[ManualStep] = []
    for (resource, title), notes in sorted(manual.items()):
        first = notes[0][0]
        steps.append(
            ManualStep(
                resource=resource,
                title=title,
                why=first.why,
                steps=first.steps,
                id=f"M{len(steps) + 1:02d}",
                fixes=tuple(sorted({fp for _, fp in notes if fp is not None})),
            )
        )

    planned: list[PlannedFinding] = []
    for f in findings:
        by_action = tuple(a.id for a in actions if f.fingerprint in a.fixes)
        by_step = tuple(s.id for s in steps if f.fingerprint in s.fixes)
        if by_action and by_step:
            resolution = Resolution.PARTIAL
        elif by_action:
            resolution = Resolution.FIXED
        else:
            resolution = Resolution.MANUAL
        planned.append(
            PlannedFinding(
                fingerprint=f.fingerprint,
                rule_id=f.rule_id,
                rule_name=f.rule_name,
                severity=f.severity.value,
                resource=f.resource,
                message=f.message,
                resolution=resolution,
                actions=by_action + by_step,
                column=f.column,
                principal=f.principal,
            )
        )
    previews = {
        a.id: a.api(
            inventory_ds.get(a.dataset_id),
            ctx.tables.get((a.dataset_id, a.table_id)) if a.table_id else None,
        ).to_dict()
        for a in actions
    }
    return Plan(
        project=project,
        purpose=purpose,
        created_at=created_at.astimezone(UTC),
        source=source,
        actions=tuple(actions),
        manual_steps=tuple(steps),
        findings=tuple(planned),
        desired=ctx.desired.to_dict(),
        previews=previews,
        tool_version=tool_version,
        endpoint=ctx.endpoint,
    )


_KIND_OF = {
    NewDataset: CreateDataset.KIND,
    SetLabel: SetLabels.KIND,
    SetKey: SetDefaultEncryption.KIND,
    RemoveEntry: RemoveAccessEntries.KIND,
    NewTable: CreateTable.KIND,
    AddColumn: AddColumns.KIND,
    RemoveIam: RemoveTableIamMember.KIND,
}


def _build(
    members: Sequence[tuple[Intent, str | None]], common: dict[str, Any], desired: DesiredState
) -> Action | None:
    intents = [i for i, _ in members]
    first = intents[0]
    if isinstance(first, NewDataset):
        return CreateDataset(
            location=desired.location,
            labels=dict(first.labels),
            kms_key=first.key,
            access=desired.access,
            description=first.description,
            **common,
        )
    if isinstance(first, SetLabel):
        return SetLabels(
            labels={i.key: i.value for i in intents if isinstance(i, SetLabel)}, **common
        )
    if isinstance(first, SetKey):
        return SetDefaultEncryption(kms_key=first.key, **common)
    if isinstance(first, RemoveEntry):
        seen: dict[AccessEntry, str] = {}
        for i in intents:
            if isinstance(i, RemoveEntry) and i.entry not in seen:
                seen[i.entry] = i.reason
        return RemoveAccessEntries(entries=tuple(seen), reasons=tuple(seen.values()), **common)
    if isinstance(first, NewTable):
        return CreateTable(
            table=first.template.name,
            fields=_clean(first.template.fields),
            kms_key=first.key,
            template=first.template.location.path,
            **common,
        )
    if isinstance(first, AddColumn):
        columns = {i.column.path.lower(): i.column for i in intents if isinstance(i, AddColumn)}
        # A column whose parent RECORD is added too comes with it.
        kept = tuple(
            c
            for path, c in columns.items()
            if not any(path.startswith(other + ".") for other in columns)
        )
        return AddColumns(table=intents[0].table, columns=_clean_columns(kept), **common)  # type: ignore[union-attr]
    if isinstance(first, RemoveIam):
        grants = tuple(dict.fromkeys(i.grant for i in intents if isinstance(i, RemoveIam)))
        return RemoveTableIamMember(table=first.table, grants=grants, **common)
    return None


def _clean(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    """Template fields without their file lines (which are not part of a table)."""
    return tuple(
        Field(f.name, f.type, f.mode.upper(), f.description, _clean(f.fields), f.policy_tags)
        for f in fields
    )


def _clean_columns(columns: Iterable[NewColumn]) -> tuple[NewColumn, ...]:
    return tuple(NewColumn(c.parent, _clean((c.field,))[0]) for c in columns)


def _with(action: Action, **changes: Any) -> Action:
    from dataclasses import replace

    return replace(action, **changes)


def _dataset_pre(project: str, dataset_id: str, ds: Dataset | None) -> Precondition:
    resource = dataset_resource(project, dataset_id)
    if ds is None:
        return Precondition(resource, exists=False)
    return Precondition(resource, exists=True, etag=ds.etag, sha256=dataset_digest(ds))


def _table_pre(
    project: str, dataset_id: str, table_id: str, table: Table | None, action: Action
) -> Precondition:
    resource = table_resource_name(project, dataset_id, table_id)
    if table is None:
        return Precondition(resource, exists=False)
    iam = (
        iam_digest(table.iam)
        if isinstance(action, RemoveTableIamMember) and table.iam is not None
        else None
    )
    return Precondition(resource, exists=True, sha256=table_digest(table), iam_sha256=iam)


__all__ = [
    "HARDENING_LEAVES",
    "PLAN_VERSION",
    "REMEDIATORS",
    "DatasetRole",
    "DesiredState",
    "Plan",
    "PlannedFinding",
    "Purpose",
    "Resolution",
    "desired_state",
    "plan_harden_customers",
    "plan_provision_tenant",
    "plan_remediation",
]
