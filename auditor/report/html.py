"""The HTML report: one self-contained page for auditors, safe to open from file://.

- Everything is inline (CSS, SVG charts, a little JavaScript); the page asks for nothing from
  any address. A Content-Security-Policy meta allows only the exact inline style and script
  blocks (by SHA-256), `data:` images, and nothing else (no connect, frame, form or base).
- Server-side parts (summary, controls, waivers, run, manifest) go through Jinja2 with
  autoescape, and every string is passed through `visible` first (control, bidi and line
  separator characters are shown as \\uXXXX, so a name cannot rewrite itself on screen).
- Findings go into a <script type="application/json"> data block (ASCII only, `<`, `>` and
  `&` escaped as \\u003c, \\u003e, \\u0026); the script builds rows from it with textContent
  only, one page at a time, so 100,000 findings stay usable.
- An incomplete audit never looks green: its banner is red and names the coverage gaps first,
  and controls whose rules found nothing wrong are UNVERIFIED, not PASS.

Like every reporter it takes a finished report and returns text; the clock is the run's own
(waiver expiry is measured from the run's start), so the same input gives the same page.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from auditor.errors import UsageError
from auditor.model import Finding, Report, RuleInfo, Status, WaiverRef
from auditor.report.json import jsonable
from auditor.report.summary import SEVERITIES_DESC, iso_utc, ordered, ordered_rules, summarize

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
EXPIRY_WARNING_DAYS = 14
TREND_RUNS = 30
PRINT_LIMIT = 5000  # rows the page expands for printing (the rest: narrow the filters)
SAMPLE = 20  # new / resolved findings listed by name in the summary

FRAMEWORK_NAMES: Mapping[str, str] = {
    "soc2": "SOC 2",
    "iso27001_2022": "ISO/IEC 27001:2022",
    "cis_gcp": "CIS Google Cloud Platform Foundation Benchmark",
}

# The findings data block: one array per finding, in this column order. String columns hold
# an index into the block's string table (0 is the empty string); `waiver` an index into its
# waiver table or -1; `baseline` 0 or 1; `evidence` an object or null.
STRING_COLUMNS = (
    "severity", "status", "rule_id", "rule_name", "resource", "dataset", "column",
    "principal", "message", "remediation", "location", "fingerprint", "change",
)  # fmt: skip
COLUMNS = (*STRING_COLUMNS, "waiver", "baseline", "evidence")

# Lone surrogates (a YAML or JSON escape can make one) too: the page could not be written.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\u2028\u2029"
    "\ud800-\udfff\ufeff]"
)
_BQ_DATASET = re.compile(r"^//bigquery\.googleapis\.com/projects/([^/]+)/datasets/([^/]+)")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NATURAL = re.compile(r"(\d+)")


@dataclass(frozen=True)
class TrendPoint:
    """One past run, for the trend chart."""

    run_at: datetime
    fail_by_severity: Mapping[str, int]
    complete: bool
    narrowed: bool = False  # --only or --dataset: its counts are not the whole estate's


@dataclass(frozen=True)
class ChangeSet:
    """Fingerprints that appeared, disappeared or stayed since the previous run."""

    new: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    persisting: tuple[str, ...] = ()


def visible(value: str) -> str:
    """The string with control, bidi, zero-width and line-separator characters as \\uXXXX."""
    return _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def _finalize(value: Any) -> Any:
    """Every `{{ }}` output: our own Markup (CSS, JS) as is, strings made visible."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return visible(value)
    if value is None:
        raise ValueError("the HTML template printed None; guard optional values")
    return value


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["natural"] = _natural_key
    return env


@lru_cache(maxsize=4)
def _asset(name: str) -> str:
    """A static inline block (CSS or JS). It must not be able to close its own element."""
    text = (TEMPLATES_DIR / name).read_text(encoding="utf-8")
    if "</" in text or "<!--" in text:
        raise ValueError(f"{name} must not contain '</' or '<!--' (it is inlined in the page)")
    return text


def csp_source(block: str) -> str:
    """The CSP hash source ('sha256-...') of the exact text of an inline block."""
    digest = hashlib.sha256(block.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(style: str, script: str) -> str:
    """Nothing but the page's own two inline blocks and data: images; no fetch of any kind."""
    return "; ".join(
        (
            "default-src 'none'",
            f"style-src {csp_source(style)}",
            f"script-src {csp_source(script)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


def _natural_key(text: str) -> tuple[Any, ...]:
    """CC6.2 before CC6.10, A.5.9 before A.5.15."""
    return tuple(int(p) if p.isdigit() else p for p in _NATURAL.split(text))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def dataset_of(resource: str) -> str:
    """`project.dataset` of a BigQuery resource name; "" for anything else (files)."""
    m = _BQ_DATASET.match(resource)
    return f"{m.group(1)}.{m.group(2)}" if m else ""


# --- views: plain data the template lays out -------------------------------------------------


@dataclass(frozen=True)
class RuleView:
    id: str
    name: str
    title: str
    severity: str
    status: str
    counts: Mapping[str, int]

    @property
    def counts_text(self) -> str:
        parts = [f"{self.counts[s.value]} {s.value}" for s in Status if self.counts.get(s.value)]
        return ", ".join(parts) if parts else "no results"


@dataclass(frozen=True)
class ControlView:
    control: str
    status: str
    rules: tuple[RuleView, ...]


@dataclass(frozen=True)
class FrameworkView:
    key: str
    name: str
    controls: tuple[ControlView, ...]


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
class ChangesView:
    new: int
    resolved: int
    persisting: int
    new_findings: tuple[Finding, ...]
    resolved_sample: tuple[str, ...]


# Worst first: a control takes the worst status of its rules.
_STATUS_ORDER = ("FAIL", "ERROR", "WAIVED", "UNVERIFIED", "NO RESULTS", "SKIPPED", "PASS")


def _rule_status(counts: Mapping[str, int], complete: bool) -> str:
    for status in ("FAIL", "ERROR", "WAIVED"):
        if counts.get(status):
            return status
    if counts.get("PASS"):
        return "PASS" if complete else "UNVERIFIED"
    if counts.get("SKIPPED"):
        return "SKIPPED"
    return "NO RESULTS"


def _worst(statuses: Iterable[str]) -> str:
    return min(statuses, key=_STATUS_ORDER.index, default="NO RESULTS")


def _rule_views(report: Report) -> dict[str, RuleView]:
    counts: dict[str, Counter[str]] = {}
    for f in report.findings:
        counts.setdefault(f.rule_id, Counter())[f.status.value] += 1
    return {
        r.id: RuleView(
            id=r.id,
            name=r.name,
            title=r.title,
            severity=r.severity.value,
            status=_rule_status(counts.get(r.id, Counter()), report.run.complete),
            counts=dict(counts.get(r.id, Counter())),
        )
        for r in ordered_rules(report)
    }


def _framework_order(key: str) -> tuple[int, str]:
    known = list(FRAMEWORK_NAMES)
    return (known.index(key) if key in known else len(known), key)


def controls(report: Report) -> tuple[tuple[FrameworkView, ...], tuple[RuleView, ...]]:
    """Each framework's controls with their rules and status; and the unmapped rules."""
    views = _rule_views(report)
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
                    status=_worst(views[r.id].status for r in rules),
                    rules=tuple(views[r.id] for r in rules),
                )
                for control, rules in sorted(
                    mapping[framework].items(), key=lambda kv: _natural_key(kv[0])
                )
            ),
        )
        for framework in sorted(mapping, key=_framework_order)
    )
    return frameworks, tuple(unmapped)


_WAIVER_ORDER = ("EXPIRED", "EXPIRING", "ACTIVE")  # most urgent first


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
    run_day = _utc(report.run.started_at).date()
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
        sorted(out, key=lambda w: (_WAIVER_ORDER.index(w.status), w.expires, w.owner, w.reason))
    )


def _worst_waiver(statuses: Iterable[str]) -> str:
    return min(statuses, key=_WAIVER_ORDER.index)


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
    points = sorted(history, key=lambda p: _utc(p.run_at))
    if not any(_utc(p.run_at) == _utc(current.run_at) for p in points):
        points.append(current)
    points = points[-TREND_RUNS:]
    width, height, top, bottom, left, right = 640, 200, 12, 34, 40, 8
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(p.fail_by_severity.get(s.value, 0) for s in SEVERITIES_DESC) for p in points]
    maximum = max([*totals, 1])
    slot = plot_w / len(points)
    bar_w = round(min(28.0, slot * 0.7), 1)
    every = math.ceil(len(points) / 8)
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
                # Dates under every few runs, counted back from this one, so none overlap.
                label=when[5:10] if (len(points) - 1 - i) % every == 0 else "",
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
    return ChangesView(
        new=len(changes.new),
        resolved=len(changes.resolved),
        persisting=len(changes.persisting),
        new_findings=tuple(found[:SAMPLE]),
        resolved_sample=tuple(sorted(changes.resolved)[:SAMPLE]),
    )


# --- the findings data block ------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """JSON.parse rejects NaN and Infinity: write them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def script_json(payload: Any) -> str:
    """JSON safe inside a <script> element: ASCII only, and no `<`, `>` or `&` at all."""
    try:
        text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(payload), ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def findings_payload(report: Report, changes: ChangeSet | None) -> dict[str, Any]:
    """The findings in report order, as the page's script reads them (see COLUMNS)."""
    run_day = _utc(report.run.started_at).date()
    strings: list[str] = [""]
    index: dict[str, int] = {"": 0}
    waiver_rows: list[list[Any]] = []
    waiver_index: dict[WaiverRef, int] = {}
    change: dict[str, str] = {}
    if changes is not None:
        change.update((fp, "persisting") for fp in changes.persisting)
        change.update((fp, "new") for fp in changes.new)

    def intern(text: str | None) -> int:
        if not text:
            return 0
        i = index.get(text)
        if i is None:
            i = index[text] = len(strings)
            strings.append(text)
        return i

    rows: list[list[Any]] = []
    for f in ordered(report.findings):
        fp = f.fingerprint
        w = -1
        if f.waiver is not None:
            w = waiver_index.get(f.waiver, -1)
            if w < 0:
                w = waiver_index[f.waiver] = len(waiver_rows)
                status = waiver_status(f.waiver, run_day)
                waiver_rows.append(
                    [f.waiver.reason, f.waiver.owner, f.waiver.expires,
                     status == "EXPIRED", status == "EXPIRING"]
                )  # fmt: skip
        rows.append(
            [
                intern(f.severity.value),
                intern(f.status.value),
                intern(f.rule_id),
                intern(f.rule_name),
                intern(f.resource),
                intern(dataset_of(f.resource)),
                intern(f.column),
                intern(f.principal),
                intern(f.message),
                intern(f.remediation),
                intern(str(f.location) if f.location is not None else None),
                intern(fp),
                intern(change.get(fp)),
                w,
                1 if f.in_baseline else 0,
                jsonable(f.evidence) if f.evidence else None,
            ]
        )
    return {
        "columns": list(COLUMNS),
        "strings": strings,
        "waivers": waiver_rows,
        "rows": rows,
        "print_limit": PRINT_LIMIT,
        "expiry_warning_days": EXPIRY_WARNING_DAYS,
    }


# --- the page ---------------------------------------------------------------------------------


def _verdict(report: Report, summary: Mapping[str, Any]) -> str:
    if not report.run.complete:
        return "INCOMPLETE"
    if summary["by_status"]["FAIL"] or summary["by_status"]["ERROR"]:
        return "FAILING"
    return "PASSING"


def _duration(report: Report) -> str:
    seconds = (_utc(report.run.finished_at) - _utc(report.run.started_at)).total_seconds()
    return f"{seconds:.1f} s"


def render(
    report: Report,
    *,
    history: Sequence[TrendPoint] = (),
    changes: ChangeSet | None = None,
    results_sha256: str | None = None,
) -> str:
    """The HTML report as one self-contained page.

    `history`: earlier runs for the trend chart (the last TREND_RUNS, this run added).
    `changes`: what changed since the previous run, by fingerprint.
    `results_sha256`: hex SHA-256 of the results file this page was made from, if any.
    """
    if results_sha256 is not None and not _SHA256.match(results_sha256):
        raise UsageError(f"results_sha256 must be 64 lower-case hex digits: {results_sha256!r}")
    style, script = _asset("report.css"), _asset("report.js")
    summary = summarize(report)
    frameworks, unmapped = controls(report)
    rule_ids = sorted({r.id for r in report.rules} | {f.rule_id for f in report.findings})
    rule_names = {r.id: r.name for r in ordered_rules(report)}
    for f in report.findings:
        rule_names.setdefault(f.rule_id, f.rule_name)
    context = {
        "report": report,
        "run": report.run,
        "started": iso_utc(report.run.started_at),
        "finished": iso_utc(report.run.finished_at),
        "duration": _duration(report),
        "summary": summary,
        "verdict": _verdict(report, summary),
        "severities": [s.value for s in SEVERITIES_DESC],
        "statuses": [s.value for s in Status],
        "default_statuses": {"FAIL", "ERROR", "WAIVED"},
        "bars": severity_bars(summary["fail_by_severity"]),
        "trend": trend(report, history),
        "changes": changes_view(report, changes),
        "frameworks": frameworks,
        "unmapped": unmapped,
        "rules": [(rid, rule_names[rid]) for rid in rule_ids],
        "datasets": sorted({d for f in report.findings if (d := dataset_of(f.resource))}),
        "waivers": waivers(report),
        "expiry_warning_days": EXPIRY_WARNING_DAYS,
        "results_sha256": results_sha256,
        "csp": content_security_policy(style, script),
        "style": Markup(style),  # noqa: S704  (our own static file, checked by _asset)
        "script": Markup(script),  # noqa: S704
        "data": Markup(script_json(findings_payload(report, changes))),  # noqa: S704
    }
    return _environment().get_template(TEMPLATE).render(context)


__all__ = [
    "COLUMNS",
    "EXPIRY_WARNING_DAYS",
    "TREND_RUNS",
    "ChangeSet",
    "TrendPoint",
    "content_security_policy",
    "csp_source",
    "render",
    "script_json",
    "visible",
]
