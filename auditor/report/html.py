"""The HTML report: one self-contained page for auditors, safe to open from file://.

- Everything is inline (CSS, SVG charts, a little JavaScript); the page asks for nothing from
  any address. A Content-Security-Policy meta allows only the exact inline style and script
  blocks (by SHA-256), `data:` images, and nothing else (no connect, frame, form or base).
- Server-side parts (summary, controls, rules, scope, waivers, run, manifest, signature) go
  through Jinja2 with autoescape, and every string is passed through `visible` first
  (control, bidi and line separator characters are shown as \\uXXXX, so a name cannot
  rewrite itself on screen).
- Findings go into a <script type="application/json"> data block (report.html_data); the
  script builds rows from it with textContent only, one page at a time, and draws access
  paths as SVG built with createElementNS, so 100,000 findings stay usable.
- An incomplete audit never looks green: its banner is red and names the coverage gaps first,
  and controls whose rules found nothing wrong are UNVERIFIED, not met.
- Evidence: the manifest lists every input with its SHA-256, the policy pack's hash and the
  results' hash; a signed page (report.signing) names its signer in its signed text, an
  unsigned one says it is unsigned.

Like every reporter it takes a finished report and returns text (`render`); `render_chunks`
gives the same text in pieces, so a large page is written without being held whole. The
clock is the run's own (waiver expiry is measured from the run's start).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from auditor.errors import UsageError
from auditor.io.resource_names import dataset_of
from auditor.io.safe_text import visible
from auditor.model import Report, Status
from auditor.report import html_data
from auditor.report import json as json_report
from auditor.report.controls import controls, natural_key, rule_views
from auditor.report.html_data import COLUMNS, STRING_COLUMNS, script_json
from auditor.report.signing import HTML_SLOT, SignerInfo
from auditor.report.summary import SEVERITIES_DESC, iso_utc, summarize
from auditor.report.views import (
    EXPIRY_WARNING_DAYS,
    TREND_RUNS,
    ChangedFinding,
    ChangeSet,
    TrendPoint,
    changes_view,
    scope,
    severity_bars,
    trend,
    utc,
    waiver_status,
    waivers,
)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
_DATA_MARK = "\x00findings-data\x00"  # where the data block goes; never in escaped output

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
    env.filters["natural"] = natural_key
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


def _verdict(report: Report, summary: Mapping[str, Any]) -> str:
    if not report.run.complete:
        return "INCOMPLETE"
    if summary["by_status"]["FAIL"] or summary["by_status"]["ERROR"]:
        return "FAILING"
    return "PASSING"


def _duration(report: Report) -> str:
    seconds = (utc(report.run.finished_at) - utc(report.run.started_at)).total_seconds()
    return f"{seconds:.1f} s"


def render_chunks(
    report: Report,
    *,
    history: Sequence[TrendPoint] = (),
    changes: ChangeSet | None = None,
    results_sha256: str | None = None,
    signed_by: SignerInfo | None = None,
) -> Iterator[str]:
    """The page in pieces (see `render`). With `signed_by`, the page names its signer and
    ends with the signature slot (report.signing.HTML_SLOT): sign_html completes it."""
    if results_sha256 is not None and not _SHA256.match(results_sha256):
        raise UsageError(f"results_sha256 must be 64 lower-case hex digits: {results_sha256!r}")
    results_given = results_sha256 is not None
    if results_sha256 is None:
        # The results as `-f json` writes them for this same run: the same bytes, the same hash.
        text = json_report.render(report)
        results_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        del text
    style, script = _asset("report.css"), _asset("report.js")
    summary = summarize(report)
    frameworks, unmapped = controls(report)
    rules = rule_views(report)
    rule_ids = sorted({*rules, *(f.rule_id for f in report.findings)})
    rule_names = {r.id: r.name for r in rules.values()}
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
        "rule_views": list(rules.values()),
        "scope": scope(report, rules),
        "rules": [(rid, rule_names[rid]) for rid in rule_ids],
        "datasets": sorted({d for f in report.findings if (d := dataset_of(f.resource))}),
        "waivers": waivers(report),
        "expiry_warning_days": EXPIRY_WARNING_DAYS,
        "results_sha256": results_sha256,
        "results_given": results_given,
        "signed_by": signed_by,
        "signature_slot": Markup(HTML_SLOT),  # noqa: S704  (our own constant)
        "csp": content_security_policy(style, script),
        "style": Markup(style),  # noqa: S704  (our own static file, checked by _asset)
        "script": Markup(script),  # noqa: S704
        "data": Markup(_DATA_MARK),  # noqa: S704  (replaced by the data block below)
    }
    data = html_data.chunks(report, changes, list(rules.values()), frameworks)
    for piece in _environment().get_template(TEMPLATE).generate(context):
        if _DATA_MARK in piece:
            before, after = piece.split(_DATA_MARK, 1)
            yield before
            yield from data
            yield after
        else:
            yield piece


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
    `results_sha256`: hex SHA-256 of the results file this page was made from; without it,
    the SHA-256 of this report's JSON rendering (what `-f json` writes for the same run).
    """
    return "".join(
        render_chunks(report, history=history, changes=changes, results_sha256=results_sha256)
    )


__all__ = [
    "COLUMNS",
    "EXPIRY_WARNING_DAYS",
    "STRING_COLUMNS",
    "TREND_RUNS",
    "ChangeSet",
    "ChangedFinding",
    "TrendPoint",
    "content_security_policy",
    "controls",
    "csp_source",
    "render",
    "render_chunks",
    "script_json",
    "trend",
    "visible",
    "waiver_status",
    "waivers",
]
