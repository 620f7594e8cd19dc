"""Rebuild a Report from a saved JSON report, so any saved run can be rendered again.

The text is validated against the JSON report schema (report.json), checked once by the
compiled schema (report.schemacheck), not field by field by a generic validator. Beyond the
schema, what a reader must not take on trust is checked too, because a rendered report vouches
for it: every fingerprint must be the one its finding's fields give, and the summary must be
the one its findings give. A saved report that fails either was edited or is corrupt, and is
refused with an InputError naming the file. (That is self-consistency only: who made the
report is proved by a signature, report.signing.)

At size the findings are read one at a time from the text and turned into Findings at once,
so the whole report is never held twice (as dicts and as Findings): 100,000 findings read in
a few seconds within about 250 MB.

What the JSON does not carry cannot come back: evidence comes back as plain JSON data
(lists where the run had tuples or sets), and datetimes come back in UTC.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor import limits
from auditor.errors import InputError
from auditor.model import (
    CoverageGap,
    DiscoveredInput,
    Discovery,
    Finding,
    InputFile,
    InputKind,
    Location,
    PolicyPack,
    Report,
    RuleInfo,
    RunInfo,
    RunScope,
    Severity,
    Status,
    TemplateScope,
    WaiverRef,
)
from auditor.report import json as json_report
from auditor.report import since
from auditor.report.summary import summarize
from auditor.report.views import ChangeSet

# Said when a saved report is marked incomplete but names no gap or error, so that the
# rebuilt run stays incomplete (RunInfo.complete is derived from gaps and errors).
UNEXPLAINED_INCOMPLETE = "the saved report marks the run incomplete without naming a gap or error"

_decoder = json.JSONDecoder(parse_constant=lambda word: _refuse(word))
_WHITESPACE = " \t\n\r"
_SHARED_TEXT = 80  # evidence texts this short are interned (names, roles, kinds)


def _refuse(word: str) -> Any:
    raise ValueError(f"{word} is not valid JSON")


@dataclass(frozen=True)
class SavedReport:
    """A report read from a file: the Report, the SHA-256 of the file's bytes, its
    signature block when it carries one (report.signing verifies it), and what changed
    since the last run when the nightly job wrote it (report.since)."""

    report: Report
    sha256: str
    signature: Mapping[str, Any] | None
    since_last_run: ChangeSet | None = None


def _time(text: str) -> datetime:
    """A schema-checked `...Z` timestamp as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _run(data: Mapping[str, Any], tool_version: str, source: str) -> RunInfo:
    coverage = tuple(CoverageGap(g["scope"], g["reason"]) for g in data["coverage"])
    errors = tuple(str(e) for e in data["errors"])
    if not data["complete"] and not coverage and not errors:
        errors = (UNEXPLAINED_INCOMPLETE,)
    pack = _pack(data.get("policy_pack"), source)
    return RunInfo(
        started_at=_time(data["started_at"]),
        finished_at=_time(data["finished_at"]),
        root=data["root"],
        command=data["command"],
        coverage=coverage,
        errors=errors,
        inputs=tuple(InputFile(i["path"], i["sha256"]) for i in data["inputs"]),
        tool_version=tool_version,
        evaluation_time=_time(data["evaluation_time"]) if "evaluation_time" in data else None,
        scope=_scope(data.get("scope")),
        policy_pack=pack,
        discovery=_discovery(data.get("discovery")),
    )


def _pack(data: Mapping[str, Any] | None, source: str) -> PolicyPack | None:
    if data is None:
        return None
    pack = PolicyPack(
        files=tuple(InputFile(i["path"], i["sha256"]) for i in data["files"]),
        origin=data["origin"],
    )
    if pack.sha256 != data["sha256"]:
        raise InputError(
            source,
            f"run.policy_pack.sha256 says {data['sha256']}, its files give {pack.sha256}; "
            "the report was edited or is corrupt",
        )
    return pack


def _discovery(data: Mapping[str, Any] | None) -> Discovery | None:
    """A report of a run without discovery (a scan, or written before it existed) has none."""
    if data is None:
        return None
    files = tuple(
        DiscoveredInput(
            path=f["path"],
            kind=InputKind(f["kind"]),
            scope=TemplateScope(f["scope"]) if "scope" in f else None,
            dialect=f.get("dialect"),
            reason=f.get("reason"),
        )
        for f in data["files"]
    )
    return Discovery(files=files, config=data["config"], warnings=tuple(data["warnings"]))


def _scope(data: Mapping[str, Any] | None) -> RunScope:
    """A report written before runs recorded their scope has none (an empty RunScope)."""
    if data is None:
        return RunScope()
    return RunScope(
        rules=tuple(data["rules"]),
        project=data["project"],
        datasets=tuple(data["datasets"]),
        rule_filter=tuple(data["rule_filter"]),
        dataset_filter=tuple(data["dataset_filter"]),
        sources=tuple(data["sources"]),
        configured_datasets=tuple(data.get("configured_datasets", ())),
    )


def _rule(data: Mapping[str, Any]) -> RuleInfo:
    return RuleInfo(
        id=data["id"],
        name=data["name"],
        title=data["title"],
        severity=Severity(data["severity"]),
        rationale=data["rationale"],
        remediation=data["remediation"],
        references=tuple(data["references"]),
        frameworks={k: tuple(v) for k, v in data["frameworks"].items()},
    )


def _finding(data: Mapping[str, Any], index: int, source: str) -> Finding:
    location = data.get("location")
    waiver = data.get("waiver")
    finding = Finding(
        # Repeated in every finding of a rule: one string each, not one per finding.
        rule_id=sys.intern(data["rule_id"]),
        rule_name=sys.intern(data["rule_name"]),
        status=Status(data["status"]),
        severity=Severity(data["severity"]),
        resource=data["resource"],
        message=data["message"],
        column=data.get("column"),
        principal=data.get("principal"),
        location=Location(sys.intern(location["path"]), location.get("line")) if location else None,
        evidence=_shared(data["evidence"]) if "evidence" in data else {},
        remediation=data.get("remediation"),
        waiver=(
            WaiverRef(waiver["reason"], waiver["owner"], waiver["expires"], waiver["expired"])
            if waiver
            else None
        ),
        in_baseline=data.get("in_baseline", False),
    )
    if finding.fingerprint != data["fingerprint"]:
        raise InputError(
            source,
            f"finding {index} ({finding.rule_id} on {finding.resource!r}): fingerprint "
            f"{data['fingerprint']} is not the one its fields give ({finding.fingerprint}); "
            "the report was edited or is corrupt",
        )
    return finding


def _shared(value: Any) -> Any:
    """Evidence with its keys and short texts interned: each finding is decoded on its own,
    so without this every finding would hold its own copy of "kind", "member", "detector"."""
    if isinstance(value, dict):
        return {sys.intern(k): _shared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shared(v) for v in value]
    if isinstance(value, str) and len(value) <= _SHARED_TEXT:
        return sys.intern(value)
    return value


def _summary_mismatch(expected: Any, found: Any, where: str = "summary") -> str | None:
    """The first place where the saved summary differs from the recomputed one."""
    if isinstance(expected, dict) and isinstance(found, dict):
        for key in expected:
            problem = _summary_mismatch(expected[key], found.get(key), f"{where}.{key}")
            if problem:
                return problem
        return None
    if expected != found:
        return f"{where} says {found!r}, the findings give {expected!r}"
    return None


def _build(data: Mapping[str, Any], findings: tuple[Finding, ...], source: str) -> Report:
    report = Report(
        run=_run(data["run"], data["tool"]["version"], source),
        rules=tuple(_rule(r) for r in data["rules"]),
        findings=findings,
    )
    saved = dict(data["summary"])
    if not data["run"]["complete"]:
        # An unexplained incomplete mark becomes one run error (see UNEXPLAINED_INCOMPLETE).
        saved["errors"] = max(saved["errors"], len(report.run.errors))
    problem = _summary_mismatch(summarize(report), saved)
    if problem:
        raise InputError(source, f"{problem}; the report was edited or is corrupt")
    return report


def report_from_json(text: str, source: str) -> Report:
    """The Report a JSON report was rendered from (as far as the JSON carries it).

    Raises InputError naming `source` when the text is not a valid JSON report, a finding's
    fingerprint does not match its fields, or the summary does not match the findings.
    """
    return _read_text(text, source).report


def read_report_bytes(path: Path) -> bytes:
    """A saved report file's bytes (InputError naming it when it is missing, unreadable or
    larger than the report limit, checked before a byte is read)."""
    source = str(path)
    try:
        if path.stat().st_size > limits.MAX_REPORT_BYTES:
            too_big = limits.size_text(limits.MAX_REPORT_BYTES)
            raise InputError(source, f"file is larger than {too_big}; not read")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(source, "no such file") from None
    except OSError as exc:
        raise InputError(source, f"cannot read: {exc.strerror or exc}") from None


def read_report(path: Path) -> SavedReport:
    """Read a saved JSON report file: the Report, the file's SHA-256, its signature block.

    The bytes hashed are the bytes parsed. Raises InputError naming the file as
    report_from_json does, and when the file cannot be read or is not UTF-8.
    """
    source = str(path)
    raw = read_report_bytes(path)
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(source, f"not UTF-8 text (byte offset {exc.start})", line) from None
    del raw  # the text alone from here: a report is never held twice
    return _read_text(text, source, digest)


def _read_text(text: str, source: str, digest: str = "") -> SavedReport:
    if not (text.isascii() and text.lstrip(_WHITESPACE).startswith("{")):
        # Not what this tool writes (an ASCII object): the general, careful path.
        data = json_report.load(text, source)
        data, findings = _findings_of(data, source)
    else:
        data, findings = _streamed(text, source)
    report = _build(data, findings, source)
    changes = since.change_set(data.get("since_last_run"), report, source)
    return SavedReport(report, digest, data.get("signature"), changes)


def _findings_of(
    data: dict[str, Any], source: str
) -> tuple[dict[str, Any], tuple[Finding, ...]]:
    items = data["findings"]
    found = tuple(_finding(f, i, source) for i, f in enumerate(items))
    return data, found


# --- the streaming path: the top-level object member by member, findings one at a time ------


def _streamed(text: str, source: str) -> tuple[dict[str, Any], tuple[Finding, ...]]:
    """Parse the report's top-level object with the C decoder member by member, and its
    `findings` array item by item, checking and converting each finding as it is read."""
    members: dict[str, Any] = {}
    findings: list[Finding] = []
    check = json_report.finding_check()
    index = 0

    def one(value: Any) -> None:
        nonlocal index
        if not check(value):  # its shape is fixed, but for the evidence
            json_report.refuse_finding(value, index, source)
        json_report.check_depth(value.get("evidence"), source, depth=3)
        findings.append(_finding(value, index, source))
        index += 1

    def each_finding(pos: int) -> int:
        return _array_items(text, pos, source, one)

    for key in _object_members(text, source, members, {"findings": each_finding}):
        if key != "findings":
            json_report.check_depth(members[key], source, depth=1)
    if "findings" not in members:
        members["findings"] = []
    data = members
    json_report.validate(data, source)  # everything else, with the findings as []
    json_report.upgrade(data)
    return data, tuple(findings)


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _syntax(text: str, pos: int, source: str, what: str) -> InputError:
    line = text.count("\n", 0, pos) + 1
    return InputError(source, f"not valid JSON: {what}", line)


def _decode(text: str, pos: int, source: str) -> tuple[Any, int]:
    try:
        return _decoder.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise InputError(source, f"nesting deeper than {limits.MAX_REPORT_DEPTH} levels") from None
    except ValueError as exc:
        raise InputError(source, f"invalid JSON: {exc}") from None


def _object_members(
    text: str,
    source: str,
    into: dict[str, Any],
    special: Mapping[str, Callable[[int], int]],
) -> Iterator[str]:
    """The top-level object's members into `into`, yielding each key once read (the last
    of a repeated key wins, as json.loads does); a key in `special` is read by its own
    reader, which returns where its value ends (its value in `into` is then [])."""
    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        raise InputError(source, "not an auditor JSON report: at (top level): not an object")
    pos = _skip(text, pos + 1)
    if text.startswith("}", pos):
        pos += 1
    else:
        while True:
            if not text.startswith('"', pos):
                raise _syntax(text, pos, source, "expected a member name")
            key, pos = _decode(text, pos, source)
            pos = _skip(text, pos)
            if not text.startswith(":", pos):
                raise _syntax(text, pos, source, "expected ':'")
            pos = _skip(text, pos + 1)
            reader = special.get(key)
            if reader is not None:
                pos = reader(pos)
                into[key] = []
            else:
                into[key], pos = _decode(text, pos, source)
            yield key
            pos = _skip(text, pos)
            if text.startswith(",", pos):
                pos = _skip(text, pos + 1)
                continue
            if text.startswith("}", pos):
                pos += 1
                break
            raise _syntax(text, pos, source, "expected ',' or '}'")
    if _skip(text, pos) != len(text):
        raise _syntax(text, _skip(text, pos), source, "extra data after the report")


def _array_items(text: str, pos: int, source: str, each: Callable[[Any], None]) -> int:
    """Hand each item of the array at `pos` to `each`; where the array ends."""
    if not text.startswith("[", pos):
        value, _ = _decode(text, pos, source)
        kind = type(value).__name__
        raise InputError(source, f"not an auditor JSON report: at findings: {kind} is not an array")
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return pos + 1
    while True:
        value, pos = _decode(text, pos, source)
        each(value)
        del value
        pos = _skip(text, pos)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
            continue
        if text.startswith("]", pos):
            return pos + 1
        raise _syntax(text, pos, source, "expected ',' or ']'")


__all__ = [
    "UNEXPLAINED_INCOMPLETE",
    "SavedReport",
    "read_report",
    "read_report_bytes",
    "report_from_json",
]
