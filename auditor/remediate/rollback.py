"""How to undo an action (computed when it is applied) and the rollback of a journal.

`rollback` undoes the journal's done actions in reverse order. Its undo steps re-add the
removed access entries and IAM members, restore labels and keys where they still hold the
value the action set (else a conflict is reported and the value is left alone), and remove
what an action created only while it holds no data: a created table with no rows, an added
column with no value, a created dataset with no table. Anything else is a conflict, never a
loss of data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from google.api_core import exceptions as api_exceptions

from auditor.remediate.actions import (
    Action,
    AddColumns,
    CreateDataset,
    CreateTable,
    RemoveAccessEntries,
    RemoveTableIamMember,
    SetDefaultEncryption,
    SetLabels,
    entry_from_api,
)
from auditor.remediate.journal import (
    JOURNAL_VERSION,
    Clock,
    Journal,
    JournalError,
    Outcome,
    Progress,
    RunReport,
    Status,
    UndoOp,
    outstanding_done,
    report_repair,
)
from auditor.remediate.state import (
    ApplyError,
    DatasetState,
    Estate,
    Seen,
    describe_error,
    removes_entry,
    seen_dataset,
    seen_table,
)


def undo_steps(
    action: Action, before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[dict[str, Any]]:
    resource = action.resource
    if isinstance(action, CreateDataset):
        return (
            []
            if before.get("exists")
            else [{"op": UndoOp.DELETE_CREATED_DATASET, "resource": resource}]
        )
    if isinstance(action, CreateTable):
        return (
            []
            if before.get("exists")
            else [{"op": UndoOp.DELETE_CREATED_TABLE, "resource": resource}]
        )
    if isinstance(action, AddColumns):
        had = {str(f.get("name", "")).lower() for f in before.get("schema") or []}
        columns = [
            {"name": c.field.name, "repeated": c.field.mode.upper() == "REPEATED"}
            for c in action.columns
            if c.parent is None and c.field.name.lower() not in had
        ]
        return (
            [{"op": UndoOp.DROP_ADDED_COLUMNS, "resource": resource, "columns": columns}]
            if columns
            else []
        )
    if isinstance(action, SetLabels):
        old = before.get("labels") or {}
        changed = {k: v for k, v in action.labels.items() if old.get(k) != v}
        if not changed:
            return []
        return [
            {
                "op": UndoOp.RESTORE_LABELS,
                "resource": resource,
                "set": changed,
                "previous": {k: old.get(k) for k in changed},
            }
        ]
    if isinstance(action, SetDefaultEncryption):
        previous = before.get("default_kms_key")
        if previous == action.kms_key:
            return []
        return [
            {
                "op": UndoOp.RESTORE_DEFAULT_ENCRYPTION,
                "resource": resource,
                "set": action.kms_key,
                "previous": previous,
            }
        ]
    if isinstance(action, RemoveAccessEntries):
        removed = [raw for raw in before.get("access") or [] if removes_entry(action, raw)]
        return (
            [{"op": UndoOp.ADD_ACCESS_ENTRIES, "resource": resource, "entries": removed}]
            if removed
            else []
        )
    if isinstance(action, RemoveTableIamMember):
        grants = []
        for b in before.get("iam") or []:
            for m in b.get("members") or []:
                if any(g.member == m and g.role == b.get("role") for g in action.grants):
                    grant = {"role": b["role"], "member": m}
                    if b.get("condition"):
                        grant["condition"] = b["condition"]
                    grants.append(grant)
        return (
            [{"op": UndoOp.ADD_TABLE_IAM_MEMBERS, "resource": resource, "grants": grants}]
            if grants
            else []
        )
    return []


# ----------------------------------------------------------------------------- rollback


def rollback(
    journal_path: Path,
    estate: Estate,
    *,
    clock: Clock,
    progress: Progress = lambda _: None,
    endpoint: str | None = None,
) -> RunReport:
    """Undo the journal's done actions, last first: every done record not undone yet (an
    action applied again after drift has two). Conflicts are reported, not forced."""
    started = time.monotonic()
    journal = Journal(journal_path, clock)
    records = journal.records()
    report_repair(journal, progress)
    runs = [r for r in records if r["record"] == "run"]
    if not runs:
        raise JournalError(str(journal_path), "no apply run recorded: nothing to roll back")
    done = outstanding_done(records)
    journal.append(
        {
            "record": "run",
            "op": "rollback",
            "journal_version": JOURNAL_VERSION,
            "plan_digest": runs[0]["plan_digest"],
            "plan": runs[0].get("plan", ""),
            "project": runs[0]["project"],
            "endpoint": endpoint,
        }
    )
    outcomes: list[Outcome] = []
    conflicts: list[str] = []
    for record in reversed(done):
        t0 = time.monotonic()
        notes: list[str] = []
        seen: dict[str, Any] = {}
        try:
            for step in record.get("undo") or []:
                note, touched = _undo(estate, step)
                if note:
                    notes.append(note)
                seen.update(touched)
        except Exception as exc:
            reason = describe_error(exc)
            journal.append(
                {
                    "record": "undo",
                    "action_id": record["action_id"],
                    "status": Status.FAILED,
                    "message": reason,
                }
            )
            raise ApplyError(
                f"undoing {record['action_id']} failed: {reason}; the journal records what "
                "is undone: fix the cause and roll back again"
            ) from exc
        status = Status.CONFLICT if notes else Status.UNDONE
        message = "; ".join(notes) or "undone"
        journal.append(
            {
                "record": "undo",
                "action_id": record["action_id"],
                "status": status,
                "message": message,
                "seen": seen,
            }
        )
        conflicts.extend(f"{record['action_id']}: {n}" for n in notes)
        progress(f"{record['action_id']} {record['kind']}: {message}")
        outcomes.append(
            Outcome(
                record["action_id"],
                record["kind"],
                record["resource"],
                status.value,
                message,
                round(time.monotonic() - t0, 3),
            )
        )
    return RunReport(
        journal_path,
        tuple(outcomes),
        round(time.monotonic() - started, 3),
        runs[0]["plan_digest"],
        tuple(conflicts),
    )


def _parts(resource: str) -> tuple[str, str, str | None]:
    rest = resource.removeprefix("//bigquery.googleapis.com/projects/")
    project, _, rest = rest.partition("/datasets/")
    dataset_id, _, table_id = rest.partition("/tables/")
    return project, dataset_id, table_id or None


def _undo(estate: Estate, step: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Run one undo step; (conflict note or None, {resource: seen after})."""
    op = UndoOp(step["op"])
    resource = step["resource"]
    project, dataset_id, table_id = _parts(resource)
    if op in (UndoOp.ADD_ACCESS_ENTRIES, UndoOp.RESTORE_LABELS, UndoOp.RESTORE_DEFAULT_ENCRYPTION):
        ds = estate.get_dataset(project, dataset_id)
        if ds is None:
            return f"dataset {dataset_id} no longer exists", {}
        change = _undo_dataset(estate, op, step, ds, project, dataset_id)
        return change, {resource: seen_dataset(estate.get_dataset(project, dataset_id)).to_dict()}
    if op is UndoOp.DELETE_CREATED_DATASET:
        if estate.get_dataset(project, dataset_id) is None:
            return None, {resource: Seen(False).to_dict()}
        try:
            estate.delete_empty_dataset(project, dataset_id)
        except api_exceptions.BadRequest as exc:  # "still in use": it has tables now
            return f"dataset {dataset_id} was kept: it is not empty ({describe_error(exc)})", {}
        return None, {resource: Seen(False).to_dict()}
    assert table_id is not None
    with_iam = op is UndoOp.ADD_TABLE_IAM_MEMBERS
    table = estate.get_table(project, dataset_id, table_id, iam=with_iam)
    name = f"{dataset_id}.{table_id}"
    if table is None:
        if op is UndoOp.DELETE_CREATED_TABLE:
            return None, {resource: Seen(False).to_dict()}
        return f"table {name} no longer exists", {}
    if op is UndoOp.DELETE_CREATED_TABLE:
        rows = int(table.raw.get("numRows") or 0)
        if rows or table.raw.get("streamingBuffer"):
            return f"table {name} was kept: it holds data now ({rows} rows)", {}
        estate.delete_table(project, dataset_id, table_id)
        return None, {resource: Seen(False).to_dict()}
    note: str | None = None
    if op is UndoOp.DROP_ADDED_COLUMNS:
        present = {
            str(f.get("name", "")).lower() for f in table.raw.get("schema", {}).get("fields") or []
        }
        kept = []
        for column in step["columns"]:
            if column["name"].lower() not in present:
                continue
            if estate.values_in(project, dataset_id, table_id, column["name"]):
                kept.append(column["name"])
                continue
            estate.drop_column(project, dataset_id, table_id, column["name"])
        if kept:
            note = f"column(s) {', '.join(kept)} of {name} were kept: they hold values now"
    elif op is UndoOp.ADD_TABLE_IAM_MEMBERS:
        policy = dict(table.policy or {})
        bindings = [dict(b) for b in policy.get("bindings") or []]
        changed = False
        for grant in step["grants"]:
            condition = grant.get("condition")
            for b in bindings:
                if b.get("role") == grant["role"] and b.get("condition") == condition:
                    if grant["member"] not in b.get("members", []):
                        b["members"] = [*b.get("members", []), grant["member"]]
                        changed = True
                    break
            else:
                new = {"role": grant["role"], "members": [grant["member"]]}
                if condition:
                    new["condition"] = condition
                bindings.append(new)
                changed = True
        if changed:
            estate.set_table_iam(
                project, dataset_id, table_id, {**policy, "bindings": bindings, "version": 3}
            )
    after = estate.get_table(project, dataset_id, table_id, iam=with_iam)
    return note, {resource: seen_table(after).to_dict()}


def _undo_dataset(
    estate: Estate,
    op: UndoOp,
    step: Mapping[str, Any],
    ds: DatasetState,
    project: str,
    dataset_id: str,
) -> str | None:
    etag = ds.model.etag
    if op is UndoOp.ADD_ACCESS_ENTRIES:
        current = list(ds.raw.get("access") or [])
        have = {_entry_id(raw) for raw in current}
        missing = [raw for raw in step["entries"] if _entry_id(raw) not in have]
        if missing:
            estate.patch_dataset(project, dataset_id, {"access": current + missing}, etag)
        return None
    if op is UndoOp.RESTORE_LABELS:
        labels = dict(ds.raw.get("labels") or {})
        patch: dict[str, str | None] = {}
        conflicts = []
        for key, value in step["set"].items():
            previous = step["previous"].get(key)
            if labels.get(key) == value:
                patch[key] = previous  # None removes the label
            elif labels.get(key) != previous:
                conflicts.append(f"label {key} is {labels.get(key)!r} now")
        if patch:
            estate.patch_dataset(project, dataset_id, {"labels": patch}, etag)
        return f"labels left alone: {', '.join(conflicts)}" if conflicts else None
    current_key = ds.model.default_kms_key
    if current_key == step["previous"]:
        return None
    if current_key != step["set"]:
        return f"default key left alone: it is {current_key} now, not the one the plan set"
    value = {"kmsKeyName": step["previous"]} if step["previous"] else None
    estate.patch_dataset(project, dataset_id, {"defaultEncryptionConfiguration": value}, etag)
    return None


def _entry_id(raw: Mapping[str, Any]) -> str:
    try:
        entry = entry_from_api(raw)
        return json.dumps(
            [
                entry.kind.value,
                entry.entity,
                entry.role,
                entry.condition.expression if entry.condition else None,
            ]
        )
    except Exception:
        return json.dumps(raw, sort_keys=True)


__all__ = ["rollback", "undo_steps"]
