"""Time the HTML report on a report of N findings (default 100,000).

    python benchmarks/html_report.py [--findings N] [--repeat R] [--no-browser]

The baseline is the JSON report of the same Report, rendered in the same process: the figures
that matter are the ratios to it. `auditor report RESULTS.json -o page.html` runs as its own
process (wall time and peak RSS, the numbers the README states: < 8 s, < 300 MB). With
/usr/bin/chromium and the playwright package, the page is also opened from file:// in
headless Chromium: time until it is ready, then filters (free text, severity, sort) and
expanding the row of an access finding (its paths drawn).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.model import (  # noqa: E402
    CoverageGap,
    Finding,
    InputFile,
    Location,
    Report,
    RuleInfo,
    RunInfo,
    Severity,
    Status,
    WaiverRef,
)
from auditor.report import html  # noqa: E402
from auditor.report import json as json_report  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BQ = "//bigquery.googleapis.com/projects/acme-prod/datasets"
START = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
STATUSES = (Status.FAIL,) * 12 + (Status.PASS,) * 5 + (Status.WAIVED,) * 2 + (Status.ERROR,)
SEVERITIES = tuple(Severity)
FRAMEWORKS: tuple[dict[str, tuple[str, ...]], ...] = (
    {"soc2": ("CC6.1",), "iso27001_2022": ("A.8.12",), "cis_gcp": ("7.1",)},
    {"soc2": ("CC6.1", "CC6.6"), "iso27001_2022": ("A.5.15",)},
    {"soc2": ("CC6.7",), "iso27001_2022": ("A.8.24",), "cis_gcp": ("7.3",)},
    {},
)


def rules() -> tuple[RuleInfo, ...]:
    return tuple(
        RuleInfo(
            id=f"AUD-{i:03d}",
            name=f"rule-{i:03d}",
            title=f"Rule {i} holds",
            severity=SEVERITIES[i % len(SEVERITIES)],
            rationale="why it matters",
            remediation="what to do",
            frameworks=FRAMEWORKS[i % len(FRAMEWORKS)],
        )
        for i in range(1, 13)
    )


def finding(i: int, rule: RuleInfo) -> Finding:
    tenant = f"tenant_{i % 2000:04d}"
    status = STATUSES[i % len(STATUSES)]
    evidence: dict[str, Any] = {"detector": "name", "matched": f"token_{i % 13}"}
    if i % 10 == 0:  # the access check's evidence: hop lists, flags, cut sentences
        genai = f"serviceAccount:genai-{i % 40}@acme-prod.iam.gserviceaccount.com"
        group = f"group:team-{i % 17}@acme.test"
        evidence["paths"] = [
            [{"kind": "group-member", "member": genai, "subject": group, "detail": "member"},
             {"kind": "dataset-acl", "member": group, "subject": f"{BQ}/acme_corp",
              "detail": "roles/bigquery.dataViewer"},
             {"kind": "authorized-view", "member": f"{BQ}/acme_corp/tables/lookup",
              "subject": f"{BQ}/customers", "detail": "authorized view"}]
        ]  # fmt: skip
        evidence["conditional"] = [False]
        evidence["cuts"] = [[f"remove {genai} from {group}"]]
    return Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        status=status,
        severity=rule.severity,
        resource=f"{BQ}/{tenant}/tables/x_meta_step_logs_{i % 50:02d}",
        message=f"column config.auth.token_{i} looks like a credential (name matches 'token')",
        column=f"config.auth.token_{i}",
        principal=f"serviceAccount:genai-{i % 40}@acme-prod.iam.gserviceaccount.com"
        if i % 3 == 0
        else None,
        location=Location(f"templates/customer/onboarding/schemas/t{i % 500}.json", i % 300 + 1),
        evidence=evidence,
        remediation=f"Drop config.auth.token_{i} from the tenant template.",
        waiver=WaiverRef("rollout SEC-42", "secops@acme.test", "2024-05-10")
        if status is Status.WAIVED
        else None,
        in_baseline=i % 7 == 0,
    )


def build(count: int) -> Report:
    rs = rules()
    run = RunInfo(
        started_at=START,
        finished_at=START + timedelta(minutes=7),
        root="gac-prod-471220",
        command="auditor scan --project gac-prod-471220",
        coverage=(CoverageGap(f"{BQ}/tenant_9999", "403: bigquery.tables.list denied"),),
        inputs=tuple(InputFile(f"templates/t{i}.json", f"{i:064x}") for i in range(500)),
        tool_version="0.1.0",
    )
    return Report(
        run=run, rules=rs, findings=tuple(finding(i, rs[i % len(rs)]) for i in range(count))
    )


def timed(function: Callable[[], str], repeat: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        started = time.perf_counter()
        out = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def browser_figures(path: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    figures: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        started = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_selector("html[data-ready=true]", timeout=120_000)
        figures["load (navigation to first page of rows)"] = time.perf_counter() - started
        stray = [u for u in requests if u != path.as_uri() and not u.startswith("data:")]
        if stray:
            raise SystemExit(f"the page made requests elsewhere: {stray}")

        def in_page(label: str, script: str) -> None:
            # Synchronous handlers: the time the event takes, then a frame for layout and paint.
            started = time.perf_counter()
            js_ms = page.evaluate(
                "() => { const t = performance.now();"
                + script
                + "; return performance.now() - t; }"
            )
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(0)))")
            figures[f"{label} (script)"] = js_ms / 1000
            figures[f"{label} (to next frame)"] = time.perf_counter() - started

        text = "const e = document.getElementById('f-text'); e.value = '{}';" \
               "e.dispatchEvent(new Event('input'))"  # fmt: skip
        in_page("free-text filter, first (builds the search index)", text.format("genai-7@"))
        in_page("free-text filter, again", text.format("tenant_0042"))
        in_page("clear text filter", text.format(""))
        in_page(
            "severity filter (uncheck info)",
            "const b = document.querySelector('input[name=severity][value=info]');"
            "b.checked = false; b.dispatchEvent(new Event('change'))",
        )
        in_page(
            "sort by resource",
            "document.querySelector('th[data-sort=resource] button').click()",
        )
        figures["matching after filters"] = float(
            page.locator("#match-count").inner_text().split()[0].replace(",", "")
        )
        in_page(
            "expand an access finding's row (paths drawn)",
            "const e = document.getElementById('f-text'); e.value = 'genai-0@';"
            "e.dispatchEvent(new Event('input'));"
            "document.querySelector('#findings-body tr.finding button.toggle').click()",
        )
        if page.locator("#findings-body tr.detail svg.paths-graph").count() != 1:
            raise SystemExit("expanding the row drew no access graph")
        browser.close()
    return figures


# The child reports its own peak RSS as VmHWM (its memory's high-water mark since exec):
# ru_maxrss would count the pages it shared with this large process before exec.
_CHILD = (
    "import sys\n"
    "from auditor.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:], standalone_mode=False)\n"
    "finally:\n"
    "    with open('/proc/self/status') as status:\n"
    "        hwm = [l.split()[1] for l in status if l.startswith('VmHWM:')][0]\n"
    "    print(hwm, file=sys.stderr)\n"
)


def cli_figures(results: Path, page: Path) -> tuple[float, float]:
    """`auditor report` as the user runs it, in its own process: wall seconds, peak MB."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, "report", str(results), "-o", str(page)],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    return wall, int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    report = build(args.findings)
    json_time, json_text = timed(lambda: json_report.render(report), args.repeat)
    html_time, html_text = timed(lambda: html.render(report), args.repeat)
    print(f"findings: {args.findings:,} ({len(report.rules)} rules, median of {args.repeat})")
    print(f"baseline json render: {json_time:.3f} s, {len(json_text.encode()) / 1e6:.1f} MB")
    print(f"html render: {html_time:.3f} s, {len(html_text.encode()) / 1e6:.1f} MB")
    print(f"ratio html / json render time: {html_time / json_time:.2f}")
    del html_text
    with tempfile.TemporaryDirectory(prefix="auditor-html-bench-") as tmp:
        results, path = Path(tmp) / "results.json", Path(tmp) / "report.html"
        results.write_text(json_text, encoding="utf-8")
        del json_text
        walls, peaks = [], []
        for _ in range(args.repeat):
            wall, peak = cli_figures(results, path)
            walls.append(wall)
            peaks.append(peak)
        wall = statistics.median(walls)
        print(f"auditor report (own process): {wall:.3f} s, peak RSS {max(peaks):.0f} MB, "
              f"page {path.stat().st_size / 1e6:.1f} MB")
        print(f"ratio auditor report / json render time: {wall / json_time:.2f}")
        have_browser = CHROMIUM.exists() and importlib.util.find_spec("playwright") is not None
        if args.no_browser or not have_browser:
            reason = "--no-browser" if args.no_browser else f"needs {CHROMIUM} and playwright"
            print(f"browser: skipped ({reason})")
            return 0
        for label, value in browser_figures(path).items():
            unit = "" if label.startswith("matching") else " s"
            print(
                f"browser {label}: {value:.3f}{unit}" if unit else f"browser {label}: {value:,.0f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
