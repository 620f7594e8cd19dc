"""Apply a plan action by action, with preconditions and a journal; roll a journal back.

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
- Converges after a crash. The journal (JSON lines next to the plan) records `started`
  (with the state before) and then `done` (with the state after and how to undo it) for
  each action. A re-run skips what is done; an action left `started` or `failed` (a lost
  answer can hide a write that landed) is `done` if its effect is there, else it runs again.
  A torn last line (a crash mid-record) is dropped and reported. Actions that already ran
  move the expected state of what they touched forward (the etag they left behind), so
  later actions on the same dataset still have a precondition.
- Never destroys data: actions only create and patch (see actions.py).

`rollback` undoes the journal's done actions in reverse order. Its undo steps re-add the
removed access entries and IAM members, restore labels and keys where they still hold the
value the action set (else a conflict is reported and the value is left alone), and remove
what an action created only while it holds no data: a created table with no rows, an added
column with no value, a created dataset with no table. Anything else is a conflict, never a
loss of data.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from google.api_core import exceptions as api_exceptions
from jsonschema import Draft202012Validator

from auditor.errors import AuditorError, InputError
from auditor.model import Dataset, Table
from auditor.remediate.actions import (
    Action,
    AddColumns,
    CreateDataset,
    CreateTable,
    DatasetAction,
    Precondition,
    RemoveAccessEntries,
    RemoveTableIamMember,
    SetDefaultEncryption,
    SetLabels,
    TableAction,
    add_api_field,
    dataset_digest,
    entry_from_api,
    field_to_api,
    iam_digest,
    table_digest,
)
from auditor.remediate.plan import Plan
from auditor.resources import format_schema
from auditor.sources.scrub import scrub_api_fields, scrub_labels

JOURNAL_VERSION = "1"
Clock = Callable[[], datetime]
Progress = Callable[[str], None]


# ----------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Drift:
    """A resource that is not what the plan (or the journal) expected."""

    resource: str
    reason: str

    @property
    def dataset(self) -> str:
        return self.resource.split("/datasets/", 1)[-1].replace("/tables/", ".")


class StalePlan(AuditorError):
    """The estate changed since the plan was made; nothing (more) was written."""

    def __init__(self, drifts: Sequence[Drift]) -> None:
        self.drifts = tuple(drifts)
        listed = "; ".join(f"{d.dataset}: {d.reason}" for d in self.drifts)
        super().__init__(
            f"the plan is stale, the estate changed since it was made ({listed}); "
            "nothing was changed for it: make a new plan"
        )


class ApplyError(AuditorError):
    """An action failed mid-way; the journal says what is done. Re-running converges."""


class JournalError(InputError):
    """The journal is unreadable, invalid, or belongs to another plan."""


# ----------------------------------------------------------------------------- live states


@dataclass(frozen=True)
class DatasetState:
    raw: Mapping[str, Any]  # datasets.get answer
    model: Dataset


@dataclass(frozen=True)
class TableState:
    raw: Mapping[str, Any]  # tables.get answer
    model: Table  # iam filled when the policy was read
    policy: Mapping[str, Any] | None = None  # getIamPolicy answer (version 3), when read


class Estate(Protocol):
    """The live side, as the applier needs it. BigQueryEstate implements it over a client."""

    def get_dataset(self, project: str, dataset_id: str) -> DatasetState | None: ...
    def get_table(
        self, project: str, dataset_id: str, table_id: str, *, iam: bool
    ) -> TableState | None: ...
    def insert_dataset(self, project: str, body: Mapping[str, Any]) -> None: ...
    def patch_dataset(
        self, project: str, dataset_id: str, body: Mapping[str, Any], etag: str | None
    ) -> None: ...
    def insert_table(self, project: str, dataset_id: str, body: Mapping[str, Any]) -> None: ...
    def patch_table(
        self,
        project: str,
        dataset_id: str,
        table_id: str,
        body: Mapping[str, Any],
        etag: str | None,
    ) -> None: ...
    def set_table_iam(
        self, project: str, dataset_id: str, table_id: str, policy: Mapping[str, Any]
    ) -> None: ...
    def delete_table(self, project: str, dataset_id: str, table_id: str) -> None: ...
    def delete_empty_dataset(self, project: str, dataset_id: str) -> None: ...
    def values_in(self, project: str, dataset_id: str, table_id: str, column: str) -> int: ...
    def drop_column(self, project: str, dataset_id: str, table_id: str, column: str) -> None: ...


@dataclass(frozen=True)
class Seen:
    """What a resource looks like now, as preconditions compare it."""

    exists: bool
    etag: str | None = None
    sha256: str | None = None
    iam_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Seen:
        return cls(raw["exists"], raw.get("etag"), raw.get("sha256"), raw.get("iam_sha256"))

    @classmethod
    def of(cls, pre: Precondition) -> Seen:
        return cls(pre.exists, pre.etag, pre.sha256, pre.iam_sha256)


def seen_dataset(state: DatasetState | None) -> Seen:
    if state is None:
        return Seen(False)
    return Seen(True, state.model.etag, dataset_digest(state.model))


def seen_table(state: TableState | None) -> Seen:
    if state is None:
        return Seen(False)
    iam = iam_digest(state.model.iam) if state.model.iam is not None else None
    return Seen(True, _str(state.raw.get("etag")), table_digest(state.model), iam)


def compare(expected: Seen, current: Seen) -> str | None:
    """Why `current` is not `expected`; None when it is. Etags decide when both sides have
    one, else the content digests (and the IAM digest when the expectation has one)."""
    if expected.exists != current.exists:
        return "it exists now" if current.exists else "it no longer exists"
    if not current.exists:
        return None
    if expected.etag and current.etag:
        if expected.etag != current.etag:
            return f"etag {current.etag} is not the planned {expected.etag}"
    elif expected.sha256 and expected.sha256 != current.sha256:
        return "its content (access, labels, key or schema) differs from the planned state"
    if expected.iam_sha256 and current.iam_sha256 and expected.iam_sha256 != current.iam_sha256:
        return "its IAM policy differs from the planned one"
    return None


# ----------------------------------------------------------------------------- journal


class Status(StrEnum):
    STARTED = "started"
    DONE = "done"  # written and verified
    NOOP = "noop"  # already in the wanted state: nothing written
    FAILED = "failed"
    # rollback
    UNDONE = "undone"
    CONFLICT = "conflict"  # an undo step left alone: the resource changed since


class UndoOp(StrEnum):
    ADD_ACCESS_ENTRIES = "add_access_entries"
    RESTORE_LABELS = "restore_labels"
    RESTORE_DEFAULT_ENCRYPTION = "restore_default_encryption"
    ADD_TABLE_IAM_MEMBERS = "add_table_iam_members"
    DROP_ADDED_COLUMNS = "drop_added_columns"  # only columns that hold no value
    DELETE_CREATED_TABLE = "delete_created_table"  # only while it has no rows
    DELETE_CREATED_DATASET = "delete_created_dataset"  # only while it has no table


class Journal:
    """JSON lines, one record per event, appended and fsynced as they happen."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        validator = _journal_validator()
        out: list[dict[str, Any]] = []
        try:
            text = self.path.read_text(encoding="utf-8")
            lines = text.splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise JournalError(str(self.path), f"cannot read journal: {exc}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                if number == len(lines) and not text.endswith("\n"):
                    break  # cut short by a crash (see repair)
                raise JournalError(str(self.path), f"not JSON: {exc}", number) from None
            kind = record.get("record") if isinstance(record, dict) else None
            if kind not in validator:
                raise JournalError(str(self.path), f"unknown record {kind!r}", number)
            error = min(validator[kind].iter_errors(record), key=_error_depth, default=None)
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(record)"
                raise JournalError(
                    str(self.path), f"invalid record at {where}: {error.message}", number
                )
            out.append(record)
        return out

    def repair(self) -> str | None:
        """End the file with a whole line again after a crash; what was done, or None.

        Records are whole lines, fsynced one by one, so only the record being written when
        the process died can be partial: a cut-short line never completed and is dropped
        (records() ignores it too); a whole record that lost only its line end is kept."""
        if not self.path.exists():
            return None
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return None
        start = data.rfind(b"\n") + 1
        line = data.count(b"\n") + 1
        where = f"journal {self.path}: its last line ({line})"
        try:
            json.loads(data[start:])
        except ValueError:
            with self.path.open("r+b") as out:
                out.truncate(start)
                os.fsync(out.fileno())
            return f"{where} was cut short by a crash ({len(data) - start} bytes); ignored"
        with self.path.open("ab") as out:
            out.write(b"\n")
            os.fsync(out.fileno())
        return f"{where} lacked its line end after a crash; the record is whole and kept"

    def append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps({"at": _iso(self.clock()), **record}, sort_keys=True, ensure_ascii=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())


@lru_cache(maxsize=1)
def _journal_validator() -> dict[str, Draft202012Validator]:
    """One validator per record kind (the schema's oneOf would name no field)."""
    schema = json.loads(format_schema("journal").read_text(encoding="utf-8"))
    return {
        kind: Draft202012Validator({"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]})
        for kind in ("run", "action", "undo")
    }


def _report_repair(journal: Journal, progress: Progress) -> None:
    note = journal.repair()
    if note is not None:
        progress(note)


def _error_depth(error: Any) -> int:
    return -len(error.absolute_path)  # the deepest first: it names the field


def _last_status(records: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """action id -> its latest action or undo record that says where it stands."""
    last: dict[str, Mapping[str, Any]] = {}
    for r in records:
        if r["record"] == "action" or (r["record"] == "undo" and r["status"] == Status.UNDONE):
            last[r["action_id"]] = r
    return last


def _in_doubt(records: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """action id -> its latest `started` record, for the actions whose write may have landed
    without a `done`: the run stopped after `started`, or the write failed, and a failure
    may be an answer lost after BigQuery applied the change (a reset, a timeout)."""
    started: dict[str, Mapping[str, Any]] = {}
    for r in records:
        if r["record"] == "action" and r["status"] == Status.STARTED:
            started[r["action_id"]] = r
    return {
        action_id: started[action_id]
        for action_id, r in _last_status(records).items()
        if r["record"] == "action"
        and r["status"] in (Status.STARTED, Status.FAILED)
        and action_id in started
    }


def _expected_from_journal(records: Sequence[Mapping[str, Any]]) -> dict[str, Seen]:
    """The state each resource was left in by the journal's latest write to it."""
    seen: dict[str, Seen] = {}
    for r in records:
        for resource, raw in (r.get("seen") or {}).items():
            seen[resource] = Seen.from_dict(raw)
    return seen


# ----------------------------------------------------------------------------- apply


@dataclass(frozen=True)
class Outcome:
    action_id: str
    kind: str
    resource: str
    status: str  # done | noop | skipped (done in an earlier run) | recovered | failed ...
    message: str
    seconds: float = 0.0


@dataclass(frozen=True)
class RunReport:
    journal: Path
    outcomes: tuple[Outcome, ...]
    seconds: float
    plan_digest: str = ""
    conflicts: tuple[str, ...] = ()

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


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
) -> RunReport:
    """Apply the plan's pending actions in order. Raises StalePlan before any write when
    the estate changed, ApplyError when an action fails (the journal keeps what is done)."""
    started = time.monotonic()
    journal = Journal(journal_path, clock)
    records = journal.records()
    _report_repair(journal, progress)
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
    last = _last_status(records)
    in_doubt = _in_doubt(records)
    from_journal = _expected_from_journal(records)
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
    pending: list[Action] = []
    for action in plan.actions:
        status = last.get(action.id, {}).get("status")
        if status in (Status.DONE, Status.NOOP):
            outcomes.append(
                Outcome(
                    action.id, action.kind, action.resource, "skipped", "done in an earlier run"
                )
            )
        else:
            pending.append(action)
    _preflight(run, pending, in_doubt)
    journal.append(
        {
            "record": "run",
            "op": "apply",
            "journal_version": JOURNAL_VERSION,
            "plan_digest": digest,
            "plan": plan_path,
            "project": plan.project,
        }
    )
    for action in pending:
        outcomes.append(_apply_one(run, action, in_doubt.get(action.id)))
    return RunReport(journal_path, tuple(outcomes), round(time.monotonic() - started, 3), digest)


def _read(run: _Run, resource: str, project: str, dataset_id: str, table_id: str | None) -> Any:
    if table_id is None:
        return run.estate.get_dataset(project, dataset_id)
    return run.estate.get_table(project, dataset_id, table_id, iam=resource in run.iam_tables)


def _seen(state: Any) -> Seen:
    if isinstance(state, TableState):
        return seen_table(state)
    if isinstance(state, DatasetState):
        return seen_dataset(state)
    return Seen(False)


def _targets(action: Action) -> list[tuple[str, str | None]]:
    """(resource, table id) of what the action's preconditions cover: dataset, table."""
    out: list[tuple[str, str | None]] = [(action.dataset_resource, None)]
    if action.table_id is not None:
        out.append((action.resource, action.table_id))
    return out


def _satisfied(action: Action, states: Mapping[str, Any]) -> bool:
    if isinstance(action, TableAction):
        table = states.get(action.resource)
        return action.satisfied(table.model if table is not None else None)
    assert isinstance(action, DatasetAction)
    ds = states.get(action.dataset_resource)
    return action.satisfied(ds.model if ds is not None else None)


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
        if _satisfied(action, states):
            if action.id in in_doubt:
                # Ours, from a run that did not record it: its result is the state the
                # next actions on these resources start from.
                for resource, _ in _targets(action):
                    run.expected[resource] = _seen(states[resource])
            continue
        for resource, _ in _targets(action):
            if resource in checked:
                continue
            checked.add(resource)
            reason = compare(run.expected[resource], _seen(states[resource]))
            if reason is not None:
                drifts.setdefault(resource, Drift(resource, reason))
    if drifts:
        raise StalePlan(sorted(drifts.values(), key=lambda d: d.resource))


def _apply_one(run: _Run, action: Action, started_record: Mapping[str, Any] | None) -> Outcome:
    """Run one action; `started_record` is its `started` record when an earlier run may
    have written it without recording the result (see _in_doubt)."""
    started = time.monotonic()
    states = {r: _read(run, r, action.project, action.dataset_id, t) for r, t in _targets(action)}
    target = states[action.resource]
    base = {
        "record": "action",
        "action_id": action.id,
        "kind": action.kind.value,
        "resource": action.resource,
    }
    if _satisfied(action, states):
        in_doubt = started_record is not None
        before: Mapping[str, Any] = (
            started_record["before"] if started_record is not None else _snapshot(target)
        )
        seen = {r: _seen(s).to_dict() for r, s in states.items()}
        if in_doubt:
            undo = _undo_steps(action, before, _snapshot(target))
            run.journal.append(
                {
                    **base,
                    "status": Status.DONE,
                    "before": before,
                    "after": _snapshot(target),
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
                run.expected[r] = _seen(s)
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
        if (reason := compare(run.expected[r], _seen(s))) is not None
    ]
    if drifts:
        raise StalePlan(drifts)
    before = _snapshot(target)
    run.journal.append({**base, "status": Status.STARTED, "before": before})
    try:
        _write(run.estate, action, states)
    except (api_exceptions.PreconditionFailed, api_exceptions.Conflict):
        pass  # someone (or a retried request of ours) got there first: the re-read decides
    except Exception as exc:
        # A retry of a write whose answer was lost meets the change it made: IAM answers
        # a stale policy etag with an error of its own (400 or 409, not 412). The live
        # state decides whether our change is there.
        if not _landed(run, action):
            reason = _describe(exc)
            run.journal.append({**base, "status": Status.FAILED, "message": reason})
            raise ApplyError(
                f"{action.id} ({action.describe()}) failed: {reason}; the journal "
                f"{run.journal.path} records what is done: fix the cause and apply again"
            ) from exc
    try:
        after_states = {
            r: _read(run, r, action.project, action.dataset_id, t) for r, t in _targets(action)
        }
    except Exception as exc:  # sent, maybe applied: the next run finds out (see _in_doubt)
        reason = f"the change was sent but cannot be verified: {_describe(exc)}"
        run.journal.append({**base, "status": Status.FAILED, "message": reason})
        raise ApplyError(
            f"{action.id} ({action.describe()}): {reason}; the journal {run.journal.path} "
            "records what is done: fix the cause and apply again"
        ) from exc
    if not _satisfied(action, after_states):
        message = "the change is not visible after the write: the resource changed meanwhile"
        run.journal.append({**base, "status": Status.FAILED, "message": message})
        raise StalePlan([Drift(action.resource, message)])
    after = _snapshot(after_states[action.resource])
    seen = {r: _seen(s).to_dict() for r, s in after_states.items()}
    run.journal.append(
        {
            **base,
            "status": Status.DONE,
            "before": before,
            "after": after,
            "undo": _undo_steps(action, before, after),
            "seen": seen,
            "seconds": round(time.monotonic() - started, 3),
        }
    )
    for r, s in after_states.items():
        run.expected[r] = _seen(s)
    run.progress(f"{action.id} {action.kind.value}: done ({action.describe()})")
    return Outcome(
        action.id,
        action.kind,
        action.resource,
        "done",
        action.describe(),
        round(time.monotonic() - started, 3),
    )


def _landed(run: _Run, action: Action) -> bool:
    """Whether the action's effect is in place now; False when that cannot be read."""
    try:
        states = {
            r: _read(run, r, action.project, action.dataset_id, t) for r, t in _targets(action)
        }
    except Exception:  # the write's own error is the one to report
        return False
    return _satisfied(action, states)


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
        kept = [raw for raw in ds.raw.get("access") or [] if not _removes(action, raw)]
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
            _str(table.raw.get("etag")),
        )
    elif isinstance(action, RemoveTableIamMember):
        table = states[action.resource]
        policy = dict(table.policy or {})
        policy["bindings"] = _without_members(policy.get("bindings") or [], action)
        policy["version"] = 3
        estate.set_table_iam(project, dataset_id, action.table, policy)
    else:  # pragma: no cover - the registry is closed
        raise TypeError(f"no writer for {action.kind}")


def _removes(action: RemoveAccessEntries, raw: Mapping[str, Any]) -> bool:
    try:
        return entry_from_api(raw) in action.entries
    except Exception:  # an entry we cannot read is never one we remove
        return False


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


# ----------------------------------------------------------------------------- snapshots, undo


def _snapshot(state: Any) -> dict[str, Any]:
    """What the journal keeps of a resource: enough to undo and to audit the change."""
    if isinstance(state, DatasetState):
        raw = state.raw
        return {
            "exists": True,
            "etag": raw.get("etag"),
            "access": list(raw.get("access") or []),
            # Scrubbed: the journal is no place for a secret pasted into a label.
            "labels": scrub_labels(raw.get("labels") or {}),
            "default_kms_key": state.model.default_kms_key,
            "location": raw.get("location"),
        }
    if isinstance(state, TableState):
        raw = state.raw
        out: dict[str, Any] = {
            "exists": True,
            "etag": raw.get("etag"),
            "schema": scrub_api_fields(raw.get("schema", {}).get("fields") or []),
            "kms_key": state.model.kms_key,
            "num_rows": raw.get("numRows"),
        }
        if state.policy is not None:
            out["iam"] = list(state.policy.get("bindings") or [])
        return out
    return {"exists": False}


def _undo_steps(
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
        removed = [raw for raw in before.get("access") or [] if _removes(action, raw)]
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
) -> RunReport:
    """Undo the journal's done actions, last first. Conflicts are reported, not forced."""
    started = time.monotonic()
    journal = Journal(journal_path, clock)
    records = journal.records()
    _report_repair(journal, progress)
    runs = [r for r in records if r["record"] == "run"]
    if not runs:
        raise JournalError(str(journal_path), "no apply run recorded: nothing to roll back")
    last = _last_status(records)
    done = [
        r
        for r in records
        if r["record"] == "action" and r["status"] == Status.DONE and last.get(r["action_id"]) is r
    ]
    journal.append(
        {
            "record": "run",
            "op": "rollback",
            "journal_version": JOURNAL_VERSION,
            "plan_digest": runs[0]["plan_digest"],
            "plan": runs[0].get("plan", ""),
            "project": runs[0]["project"],
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
            reason = _describe(exc)
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
            return f"dataset {dataset_id} was kept: it is not empty ({_describe(exc)})", {}
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


# ----------------------------------------------------------------------------- helpers


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _describe(exc: BaseException) -> str:
    from auditor.sources.bigquery import describe

    return describe(exc)


def iter_journal(path: Path) -> Iterator[Mapping[str, Any]]:
    """The journal's records (validated), for reporting."""
    yield from Journal(path, lambda: datetime.now(UTC)).records()


__all__ = [
    "ApplyError",
    "Drift",
    "Estate",
    "JournalError",
    "Outcome",
    "RunReport",
    "StalePlan",
    "apply_plan",
    "compare",
    "rollback",
    "seen_dataset",
    "seen_table",
]
