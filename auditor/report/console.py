"""The human-readable terminal report (rich).

Header (incomplete runs say so first, with their gaps), one short block per finding someone
must act on (FAIL, ERROR; WAIVED dimmed), then a one-line summary.

Every input-derived string (names, paths, messages) is hostile until proven otherwise:
control, bidi and invisible characters are shown as escapes (`\\x1b`, `\\u202e`, see
`safe_text`), newlines included, so a name cannot forge a line of the report; values reach
rich only as `Text` objects, which rich never parses for markup, so `[bold]` in a table name
prints as `[bold]`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping

from rich.console import Console
from rich.text import Text

from auditor.io.safe_text import terminal_text
from auditor.model import Finding, Report, Severity, Status
from auditor.report.summary import SEVERITIES_DESC, iso_utc, ordered, summarize

SHOWN = (Status.FAIL, Status.ERROR, Status.WAIVED)

SEVERITY_STYLE: Mapping[Severity, str] = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "blue",
}
STATUS_STYLE: Mapping[Status, str] = {
    Status.FAIL: "bold",
    Status.ERROR: "bold magenta",
    Status.WAIVED: "dim",
}

# Table padding at the end of a line (among style codes): noise in logs and diffs.
_TRAILING_BLANKS = re.compile(r"(?:[ ]|\x1b\[[0-9;]*m)+$", re.MULTILINE)
_STYLE_CODE = re.compile(r"\x1b\[[0-9;]*m")


def _trim(m: re.Match[str]) -> str:
    return "".join(_STYLE_CODE.findall(m.group()))


def clean(value: str) -> str:
    """The string on one line, characters that can drive or deceive a terminal escaped."""
    return terminal_text(value)


def _text(value: str, style: str = "") -> Text:
    return Text(clean(value), style=style)


def _header(report: Report) -> list[Text]:
    run = report.run
    version = f" {run.tool_version}" if run.tool_version else ""
    lines = [
        Text("auditor" + version, style="bold"),
        Text.assemble("root:    ", _text(run.root)),
        Text.assemble("command: ", _text(run.command)),
        Text(f"run:     {iso_utc(run.started_at)} -> {iso_utc(run.finished_at)}"),
    ]
    if run.evaluation_time is not None:  # the instant time-bound IAM conditions were decided at
        lines.append(Text(f"as of:   {iso_utc(run.evaluation_time)}"))
    if run.discovery is not None:
        # What the gate looked at, so "nothing found" cannot pass for "nothing wrong".
        lines.append(Text.assemble("inputs:  ", _text(run.discovery.summary)))
        for warning in run.discovery.warnings:
            lines.append(Text.assemble("WARNING: ", _text(warning), style="bold yellow"))
    if run.complete:
        lines.append(_complete(report))
        return lines
    lines.append(
        Text(
            "INCOMPLETE: part of the estate could not be examined; this audit cannot vouch for it",
            style="bold red",
        )
    )
    for gap in run.coverage:
        lines.append(
            Text.assemble("  coverage gap: ", _text(gap.scope, "bold"), ": ", _text(gap.reason))
        )
    for error in run.errors:
        lines.append(Text.assemble("  error: ", _text(error)))
    return lines


def _complete(report: Report) -> Text:
    """A narrowed run (--only, --dataset) examined its scope only: say which, so that
    "complete" is never read as the whole estate. A config's dataset list is the standing
    scope: named, not a narrowing."""
    scope = report.run.scope
    if not scope.narrowed:
        if not scope.dataset_filter:
            return Text("complete: every input in scope was examined", style="green")
        return Text.assemble(
            ("complete: every input in scope (the configured datasets matching ", "green"),
            _text(", ".join(scope.dataset_filter), "green"),
            (") was examined", "green"),
        )
    parts = []
    if scope.rule_filter:
        parts.append(f"only rules {', '.join(scope.rules)}")
    if scope.narrowed_datasets:
        parts.append(f"only datasets matching {', '.join(scope.dataset_filter)}")
    return Text.assemble(
        ("narrowed: ", "bold yellow"),
        _text("; ".join(parts)),
        ("; every input in this scope was examined, the rest of the estate was not", "green"),
    )


def _where(f: Finding) -> str:
    if f.location is None:
        return f.resource
    return str(f.location)


def _block(f: Finding) -> Text:
    """One finding as a few short lines: readable in a CI log at any width."""
    style = "dim" if f.status is Status.WAIVED else ""
    text = Text(style=style)
    text.append(f"{f.severity.value.upper():<8} ", style=SEVERITY_STYLE[f.severity])
    text.append(f"{f.status.value:<6} ", style=STATUS_STYLE.get(f.status, ""))
    text.append(f"{f.rule_id} ")
    text.append(clean(f.rule_name), style="bold")
    if f.in_baseline:
        text.append("  (in baseline)", style="dim")
    text.append("\n  at:        ")
    text.append(clean(_where(f)))
    if f.location is not None and f.location.path != f.resource:
        text.append("\n  resource:  ")
        text.append(clean(f.resource))
    if f.column is not None:
        text.append("\n  column:    ")
        text.append(clean(f.column))
    if f.principal is not None:
        text.append("\n  principal: ")
        text.append(clean(f.principal))
    text.append("\n  ")
    text.append(clean(f.message))
    return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _summary(report: Report) -> Text:
    s = summarize(report)
    by_status = s["by_status"]
    parts = [
        f"{s['fail_by_severity'][sev.value]} {sev.value}"
        for sev in SEVERITIES_DESC
        if s["fail_by_severity"][sev.value]
    ]
    parts.append(f"{sum(s['fail_not_in_baseline_by_severity'].values())} not in baseline")
    text = Text("Summary: ", style="bold")
    text.append(f"{by_status['FAIL']} failed", style="bold red" if by_status["FAIL"] else "")
    text.append(f" ({', '.join(parts)}), ")
    text.append(_plural(by_status["ERROR"], "error"), style="bold" if by_status["ERROR"] else "")
    text.append(
        f", {by_status['WAIVED']} waived, {by_status['PASS']} passed, "
        f"{by_status['SKIPPED']} skipped; {_plural(s['rules_evaluated'], 'rule')}"
    )
    if not s["complete"]:
        gaps = _plural(s["coverage_gaps"], "coverage gap")
        errors = _plural(s["errors"], "run error")
        text.append(f"; INCOMPLETE ({gaps}, {errors})", style="bold red")
    text.append(".")
    return text


def render(report: Report, *, color: bool = False, width: int = 100) -> str:
    """The console report as text; ANSI styles only when `color` is true.

    The environment is not consulted (no NO_COLOR, COLUMNS, TERM): the caller decides.
    """
    out = io.StringIO()
    console = Console(
        file=out,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        width=width,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
        soft_wrap=False,
        _environ={},
    )
    for line in _header(report):
        console.print(line, overflow="fold")
    console.print()
    shown = [f for f in ordered(report.findings) if f.status in SHOWN]
    if shown:
        for finding in shown:
            console.print(_block(finding), overflow="fold")
            console.print()
    else:
        console.print("No FAIL, ERROR or WAIVED findings.")
    console.print()
    console.print(_summary(report), overflow="fold")
    return _TRAILING_BLANKS.sub(_trim, out.getvalue())
