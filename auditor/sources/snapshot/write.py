"""Write a snapshot: an Inventory as deterministic JSON text.

Sorted keys, 1-space indent, ASCII only, a final newline; lists keep the inventory's order,
so the same inventory gives the same text. Every Inventory field is written and nothing
else. Apart from the reader: writing trusts the typed model, reading trusts nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from auditor.errors import AuditorError
from auditor.model import (
    Condition,
    CustomRole,
    Dataset,
    DenyPolicy,
    Field,
    IamBinding,
    Inventory,
    Problem,
    ResourcePolicy,
    Table,
    TableSchema,
)
from auditor.sources.snapshot.format import MAX_FIELD_DEPTH, SNAPSHOT_VERSION, TOOL_NAME


def dump_snapshot(inventory: Inventory, *, created_at: datetime, tool_version: str) -> str:
    """The snapshot of inventory as JSON text: sorted keys, 1-space indent, ASCII only, a
    final newline; lists keep the inventory's order. The same input gives the same text.

    A naive created_at is taken to be UTC. Raises AuditorError when a field nests deeper
    than MAX_FIELD_DEPTH levels, because load_snapshot could not read such a file back.
    """
    _check_field_depth(inventory)
    document = {
        "snapshot_version": SNAPSHOT_VERSION,
        "tool": {"name": TOOL_NAME, "version": tool_version},
        "created_at": _iso_utc(created_at),
        "inventory": _inventory_json(inventory),
    }
    # ASCII only: any str survives the trip (even a lone surrogate) and no raw control
    # character reaches a terminal or a diff.
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def _inventory_json(inv: Inventory) -> dict[str, Any]:
    return {
        "root": inv.root,
        "templates": [_table_schema_json(t) for t in inv.templates],
        "sql_tables": [_table_schema_json(t) for t in inv.sql_tables],
        "problems": [_problem_json(p) for p in inv.problems],
        "gaps": [{"scope": g.scope, "reason": g.reason} for g in inv.gaps],
        "inputs": [{"path": i.path, "sha256": i.sha256} for i in inv.inputs],
        "project": inv.project,
        "datasets": [_dataset_json(d) for d in inv.datasets],
        "live_tables": [_table_json(t) for t in inv.live_tables],
        "ancestry": list(inv.ancestry),
        "iam_policies": [_resource_policy_json(p) for p in inv.iam_policies],
        "deny_policies": [_deny_policy_json(p) for p in inv.deny_policies],
        "group_memberships": [
            {"group": m.group, "member": m.member} for m in inv.group_memberships
        ],
        "custom_roles": [_custom_role_json(r) for r in inv.custom_roles],
        "content_scans": [
            {
                "table": s.table,
                "mode": s.mode,
                "rows_scanned": s.rows_scanned,
                "columns": list(s.columns),
            }
            for s in inv.content_scans
        ],
        "value_hits": [
            {
                "table": h.table,
                "column": h.column,
                "detector": h.detector,
                "rows": h.rows,
                "prefix": h.prefix,
                "fingerprint": h.fingerprint,
            }
            for h in inv.value_hits
        ],
    }


def _field_json(f: Field) -> dict[str, Any]:
    # Recursion is bounded: _check_field_depth ran first.
    return {
        "name": f.name,
        "type": f.type,
        "mode": f.mode,
        "description": f.description,
        "fields": [_field_json(sub) for sub in f.fields],
        "policy_tags": list(f.policy_tags),
        "line": f.line,
    }


def _table_schema_json(t: TableSchema) -> dict[str, Any]:
    return {
        "name": t.name,
        "fields": [_field_json(f) for f in t.fields],
        "origin": t.origin.value,
        "location": {"path": t.location.path, "line": t.location.line},
        "dataset": t.dataset,
    }


def _custom_role_json(r: CustomRole) -> dict[str, Any]:
    return {
        "name": r.name,
        "permissions": list(r.permissions),
        "status": r.status.value,
        "detail": r.detail,
    }


def _problem_json(p: Problem) -> dict[str, Any]:
    return {
        "path": p.path,
        "message": p.message,
        "line": p.line,
        "column": p.column,
        "unread": p.unread,
    }


def _condition_json(c: Condition | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"expression": c.expression, "title": c.title, "description": c.description}


def _dataset_json(d: Dataset) -> dict[str, Any]:
    return {
        "project": d.project,
        "dataset_id": d.dataset_id,
        "location": d.location,
        "labels": dict(d.labels),
        "description": d.description,
        "access": [
            {
                "kind": a.kind.value,
                "entity": a.entity,
                "role": a.role,
                "target_types": list(a.target_types),
                "condition": _condition_json(a.condition),
            }
            for a in d.access
        ],
        "default_kms_key": d.default_kms_key,
        "etag": d.etag,
    }


def _binding_json(b: IamBinding) -> dict[str, Any]:
    return {"role": b.role, "members": list(b.members), "condition": _condition_json(b.condition)}


def _resource_policy_json(p: ResourcePolicy) -> dict[str, Any]:
    return {
        "resource": p.resource,
        "bindings": [_binding_json(b) for b in p.bindings],
        "etag": p.etag,
    }


def _deny_policy_json(p: DenyPolicy) -> dict[str, Any]:
    return {
        "attachment": p.attachment,
        "name": p.name,
        "rules": [
            {
                "denied_principals": list(r.denied_principals),
                "denied_permissions": list(r.denied_permissions),
                "exception_principals": list(r.exception_principals),
                "exception_permissions": list(r.exception_permissions),
                "condition": _condition_json(r.condition),
            }
            for r in p.rules
        ],
    }


def _table_json(t: Table) -> dict[str, Any]:
    iam = None if t.iam is None else [_binding_json(b) for b in t.iam]
    return {
        "project": t.project,
        "dataset_id": t.dataset_id,
        "table_id": t.table_id,
        "type": t.type,
        "fields": [_field_json(f) for f in t.fields],
        "view_query": t.view_query,
        "kms_key": t.kms_key,
        "labels": dict(t.labels),
        "description": t.description,
        "iam": iam,
    }


def _check_field_depth(inv: Inventory) -> None:
    """AuditorError if a field nests deeper than load_snapshot accepts (an explicit stack,
    so even an absurdly deep inventory cannot exhaust Python's)."""
    tables = [(str(t.location), t.fields) for t in (*inv.templates, *inv.sql_tables)]
    tables += [(t.resource, t.fields) for t in inv.live_tables]
    for table, fields in tables:
        stack: list[tuple[int, tuple[Field, ...]]] = [(1, fields)]
        while stack:
            level, items = stack.pop()
            for f in items:
                if level > MAX_FIELD_DEPTH:
                    raise AuditorError(
                        f"{table}: field {f.name!r} is nested {level} levels deep, more than"
                        f" the {MAX_FIELD_DEPTH} a snapshot can hold"
                    )
                if f.fields:
                    stack.append((level + 1, f.fields))


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
