"""SARIF 2.1.0, for code-scanning UIs (GitHub, GitLab, Azure DevOps).

One run. Results are the findings someone must look at: FAIL, ERROR and WAIVED (the last
as suppressed results). Coverage gaps and run errors are tool execution notifications, and
make `executionSuccessful` false.

GitHub code scanning refuses a whole file when one result lacks a physical location
("expected artifact location"), so every result has one, with `region.startLine` >= 1:

- a file finding (the gate): its file and line, relative to the scanned root;
- a live finding about a table: the template or SQL doc that defines the table, at the
  column's line when it is defined there (`Report.definitions`), relative to --templates;
- any other live finding: a path made from its resource name, stable across runs
  (`bigquery.googleapis.com/projects/P/datasets/D`), which is no file in the repository.

The resource itself stays a logical location. GitHub's other upload rules (documented in
"SARIF support for code scanning", docs.github.com, read 2025-06) are kept here too and
asserted in tests/support/github_sarif.py: non-empty `partialFingerprints` (with
`primaryLocationLineHash`, the one GitHub matches alerts by: our stable fingerprint, so an
alert survives lines moving), relative URIs, at most 20 tags per rule, descriptions of at
most 1,024 characters, at most 25,000 results per run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from auditor.model import Finding, Location, Report, RuleInfo, RunInfo, Severity, Status
from auditor.report.json import jsonable
from auditor.report.summary import iso_utc, ordered, ordered_rules
from auditor.report.views import ChangeSet

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

# GitHub code scanning's limits (a file over one is refused; see the module docstring).
MAX_RESULTS = 25_000
MAX_TAGS = 20
MAX_DESCRIPTION = 1_024
MAX_RULE_NAME = 255

COVERAGE_GAP = "coverage-gap"
RUN_ERROR = "run-error"
RESULTS_LEFT_OUT = "results-left-out"
_NOTIFICATIONS: tuple[tuple[str, str], ...] = (
    (COVERAGE_GAP, "Part of the estate could not be examined; the audit is incomplete."),
    (RUN_ERROR, "The audit hit an error; it is incomplete."),
    (
        RESULTS_LEFT_OUT,
        "More results than code scanning accepts in one run; the least severe were left out "
        "of this file (the JSON report has them all).",
    ),
)

# A path segment that would not name the same place once a URI is resolved.
_ODD_SEGMENT = frozenset({"", ".", ".."})
_SERVICE_RESOURCE = re.compile(r"^//([^/]+)/(.+)$")


def _tags(rule: RuleInfo) -> list[str]:
    controls = sorted(
        {f"{framework}:{control}" for framework, cs in rule.frameworks.items() for control in cs}
    )
    return ["security", *controls][:MAX_TAGS]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        "name": _cut(rule.name, MAX_RULE_NAME),
        "shortDescription": {"text": _cut(rule.title or rule.id, MAX_DESCRIPTION)},
        "fullDescription": {"text": _cut(rule.rationale or rule.title or rule.id, MAX_DESCRIPTION)},
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


def resource_path(resource: str) -> str:
    """A stable relative path standing for a resource that is no file: its resource name
    without the leading `//` (or the path itself, for a relative path), each segment
    percent-encoded; a name whose segments would not survive URI resolution (empty, `.`,
    `..`) becomes `resources/<hash>`."""
    service = _SERVICE_RESOURCE.match(resource)
    text = f"{service[1]}/{service[2]}" if service else resource
    if _odd(text):
        digest = hashlib.sha256(resource.encode("utf-8", "surrogatepass")).hexdigest()
        return f"resources/{digest[:32]}"
    return _file_uri(text)


def _segment(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _file_uri(path: str) -> str:
    return "/".join(_segment(s) for s in path.split("/"))


def _physical(uri: str, line: int | None, base: str | None) -> dict[str, Any]:
    artifact: dict[str, Any] = {"uri": uri}
    if base is not None:
        artifact["uriBaseId"] = base
    return {"artifactLocation": artifact, "region": {"startLine": max(line or 1, 1)}}


def _location(f: Finding, definitions: Mapping[tuple[str, str | None], Location]) -> dict[str, Any]:
    definition = definitions.get((f.resource, f.column))
    if f.location is not None and not _odd(f.location.path):
        physical = _physical(_file_uri(f.location.path), f.location.line, SRCROOT)
        at_resource = f.location.path == f.resource
    elif definition is not None and not _odd(definition.path):
        physical = _physical(_file_uri(definition.path), definition.line, SRCROOT)
        at_resource = False
    else:
        physical = _physical(resource_path(f.resource), 1, None)
        at_resource = False
    location: dict[str, Any] = {"physicalLocation": physical}
    if not at_resource:
        location["logicalLocations"] = [{"fullyQualifiedName": f.resource, "kind": "resource"}]
    return location


def _odd(path: str) -> bool:
    """A path that is not a plain relative one (absolute, a URI, or with odd segments)."""
    segments = path.split("/")
    return any(s in _ODD_SEGMENT for s in segments) or ":" in segments[0]


def _suppression(f: Finding) -> dict[str, Any]:
    suppression: dict[str, Any] = {"kind": "external", "status": "accepted"}
    if f.waiver is not None:
        suppression["justification"] = f.waiver.reason
        suppression["properties"] = {"owner": f.waiver.owner, "expires": f.waiver.expires}
    return suppression


def _baseline_state(f: Finding, since_last_run: ChangeSet | None) -> str | None:
    """Against the --baseline report; for the nightly job, against the last run (its only
    baseline): "new" since it, or "unchanged". None when neither applies (a WAIVED finding
    the history does not track)."""
    if since_last_run is None:
        return "unchanged" if f.in_baseline else "new"
    if f.fingerprint in since_last_run.persisting:
        return "unchanged"
    if f.fingerprint in since_last_run.new:
        return "new"
    return None


def _result(
    f: Finding,
    rule_index: Mapping[str, int],
    definitions: Mapping[tuple[str, str | None], Location],
    since_last_run: ChangeSet | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"ruleId": f.rule_id}
    if f.rule_id in rule_index:
        out["ruleIndex"] = rule_index[f.rule_id]
    out["level"] = LEVEL[f.severity]
    out["message"] = {"text": f.message or f"{f.rule_id} {f.status.value}: {f.resource}"}
    out["locations"] = [_location(f, definitions)]
    out["partialFingerprints"] = {
        FINGERPRINT_KEY: f.fingerprint,
        # GitHub's own key ("hash:occurrence"): ours, so an alert follows the finding.
        "primaryLocationLineHash": f"{f.fingerprint}:1",
    }
    state = _baseline_state(f, since_last_run)
    if state is not None:
        out["baselineState"] = state
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


def _invocation(run: RunInfo, left_out: int) -> dict[str, Any]:
    notifications = [
        _notification(0, f"coverage gap: {gap.scope}: {gap.reason}") for gap in run.coverage
    ] + [_notification(1, f"error: {error}") for error in run.errors]
    if left_out:
        notifications.append(
            _notification(
                2,
                f"{left_out} results left out: code scanning accepts at most {MAX_RESULTS} "
                "per run; the JSON report has them all",
            )
        )
    return {
        "executionSuccessful": run.complete,
        "commandLine": run.command,
        "startTimeUtc": iso_utc(run.started_at),
        "endTimeUtc": iso_utc(run.finished_at),
        "toolExecutionNotifications": notifications,
    }


def to_dict(report: Report, *, since_last_run: ChangeSet | None = None) -> dict[str, Any]:
    """The SARIF log as Python data (what `render` serialises).

    `since_last_run`: the nightly job's comparison with the last run; baselineState then
    says new or unchanged since it (else: against the --baseline report).
    """
    rules = ordered_rules(report)
    rule_index = {r.id: i for i, r in enumerate(rules)}
    driver: dict[str, Any] = {"name": TOOL_NAME}
    if report.run.tool_version:
        driver["version"] = report.run.tool_version
    driver["rules"] = [_rule(r) for r in rules]
    driver["notifications"] = [
        {"id": ident, "shortDescription": {"text": text}} for ident, text in _NOTIFICATIONS
    ]
    reported = [f for f in ordered(report.findings) if f.status in REPORTED]  # worst first
    results = [
        _result(f, rule_index, report.definitions, since_last_run) for f in reported[:MAX_RESULTS]
    ]
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [_invocation(report.run, len(reported) - len(results))],
                "results": results,
            }
        ],
    }


def render(report: Report, *, since_last_run: ChangeSet | None = None) -> str:
    """The SARIF log: 2-space indent, ASCII only."""
    data = to_dict(report, since_last_run=since_last_run)
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"
