"""What every reporter derives from a finished report: order, times, counts, exit code.

Pure functions of a Report. Nothing here reads the clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from auditor.model import Finding, Report, RuleInfo, Severity, Status

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INCOMPLETE = 3

# Statuses that say "this rule does not hold here" (ERROR: the check crashed, so it could not
# say that it holds; it counts against its rule's severity).
FAILING = frozenset({Status.FAIL, Status.ERROR})

SEVERITIES_DESC: tuple[Severity, ...] = tuple(
    sorted(Severity, key=lambda s: s.rank, reverse=True)
)


def _sort_key(f: Finding) -> tuple[Any, ...]:
    loc = f.location
    return (
        -f.severity.rank,
        f.rule_id,
        f.resource,
        f.column or "",
        f.principal or "",
        # Tie-breakers, so that even duplicate keys come out in one fixed order.
        f.status.value,
        loc.path if loc else "",
        loc.line if loc and loc.line is not None else 0,
        f.message,
    )


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in report order: severity (worst first), rule id, resource, column, principal."""
    return sorted(findings, key=_sort_key)


def ordered_rules(report: Report) -> list[RuleInfo]:
    """The report's rules by id, one per id (the first wins if a rule is listed twice)."""
    seen: dict[str, RuleInfo] = {}
    for rule in report.rules:
        seen.setdefault(rule.id, rule)
    return [seen[k] for k in sorted(seen)]


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with a `Z` suffix; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{text}Z"


def _zero_by_severity() -> dict[str, int]:
    return {s.value: 0 for s in SEVERITIES_DESC}


def summarize(report: Report) -> dict[str, Any]:
    """Counts for the summary block of every report format.

    - `by_status`: every status, zero included.
    - `fail_by_severity`: FAIL findings per severity, baseline ones included.
    - `fail_not_in_baseline_by_severity`: the same without findings that are `in_baseline`
      (not "new": that word means new since the last run, which only the history knows).
    """
    by_status = {s.value: 0 for s in Status}
    fail_by_severity = _zero_by_severity()
    not_in_baseline = _zero_by_severity()
    for f in report.findings:
        by_status[f.status.value] += 1
        if f.status is Status.FAIL:
            fail_by_severity[f.severity.value] += 1
            if not f.in_baseline:
                not_in_baseline[f.severity.value] += 1
    return {
        "complete": report.run.complete,
        "rules_evaluated": len(ordered_rules(report)),
        "findings": len(report.findings),
        "by_status": by_status,
        "fail_by_severity": fail_by_severity,
        "fail_not_in_baseline_by_severity": not_in_baseline,
        "coverage_gaps": len(report.run.coverage),
        "errors": len(report.run.errors),
    }


def blocking(report: Report, fail_on: Severity | None) -> list[Finding]:
    """FAIL/ERROR findings, not in the baseline, at or above `fail_on` (none when it is None)."""
    if fail_on is None:
        return []
    return [
        f
        for f in ordered(report.findings)
        if f.status in FAILING and not f.in_baseline and f.severity.rank >= fail_on.rank
    ]


def exit_code(report: Report, fail_on: Severity | None, allow_partial: bool) -> int:
    """The process exit code the report calls for.

    - 3 when the run is incomplete (coverage gaps or run errors), unless `allow_partial`;
    - else 1 when a FAIL or ERROR finding that is not `in_baseline` has a severity at or
      above `fail_on` (an ERROR is a check that crashed: it fails at its rule's severity;
      `fail_on=None` never fails on findings);
    - else 0.

    3 takes precedence over 1: an incomplete audit cannot vouch for anything, so its
    findings are not the whole story and "only findings" would understate the problem.
    """
    if not report.run.complete and not allow_partial:
        return EXIT_INCOMPLETE
    if blocking(report, fail_on):
        return EXIT_FINDINGS
    return EXIT_OK
