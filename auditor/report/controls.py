"""Framework controls judged from a report: each rule's status, each control's state, each
framework's counts ("SOC 2: 7 of 9 controls met, 1 failing, 1 unverified").

A control takes its state from the rules mapped to it:
- failing: a rule behind it has a FAIL, or a WAIVED finding (an accepted exception is
  still a control not met; the page says which were waived);
- unverified: nothing failed, but a rule could not run (ERROR), or the run was incomplete
  (coverage gaps: what was not examined may fail);
- met: its rules passed and the run examined everything;
- not in scope: no rule behind it had anything to examine in this run's inputs (e.g. the
  live-estate rules in a gate run over templates), or none of them ran (--only).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from auditor.model import Report, RuleInfo, Status
from auditor.report.summary import ordered_rules

FRAMEWORK_NAMES: Mapping[str, str] = {
    "soc2": "SOC 2",
    "iso27001_2022": "ISO/IEC 27001:2022",
    "cis_gcp": "CIS Google Cloud Platform Foundation Benchmark",
}


_NATURAL = re.compile(r"(\d+)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class RuleState(StrEnum):
    FAIL = "FAIL"
    ERROR = "ERROR"
    WAIVED = "WAIVED"
    UNVERIFIED = "UNVERIFIED"  # passed, but the run was incomplete
    PASS = "PASS"  # noqa: S105  (a status, not a password)
    SKIPPED = "SKIPPED"
    NO_RESULTS = "NO RESULTS"  # ran, found nothing of its kind to examine
    NOT_RUN = "NOT RUN"  # outside the run's rule selection


class ControlState(StrEnum):
    FAILING = "failing"
    UNVERIFIED = "unverified"
    MET = "met"
    NOT_IN_SCOPE = "not in scope"


@dataclass(frozen=True)
class RuleView:
    id: str
    name: str
    title: str
    severity: str
    state: RuleState
    counts: Mapping[str, int]
    rationale: str
    remediation: str
    references: tuple[str, ...]

    @property
    def status(self) -> str:
        return self.state.value

    @property
    def counts_text(self) -> str:
        parts = [f"{self.counts[s.value]} {s.value}" for s in Status if self.counts.get(s.value)]
        return ", ".join(parts) if parts else "no results"

    @property
    def references_shown(self) -> tuple[str, ...]:
        """References without their scheme: the page shows addresses, never links, and
        holds no URL a browser could fetch."""
        return tuple(_SCHEME.sub("", r) for r in self.references)

    @property
    def has_results(self) -> bool:
        return bool(self.counts)


@dataclass(frozen=True)
class ControlView:
    control: str
    state: ControlState
    rules: tuple[RuleView, ...]

    @property
    def status(self) -> str:
        return self.state.value

    @property
    def waived_only(self) -> bool:
        """Failing only through waived findings (an accepted exception)."""
        return self.state is ControlState.FAILING and not any(
            r.state is RuleState.FAIL for r in self.rules
        )


@dataclass(frozen=True)
class FrameworkView:
    key: str
    name: str
    controls: tuple[ControlView, ...]

    def count(self, state: ControlState) -> int:
        return sum(1 for c in self.controls if c.state == state)

    @property
    def counts(self) -> Mapping[str, int]:
        return {s.value: self.count(s) for s in ControlState}

    @property
    def sentence(self) -> str:
        """"SOC 2: 7 of 9 controls met, 1 failing, 1 unverified, 0 not in scope"."""
        rest = ", ".join(
            f"{self.count(s)} {s.value}" for s in ControlState if s is not ControlState.MET
        )
        return (
            f"{self.name}: {self.count(ControlState.MET)} of {len(self.controls)} controls "
            f"met, {rest}"
        )


def rule_state(counts: Mapping[str, int], complete: bool, ran: bool) -> RuleState:
    if not ran:
        return RuleState.NOT_RUN
    for status in (Status.FAIL, Status.ERROR, Status.WAIVED):
        if counts.get(status.value):
            return RuleState(status.value)
    if counts.get(Status.PASS.value):
        return RuleState.PASS if complete else RuleState.UNVERIFIED
    if counts.get(Status.SKIPPED.value):
        return RuleState.SKIPPED
    return RuleState.NO_RESULTS


def control_state(rules: Iterable[RuleView]) -> ControlState:
    states = {r.state for r in rules}
    if states & {RuleState.FAIL, RuleState.WAIVED}:
        return ControlState.FAILING
    if states & {RuleState.ERROR, RuleState.UNVERIFIED}:
        return ControlState.UNVERIFIED
    if RuleState.PASS in states:
        return ControlState.MET
    return ControlState.NOT_IN_SCOPE


def rule_views(report: Report) -> dict[str, RuleView]:
    """Every rule of the report, in report order, with its findings counted."""
    counts: dict[str, Counter[str]] = {}
    for f in report.findings:
        counts.setdefault(f.rule_id, Counter())[f.status.value] += 1
    selected = set(report.run.scope.rules)
    return {
        r.id: RuleView(
            id=r.id,
            name=r.name,
            title=r.title,
            severity=r.severity.value,
            state=rule_state(
                counts.get(r.id, Counter()),
                report.run.complete,
                ran=not selected or r.id in selected,
            ),
            counts=dict(counts.get(r.id, Counter())),
            rationale=r.rationale,
            remediation=r.remediation,
            references=r.references,
        )
        for r in ordered_rules(report)
    }


def natural_key(text: str) -> tuple[object, ...]:
    """CC6.2 before CC6.10, A.5.9 before A.5.15."""
    return tuple(int(p) if p.isdigit() else p for p in _NATURAL.split(text))


def _framework_order(key: str) -> tuple[int, str]:
    known = list(FRAMEWORK_NAMES)
    return (known.index(key) if key in known else len(known), key)


def controls(report: Report) -> tuple[tuple[FrameworkView, ...], tuple[RuleView, ...]]:
    """Each framework's controls with their rules and state; and the unmapped rules."""
    views = rule_views(report)
    mapping: dict[str, dict[str, list[RuleInfo]]] = {}
    unmapped: list[RuleView] = []
    for rule in ordered_rules(report):
        if not any(rule.frameworks.values()):
            unmapped.append(views[rule.id])
        for framework, ids in rule.frameworks.items():
            for control in ids:
                mapping.setdefault(framework, {}).setdefault(control, []).append(rule)
    frameworks = tuple(
        FrameworkView(
            key=framework,
            name=FRAMEWORK_NAMES.get(framework, framework),
            controls=tuple(
                ControlView(
                    control=control,
                    state=control_state(views[r.id] for r in rules),
                    rules=tuple(views[r.id] for r in rules),
                )
                for control, rules in sorted(
                    mapping[framework].items(), key=lambda kv: natural_key(kv[0])
                )
            ),
        )
        for framework in sorted(mapping, key=_framework_order)
    )
    return frameworks, tuple(unmapped)


__all__ = [
    "FRAMEWORK_NAMES",
    "ControlState",
    "ControlView",
    "FrameworkView",
    "RuleState",
    "RuleView",
    "control_state",
    "controls",
    "natural_key",
    "rule_state",
    "rule_views",
]
