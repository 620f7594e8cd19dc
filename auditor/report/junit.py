"""JUnit XML, for CI test dashboards.

One <testsuite> per rule, one <testcase> per (rule, resource, column, principal). A case
takes the worst status among its findings: ERROR -> <error>, FAIL -> <failure>,
WAIVED/SKIPPED -> <skipped>, PASS -> a plain case. Coverage gaps and run errors go in a
"coverage" suite, one <error> case each, so an incomplete audit never looks green.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from auditor.io.safe_text import terminal_lines
from auditor.model import Finding, Report, RuleInfo, Severity, Status
from auditor.report.json import jsonable
from auditor.report.summary import iso_utc, ordered, ordered_rules

COVERAGE_SUITE = "coverage"

# Which status a case shows when it has several findings: the first present wins.
_PRECEDENCE: tuple[Status, ...] = (
    Status.ERROR,
    Status.FAIL,
    Status.WAIVED,
    Status.SKIPPED,
    Status.PASS,
)

# XML 1.0 cannot carry most C0 controls, surrogates or U+FFFE/U+FFFF at all (no parser
# accepts the document), and CI logs print these messages to terminals: every control
# character but newline, bidi and invisible characters too (`terminal_lines`), and the two
# non-characters are shown as \xNN / \uNNNN. The library escapes <, & and quotes.
_NONCHARACTER = re.compile("[\ufffe\uffff]")


def _xml_text(value: str) -> str:
    return _NONCHARACTER.sub(lambda m: f"\\u{ord(m.group()):04x}", terminal_lines(value))


@dataclass(frozen=True)
class _Case:
    rule_id: str
    rule_name: str
    resource: str
    column: str | None
    principal: str | None
    findings: tuple[Finding, ...]

    @property
    def name(self) -> str:
        name = self.resource
        if self.column is not None:
            name += f" [{self.column}]"
        if self.principal is not None:
            name += f" ({self.principal})"
        return name

    @property
    def status(self) -> Status:
        present = {f.status for f in self.findings}
        return next(s for s in _PRECEDENCE if s in present)


def _cases(findings: Iterable[Finding]) -> dict[str, list[_Case]]:
    """Cases per rule id, in report order (findings are already ordered)."""
    grouped: dict[tuple[str, str, str | None, str | None], list[Finding]] = {}
    for f in findings:
        grouped.setdefault((f.rule_id, f.resource, f.column, f.principal), []).append(f)
    by_rule: dict[str, list[_Case]] = {}
    for (rule_id, resource, column, principal), group in grouped.items():
        case = _Case(rule_id, group[0].rule_name, resource, column, principal, tuple(group))
        by_rule.setdefault(rule_id, []).append(case)
    return by_rule


def _details(f: Finding, rule: RuleInfo | None) -> str:
    lines = [f"status: {f.status.value}", f"severity: {f.severity.value}"]
    lines.append(f"resource: {f.resource}")
    if f.column is not None:
        lines.append(f"column: {f.column}")
    if f.principal is not None:
        lines.append(f"principal: {f.principal}")
    if f.location is not None:
        lines.append(f"location: {f.location}")
    lines.append(f"message: {f.message}")
    if f.evidence:
        lines.append("evidence: " + json.dumps(jsonable(f.evidence), sort_keys=True))
    remediation = f.remediation
    if remediation is None and rule is not None:
        remediation = rule.remediation
    if remediation:
        lines.append(f"remediation: {remediation}")
    if f.waiver is not None:
        expired = " (expired)" if f.waiver.expired else ""
        lines.append(
            f"waiver: {f.waiver.reason} (owner {f.waiver.owner}, "
            f"expires {f.waiver.expires}){expired}"
        )
    if f.in_baseline:
        lines.append("in baseline: yes")
    lines.append(f"fingerprint: {f.fingerprint}")
    return "\n".join(lines)


def _message(findings: list[Finding]) -> str:
    text = "; ".join(f.message for f in findings)
    if all(f.in_baseline for f in findings):
        text += " (in baseline)"
    return text


def _skip_message(f: Finding) -> str:
    if f.status is Status.WAIVED and f.waiver is not None:
        return f"waived: {f.waiver.reason} (owner {f.waiver.owner}, expires {f.waiver.expires})"
    return f"{f.status.value.lower()}: {f.message}"


def _severity(findings: list[Finding]) -> Severity:
    return max((f.severity for f in findings), key=lambda s: s.rank)


def _testcase(case: _Case, rule: RuleInfo | None) -> ET.Element:
    element = ET.Element(
        "testcase", {"classname": _xml_text(case.rule_id), "name": _xml_text(case.name)}
    )
    status = case.status
    shown = [f for f in case.findings if f.status is status]
    details = "\n\n".join(_details(f, rule) for f in shown)
    if status in (Status.ERROR, Status.FAIL):
        tag = "error" if status is Status.ERROR else "failure"
        child = ET.SubElement(
            element,
            tag,
            {"message": _xml_text(_message(shown)), "type": _severity(shown).value},
        )
        child.text = _xml_text(details)
    elif status in (Status.WAIVED, Status.SKIPPED):
        child = ET.SubElement(
            element, "skipped", {"message": _xml_text("; ".join(map(_skip_message, shown)))}
        )
        child.text = _xml_text(details)
    return element


def _suite(name: str, cases: list[ET.Element], timestamp: str) -> ET.Element:
    def count(tag: str) -> int:
        return sum(1 for c in cases if c.find(tag) is not None)

    suite = ET.Element(
        "testsuite",
        {
            "name": _xml_text(name),
            "tests": str(len(cases)),
            "failures": str(count("failure")),
            "errors": str(count("error")),
            "skipped": str(count("skipped")),
            "timestamp": timestamp,
        },
    )
    suite.extend(cases)
    return suite


def _coverage_cases(report: Report) -> list[ET.Element]:
    cases: list[ET.Element] = []
    entries = [(g.scope, g.reason, "coverage-gap") for g in report.run.coverage] + [
        (f"run error {i}", e, "run-error") for i, e in enumerate(report.run.errors, start=1)
    ]
    for name, message, kind in entries:
        case = ET.Element("testcase", {"classname": COVERAGE_SUITE, "name": _xml_text(name)})
        error = ET.SubElement(case, "error", {"message": _xml_text(message), "type": kind})
        error.text = _xml_text(f"{name}: {message}")
        cases.append(case)
    return cases


def to_element(report: Report) -> ET.Element:
    """The <testsuites> tree (what `render` serialises)."""
    rules: Mapping[str, RuleInfo] = {r.id: r for r in ordered_rules(report)}
    cases = _cases(ordered(report.findings))
    timestamp = iso_utc(report.run.started_at)
    suites: list[ET.Element] = []
    for rule_id in sorted(set(rules) | set(cases)):
        rule = rules.get(rule_id)
        rule_cases = cases.get(rule_id, [])
        rule_name = rule.name if rule is not None else rule_cases[0].rule_name
        elements = [_testcase(c, rule) for c in rule_cases]
        suites.append(_suite(f"{rule_id} {rule_name}", elements, timestamp))
    coverage = _coverage_cases(report)
    if coverage:
        suites.append(_suite(COVERAGE_SUITE, coverage, timestamp))

    duration = (report.run.finished_at - report.run.started_at).total_seconds()
    root = ET.Element(
        "testsuites",
        {
            "name": "auditor",
            "tests": str(sum(int(s.get("tests", "0")) for s in suites)),
            "failures": str(sum(int(s.get("failures", "0")) for s in suites)),
            "errors": str(sum(int(s.get("errors", "0")) for s in suites)),
            "skipped": str(sum(int(s.get("skipped", "0")) for s in suites)),
            "time": f"{max(duration, 0.0):.3f}",
            "timestamp": timestamp,
        },
    )
    root.extend(suites)
    return root


def render(report: Report) -> str:
    """JUnit XML, UTF-8, 2-space indent."""
    root = to_element(report)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
