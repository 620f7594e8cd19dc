"""The pre-merge gate: a platform repo's templates and SQL docs, judged by the policy pack."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from auditor import __version__
from auditor.model import Finding, Report, RunInfo, Status
from auditor.policy.baseline import mark_baseline
from auditor.policy.checks import CheckKind
from auditor.policy.engine import evaluate
from auditor.policy.rule import Rule
from auditor.policy.waivers import Waiver, apply_waivers
from auditor.sources.repo import collect_repo
from auditor.sources.templates import DEFAULT_TEMPLATE_GLOBS

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class GateResult:
    report: Report
    notes: tuple[str, ...]  # waiver notes: expired, unused


def run_gate(
    root: Path,
    rules: Sequence[Rule],
    registry: Mapping[str, CheckKind],
    clock: Clock,
    *,
    waivers: Sequence[Waiver] = (),
    baseline: Collection[str] = frozenset(),
    template_globs: Sequence[str] = DEFAULT_TEMPLATE_GLOBS,
    command: str = "gate",
) -> GateResult:
    started = clock()
    inventory = collect_repo(root, template_globs)
    findings = evaluate(inventory, rules, registry)
    findings, notes = apply_waivers(findings, waivers, started.date())
    if baseline:
        findings = mark_baseline(findings, frozenset(baseline))
    errors = tuple(
        f"rule {f.rule_id} ({f.rule_name}) did not run: {f.message}"
        for f in findings
        if f.status is Status.ERROR
    )
    run = RunInfo(
        started_at=started,
        finished_at=clock(),
        root=str(root),
        command=command,
        coverage=inventory.gaps,
        errors=errors,
        inputs=inventory.inputs,
        tool_version=__version__,
    )
    report = Report(run=run, rules=tuple(r.info for r in rules), findings=findings)
    return GateResult(report, notes)


def failing_fingerprints(findings: Sequence[Finding]) -> frozenset[str]:
    """What a baseline remembers: every finding that was not a PASS."""
    return frozenset(
        f.fingerprint for f in findings if f.status in (Status.FAIL, Status.ERROR, Status.WAIVED)
    )
