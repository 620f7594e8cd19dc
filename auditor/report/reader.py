"""Rebuild a Report from a saved JSON report, so any saved run can be rendered again.

The text is validated against the JSON report schema first (report.json.load). Beyond the
schema, what a reader must not take on trust is checked too, because a rendered report vouches
for it: every fingerprint must be the one its finding's fields give, and the summary must be
the one its findings give. A saved report that fails either was edited or is corrupt, and is
refused with an InputError naming the file.

What the JSON does not carry cannot come back: evidence comes back as plain JSON data
(lists where the run had tuples or sets), and datetimes come back in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from auditor.errors import InputError
from auditor.model import (
    CollectionStats,
    CoverageGap,
    Finding,
    InputFile,
    Location,
    Report,
    RuleInfo,
    RunInfo,
    RunScope,
    Severity,
    Status,
    WaiverRef,
)
from auditor.report import json as json_report
from auditor.report.summary import summarize

# Said when a saved report is marked incomplete but names no gap or error, so that the
# rebuilt run stays incomplete (RunInfo.complete is derived from gaps and errors).
UNEXPLAINED_INCOMPLETE = "the saved report marks the run incomplete without naming a gap or error"


def _time(text: str) -> datetime:
    """A schema-checked `...Z` timestamp as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _run(data: Mapping[str, Any], tool_version: str) -> RunInfo:
    coverage = tuple(CoverageGap(g["scope"], g["reason"]) for g in data["coverage"])
    errors = tuple(str(e) for e in data["errors"])
    if not data["complete"] and not coverage and not errors:
        errors = (UNEXPLAINED_INCOMPLETE,)
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
        collection=_collection(data.get("collection")),
    )


def _collection(data: Mapping[str, Any] | None) -> CollectionStats | None:
    """A run that did not read the estate live has none."""
    if data is None:
        return None
    return CollectionStats(
        seconds=float(data["seconds"]),
        calls={str(k): int(v) for k, v in data["calls"].items()},
        fast_path_tables=int(data["fast_path_tables"]),
        fallbacks={str(k): int(v) for k, v in data["fallbacks"].items()},
        locations=tuple(data["locations"]),
        table_iam=str(data["table_iam"]),
        throttled=int(data["throttled"]),
        concurrency=int(data["concurrency"]),
        lowest_concurrency=int(data["lowest_concurrency"]),
        notes=tuple(data["notes"]),
    )


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
        rule_id=data["rule_id"],
        rule_name=data["rule_name"],
        status=Status(data["status"]),
        severity=Severity(data["severity"]),
        resource=data["resource"],
        message=data["message"],
        column=data.get("column"),
        principal=data.get("principal"),
        location=Location(location["path"], location.get("line")) if location else None,
        evidence=data.get("evidence", {}),
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


def report_from_json(text: str, source: str) -> Report:
    """The Report a JSON report was rendered from (as far as the JSON carries it).

    Raises InputError naming `source` when the text is not a valid JSON report, a finding's
    fingerprint does not match its fields, or the summary does not match the findings.
    """
    data = json_report.load(text, source)
    report = Report(
        run=_run(data["run"], data["tool"]["version"]),
        rules=tuple(_rule(r) for r in data["rules"]),
        findings=tuple(_finding(f, i, source) for i, f in enumerate(data["findings"])),
    )
    saved = dict(data["summary"])
    if not data["run"]["complete"]:
        # An unexplained incomplete mark becomes one run error (see UNEXPLAINED_INCOMPLETE).
        saved["errors"] = max(saved["errors"], len(report.run.errors))
    problem = _summary_mismatch(summarize(report), saved)
    if problem:
        raise InputError(source, f"{problem}; the report was edited or is corrupt")
    return report


__all__ = ["UNEXPLAINED_INCOMPLETE", "report_from_json"]
