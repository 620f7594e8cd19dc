"""Plain data the HTML page lays out: waivers, the trend chart, what changed since the last
run, the run's scope. Pure functions of a report (and of history passed in)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from auditor.model import Finding, Report, Severity, Status, WaiverRef
from auditor.report.controls import RuleView
from auditor.report.summary import SEVERITIES_DESC, iso_utc, ordered, summarize

EXPIRY_WARNING_DAYS = 14
TREND_RUNS = 30
SAMPLE = 20  # new / resolved findings listed by name in the summary
DATASETS_SHOWN = 200  # datasets named in the scope section (all are counted)



def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class TrendPoint:
    """One past run, for the trend chart."""

    run_at: datetime
    fail_by_severity: Mapping[str, int]
    complete: bool
    narrowed: bool = False  # --only or --dataset: its counts are not the whole estate's


@dataclass(frozen=True)
class ChangedFinding:
    """What the history remembers of a finding that is gone: enough to name it."""

    rule_id: str
    rule_name: str
    severity: Severity
    status: Status
    resource: str
    column: str | None = None
    principal: str | None = None


@dataclass(frozen=True)
class PreviousRun:
    """The run recorded just before this one, as the JSON's `since_last_run.previous_run`."""

    id: str
    started_at: datetime
    complete: bool
    narrowed: bool


@dataclass(frozen=True)
class ChangeSet:
    """Fingerprints new since the last run, resolved, persisting, and not examined (failing
    before, outside this run's scope); `details` names resolved findings (from the history's
    stored rows) by fingerprint; `previous` and `compared` say which runs it compares with."""

    new: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    persisting: tuple[str, ...] = ()
    not_examined: tuple[str, ...] = ()
    # Not part of equality (two change sets are equal when their fingerprints are):
    details: Mapping[str, ChangedFinding] = field(default_factory=dict, compare=False)
    previous: PreviousRun | None = field(default=None, compare=False)
    compared: tuple[str, ...] = field(default=(), compare=False)  # earlier runs, newest first


@dataclass(frozen=True)
class WaiverView:
    owner: str
    reason: str
    expires: str
    status: str  # EXPIRED, EXPIRING, ACTIVE
    days_left: int | None
    findings: int
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Bar:
    severity: str
    count: int
    y: float
    width: float


@dataclass(frozen=True)
class TrendColumn:
    label: str
    tooltip: str
    x: float
    width: float
    complete: bool
    segments: tuple[tuple[str, float, float], ...]  # severity, y, height


@dataclass(frozen=True)
class Trend:
    columns: tuple[TrendColumn, ...]
    maximum: int
    width: int
    height: int
    top: int
    bottom: int
    left: int


@dataclass(frozen=True)
class ResolvedItem:
    fingerprint: str
    finding: ChangedFinding | None  # None when the history did not keep its row


@dataclass(frozen=True)
class ChangesView:
    new: int
    resolved: int
    persisting: int
    not_examined: int
    new_findings: tuple[Finding, ...]
    resolved_sample: tuple[ResolvedItem, ...]
    previous_id: str | None
    previous_started: str | None
    previous_partial: str  # "" or why the previous run does not speak for everything
    earlier_runs: int  # runs read beyond the previous one (for what it did not examine)


@dataclass(frozen=True)
class ScopeView:
    project: str | None
    datasets: tuple[str, ...]  # the first DATASETS_SHOWN
    dataset_count: int
    dataset_filter: tuple[str, ...]
    configured_datasets: tuple[str, ...]  # the standing scope (a config's dataset list)
    narrowed_datasets: bool  # the filter leaves out part of the standing scope
    rules: tuple[str, ...]
    rule_filter: tuple[str, ...]
    with_results: tuple[str, ...]
    without_results: tuple[str, ...]
    sources: tuple[str, ...]
    evaluation_time: str | None
    tool_version: str
    pack_origin: str | None
    pack_sha256: str | None
    pack_files: int


def scope(report: Report, rules: Mapping[str, RuleView]) -> ScopeView:
    s = report.run.scope
    ran = s.rules or tuple(rules)
    pack = report.run.policy_pack
    return ScopeView(
        project=s.project,
        datasets=s.datasets[:DATASETS_SHOWN],
        dataset_count=len(s.datasets),
        dataset_filter=s.dataset_filter,
        configured_datasets=s.configured_datasets,
        narrowed_datasets=s.narrowed_datasets,
        rules=tuple(ran),
        rule_filter=s.rule_filter,
        with_results=tuple(r for r in ran if r in rules and rules[r].has_results),
        without_results=tuple(r for r in ran if not (r in rules and rules[r].has_results)),
        sources=s.sources,
        evaluation_time=(
            iso_utc(report.run.evaluation_time) if report.run.evaluation_time else None
        ),
        tool_version=report.run.tool_version,
        pack_origin=pack.origin if pack else None,
        pack_sha256=pack.sha256 if pack else None,
        pack_files=len(pack.files) if pack else 0,
    )


_WORST_FIRST = ("EXPIRED", "EXPIRING", "ACTIVE")


def _days_left(waiver: WaiverRef, run_day: date) -> int | None:
    try:
        return (date.fromisoformat(waiver.expires) - run_day).days
    except ValueError:
        return None


def waiver_status(waiver: WaiverRef, run_day: date) -> str:
    """EXPIRED, EXPIRING (within EXPIRY_WARNING_DAYS of the run, or unreadable) or ACTIVE."""
    days = _days_left(waiver, run_day)
    if waiver.expired or (days is not None and days < 0):
        return "EXPIRED"
    if days is None or days <= EXPIRY_WARNING_DAYS:
        return "EXPIRING"  # an unreadable expiry date is flagged too
    return "ACTIVE"


def waivers(report: Report) -> tuple[WaiverView, ...]:
    """Waivers met in this run, one row per (owner, reason, expiry), most urgent first."""
    run_day = utc(report.run.started_at).date()
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in report.findings:
        if f.waiver is not None:
            key = (f.waiver.owner, f.waiver.reason, f.waiver.expires)
            groups.setdefault(key, []).append(f)
    out = []
    for (owner, reason, expires), found in groups.items():
        refs = [f.waiver for f in found if f.waiver is not None]
        status = _worst_waiver(waiver_status(w, run_day) for w in refs)
        out.append(
            WaiverView(
                owner=owner,
                reason=reason,
                expires=expires,
                status=status,
                days_left=_days_left(refs[0], run_day),
                findings=len(found),
                rules=tuple(sorted({f.rule_id for f in found})),
            )
        )
    return tuple(
        sorted(out, key=lambda w: (_WORST_FIRST.index(w.status), w.expires, w.owner, w.reason))
    )


def _worst_waiver(statuses: Iterable[str]) -> str:
    return min(statuses, key=_WORST_FIRST.index)


def severity_bars(fail_by_severity: Mapping[str, int], width: float = 300) -> tuple[Bar, ...]:
    top = max([*fail_by_severity.values(), 1])
    return tuple(
        Bar(
            severity=s.value,
            count=fail_by_severity.get(s.value, 0),
            y=i * 26.0,
            width=round(width * fail_by_severity.get(s.value, 0) / top, 1),
        )
        for i, s in enumerate(SEVERITIES_DESC)
    )


def _labels(points: Sequence[TrendPoint]) -> list[str]:
    """The date of each run; with the time too when another run of the chart shares it."""
    whens = [iso_utc(p.run_at) for p in points]
    days = [w[:10] for w in whens]
    return [
        w[5:10] if days.count(d) == 1 else f"{w[5:10]} {w[11:16]}"
        for w, d in zip(whens, days, strict=True)
    ]


def trend(report: Report, history: Sequence[TrendPoint]) -> Trend | None:
    """Stacked FAIL counts per severity for the last TREND_RUNS runs, this one included."""
    if not history:
        return None
    current = TrendPoint(
        run_at=report.run.started_at,
        fail_by_severity=summarize(report)["fail_by_severity"],
        complete=report.run.complete,
        narrowed=report.run.scope.narrowed,
    )
    points = sorted(history, key=lambda p: utc(p.run_at))
    if not any(utc(p.run_at) == utc(current.run_at) for p in points):
        points.append(current)
    points = points[-TREND_RUNS:]
    labels = _labels(points)
    width, height, top, bottom, left, right = 640, 200, 12, 34, 40, 8
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(p.fail_by_severity.get(s.value, 0) for s in SEVERITIES_DESC) for p in points]
    maximum = max([*totals, 1])
    slot = plot_w / len(points)
    bar_w = round(min(28.0, slot * 0.7), 1)
    # A label with a time is wider: fewer of them fit.
    every = math.ceil(len(points) / (5 if any(" " in label for label in labels) else 8))
    columns = []
    for i, point in enumerate(points):
        x = round(left + i * slot + (slot - bar_w) / 2, 1)
        base = float(top + plot_h)
        segments = []
        for s in SEVERITIES_DESC:  # critical at the foot of the stack, info at its top
            count = point.fail_by_severity.get(s.value, 0)
            if count:
                h = round(plot_h * count / maximum, 1)
                base = round(base - h, 1)
                segments.append((s.value, base, h))
        counts = ", ".join(
            f"{point.fail_by_severity.get(s.value, 0)} {s.value}" for s in SEVERITIES_DESC
        )
        when = iso_utc(point.run_at)
        columns.append(
            TrendColumn(
                # Labels under every few runs, counted back from this one, so none overlap.
                label=labels[i] if (len(points) - 1 - i) % every == 0 else "",
                tooltip=f"{when}: {counts}"
                + ("" if point.complete else " (INCOMPLETE run)")
                + (" (narrowed run: not the whole estate)" if point.narrowed else ""),
                x=x,
                width=bar_w,
                complete=point.complete and not point.narrowed,  # partial runs are marked
                segments=tuple(segments),
            )
        )
    return Trend(tuple(columns), maximum, width, height, top, bottom, left)


def changes_view(report: Report, changes: ChangeSet | None) -> ChangesView | None:
    if changes is None:
        return None
    new = set(changes.new)
    found = [f for f in ordered(report.findings) if f.fingerprint in new]
    previous = changes.previous
    partial = []
    if previous is not None and previous.narrowed:
        partial.append("narrowed")
    if previous is not None and not previous.complete:
        partial.append("incomplete")
    return ChangesView(
        new=len(changes.new),
        resolved=len(changes.resolved),
        persisting=len(changes.persisting),
        not_examined=len(changes.not_examined),
        new_findings=tuple(found[:SAMPLE]),
        resolved_sample=tuple(
            ResolvedItem(fp, changes.details.get(fp)) for fp in sorted(changes.resolved)[:SAMPLE]
        ),
        previous_id=previous.id if previous else None,
        previous_started=iso_utc(previous.started_at) if previous else None,
        previous_partial=" and ".join(partial),
        earlier_runs=max(len(changes.compared) - 1, 0),
    )


__all__ = [
    "EXPIRY_WARNING_DAYS",
    "TREND_RUNS",
    "ChangeSet",
    "ChangedFinding",
    "PreviousRun",
    "ScopeView",
    "TrendPoint",
    "changes_view",
    "scope",
    "severity_bars",
    "trend",
    "waiver_status",
    "waivers",
]
