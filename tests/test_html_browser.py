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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditor.access.explain import cut
from auditor.access.paths import Hop, HopKind
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
from auditor.report import csv as csv_report
from auditor.report import html, signing
from auditor.report import json as json_report
from auditor.report.controls import ControlState
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

# What the no-GenAI-path check writes (auditor/policy/checks/access.py): hop lists, one
# conditional flag and the cut sentences per path. Path 1: through a group's grant on the
# dataset that holds an authorized view; path 2: a conditional grant on the view itself.
ANALYSTS = "group:analysts@acme.test"
VIEW = f"{BQ}/acme_corp/tables/customer_lookup"
VIEW_HOP = Hop(HopKind.AUTHORIZED_VIEW, f"{BQ}/customers", "authorized view", VIEW)
VIA_GROUP = (
    Hop(HopKind.GROUP_MEMBER, ANALYSTS, "member", GENAI),
    Hop(HopKind.DATASET_ACL, f"{BQ}/acme_corp", "roles/bigquery.dataViewer", ANALYSTS),
    VIEW_HOP,
)
ON_VIEW = (
    Hop(HopKind.TABLE_IAM, VIEW, "roles/bigquery.dataViewer", GENAI,
        condition='request.time < timestamp("2030-01-01T00:00:00Z")'),
    VIEW_HOP,
)  # fmt: skip
CHECK_PATHS = (VIA_GROUP, ON_VIEW)
CHECK_EVIDENCE = {
    "paths": [[h.to_dict() for h in p] for p in CHECK_PATHS],
    "conditional": [any(h.condition for h in p) for p in CHECK_PATHS],
    "cuts": [[c for h in p if (c := cut(h))] for p in CHECK_PATHS],
}


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
        Finding("AUD-011", "no-genai-path-to-customers", Status.FAIL, Severity.CRITICAL,
                f"{BQ}/customers", f"{GENAI} (lookup-bot) can read dataset customers by 2 "
                "path(s)", principal=f"{GENAI}-lookup", evidence=CHECK_EVIDENCE)
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
    # One meaning of "new" on the page: since the last run ("not in baseline" is the other).
    tags = page.locator("#findings-body tr.finding .tag.new").all_inner_texts()
    assert tags == ["new since the last run"]
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


def _expand(page: Any, text: str) -> Any:
    page.fill("#f-text", text)
    page.click("#findings-body tr.finding button.toggle")
    return page.locator("#findings-body tr.detail .access")


def test_a_genai_path_through_a_group_and_an_authorized_view_shows_every_hop(
    opened: Opened, made: Made
) -> None:
    page = opened.page
    access = _expand(page, "lookup-bot")
    graph = access.locator("svg.paths-graph")
    names = graph.locator("g.node > title").all_text_contents()
    assert names == [f"{GENAI}", ANALYSTS, f"{BQ}/acme_corp", VIEW, f"{BQ}/customers"]
    shown = graph.locator("g.node text.name").all_text_contents()
    assert shown[1:] == [ANALYSTS, "acme-prod.acme_corp", "acme-prod.acme_corp.custom\u2026",
                         "acme-prod.customers"]  # fmt: skip
    # Every hop is an edge with its kind and role; the view hop both paths share, once.
    edges = graph.locator("g.edge > title").all_text_contents()
    assert edges == [
        "group-member \u00b7 member",
        "dataset-acl \u00b7 roles/bigquery.dataViewer",
        "contains",
        "authorized-view \u00b7 authorized view",
        'table-iam \u00b7 roles/bigquery.dataViewer \u00b7 if request.time < '
        'timestamp("2030-01-01T00:00:00Z")',
    ]
    assert graph.locator("g.edge.implicit").count() == 1  # the view inside acme_corp
    first, second = access.locator("ol.hops").all()
    assert second.locator("li").count() == 2
    assert first.locator("li").all_inner_texts() == [
        f"{GENAI} \u2192 {ANALYSTS} (group-member: member)",
        f"{ANALYSTS} \u2192 acme-prod.acme_corp (dataset-acl: roles/bigquery.dataViewer)",
        "acme-prod.acme_corp \u2192 acme-prod.acme_corp.customer_lookup (contains)",
        "acme-prod.acme_corp.customer_lookup \u2192 acme-prod.customers "
        "(authorized-view: authorized view)",
    ]
    assert "conditional" not in access.locator(".path-head").nth(0).inner_text()
    assert "conditional" in access.locator(".path-head").nth(1).inner_text()
    # The cut shared by both paths comes first, as a sentence.
    cuts = access.locator(".cuts")
    assert cuts.locator(".cuts-head").inner_text() == "One change removes all 2 paths; any of:"
    assert cuts.locator("li").all_inner_texts() == [
        f"remove the authorized view {VIEW} from the access list of {BQ}/customers."
    ]
    assert access.locator(".paths-count").inner_text() == "2 of 2 paths drawn"
    shot(page, "access-graph")
    opened.assert_clean(made.url)


def test_other_path_forms_are_drawn_and_many_paths_collapse(opened: Opened, made: Made) -> None:
    page = opened.page
    access = _expand(page, "can read customers")
    graph = access.locator("svg.paths-graph")
    # A list of names, a list with an {impersonates} object, an access-graph path object.
    assert access.locator("ol.hops").count() == 3
    titles = graph.locator("g.node > title").all_text_contents()
    assert titles[0] == GENAI and f"{BQ}/customers" in titles
    assert "impersonates: serviceAccount:etl@acme-prod.iam.gserviceaccount.com" in titles
    conditional = access.locator(".path-head").nth(2).inner_text()
    assert conditional == "Path 3 (conditional: an IAM condition decides it)"
    assert access.locator(".paths-count").inner_text() == "3 of 3 paths drawn"
    opened.assert_clean(made.url)


def test_many_paths_collapse_with_counts(browser: Any, tmp_path: Path) -> None:
    hops = [[Hop(HopKind.DATASET_ACL, f"{BQ}/customers", "roles/bigquery.dataViewer",
                 f"group:g{n}@acme.test").to_dict()] for n in range(7)]  # fmt: skip
    report = Report(build_report().run, RULES, (
        Finding("AUD-011", "no-genai-path-to-customers", Status.FAIL, Severity.CRITICAL,
                f"{BQ}/customers", "seven groups", principal=GENAI,
                evidence={"paths": hops, "paths_total": 9}),
    ))  # fmt: skip
    path = tmp_path / "many.html"
    path.write_text(html.render(report), encoding="utf-8")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        page.wait_for_selector("html[data-ready=true]")
        page.click("#findings-body tr.finding button.toggle")
        access = page.locator("#findings-body tr.detail .access")
        assert access.locator("ol.hops").count() == 3
        assert access.locator(".paths-count").inner_text() == (
            "3 of 9 paths drawn (7 kept as evidence)"
        )
        access.locator("button.draw-all").click()
        assert access.locator("ol.hops").count() == 7
        assert page.locator("#findings-body tr.detail svg.paths-graph g.node").count() == 8
    finally:
        context.close()


def test_expanding_a_row_touches_only_that_row_and_keeps_focus(opened: Opened, made: Made) -> None:
    page = opened.page
    page.evaluate(
        "window.__rows = Array.from(document.querySelectorAll('#findings-body tr.finding'))"
    )
    toggle = page.locator("#findings-body tr.finding").nth(4).locator("button.toggle")
    toggle.click()
    assert page.evaluate("document.activeElement.getAttribute('aria-expanded')") == "true"
    assert page.locator("#findings-body tr.detail").count() == 1
    same = page.evaluate(
        "Array.from(document.querySelectorAll('#findings-body tr.finding'))"
        ".every((r, i) => r === window.__rows[i])"
    )
    assert same, "expanding a row redrew the table"
    page.keyboard.press("Enter")  # the button still has focus: it closes again
    assert page.locator("#findings-body tr.detail").count() == 0
    assert page.evaluate("document.activeElement.getAttribute('aria-expanded')") == "false"
    opened.assert_clean(made.url)


def _expected_states(results: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Control states computed here from the JSON findings (independently of the page)."""
    statuses: dict[str, set[str]] = {}
    for f in results["findings"]:
        statuses.setdefault(f["rule_id"], set()).add(f["status"])
    complete = results["run"]["complete"]
    out: dict[tuple[str, str], str] = {}
    for rule in results["rules"]:
        for framework, ids in rule["frameworks"].items():
            for control in ids:
                out.setdefault((framework, control), "")
    for framework, control in out:
        found: set[str] = set()
        for rule in results["rules"]:
            if control in rule["frameworks"].get(framework, []):
                found |= statuses.get(rule["id"], set())
        if found & {"FAIL", "WAIVED"}:
            out[(framework, control)] = "failing"
        elif "ERROR" in found or ("PASS" in found and not complete):
            out[(framework, control)] = "unverified"
        elif "PASS" in found:
            out[(framework, control)] = "met"
        else:
            out[(framework, control)] = "not in scope"
    return out


def test_per_framework_counts_equal_the_findings(opened: Opened, made: Made) -> None:
    page = opened.page
    expected = _expected_states(made.results)
    shown = {
        (fw, c): state
        for fw, c, state in page.eval_on_selector_all(
            "table.controls[data-framework] tr[data-control]",
            "rows => rows.map(r => [r.closest('table').dataset.framework, r.dataset.control,"
            " r.dataset.state])",
        )
    }
    assert shown == expected
    for framework in {fw for fw, _ in expected}:
        line = page.locator(f"#framework-verdicts li[data-framework={framework}]")
        counts = line.locator("[data-count]").evaluate_all(
            "els => Object.fromEntries(els.map(e => [e.dataset.count, Number(e.textContent)]))"
        )
        mine = [s for (fw, _), s in expected.items() if fw == framework]
        assert counts == {
            "met": mine.count("met"), "total": len(mine), "failing": mine.count("failing"),
            "unverified": mine.count("unverified"), "not-in-scope": mine.count("not in scope"),
        }  # fmt: skip
    assert {s.value for s in ControlState} >= set(expected.values())
    opened.assert_clean(made.url)


def test_csv_downloads_round_trip_the_findings(opened: Opened, made: Made) -> None:
    page = opened.page
    with page.expect_download() as download:
        page.click("#download-all")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    report = report_from_json(json.dumps(made.results), "results.json")
    # The page's CSV and `auditor report -f csv` say the same, row for row.
    from_page, from_cli = csv_report.read(text), csv_report.read(csv_report.render(report))
    assert len(from_page) == len(made.findings())
    for mine, theirs, finding in zip(from_page, from_cli, made.findings(), strict=True):
        assert csv_report.evidence_of(mine) == csv_report.evidence_of(theirs)
        assert {k: v for k, v in mine.items() if k != "evidence"} == {
            k: v for k, v in theirs.items() if k != "evidence"
        }
        assert mine["fingerprint"] == finding["fingerprint"]
        assert mine["message"] == html.visible(finding["message"])
        assert mine["resource"] == html.visible(finding["resource"])
        assert csv_report.evidence_of(mine) == finding.get("evidence", {})
    with page.expect_download() as download:
        page.click("#download-controls")
    controls_csv = Path(download.value.path()).read_text(encoding="utf-8")
    assert csv_report.read(controls_csv) == csv_report.read(csv_report.render_controls(report))
    opened.assert_clean(made.url)


def test_narrow_screen_keeps_the_page_within_390_px(browser: Any, made: Made) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(made.url)
        page.wait_for_selector("html[data-ready=true]")
        page.fill("#f-text", "lookup-bot")
        page.click("#findings-body tr.finding button.toggle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide at 390 px"
        wide = page.evaluate(
            "Array.from(document.querySelectorAll('.scroll'))"
            ".some(b => b.scrollWidth > b.clientWidth)"
        )
        assert wide, "nothing scrolls inside its box: the tables must have been squeezed"
        shot(page, "narrow", full_page=True)
    finally:
        context.close()


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


def test_a_signed_page_shows_its_signer_and_verifies_until_edited(
    browser: Any, made: Made, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()

    class Signer:
        info = signing.SignerInfo("Ana, security", key.public_key())

        def sign(self, message: bytes) -> bytes:
            return key.sign(message)

    report = report_from_json(json.dumps(made.results), "results.json")
    chunks = html.render_chunks(report, signed_by=Signer.info)
    page_path = tmp_path / "signed.html"
    page_path.write_text("".join(signing.sign_html(chunks, Signer(), START)), encoding="utf-8")
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(page_path.as_uri())
        page.wait_for_selector("html[data-ready=true]")
        assert page.locator("#signed-by").inner_text().startswith("Signed by Ana, security")
        status = page.locator("#signature-status")
        assert status.get_attribute("data-signed") == "true"
        assert Signer.info.key_id in status.inner_text()
        assert errors == []
    finally:
        context.close()
    assert signing.verify_file(page_path, [key.public_key()]).ok
    edited = tmp_path / "edited.html"
    edited.write_text(page_path.read_text(encoding="utf-8").replace('"FAIL"', '"PASS"'), "utf-8")
    outcome = signing.verify_file(edited, [key.public_key()])
    assert not outcome.ok and outcome.reason.startswith("the content was changed after signing")
