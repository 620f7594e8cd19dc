"""Waivers: accepted risks, with an owner and an expiry, that turn findings into WAIVED.

A waiver names a rule (id or name) and fnmatch globs (case-sensitive) on the finding's
resource and, optionally, its column and principal. An expired waiver waives nothing: the
finding stays failing and says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

from auditor import limits
from auditor.errors import InputError
from auditor.io.yamlpos import read_yaml, schema_problems
from auditor.model import Finding, Location, Status, WaiverRef
from auditor.resources import format_schema

_WAIVABLE = (Status.FAIL, Status.ERROR)


@dataclass(frozen=True)
class Waiver:
    rule: str  # rule id or name
    resource: str  # glob
    reason: str
    owner: str
    expires: date  # last day the waiver applies
    column: str | None = None  # glob; None: any column
    principal: str | None = None  # glob; None: any principal
    source: Location | None = None  # file and line of the waiver's entry

    def matches(self, finding: Finding) -> bool:
        return (
            self.rule in (finding.rule_id, finding.rule_name)
            and fnmatchcase(finding.resource, self.resource)
            and _optional_match(finding.column, self.column)
            and _optional_match(finding.principal, self.principal)
        )

    def expired(self, today: date) -> bool:
        return self.expires < today

    def ref(self, *, expired: bool = False) -> WaiverRef:
        return WaiverRef(self.reason, self.owner, self.expires.isoformat(), expired)

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source is not None else ""
        return f"{where}waiver for {self.rule} on '{self.resource}'"


def _optional_match(value: str | None, pattern: str | None) -> bool:
    if pattern is None:
        return True
    return value is not None and fnmatchcase(value, pattern)


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """Read a waivers file; InputError naming the file and line of the first problem."""
    name = str(path)
    doc = read_yaml(path)
    if doc.value is None:
        raise InputError(name, "empty file; expected 'waivers:' and a list", 1)
    entries = doc.value.get("waivers") if isinstance(doc.value, dict) else None
    if isinstance(entries, list) and len(entries) > limits.MAX_WAIVERS:
        message = f"{len(entries)} waivers; a waivers file holds at most {limits.MAX_WAIVERS}"
        raise InputError(name, message, doc.line_of(("waivers",)))
    problems = schema_problems(doc, _waivers_schema())
    if problems:
        raise InputError(name, problems[0].message, problems[0].line)
    waivers = []
    for i, entry in enumerate(doc.value["waivers"]):
        line = doc.line_of(("waivers", i))
        try:
            expires = date.fromisoformat(entry["expires"])
        except ValueError:
            line = doc.line_of(("waivers", i, "expires"))
            message = f"waivers[{i}].expires: '{entry['expires']}' is not a valid date"
            raise InputError(name, message, line) from None
        waivers.append(_waiver(entry, expires, Location(name, line)))
    return tuple(waivers)


def _waiver(entry: dict[str, Any], expires: date, source: Location) -> Waiver:
    return Waiver(
        rule=entry["rule"],
        resource=entry["resource"],
        reason=entry["reason"],
        owner=entry["owner"],
        expires=expires,
        column=entry.get("column"),
        principal=entry.get("principal"),
        source=source,
    )


def apply_waivers(
    findings: Sequence[Finding], waivers: Sequence[Waiver], today: date
) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
    """Waive the FAIL/ERROR findings that an unexpired waiver matches.

    The first unexpired matching waiver (in file order) wins. A finding matched only by
    expired waivers keeps its status, carries the first of them (expired=True) and says so
    in its message. Notes, in waiver order: each expired waiver, and each waiver that matched
    no FAIL/ERROR finding (one note per waiver, combining both when both apply).
    """
    used = [False] * len(waivers)
    result: list[Finding] = []
    for finding in findings:
        if finding.status not in _WAIVABLE:
            result.append(finding)
            continue
        matching = [i for i, w in enumerate(waivers) if w.matches(finding)]
        for i in matching:
            used[i] = True
        active = [waivers[i] for i in matching if not waivers[i].expired(today)]
        if active:
            result.append(replace(finding, status=Status.WAIVED, waiver=active[0].ref()))
        elif matching:
            lapsed = waivers[matching[0]]
            message = f"{finding.message} (waiver expired on {lapsed.expires.isoformat()})"
            result.append(replace(finding, message=message, waiver=lapsed.ref(expired=True)))
        else:
            result.append(finding)
    return tuple(result), tuple(_notes(waivers, used, today))


def _notes(waivers: Sequence[Waiver], used: Sequence[bool], today: date) -> list[str]:
    notes = []
    for waiver, was_used in zip(waivers, used, strict=True):
        if waiver.expired(today):
            unused = "" if was_used else " and matches no finding"
            notes.append(f"{waiver} expired on {waiver.expires.isoformat()}{unused}")
        elif not was_used:
            notes.append(f"{waiver} matches no finding")
    return notes


@cache
def _waivers_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(format_schema("waivers").read_text(encoding="utf-8"))
    return schema
