"""The HTML report in a real browser: Debian's headless Chromium driven by playwright.

The report is made the way `auditor report RESULTS.json -o report.html` makes it (JSON report
-> reader -> HTML), opened from file://, and checked against the JSON: summary numbers, the
rows each filter leaves, sorting, access paths, printing. Every network request is recorded
and must be the file itself (or a data: URL); hostile strings must run nothing.

Needs /usr/bin/chromium (apt-get install chromium) and the playwright package (pip); never
`playwright install`: the browser is the system one. Skipped, with the reason, without them.
Screenshots go to reports/screenshots/.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.model import (
    CoverageGap,
    Finding,
    Location,
    Report,
    RuleInfo,
    RunInfo,
    Severity,
    Status,
    WaiverRef,
)
from auditor.report import html
from auditor.report import json as json_report
from auditor.report.reader import report_from_json

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
SCREENSHOTS = Path(__file__).resolve().parent.parent / "reports" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} missing: apt-get install chromium"
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: pip install playwright"
)

BQ = "//bigquery.googleapis.com/projects/acme-prod/datasets"
GENAI = "serviceAccount:genai-agent@acme-prod.iam.gserviceaccount.com"
PWN_IMG = '<img src=x onerror="window.__pwned=1;alert(1)">'
PWN_SCRIPT = "<script>window.__pwned=1;alert(2)</script>"
HOSTILE = f"{PWN_SCRIPT}{PWN_IMG}</script>\u2028end"
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DEFAULT_STATUSES = {"FAIL", "ERROR", "WAIVED"}

RULES = (
    RuleInfo("AUD-001", "tenant-no-credential-columns", "No credential columns in tenants",
             Severity.CRITICAL, "r", "m", frameworks={"soc2": ("CC6.1",)}),
    RuleInfo("AUD-006", "datasets-not-public", "No public dataset", Severity.HIGH, "r", "m",
             frameworks={"soc2": ("CC6.1", "CC6.6"), "cis_gcp": ("7.1",)}),
    RuleInfo("AUD-007", "dataset-default-cmek", "Datasets use CMEK", Severity.MEDIUM, "r", "m",
             frameworks={"iso27001_2022": ("A.8.24",)}),
    RuleInfo("AUD-010", "datasets-classified", f"Datasets are classified {HOSTILE}",
             Severity.LOW, "r", "m"),
    RuleInfo("AUD-011", "no-genai-path-to-customers", "No GenAI path to customers",
             Severity.CRITICAL, "r", "m", frameworks={"soc2": ("CC6.1",)}),
)  # fmt: skip
SEVERITY = {r.id: r.severity for r in RULES}
CYCLE = (Status.FAIL, Status.PASS, Status.WAIVED, Status.FAIL, Status.ERROR, Status.SKIPPED)
HOP_LISTS: list[list[Any]] = [
    [GENAI, "group:analysts@acme.test", "roles/bigquery.dataViewer", f"{BQ}/customers"],
    [GENAI, {"impersonates": "serviceAccount:etl@acme-prod.iam.gserviceaccount.com"}, f"{BQ}/c"],
]
# The access graph's form (auditor.access.paths.AccessPath.to_dict).
GRAPH_PATH: dict[str, Any] = {
    "principal": GENAI,
    "target": f"{BQ}/customers",
    "capability": "read",
    "table_level": False,
    "conditional": True,
    "denials": ["policies/deny-genai"],
    "hops": [
        {"kind": "group-member", "member": GENAI, "subject": "group:analysts@acme.test",
         "detail": "member"},
        {"kind": "dataset-acl", "member": "group:analysts@acme.test", "subject": f"{BQ}/customers",
         "detail": "roles/bigquery.dataViewer", "condition": "request.time < x"},
    ],
}  # fmt: skip
PATHS: list[Any] = [*HOP_LISTS, GRAPH_PATH]


def _finding(i: int) -> Finding:
    rule = RULES[i % 4]
    status = CYCLE[i % len(CYCLE)]
    tenant = f"tenant_{i % 7:02d}"
    return Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        status=status,
        severity=rule.severity,
        resource=f"{BQ}/{tenant}/tables/t{i:03d}",
        message=f"finding {i:03d} on {tenant}",
        column=f"zebra_secret_{i}" if i % 25 == 0 else f"col_{i:03d}",
        location=Location(f"templates/t{i:03d}.json", i + 1),
        remediation=f"fix t{i:03d}",
        waiver=WaiverRef("rollout", "secops@acme.test", "2024-05-09") if status is Status.WAIVED
        else None,
    )  # fmt: skip


def build_report() -> Report:
    findings = [_finding(i) for i in range(130)]
    findings.append(
        Finding("AUD-011", "no-genai-path-to-customers", Status.FAIL, Severity.CRITICAL,
                f"{BQ}/customers", f"{GENAI} can read customers", principal=GENAI,
                evidence={"paths": PATHS})
    )  # fmt: skip
    findings.append(
        Finding("AUD-010", f"datasets-classified{PWN_SCRIPT}", Status.FAIL, Severity.LOW,
                f"{BQ}/tenant_{PWN_IMG}/tables/pwned", f"labels {HOSTILE}",
                column=f"desc.{PWN_IMG}", principal=f"user:{PWN_SCRIPT}",
                evidence={"labels": {PWN_SCRIPT: PWN_IMG}, "description": HOSTILE},
                remediation=PWN_IMG)
    )  # fmt: skip
    findings.append(
        Finding("AUD-006", "datasets-not-public", Status.FAIL, Severity.HIGH,
                f"{BQ}/tenant_\u202eevil/tables/t", "a bidi override in a dataset name")
    )  # fmt: skip
    run = RunInfo(
        started_at=START,
        finished_at=START + timedelta(seconds=42),
        root="/src/platform",
        command="auditor scan",
        coverage=(CoverageGap(f"{BQ}/tenant_zz", f"403 {HOSTILE}"),),
        tool_version="0.1.0",
    )
    return Report(run=run, rules=RULES, findings=tuple(findings))


@dataclasses.dataclass
class Made:
    html_path: Path
    results: dict[str, Any]  # the JSON report, as data

    @property
    def url(self) -> str:
        return self.html_path.as_uri()

    def findings(self) -> list[dict[str, Any]]:
        return list(self.results["findings"])

    def expected(self, keep: Callable[[dict[str, Any]], bool]) -> set[str]:
        """Fingerprints of the findings the default status filter and `keep` leave."""
        return {
            f["fingerprint"] for f in self.findings() if f["status"] in DEFAULT_STATUSES and keep(f)
        }


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    folder = tmp_path_factory.mktemp("html-report")
    text = json_report.render(build_report())
    (folder / "results.json").write_text(text, encoding="utf-8")
    report = report_from_json(text, "results.json")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    changes = html.ChangeSet(new=(report.findings[0].fingerprint,), resolved=("e" * 24,))
    history = [
        html.TrendPoint(START - timedelta(days=d), {"critical": d % 4, "high": 2}, d != 3)
        for d in range(1, 12)
    ]
    page = html.render(report, history=history, changes=changes, results_sha256=digest)
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return Made(path, json.loads(text))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclasses.dataclass
class Opened:
    page: Any
    requests: list[str]
    dialogs: list[str]
    problems: list[str]  # console errors (CSP violations among them) and page errors

    def assert_clean(self, own_url: str) -> None:
        assert self.requests, "no request recorded at all: the recorder is not working"
        stray = [u for u in self.requests if u != own_url and not u.startswith("data:")]
        assert stray == [], f"requests to other addresses: {stray}"
        assert self.dialogs == [], f"a dialog fired: {self.dialogs}"
        assert self.problems == [], self.problems
        assert self.page.evaluate("typeof window.__pwned") == "undefined"


@pytest.fixture
def opened(browser: Any, made: Made) -> Iterator[Opened]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    state = Opened(page, [], [], [])

    def on_dialog(dialog: Any) -> None:
        state.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: Any) -> None:
        if message.type == "error":
            state.problems.append(f"console {message.type}: {message.text}")

    page.on("request", lambda r: state.requests.append(r.url))
    page.on("dialog", on_dialog)
    page.on("pageerror", lambda e: state.problems.append(f"page error: {e}"))
    page.on("console", on_console)
    page.goto(made.url)
    page.wait_for_selector("html[data-ready=true]", timeout=10_000)
    try:
        yield state
    finally:
        context.close()


def shot(page: Any, name: str, **options: Any) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"html-{name}.png"), **options)


def shown(page: Any, made: Made) -> list[str]:
    """Fingerprints of the finding rows on screen, top to bottom."""
    indexes = page.eval_on_selector_all(
        "#findings-body tr.finding", "rows => rows.map(r => Number(r.dataset.index))"
    )
    findings = made.findings()  # the data block is in report order, as the JSON is
    return [findings[i]["fingerprint"] for i in indexes]


def set_page_size(page: Any, size: int = 1000) -> None:
    page.select_option("#page-size", str(size))


# --- tests ---------------------------------------------------------------------------------


def test_summary_numbers_match_the_json(opened: Opened, made: Made) -> None:
    page, summary = opened.page, made.results["summary"]
    counts = page.eval_on_selector_all(
        "[data-count]", "els => Object.fromEntries(els.map(e => [e.dataset.count, e.textContent]))"
    )
    for severity, n in summary["fail_by_severity"].items():
        assert counts[f"fail-{severity}"] == str(n)
    for status, n in summary["by_status"].items():
        assert counts[f"status-{status}"] == str(n)
    assert counts["findings"] == str(len(made.findings()))
    assert counts["gaps"] == "1"
    status = page.locator("#overall-status")
    assert status.get_attribute("data-status") == "INCOMPLETE"
    assert "INCOMPLETE" in status.inner_text()
    assert f"403 {html.visible(HOSTILE)}" in page.locator("#coverage-gaps").inner_text()
    matching = len(made.expected(lambda f: True))
    assert page.locator("#match-count").inner_text() == (
        f"{matching} matching of {len(made.findings())} findings"
    )
    assert len(shown(page, made)) == min(matching, 50)
    shot(page, "summary", full_page=True)
    opened.assert_clean(made.url)


def test_filters_leave_exactly_the_expected_rows(opened: Opened, made: Made) -> None:
    page = opened.page
    set_page_size(page)
    assert set(shown(page, made)) == made.expected(lambda f: True)

    for severity in ("high", "medium", "low", "info"):
        page.uncheck(f"input[name=severity][value={severity}]")
    critical = made.expected(lambda f: f["severity"] == "critical")
    assert set(shown(page, made)) == critical and critical

    for severity in ("high", "medium", "low", "info"):
        page.check(f"input[name=severity][value={severity}]")
    page.select_option("#f-rule", "AUD-006")
    public = made.expected(lambda f: f["rule_id"] == "AUD-006")
    assert set(shown(page, made)) == public and public

    page.check("input[name=status][value=PASS]")
    public_all = {
        f["fingerprint"] for f in made.findings()
        if f["rule_id"] == "AUD-006" and f["status"] in DEFAULT_STATUSES | {"PASS"}
    }  # fmt: skip
    assert set(shown(page, made)) == public_all and public_all > public
    page.uncheck("input[name=status][value=PASS]")

    page.select_option("#f-rule", "")
    page.select_option("#f-dataset", "acme-prod.tenant_03")
    tenant = made.expected(lambda f: "/datasets/tenant_03/" in f["resource"])
    assert set(shown(page, made)) == tenant and tenant

    # A name with a bidi override is listed as shown (\u202e) and still filters.
    page.select_option("#f-dataset", "acme-prod.tenant_\\u202eevil")
    bidi = made.expected(lambda f: "tenant_\u202eevil" in f["resource"])
    assert set(shown(page, made)) == bidi and len(bidi) == 1

    page.select_option("#f-dataset", "")
    page.fill("#f-text", "ZEBRA_secret")  # case-insensitive, matches the column
    zebra = made.expected(lambda f: "zebra_secret" in f.get("column", ""))
    assert set(shown(page, made)) == zebra and zebra
    texts = page.locator("#findings-body tr.finding td:nth-child(6)").all_inner_texts()
    assert all(t.startswith("zebra_secret_") for t in texts)
    shot(page, "filtered", full_page=True)

    page.fill("#f-text", "no such thing anywhere")
    assert shown(page, made) == []
    assert page.locator("#page-info").inner_text() == "No finding matches the filters."
    opened.assert_clean(made.url)


def test_only_new_since_last_run(opened: Opened, made: Made) -> None:
    page = opened.page
    page.check("#f-new")
    assert shown(page, made) == [made.findings()[0]["fingerprint"]]
    opened.assert_clean(made.url)


def test_sorting_and_paging(opened: Opened, made: Made) -> None:
    page = opened.page
    matching = made.expected(lambda f: True)
    assert page.locator("#page-next").is_enabled()
    first = shown(page, made)
    page.click("#page-next")
    second = shown(page, made)
    assert len(first) == 50 and second and not set(first) & set(second)

    set_page_size(page)
    page.click("th[data-sort=resource] button")
    resources = page.locator("#findings-body tr.finding td:nth-child(5)").all_inner_texts()
    assert len(resources) == len(matching)
    assert resources == sorted(resources)
    assert page.get_attribute("th[data-sort=resource]", "aria-sort") == "ascending"
    page.click("th[data-sort=resource] button")
    descending = page.locator("#findings-body tr.finding td:nth-child(5)").all_inner_texts()
    assert descending == sorted(resources, reverse=True)
    assert page.get_attribute("th[data-sort=resource]", "aria-sort") == "descending"

    page.click("th[data-sort=severity] button")  # worst first
    rank = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
    severities = page.locator("#findings-body tr.finding td:nth-child(2)").all_inner_texts()
    assert [rank[s] for s in severities] == sorted((rank[s] for s in severities), reverse=True)
    opened.assert_clean(made.url)


def test_access_paths_are_drawn_as_hop_lists(opened: Opened, made: Made) -> None:
    page = opened.page
    page.fill("#f-text", "genai-agent")
    assert len(shown(page, made)) == 1
    page.click("#findings-body tr.finding button.toggle")
    paths = page.locator("#findings-body tr.detail ol.path")
    assert paths.count() == len(PATHS)
    for n, hops in enumerate(HOP_LISTS):
        texts = paths.nth(n).locator("li.hop").all_inner_texts()
        assert len(texts) == len(hops)
        assert texts[0] == GENAI
    impersonation = paths.nth(1).locator("li.hop").nth(1).inner_text()
    assert impersonation == "impersonates: serviceAccount:etl@acme-prod.iam.gserviceaccount.com"
    graph = paths.nth(2)
    assert graph.locator("li.hop > span.label").all_inner_texts() == [
        GENAI, "group:analysts@acme.test", f"{BQ}/customers",
    ]  # fmt: skip
    assert graph.locator("li.hop .via").all_inner_texts() == [
        "group-member: member", "dataset-acl: roles/bigquery.dataViewer if request.time < x",
    ]  # fmt: skip
    assert graph.locator("li.path-note").inner_text() == (
        "read; conditional; may be denied by policies/deny-genai"
    )
    shot(page, "access-paths")
    opened.assert_clean(made.url)


def test_hostile_strings_run_nothing(opened: Opened, made: Made) -> None:
    page = opened.page
    page.fill("#f-text", "pwned")
    assert len(shown(page, made)) == 1
    page.click("#findings-body tr.finding button.toggle")
    row = page.locator("#findings-body tr.finding").inner_text()
    assert PWN_IMG in row and PWN_SCRIPT in row  # shown as text
    detail = page.locator("#findings-body tr.detail").inner_text()
    assert "\\u2028end" in detail  # the line separator is shown, not obeyed
    assert page.evaluate("document.images.length") == 0
    assert page.evaluate("document.scripts.length") == 2
    assert page.evaluate("typeof window.__pwned") == "undefined"
    shot(page, "hostile")
    opened.assert_clean(made.url)


def test_print_expands_every_matching_finding(opened: Opened, made: Made) -> None:
    page = opened.page
    matching = len(made.expected(lambda f: True))
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.locator("#findings-body tr.finding").count() == matching
    assert page.locator("#findings-body tr.detail").count() == matching
    page.emulate_media(media="print")
    assert not page.locator(".filters").is_visible()
    assert not page.locator(".pager").is_visible()
    shot(page, "print", full_page=True)
    page.emulate_media(media="screen")
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert page.locator("#findings-body tr.detail").count() == 0
    assert page.locator("#findings-body tr.finding").count() == 50
    opened.assert_clean(made.url)


def test_a_blocked_script_would_be_noticed(browser: Any, made: Made, tmp_path: Path) -> None:
    """The CSP is live: a script the page does not hash is refused, and the test sees it."""
    text = made.html_path.read_text(encoding="utf-8")
    injected = text.replace("</body>", "<script>window.__pwned = 1;</script></body>")
    path = tmp_path / "tampered.html"
    path.write_text(injected, encoding="utf-8")
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(path.as_uri())
        page.wait_for_selector("html[data-ready=true]")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert any("Content Security Policy" in e for e in errors), errors
    finally:
        context.close()
