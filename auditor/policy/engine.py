"""Runs rules over an inventory. Pure: the run's context (evaluation time, scope) is passed in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from auditor.model import CheckContext, CheckResult, Finding, Inventory, Location, Status
from auditor.policy.checks import CheckKind
from auditor.policy.rule import Rule


def evaluate(
    inventory: Inventory,
    rules: Sequence[Rule],
    registry: Mapping[str, CheckKind],
    context: CheckContext,
) -> tuple[Finding, ...]:
    """Every rule's results as findings. A crashing check is an ERROR finding, not a crash."""
    findings: list[Finding] = []
    for rule in rules:
        findings.extend(_run_rule(inventory, rule, registry[rule.check], context))
    return tuple(findings)


def _run_rule(
    inventory: Inventory, rule: Rule, kind: CheckKind, context: CheckContext
) -> list[Finding]:
    try:
        results = list(kind.function(inventory, rule, context))
    except Exception as exc:  # one broken check must not hide the others
        source = rule.source or Location("policies")
        return [
            Finding(
                rule_id=rule.id,
                rule_name=rule.name,
                status=Status.ERROR,
                severity=rule.severity,
                resource=source.path,
                message=f"check '{kind.name}' failed: {type(exc).__name__}: {exc}",
                remediation=rule.remediation,
            )
        ]
    return [_finding(rule, result) for result in results]


def _finding(rule: Rule, result: CheckResult) -> Finding:
    return Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        status=result.status,
        severity=rule.severity,
        resource=result.resource,
        message=result.message,
        column=result.column,
        principal=result.principal,
        location=result.location,
        evidence=dict(result.evidence),
        remediation=rule.remediation if result.status is not Status.PASS else None,
    )
