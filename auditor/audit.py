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
    DiscoveredInput,
    Discovery,
    Finding,
    InputKind,
    Inventory,
    Report,
    RunInfo,
    RunScope,
    Status,
    TemplateScope,
)
from auditor.policy.baseline import mark_baseline
from auditor.policy.checks import CheckKind
from auditor.policy.engine import evaluate
from auditor.policy.pack import policy_pack
from auditor.policy.rule import Rule, Target
from auditor.policy.waivers import Waiver, apply_waivers
from auditor.report.definitions import find_definitions
from auditor.sources.discovery import DiscoveryOptions
from auditor.sources.repo import collect_inputs

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class AuditResult:
    report: Report
    notes: tuple[str, ...]  # waiver notes: expired, unused
    # Tenant rules ran but no template or SQL-doc table was in tenant scope: nothing was
    # checked, which must not read as a pass (the gate exits 2 unless told it is intended).
    nothing_in_tenant_scope: bool = False


def run_gate(
    root: Path,
    rules: Sequence[Rule],
    registry: Mapping[str, CheckKind],
    clock: Clock,
    *,
    waivers: Sequence[Waiver] = (),
    baseline: Collection[str] = frozenset(),
    options: DiscoveryOptions | None = None,
    config: str | None = None,
    command: str = "gate",
    scope: RunScope | None = None,
    evaluation_time: datetime | None = None,
) -> AuditResult:
    """The pre-merge gate: a platform repo's templates and SQL docs. `options`: where the
    inputs are (default: discovery's defaults); `config`: the project config that said so,
    for the report."""
    started = clock()
    collected = collect_inputs(root, options or default_discovery(rules))
    inventory = collected.inventory
    warning = tenant_scope_warning(inventory, collected.discovered, rules)
    discovery = Discovery(
        files=collected.discovered, config=config, warnings=(warning,) if warning else ()
    )
    result = audit(
        inventory,
        rules,
        registry,
        clock,
        started=started,
        waivers=waivers,
        baseline=baseline,
        command=command,
        scope=scope or RunScope(sources=("repo",)),
        evaluation_time=evaluation_time,
        discovery=discovery,
    )
    return replace(result, nothing_in_tenant_scope=warning is not None)


def default_discovery(rules: Sequence[Rule]) -> DiscoveryOptions:
    """Discovery's defaults, with the tenant and customers paths the pack's rules judge."""
    return DiscoveryOptions(
        tenant=rule_template_paths(rules, Target.TENANT),
        customers=rule_template_paths(rules, Target.CUSTOMERS),
    )


def rule_template_paths(rules: Sequence[Rule], target: Target) -> tuple[str, ...]:
    """The template paths the rules about `target` datasets count as theirs."""
    paths = {p for r in rules if r.scope.target is target for p in r.scope.template_paths}
    return tuple(sorted(paths))


def tenant_scope_warning(
    inventory: Inventory, discovered: Sequence[DiscoveredInput], rules: Sequence[Rule]
) -> str | None:
    """Why nothing was checked for tenants, when rules about tenant templates are enabled
    but no template (and no SQL-doc table) is in their scope; None when something is."""
    tenant_rules = [r for r in rules if r.scope.target is Target.TENANT and r.scope.template_paths]
    if not tenant_rules:
        return None
    tenant_templates = any(
        d.kind is InputKind.TEMPLATE and d.scope is TemplateScope.TENANT
        for d in discovered
    )
    tenant_doc_tables = any(
        r.scope.matches_table(t) for t in inventory.sql_tables for r in tenant_rules
    )
    if tenant_templates or tenant_doc_tables:
        return None
    templates = sum(1 for d in discovered if d.kind is InputKind.TEMPLATE)
    paths = sorted({p for r in tenant_rules for p in r.scope.template_paths})
    names = ", ".join(r.id for r in tenant_rules)
    found = (
        "no template was found"
        if templates == 0
        else f"{templates} template{'s were' if templates > 1 else ' was'} found and none "
        "matches the tenant paths"
    )
    return (
        f"nothing to check: configure tenant paths. {names} judge tenant templates, but "
        f"{found} ({', '.join(paths)}), and no "
        "SQL-doc table is in a tenant dataset. Set `tenant = [...]` under [gate] in "
        "auditor.toml (or [tool.auditor.gate] in pyproject.toml), or pass --allow-empty if "
        "this repository has no tenant templates"
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
    discovery: Discovery | None = None,
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
        policy_pack=policy_pack(rules),
        discovery=discovery,
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
