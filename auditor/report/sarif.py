"""SARIF 2.1.0, for code-scanning UIs (GitHub, GitLab, Azure DevOps).

One run. Results are the findings someone must look at: FAIL, ERROR and WAIVED (the last
as suppressed results). Coverage gaps and run errors are tool execution notifications, and
make `executionSuccessful` false.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from auditor.model import Finding, Report, RuleInfo, RunInfo, Severity, Status
from auditor.report.json import jsonable
from auditor.report.summary import iso_utc, ordered, ordered_rules

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
)
TOOL_NAME = "auditor"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "auditor/v1"

REPORTED = frozenset({Status.FAIL, Status.ERROR, Status.WAIVED})

LEVEL: Mapping[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}

# GitHub code scanning reads this (0.0-10.0, CVSS-like) to rank security alerts.
SECURITY_SEVERITY: Mapping[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}

COVERAGE_GAP = "coverage-gap"
RUN_ERROR = "run-error"
_NOTIFICATIONS: tuple[tuple[str, str], ...] = (
    (COVERAGE_GAP, "Part of the estate could not be examined; the audit is incomplete."),
    (RUN_ERROR, "The audit hit an error; it is incomplete."),
)


def _tags(rule: RuleInfo) -> list[str]:
    controls = sorted(
        {f"{framework}:{control}" for framework, cs in rule.frameworks.items() for control in cs}
    )
    return ["security", *controls]


def _is_web(reference: str) -> bool:
    return reference.startswith(("https://", "http://"))


def _link(reference: str) -> str:
    """A web reference as an autolink; anything else (a doc path) as code."""
    return f"<{reference}>" if _is_web(reference) else f"`{reference}`"


def _help_markdown(rule: RuleInfo) -> str:
    parts = [f"**Remediation**\n\n{rule.remediation}"]
    if rule.references:
        parts.append("**References**\n\n" + "\n".join(f"- {_link(r)}" for r in rule.references))
    return "\n\n".join(parts)


def _rule(rule: RuleInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.remediation, "markdown": _help_markdown(rule)},
    }
    web = [r for r in rule.references if _is_web(r)]
    if web:
        out["helpUri"] = web[0]
    out["defaultConfiguration"] = {"level": LEVEL[rule.severity]}
    out["properties"] = {
        "tags": _tags(rule),
        "security-severity": SECURITY_SEVERITY[rule.severity],
    }
    return out


def _location(f: Finding) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if f.location is not None:
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": quote(f.location.path, safe="/"), "uriBaseId": SRCROOT}
        }
        if f.location.line is not None:
            physical["region"] = {"startLine": f.location.line}
        location["physicalLocation"] = physical
    if f.location is None or f.location.path != f.resource:
        location["logicalLocations"] = [{"fullyQualifiedName": f.resource}]
    return location


def _suppression(f: Finding) -> dict[str, Any]:
    suppression: dict[str, Any] = {"kind": "external", "status": "accepted"}
    if f.waiver is not None:
        suppression["justification"] = f.waiver.reason
        suppression["properties"] = {"owner": f.waiver.owner, "expires": f.waiver.expires}
    return suppression


def _result(f: Finding, rule_index: Mapping[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"ruleId": f.rule_id}
    if f.rule_id in rule_index:
        out["ruleIndex"] = rule_index[f.rule_id]
    out["level"] = LEVEL[f.severity]
    out["message"] = {"text": f.message}
    out["locations"] = [_location(f)]
    out["partialFingerprints"] = {FINGERPRINT_KEY: f.fingerprint}
    out["baselineState"] = "unchanged" if f.in_baseline else "new"
    if f.status is Status.WAIVED:
        out["suppressions"] = [_suppression(f)]
    properties: dict[str, Any] = {"status": f.status.value, "resource": f.resource}
    if f.column is not None:
        properties["column"] = f.column
    if f.principal is not None:
        properties["principal"] = f.principal
    if f.evidence:
        properties["evidence"] = jsonable(f.evidence)
    out["properties"] = properties
    return out


def _notification(index: int, text: str) -> dict[str, Any]:
    ident = _NOTIFICATIONS[index][0]
    return {
        "level": "error",
        "message": {"text": text},
        "descriptor": {"id": ident, "index": index},
    }


def _invocation(run: RunInfo) -> dict[str, Any]:
    notifications = [
        _notification(0, f"coverage gap: {gap.scope}: {gap.reason}") for gap in run.coverage
    ] + [_notification(1, f"error: {error}") for error in run.errors]
    return {
        "executionSuccessful": run.complete,
        "commandLine": run.command,
        "startTimeUtc": iso_utc(run.started_at),
        "endTimeUtc": iso_utc(run.finished_at),
        "toolExecutionNotifications": notifications,
    }


def to_dict(report: Report) -> dict[str, Any]:
    """The SARIF log as Python data (what `render` serialises)."""
    rules = ordered_rules(report)
    rule_index = {r.id: i for i, r in enumerate(rules)}
    driver: dict[str, Any] = {"name": TOOL_NAME}
    if report.run.tool_version:
        driver["version"] = report.run.tool_version
    driver["rules"] = [_rule(r) for r in rules]
    driver["notifications"] = [
        {"id": ident, "shortDescription": {"text": text}} for ident, text in _NOTIFICATIONS
    ]
    results = [
        _result(f, rule_index) for f in ordered(report.findings) if f.status in REPORTED
    ]
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [_invocation(report.run)],
                "results": results,
            }
        ],
    }


def render(report: Report) -> str:
    """The SARIF log: 2-space indent, ASCII only."""
    return json.dumps(to_dict(report), indent=2, ensure_ascii=True) + "\n"
