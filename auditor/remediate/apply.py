"""Apply a plan action by action, with preconditions and a journal (the executor).

How `apply_plan` keeps its promises:

- Nothing is written unless the estate is what the plan saw. Before the first write every
  resource the pending actions touch is read and compared with the plan's precondition: by
  etag when both sides have one, else by the content digest of what the plan saw (ACL,
  labels, key, location, description for datasets; names, types, modes, key for tables; the
  IAM policy for IAM actions). Any difference: StalePlan, naming each resource, and
  nothing is changed. Every write then carries the live etag in If-Match (the IAM policy its
  own etag), so a change that lands between the check and the write is refused by the API.
- Idempotent. Each action first looks at the live state: when its effect is already there
  (`satisfied`) it writes nothing and is recorded as a no-op. A second apply of the same plan
  writes nothing.
- Converges after a crash. The journal (journal.py) records `started` (with the state
  before) and then `done` (with the state after and how to undo it) for each action. A
  re-run skips what is done; an action left `started` or `failed` (a lost answer can hide a
  write that landed) is `done` if its effect is there, else it runs again. Actions that
  already ran move the expected state of what they touched forward (the etag they left
  behind), so later actions on the same dataset still have a precondition.
- Never destroys data: actions only create and patch (see actions/). Undo steps and the
  rollback are in rollback.py; the live states and their comparison in state.py.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    add_api_field,
    field_to_api,
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
    actions_in_doubt,
    expected_from_journal,
    last_status,
    report_repair,
)
from auditor.remediate.plan import Plan
from auditor.remediate.recheck import recheck_done, satisfied, targets
from auditor.remediate.rollback import undo_steps
from auditor.remediate.state import (
    ApplyError,
    DatasetState,
    Drift,
    Estate,
    Seen,
    StalePlan,
    TableState,
    compare,
    describe_error,
    journal_state,
    removes_entry,
    seen_of,
    str_or_none,
)


@dataclass
class _Run:
    plan: Plan
    estate: Estate
    journal: Journal
    progress: Progress
    expected: dict[str, Seen] = field(default_factory=dict)
    iam_tables: set[str] = field(default_factory=set)


def apply_plan(
    plan: Plan,
    estate: Estate,
    journal_path: Path,
    *,
    clock: Clock,
    progress: Progress = lambda _: None,
    plan_path: str = "",
    endpoint: str | None = None,
) -> RunReport:
    """Apply the plan's pending actions in order, and again those the journal says are done
    whose effect is gone (recheck.py). Raises StalePlan before any write when the estate
    changed, ApplyError when an action fails (the journal keeps what is done). `endpoint`
    (None: Google's API) is recorded in the journal for the rollback."""
    started = time.monotonic()
    journal = Journal(journal_path, clock)
    records = journal.records()
    report_repair(journal, progress)
    digest = plan.digest()
    for r in records:
        if r["record"] == "run" and r["plan_digest"] != digest:
            raise JournalError(
                str(journal_path),
                f"the journal belongs to another plan (digest {r['plan_digest'][:12]}..., this "
                f"plan {digest[:12]}...); move it away or apply the plan it was written for",
            )
    run = _Run(plan, estate, journal, progress)
    run.iam_tables = {a.resource for a in plan.actions if isinstance(a, RemoveTableIamMember)}
    last = last_status(records)
    in_doubt = actions_in_doubt(records)
    from_journal = expected_from_journal(records)
    planned: dict[str, Seen] = {}
    for action in plan.actions:
        for pre in action.preconditions:
            # Several actions on one resource: one expectation, every digest they carry.
            seen, old = Seen.of(pre), planned.get(pre.resource)
            planned[pre.resource] = (
                seen
                if old is None
                else Seen(
                    old.exists,
                    old.etag or seen.etag,
                    old.sha256 or seen.sha256,
                    old.iam_sha256 or seen.iam_sha256,
                )
            )
    for resource, seen in planned.items():
        run.expected[resource] = from_journal.get(resource) or seen
    outcomes: list[Outcome] = []
    done = [a for a in plan.actions if last.get(a.id, {}).get("status") in _DONE]
    checked = recheck_done(done, lambda a: _read_targets(run, a), run.expected)
    for action in checked.in_place:
        message = "done in an earlier run (in place now)"
        outcomes.append(Outcome(action.id, action.kind, action.resource, "skipped", message))
    for line in checked.drift:
        progress(f"drift since the journal: {line}; its precondition holds: applying it again")
    for action in checked.redo:  # the drift verified: these resources start from now
        for resource in targets(action):
            run.expected[resource] = seen_of(checked.states[resource])
    redo = {a.id for a in checked.redo}
    done_ids = {a.id for a in done}
    pending = [a for a in plan.actions if a.id in redo or a.id not in done_ids]
    _preflight(run, pending, in_doubt)
    journal.append(
        {
            "record": "run",
            "op": "apply",
            "journal_version": JOURNAL_VERSION,
            "plan_digest": digest,
            "plan": plan_path,
            "project": plan.project,
            "endpoint": endpoint,
        }
    )
    for action in pending:
        outcomes.append(_apply_one(run, action, in_doubt.get(action.id), redo=action.id in redo))
    return RunReport(journal_path, tuple(outcomes), round(time.monotonic() - started, 3), digest)


_DONE = (Status.DONE, Status.NOOP)


def _read(run: _Run, resource: str, project: str, dataset_id: str, table_id: str | None) -> Any:
    if table_id is None:
        return run.estate.get_dataset(project, dataset_id)
    return run.estate.get_table(project, dataset_id, table_id, iam=resource in run.iam_tables)


def _targets(action: Action) -> list[tuple[str, str | None]]:
    """(resource, table id) of what the action's preconditions cover: dataset, table."""
    out: list[tuple[str, str | None]] = [(action.dataset_resource, None)]
    if action.table_id is not None:
        out.append((action.resource, action.table_id))
    return out


def _read_targets(run: _Run, action: Action) -> dict[str, Any]:
    return {r: _read(run, r, action.project, action.dataset_id, t) for r, t in _targets(action)}


def _preflight(
    run: _Run, pending: Sequence[Action], in_doubt: Mapping[str, Mapping[str, Any]]
) -> None:
    """Read everything the pending actions touch; raise StalePlan unless each resource is
    what is expected before its first pending action that still has work to do."""
    states: dict[str, Any] = {}
    for action in pending:
        for resource, table_id in _targets(action):
            if resource not in states:
                states[resource] = _read(run, resource, action.project, action.dataset_id, table_id)
    drifts: dict[str, Drift] = {}
    checked: set[str] = set()
    for action in pending:
        if satisfied(action, states):
            if action.id in in_doubt:
                # Ours, from a run that did not record it: its result is the state the
                # next actions on these resources start from.
                for resource, _ in _targets(action):
                    run.expected[resource] = seen_of(states[resource])
            continue
        for resource, _ in _targets(action):
            if resource in checked:
                continue
            checked.add(resource)
            reason = compare(run.expected[resource], seen_of(states[resource]))
            if reason is not None:
                drifts.setdefault(resource, Drift(resource, reason))
    if drifts:
        raise StalePlan(sorted(drifts.values(), key=lambda d: d.resource))


def _apply_one(
    run: _Run, action: Action, started_record: Mapping[str, Any] | None, *, redo: bool = False
) -> Outcome:
    """Run one action; `started_record` is its `started` record when an earlier run may
    have written it without recording the result (see journal.actions_in_doubt); `redo`
    when an earlier run did it and its effect is gone since (see recheck.py)."""
    started = time.monotonic()
    states = _read_targets(run, action)
    target = states[action.resource]
    base = {
        "record": "action",
        "action_id": action.id,
        "kind": action.kind.value,
        "resource": action.resource,
    }
    if satisfied(action, states):
        in_doubt = started_record is not None
        before: Mapping[str, Any] = (
            started_record["before"] if started_record is not None else journal_state(target)
        )
        seen = {r: seen_of(s).to_dict() for r, s in states.items()}
        if in_doubt:
            undo = undo_steps(action, before, journal_state(target))
            run.journal.append(
                {
                    **base,
                    "status": Status.DONE,
                    "before": before,
                    "after": journal_state(target),
                    "undo": undo,
                    "seen": seen,
                    "message": "completed by an earlier run that did not record it",
                }
            )
            status, message = "recovered", "finished by an earlier run (verified now)"
        else:
            run.journal.append(
                {
                    **base,
                    "status": Status.NOOP,
                    "before": before,
                    "message": "already in the wanted state",
                }
            )
            status, message = "noop", "already in the wanted state; nothing written"
        if in_doubt:  # our own earlier write: later actions start from it
            for r, s in states.items():
                run.expected[r] = seen_of(s)
        run.progress(f"{action.id} {action.kind.value}: {message}")
        return Outcome(
            action.id,
            action.kind,
            action.resource,
            status,
            message,
            round(time.monotonic() - started, 3),
        )
    drifts = [
        Drift(r, reason)
        for r, s in states.items()
        if (reason := compare(run.expected[r], seen_of(s))) is not None
    ]
    if drifts:
        raise StalePlan(drifts)
    before = journal_state(target)
    started_at: dict[str, Any] = {**base, "status": Status.STARTED, "before": before}
    if redo:
        started_at["message"] = "again: done by an earlier run, its effect gone since (drift)"
    run.journal.append(started_at)
    try:
        _write(run.estate, action, states)
    except (api_exceptions.PreconditionFailed, api_exceptions.Conflict):
        pass  # someone (or a retried request of ours) got there first: the re-read decides
    except Exception as exc:
        # A retry of a write whose answer was lost meets the change it made: IAM answers
        # a stale policy etag with an error of its own (400 or 409, not 412). The live
        # state decides whether our change is there.
        if not _landed(run, action):
            reason = describe_error(exc)
            run.journal.append({**base, "status": Status.FAILED, "message": reason})
            raise ApplyError(
                f"{action.id} ({action.describe()}) failed: {reason}; the journal "
                f"{run.journal.path} records what is done: fix the cause and apply again"
            ) from exc
    try:
        after_states = _read_targets(run, action)
    except Exception as exc:  # sent, maybe applied: the next run finds out (actions_in_doubt)
        reason = f"the change was sent but cannot be verified: {describe_error(exc)}"
        run.journal.append({**base, "status": Status.FAILED, "message": reason})
        raise ApplyError(
            f"{action.id} ({action.describe()}): {reason}; the journal {run.journal.path} "
            "records what is done: fix the cause and apply again"
        ) from exc
    if not satisfied(action, after_states):
        message = "the change is not visible after the write: the resource changed meanwhile"
        run.journal.append({**base, "status": Status.FAILED, "message": message})
        raise StalePlan([Drift(action.resource, message)])
    after = journal_state(after_states[action.resource])
    seen = {r: seen_of(s).to_dict() for r, s in after_states.items()}
    run.journal.append(
        {
            **base,
            "status": Status.DONE,
            "before": before,
            "after": after,
            "undo": undo_steps(action, before, after),
            "seen": seen,
            "seconds": round(time.monotonic() - started, 3),
        }
    )
    for r, s in after_states.items():
        run.expected[r] = seen_of(s)
    again = " again, after drift" if redo else ""
    run.progress(f"{action.id} {action.kind.value}: done{again} ({action.describe()})")
    return Outcome(
        action.id,
        action.kind,
        action.resource,
        "redone" if redo else "done",
        action.describe(),
        round(time.monotonic() - started, 3),
    )


def _landed(run: _Run, action: Action) -> bool:
    """Whether the action's effect is in place now; False when that cannot be read."""
    try:
        states = _read_targets(run, action)
    except Exception:  # the write's own error is the one to report
        return False
    return satisfied(action, states)


def _write(estate: Estate, action: Action, states: Mapping[str, Any]) -> None:
    """Send the action's request, computed against the live state just read."""
    project, dataset_id = action.project, action.dataset_id
    ds: DatasetState | None = states.get(action.dataset_resource)
    etag = ds.model.etag if ds is not None else None
    if isinstance(action, CreateDataset):
        estate.insert_dataset(project, action.body())
    elif isinstance(action, SetLabels):
        estate.patch_dataset(project, dataset_id, {"labels": dict(action.labels)}, etag)
    elif isinstance(action, SetDefaultEncryption):
        body = {"defaultEncryptionConfiguration": {"kmsKeyName": action.kms_key}}
        estate.patch_dataset(project, dataset_id, body, etag)
    elif isinstance(action, RemoveAccessEntries):
        assert ds is not None
        kept = [raw for raw in ds.raw.get("access") or [] if not removes_entry(action, raw)]
        estate.patch_dataset(project, dataset_id, {"access": kept}, etag)
    elif isinstance(action, CreateTable):
        estate.insert_table(project, dataset_id, action.body())
    elif isinstance(action, AddColumns):
        table: TableState = states[action.resource]
        fields = list(table.raw.get("schema", {}).get("fields") or [])
        for column in action.columns:
            fields = add_api_field(fields, column.parent, field_to_api(column.field))
        estate.patch_table(
            project,
            dataset_id,
            action.table,
            {"schema": {"fields": fields}},
            str_or_none(table.raw.get("etag")),
        )
    elif isinstance(action, RemoveTableIamMember):
        table = states[action.resource]
        policy = dict(table.policy or {})
        policy["bindings"] = _without_members(policy.get("bindings") or [], action)
        policy["version"] = 3
        estate.set_table_iam(project, dataset_id, action.table, policy)
    else:  # pragma: no cover - the registry is closed
        raise TypeError(f"no writer for {action.kind}")


def _without_members(
    bindings: Sequence[Mapping[str, Any]], action: RemoveTableIamMember
) -> list[dict[str, Any]]:
    out = []
    for b in bindings:
        condition = (b.get("condition") or {}).get("expression")
        gone = {
            g.member
            for g in action.grants
            if g.role == b.get("role")
            and (g.condition.expression if g.condition else None) == condition
        }
        members = [m for m in b.get("members") or [] if m not in gone]
        if members:
            out.append({**b, "members": members})
    return out


__all__ = ["apply_plan"]
