"""One audit run: an inventory judged by the policy pack, waived, baselined, reported.

The gate collects a platform repo; the scan collects templates plus the live estate (or
replays a snapshot). Both end here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from auditor import __version__
from auditor.model import (
    CheckContext,
    Finding,
    Inventory,
    Report,
    RunInfo,
    RunScope,
    Status,
)
from auditor.policy.baseline import mark_baseline
from auditor.policy.checks import CheckKind
from auditor.policy.engine import evaluate
from auditor.policy.rule import Rule
from auditor.policy.waivers import Waiver, apply_waivers
from auditor.report.definitions import find_definitions
from auditor.sources.repo import collect_repo
from auditor.sources.templates import DEFAULT_TEMPLATE_GLOBS

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class AuditResult:
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
    scope: RunScope | None = None,
) -> AuditResult:
    """The pre-merge gate: a platform repo's templates and SQL docs."""
    started = clock()
    inventory = collect_repo(root, template_globs)
    return audit(
        inventory,
        rules,
        registry,
        clock,
        started=started,
        waivers=waivers,
        baseline=baseline,
        command=command,
        scope=scope or RunScope(sources=("repo",)),
    )


def audit(
    inventory: Inventory,
    rules: Sequence[Rule],
    registry: Mapping[str, CheckKind],
    clock: Clock,
    *,
    started: datetime | None = None,
    waivers: Sequence[Waiver] = (),
    baseline: Collection[str] = frozenset(),
    command: str = "audit",
    evaluation_time: datetime | None = None,
    scope: RunScope | None = None,
) -> AuditResult:
    """`evaluation_time` defaults to when the estate was read (a snapshot's creation time, so
    a replay is reproducible), else to the run's start. `scope` carries the run's filters and
    sources; the rules, project and datasets examined are filled in here from what ran."""
    started = started or clock()
    context = CheckContext(
        evaluation_time=_aware(evaluation_time or inventory.collected_at or started),
        scope=replace(
            scope or RunScope(),
            rules=tuple(r.id for r in rules),
            project=inventory.project,
            datasets=tuple(sorted({d.dataset_id for d in inventory.datasets})),
        ),
    )
    findings = evaluate(inventory, rules, registry, context)
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
        root=inventory.root,
        command=command,
        coverage=inventory.gaps,
        errors=errors,
        inputs=inventory.inputs,
        tool_version=__version__,
        evaluation_time=context.evaluation_time,
        scope=context.scope,
        collection=inventory.collection,
    )
    report = Report(
        run=run,
        rules=tuple(r.info for r in rules),
        findings=findings,
        definitions=find_definitions(inventory, rules, findings),
    )
    return AuditResult(report, notes)


def _aware(when: datetime) -> datetime:
    """A naive time is taken to be UTC (conditions compare against aware instants)."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def failing_fingerprints(findings: Sequence[Finding]) -> frozenset[str]:
    """What a baseline remembers: every finding that was not a PASS."""
    return frozenset(
        f.fingerprint for f in findings if f.status in (Status.FAIL, Status.ERROR, Status.WAIVED)
    )
