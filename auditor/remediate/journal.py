"""The journal of apply and rollback runs (JSON lines next to the plan), and what a run did.

The journal records `started` (with the state before) and then `done` (with the state after
and how to undo it) for each action, appended and fsynced as things happen, so a run that
stopped anywhere can be resumed or rolled back. Every record is validated against
schemas/formats/journal.schema.json when read; a torn last line (a crash mid-record) is
dropped and reported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from auditor.errors import InputError
from auditor.remediate.state import Seen
from auditor.resources import format_schema

JOURNAL_VERSION = "1"
Clock = Callable[[], datetime]
Progress = Callable[[str], None]


class JournalError(InputError):
    """The journal is unreadable, invalid, or belongs to another plan."""


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
        line = json.dumps({"at": iso(self.clock()), **record}, sort_keys=True, ensure_ascii=True)
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


def report_repair(journal: Journal, progress: Progress) -> None:
    note = journal.repair()
    if note is not None:
        progress(note)


def _error_depth(error: Any) -> int:
    return -len(error.absolute_path)  # the deepest first: it names the field


def last_status(records: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """action id -> its latest action or undo record that says where it stands."""
    last: dict[str, Mapping[str, Any]] = {}
    for r in records:
        if r["record"] == "action" or (r["record"] == "undo" and r["status"] == Status.UNDONE):
            last[r["action_id"]] = r
    return last


def outstanding_done(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The `done` records no rollback has undone yet, in journal order. Each `undone` undo
    record of an action takes back its latest outstanding `done`; a conflict or a failure
    takes back nothing (the next rollback tries again)."""
    stacks: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        if r["record"] == "action" and r["status"] == Status.DONE:
            stacks.setdefault(r["action_id"], []).append(r)
        elif r["record"] == "undo" and r["status"] == Status.UNDONE and stacks.get(r["action_id"]):
            stacks[r["action_id"]].pop()
    kept = {id(r) for stack in stacks.values() for r in stack}
    return [r for r in records if id(r) in kept]


def actions_in_doubt(records: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """action id -> its latest `started` record, for the actions whose write may have landed
    without a `done`: the run stopped after `started`, or the write failed, and a failure
    may be an answer lost after BigQuery applied the change (a reset, a timeout)."""
    started: dict[str, Mapping[str, Any]] = {}
    for r in records:
        if r["record"] == "action" and r["status"] == Status.STARTED:
            started[r["action_id"]] = r
    return {
        action_id: started[action_id]
        for action_id, r in last_status(records).items()
        if r["record"] == "action"
        and r["status"] in (Status.STARTED, Status.FAILED)
        and action_id in started
    }


def expected_from_journal(records: Sequence[Mapping[str, Any]]) -> dict[str, Seen]:
    """The state each resource was left in by the journal's latest write to it."""
    seen: dict[str, Seen] = {}
    for r in records:
        for resource, raw in (r.get("seen") or {}).items():
            seen[resource] = Seen.from_dict(raw)
    return seen


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


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iter_journal(path: Path) -> Iterator[Mapping[str, Any]]:
    """The journal's records (validated), for reporting."""
    yield from Journal(path, lambda: datetime.now(UTC)).records()


__all__ = [
    "JOURNAL_VERSION",
    "Journal",
    "JournalError",
    "Outcome",
    "RunReport",
    "Status",
    "UndoOp",
    "iter_journal",
]
