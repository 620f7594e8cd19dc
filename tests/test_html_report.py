"""The HTML report without a browser: structure, CSP, no remote URL, hostile strings, numbers;
and the JSON report reader it is rendered from (`auditor report RESULTS.json -o x.html`)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from auditor.errors import InputError, UsageError
from auditor.model import (
    CoverageGap,
    Finding,
    InputFile,
    Location,
    PolicyPack,
    Report,
    RuleInfo,
    RunInfo,
    RunScope,
    Severity,
    Status,
    WaiverRef,
)
from auditor.report import html
from auditor.report import json as json_report
from auditor.report.reader import UNEXPLAINED_INCOMPLETE, report_from_json
from auditor.report.summary import ordered, ordered_rules, summarize

BQ = "//bigquery.googleapis.com/projects/acme-prod/datasets"
TEMPLATES = "templates/customer/onboarding/schemas"
GENAI = "serviceAccount:genai-agent@acme-prod.iam.gserviceaccount.com"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
CLOSE = "</script>"
LS = "\u2028"
HOSTILE = f"{SCRIPT}{IMG}{CLOSE}{LS}\u202e"
RUN_START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

RULES = (
    RuleInfo(
        id="AUD-001",
        name="tenant-no-credential-columns",
        title="Tenant tables contain no credential-like columns",
        severity=Severity.CRITICAL,
        rationale="Tenant datasets are readable by GenAI agents.",
        remediation="Move the column to the customers dataset.",
        frameworks={"soc2": ("CC6.1",), "iso27001_2022": ("A.8.12",), "cis_gcp": ("7.1",)},
    ),
    RuleInfo(
        id="AUD-006",
        name="datasets-not-public",
        title="No dataset is readable by allUsers",
        severity=Severity.HIGH,
        rationale="Public datasets leak.",
        remediation="Remove the public grant.",
        frameworks={"soc2": ("CC6.1", "CC6.6"), "iso27001_2022": ("A.5.15",)},
    ),
    RuleInfo(
        id="AUD-007",
        name="dataset-default-cmek",
        title="Datasets are encrypted with a customer-managed key",
        severity=Severity.MEDIUM,
        rationale="Keys the platform controls.",
        remediation="Set a default KMS key.",
        frameworks={"soc2": ("CC6.10",), "iso27001_2022": ("A.8.24",)},
    ),
    RuleInfo(
        id="AUD-010",
        name="datasets-classified",
        title=f"Datasets carry a classification label {HOSTILE}",
        severity=Severity.LOW,
        rationale="Unclassified data is unmanaged.",
        remediation="Label the dataset.",
        frameworks={"iso27001_2022": (f"A.5.12{SCRIPT}",)},
    ),
    RuleInfo(
        id="AUD-011",
        name="no-genai-path-to-customers",
        title="No GenAI principal can reach the customers dataset",
        severity=Severity.CRITICAL,
        rationale="The customers dataset holds credentials.",
        remediation="Remove the grant or add a deny policy.",
    ),
)

PATHS = [
    [GENAI, "group:analysts@acme.test", "roles/bigquery.dataViewer", f"{BQ}/customers"],
    [GENAI, {"impersonates": "serviceAccount:etl@acme-prod.iam.gserviceaccount.com"}, "x"],
]

FINDINGS = (
    Finding(
        "AUD-001",
        "tenant-no-credential-columns",
        Status.FAIL,
        Severity.CRITICAL,
        f"{TEMPLATES}/x_meta_pipeline_runs.json",
        "column config.auth.token looks like a credential",
        column="config.auth.token",
        location=Location(f"{TEMPLATES}/x_meta_pipeline_runs.json", 12),
        evidence={"detector": "name", "kinds": frozenset({"b", "a"})},
        remediation="Drop config.auth.token from the tenant template.",
    ),
    Finding(
        "AUD-001",
        "tenant-no-credential-columns",
        Status.FAIL,
        Severity.CRITICAL,
        f"{TEMPLATES}/x_meta_step_logs.json",
        "column api_key looks like a credential",
        column="api_key",
        in_baseline=True,
    ),
    Finding(
        "AUD-001",
        "tenant-no-credential-columns",
        Status.PASS,
        Severity.CRITICAL,
        f"{TEMPLATES}/x_meta_dq_results.json",
        "no credential-like column",
    ),
    Finding(
        "AUD-011",
        "no-genai-path-to-customers",
        Status.FAIL,
        Severity.CRITICAL,
        f"{BQ}/customers",
        f"{GENAI} can read customers",
        principal=GENAI,
        evidence={"paths": PATHS},
    ),
    Finding(
        "AUD-006",
        "datasets-not-public",
        Status.PASS,
        Severity.HIGH,
        f"{BQ}/tenant_a",
        "not public",
    ),
    Finding(
        "AUD-007",
        "dataset-default-cmek",
        Status.WAIVED,
        Severity.MEDIUM,
        f"{BQ}/tenant_a",
        "tenant_a has no default KMS key",
        waiver=WaiverRef("rollout SEC-42", "secops@acme.test", "2024-05-10"),
    ),
    Finding(
        "AUD-007",
        "dataset-default-cmek",
        Status.WAIVED,
        Severity.MEDIUM,
        f"{BQ}/tenant_b",
        "tenant_b has no default KMS key",
        waiver=WaiverRef("rollout SEC-43", "secops@acme.test", "2024-06-30"),
    ),
    Finding(
        "AUD-007",
        "dataset-default-cmek",
        Status.FAIL,
        Severity.MEDIUM,
        f"{BQ}/tenant_c",
        "tenant_c has no default KMS key",
        waiver=WaiverRef("old", "ops@acme.test", "2024-04-01", expired=True),
    ),
    Finding(
        "AUD-010",
        f"datasets-classified{SCRIPT}",
        Status.FAIL,
        Severity.LOW,
        f"{BQ}/tenant_{IMG}/tables/t{CLOSE}",
        f"dataset labels {HOSTILE} do not classify it",
        column=f"cfg.{SCRIPT}",
        principal=f"user:{IMG}@x.test",
        evidence={"labels": {SCRIPT: IMG, "k": HOSTILE}, "description": CLOSE},
        remediation=f"Label it {IMG}",
        waiver=WaiverRef(HOSTILE, IMG, "2024-05-15"),
    ),
)

RUN = RunInfo(
    started_at=RUN_START,
    finished_at=RUN_START + timedelta(seconds=3, microseconds=250000),
    root="/src/platform",
    command="auditor scan --format json",
    coverage=(CoverageGap(f"{BQ}/tenant_z", f"403: denied {HOSTILE}"),),
    errors=(f"rule crashed: {SCRIPT}",),
    inputs=(
        InputFile(f"{TEMPLATES}/x_meta_pipeline_runs.json", "ab" * 32),
        InputFile(f"docs/{IMG}.md", ""),
    ),
    tool_version="0.1.0",
)

REPORT = Report(run=RUN, rules=RULES, findings=FINDINGS)
COMPLETE = dataclasses.replace(REPORT, run=dataclasses.replace(RUN, coverage=(), errors=()))
CLEAN = Report(
    run=COMPLETE.run,
    rules=RULES[:2],
    findings=tuple(f for f in FINDINGS if f.status is Status.PASS),
)


# --- parsing helpers ------------------------------------------------------------------------


@dataclasses.dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class Page(HTMLParser):
    """Every element with its attributes; the text of script, style and data-count elements."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in ("meta", "link", "input", "br", "rect", "line"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        if any(e.tag == tag for e in self._open):
            while self._open.pop().tag != tag:
                pass

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def all(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]

    def counts(self) -> dict[str, int]:
        return {
            e.attrs["data-count"]: int(e.text) for e in self.elements if "data-count" in e.attrs
        }

    def csp(self) -> dict[str, list[str]]:
        metas = [
            m for m in self.all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"
        ]
        assert len(metas) == 1
        directives = [d.split() for d in metas[0].attrs["content"].split(";") if d.strip()]
        return {d[0]: d[1:] for d in directives}


def sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def data_block(page: Page) -> dict[str, Any]:
    (block,) = [s for s in page.all("script") if s.attrs.get("type") == "application/json"]
    data: dict[str, Any] = json.loads(block.text)
    return data


def rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The data block's rows as dicts (strings resolved)."""
    strings, columns = data["strings"], data["columns"]
    out = []
    for row in data["rows"]:
        item = dict(zip(columns, row, strict=True))
        for name in html.STRING_COLUMNS:
            item[name] = strings[item[name]]
        out.append(item)
    return out


@pytest.fixture(scope="module")
def page_text() -> str:
    history = [
        html.TrendPoint(RUN_START - timedelta(days=d), {"critical": d % 3, "high": 1}, d % 5 != 0)
        for d in range(1, 40)
    ]
    changes = html.ChangeSet(
        new=(FINDINGS[0].fingerprint,), resolved=("f" * 24,), persisting=(FINDINGS[3].fingerprint,)
    )
    return html.render(REPORT, history=history, changes=changes, results_sha256="c" * 64)


@pytest.fixture(scope="module")
def page(page_text: str) -> Page:
    return Page(page_text)


# --- structure, CSP, no remote address ------------------------------------------------------


def test_parses_as_one_document(page: Page) -> None:
    assert [e.tag for e in page.elements[:2]] == ["html", "head"]
    assert len(page.all("body")) == 1
    ids = [e.attrs["id"] for e in page.elements if "id" in e.attrs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for section in ("summary", "controls", "findings", "waivers", "run", "manifest"):
        assert section in ids


def test_csp_is_strict_and_hashes_every_inline_block(page: Page, page_text: str) -> None:
    csp = page.csp()
    assert csp["default-src"] == ["'none'"]
    assert csp["img-src"] == ["data:"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'none'"]
    assert set(csp) == {
        "default-src",
        "style-src",
        "script-src",
        "img-src",
        "base-uri",
        "form-action",
    }
    for directive in ("style-src", "script-src"):
        assert csp[directive], directive
        assert all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", s) for s in csp[directive])
    styles, scripts = page.all("style"), page.all("script")
    assert styles and scripts
    for style in styles:
        assert sha(style.text) in csp["style-src"]
    executable = [s for s in scripts if s.attrs.get("type") != "application/json"]
    assert len(executable) == 1
    for script in executable:
        assert "src" not in script.attrs
        assert sha(script.text) in csp["script-src"]
    # Data blocks never run (type application/json), so they need no hash; they hold no `<`.
    for script in scripts:
        if script.attrs.get("type") == "application/json":
            assert "<" not in script.text and ">" not in script.text
    # The meta comes before any block it governs.
    assert page_text.index("Content-Security-Policy") < page_text.index("<style>")
    # No inline handlers or style attributes (the CSP would block them; none should exist).
    for element in page.elements:
        assert not any(a.startswith("on") for a in element.attrs), element
        assert "style" not in element.attrs, element


def test_no_remote_url_anywhere(page: Page, page_text: str) -> None:
    remote = re.compile(r"^\s*(https?:|//)", re.IGNORECASE)
    for element in page.elements:
        for attr in (
            "src",
            "href",
            "action",
            "formaction",
            "srcset",
            "poster",
            "data",
            "xlink:href",
        ):
            value = element.attrs.get(attr)
            if value is not None:
                assert not remote.match(value), (element.tag, attr, value)
                assert value.startswith(("#", "data:")), (element.tag, attr, value)
    for style in page.all("style"):
        for url in re.findall(r"url\(([^)]*)\)", style.text):
            assert not remote.match(url.strip("'\" ")), url
        assert "@import" not in style.text
    assert "http:" not in page_text and "https:" not in page_text
    for script in page.all("script"):
        if script.attrs.get("type") != "application/json":
            assert not re.search(
                r"fetch\(|XMLHttpRequest|WebSocket|EventSource|sendBeacon|\.src\s*=", script.text
            )
            assert "innerHTML" not in script.text and "outerHTML" not in script.text
            assert "insertAdjacentHTML" not in script.text and "document.write" not in script.text


# --- hostile strings ------------------------------------------------------------------------


def test_hostile_strings_appear_only_escaped(page: Page, page_text: str) -> None:
    for raw in ("<script>alert", "<img", "onerror=alert(1)>", LS, "\u202e"):
        assert raw not in page_text, raw
    # Exactly the page's own two script elements, and no image at all.
    assert page_text.count("<script") == 2
    assert page_text.lower().count("</script") == 2
    assert page.all("img") == []
    assert len(page.all("script")) == 2
    # Server-rendered parts: entity-escaped, with invisible characters shown as \uXXXX.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page_text
    assert "\\u2028\\u202e" in page_text
    # The data block: \u003c-escaped, and the original strings come back exactly.
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page_text
    found = {r["message"] for r in rows(data_block(page))}
    assert f"dataset labels {HOSTILE} do not classify it" in found


def test_hostile_strings_in_every_server_rendered_place(page: Page) -> None:
    text = " ".join(e.text for e in page.all("body"))
    assert f"403: denied {html.visible(HOSTILE)}" in text  # coverage gap
    assert f"rule crashed: {SCRIPT}" in text  # run error
    assert f"docs/{IMG}.md" in text  # evidence manifest
    assert f"A.5.12{SCRIPT}" in text  # control id
    assert html.visible(HOSTILE) in text  # waiver reason, rule title


def test_visible() -> None:
    assert html.visible("a\u2028b\u202ec\x1b[31m\td") == "a\\u2028b\\u202ec\\u001b[31m\td"


def test_script_json_is_safe_and_round_trips() -> None:
    value = {"s": f"{HOSTILE}&<!--", "n": float("nan"), "i": float("inf"), "u": "caf\u00e9"}
    text = html.script_json(value)
    assert text.isascii()
    assert not set("<>&") & set(text)
    assert LS not in text
    back = json.loads(text)
    assert back["s"] == value["s"] and back["u"] == "caf\u00e9"
    assert back["n"] == "nan" and back["i"] == "inf"


# --- numbers and contents -------------------------------------------------------------------


def test_summary_numbers_match_the_report(page: Page) -> None:
    s = summarize(REPORT)
    counts = page.counts()
    for sev, n in s["fail_by_severity"].items():
        assert counts[f"fail-{sev}"] == n
    for status, n in s["by_status"].items():
        assert counts[f"status-{status}"] == n
    assert counts["findings"] == s["findings"] == len(FINDINGS)
    assert counts["new-fail"] == sum(s["fail_not_in_baseline_by_severity"].values())
    assert counts["rules"] == s["rules_evaluated"]
    assert counts["gaps"] == 1 and counts["errors"] == 1
    assert (counts["changes-new"], counts["changes-resolved"], counts["changes-persisting"]) == (
        1, 1, 1,
    )  # fmt: skip
    assert counts["fail-critical"] == 3  # two template columns and one GenAI path


def test_incomplete_is_red_and_lists_gaps_first(page: Page, page_text: str) -> None:
    (banner,) = [e for e in page.elements if e.attrs.get("id") == "overall-status"]
    assert banner.attrs["data-status"] == "INCOMPLETE"
    assert "incomplete" in banner.attrs["class"].split()
    summary_at = page_text.index('id="summary"')
    assert summary_at < page_text.index('id="coverage-gaps"') < page_text.index('class="cards"')
    assert page_text.index('id="coverage-gaps"') < page_text.index('id="run-errors"')
    assert "passing" not in page_text.split('id="controls"')[0].lower().split("summary-h")[1]


@pytest.mark.parametrize(
    ("report", "verdict"),
    [(REPORT, "INCOMPLETE"), (COMPLETE, "FAILING"), (CLEAN, "PASSING")],
)
def test_verdict(report: Report, verdict: str) -> None:
    page = Page(html.render(report))
    (banner,) = [e for e in page.elements if e.attrs.get("id") == "overall-status"]
    assert banner.attrs["data-status"] == verdict


def test_incomplete_run_with_nothing_wrong_is_never_green() -> None:
    report = dataclasses.replace(CLEAN, run=RUN)
    text = html.render(report)
    assert 'data-status="INCOMPLETE"' in text
    assert "banner passing" not in text
    assert '<span class="st PASS">' not in text  # controls are UNVERIFIED, not PASS
    assert '<span class="st UNVERIFIED">UNVERIFIED</span>' in text


def _control_status(report: Report) -> dict[tuple[str, str], str]:
    frameworks, _ = html.controls(report)
    return {(fw.key, c.control): c.status for fw in frameworks for c in fw.controls}


def test_controls_take_the_worst_status_of_their_rules() -> None:
    # States, not rule statuses (issue 17): failing / unverified / met / not in scope.
    assert _control_status(COMPLETE) == {
        ("soc2", "CC6.1"): "failing",  # AUD-001 fails, AUD-006 passes
        ("soc2", "CC6.6"): "met",
        ("soc2", "CC6.10"): "failing",  # AUD-007: one FAIL (expired waiver), two WAIVED
        ("iso27001_2022", "A.8.12"): "failing",
        ("iso27001_2022", "A.5.15"): "met",
        ("iso27001_2022", "A.8.24"): "failing",
        ("iso27001_2022", f"A.5.12{SCRIPT}"): "failing",
        ("cis_gcp", "7.1"): "failing",
    }
    soc2 = html.controls(COMPLETE)[0][0]
    assert soc2.counts == {"failing": 2, "unverified": 0, "met": 1, "not in scope": 0}
    assert soc2.sentence == "SOC 2: 1 of 3 controls met, 2 failing, 0 unverified, 0 not in scope"
    incomplete = _control_status(REPORT)
    assert incomplete[("soc2", "CC6.6")] == "unverified"
    frameworks, unmapped = html.controls(COMPLETE)
    assert [fw.key for fw in frameworks] == ["soc2", "iso27001_2022", "cis_gcp"]
    assert [c.control for c in frameworks[0].controls] == ["CC6.1", "CC6.6", "CC6.10"]
    assert [r.id for r in unmapped] == ["AUD-011"]


def test_waivers_expiring_within_14_days_are_flagged() -> None:
    views = {w.reason: w for w in html.waivers(REPORT)}
    assert views["old"].status == "EXPIRED"
    assert views["rollout SEC-42"].status == "EXPIRING"
    assert views["rollout SEC-42"].days_left == 9
    assert views[HOSTILE].status == "EXPIRING"  # exactly 14 days
    assert views["rollout SEC-43"].status == "ACTIVE"
    assert [w.status for w in html.waivers(REPORT)] == ["EXPIRED", "EXPIRING", "EXPIRING", "ACTIVE"]
    late = WaiverRef("r", "o", "2024-05-16")
    assert html.waiver_status(late, RUN_START.date()) == "ACTIVE"
    assert html.waiver_status(WaiverRef("r", "o", "not a date"), RUN_START.date()) == "EXPIRING"


def test_findings_data_is_the_report_in_order(page: Page) -> None:
    data = data_block(page)
    assert data["columns"] == list(html.COLUMNS)
    got = rows(data)
    want = ordered(FINDINGS)
    assert [r["fingerprint"] for r in got] == [f.fingerprint for f in want]
    by_fp = {r["fingerprint"]: r for r in got}
    token = by_fp[FINDINGS[0].fingerprint]
    assert token["column"] == "config.auth.token"
    assert token["location"] == f"{TEMPLATES}/x_meta_pipeline_runs.json"
    assert token["line"] == 12
    assert token["evidence"] == {"detector": "name", "kinds": ["a", "b"]}
    assert token["change"] == "new"
    assert by_fp[FINDINGS[1].fingerprint]["baseline"] == 1
    genai = by_fp[FINDINGS[3].fingerprint]
    assert genai["evidence"]["paths"] == PATHS
    assert genai["dataset"] == "acme-prod.customers"
    assert genai["change"] == "persisting"
    waived = by_fp[FINDINGS[5].fingerprint]
    assert data["waivers"][waived["waiver"]] == ["rollout SEC-42", "secops@acme.test", "2024-05-10",
                                                 False, True, False]  # fmt: skip
    assert by_fp[FINDINGS[2].fingerprint]["dataset"] == ""


def test_trend_keeps_the_last_30_runs_and_marks_incomplete_ones() -> None:
    history = [
        html.TrendPoint(RUN_START - timedelta(days=d), {"critical": 1}, d % 2 == 0)
        for d in range(1, 41)
    ]
    trend = html.trend(REPORT, history)
    assert trend is not None
    assert len(trend.columns) == html.TREND_RUNS
    last = trend.columns[-1]
    assert last.tooltip.startswith("2024-05-01T12:00:00Z: 3 critical")  # this run, appended
    assert not last.complete
    assert [c.complete for c in trend.columns[-3:-1]] == [True, False]  # 2 and 1 days before
    assert html.trend(REPORT, []) is None
    text = html.render(REPORT, history=history)
    assert text.count('class="run incomplete"') == sum(not c.complete for c in trend.columns)


def test_manifest_lists_inputs_and_the_results_hash(page_text: str) -> None:
    assert "ab" * 32 in page_text
    assert "c" * 64 in page_text
    assert "unreadable" in page_text
    # Without a results file, the hash of this run's JSON report (what -f json writes).
    no_hash = html.render(COMPLETE)
    assert hashlib.sha256(json_report.render(COMPLETE).encode()).hexdigest() in no_hash
    assert "not given" not in no_hash
    with pytest.raises(UsageError):
        html.render(COMPLETE, results_sha256="C" * 64)


def test_render_is_deterministic_and_fits_the_reporter_signature() -> None:
    assert html.render(REPORT) == html.render(REPORT)
    empty = Report(run=COMPLETE.run, rules=(), findings=())
    assert 'data-status="PASSING"' in html.render(empty)


def test_large_report_keeps_rows_out_of_the_markup() -> None:
    base = FINDINGS[0]
    many = tuple(
        dataclasses.replace(base, resource=f"{BQ}/tenant_{i}/tables/t", message=f"m{i}")
        for i in range(2000)
    )
    text = html.render(dataclasses.replace(COMPLETE, findings=many))
    page = Page(text)
    assert len(page.all("tr")) < 50  # rows are drawn by the script, a page at a time
    assert len(data_block(page)["rows"]) == 2000


# --- the JSON reader ------------------------------------------------------------------------


def _normalised(report: Report) -> Report:
    """What the JSON carries: findings and rules in report order, evidence as JSON data."""
    return Report(
        run=report.run,
        rules=tuple(ordered_rules(report)),
        findings=tuple(
            dataclasses.replace(f, evidence=json_report.jsonable(f.evidence))
            for f in ordered(report.findings)
        ),
    )


@pytest.mark.parametrize("report", [REPORT, COMPLETE, CLEAN])
def test_reader_round_trip(report: Report) -> None:
    text = json_report.render(report)
    back = report_from_json(text, "results.json")
    assert back == _normalised(report)
    assert json_report.render(back) == text
    assert html.render(back) == html.render(report)


def test_reader_refuses_a_tampered_fingerprint() -> None:
    data = json.loads(json_report.render(REPORT))
    data["findings"][0]["resource"] = "somewhere/else.json"
    with pytest.raises(InputError, match=r"results\.json: finding 0 .*fingerprint"):
        report_from_json(json.dumps(data), "results.json")


def test_reader_refuses_a_summary_that_does_not_match() -> None:
    data = json.loads(json_report.render(REPORT))
    data["summary"]["fail_by_severity"]["critical"] = 0
    with pytest.raises(InputError, match=r"summary\.fail_by_severity\.critical says 0"):
        report_from_json(json.dumps(data), "results.json")
    data = json.loads(json_report.render(COMPLETE))
    data["findings"] = [f for f in data["findings"] if f["status"] != "FAIL"]
    with pytest.raises(InputError, match="summary"):
        report_from_json(json.dumps(data), "results.json")


def test_reader_refuses_what_is_not_a_report() -> None:
    with pytest.raises(InputError, match=r"x\.json:1: not valid JSON"):
        report_from_json("{", "x.json")
    with pytest.raises(InputError, match="not an auditor JSON report"):
        report_from_json('{"version": "1"}', "x.json")


def test_reader_keeps_an_unexplained_incomplete_run_incomplete() -> None:
    data = json.loads(json_report.render(COMPLETE))
    data["run"]["complete"] = False
    data["summary"]["complete"] = False
    back = report_from_json(json.dumps(data), "results.json")
    assert not back.run.complete
    assert back.run.errors == (UNEXPLAINED_INCOMPLETE,)
    assert 'data-status="INCOMPLETE"' in html.render(back)


# --- issue 17: scope, rules, manifest, signature, resolved, trend labels -------------------

SCOPED = dataclasses.replace(
    COMPLETE,
    run=dataclasses.replace(
        COMPLETE.run,
        evaluation_time=RUN_START - timedelta(hours=1),
        scope=RunScope(
            rules=("AUD-001", "AUD-006", "AUD-007", "AUD-010", "AUD-011", "AUD-099"),
            project="acme-prod",
            datasets=("customers", "tenant_a", "tenant_b"),
            rule_filter=(),
            dataset_filter=("tenant_*",),
            sources=("bigquery", "iam-exports"),
        ),
        policy_pack=PolicyPack(
            (InputFile("policies/AUD-001.yaml", "1" * 64), InputFile("policies/AUD-006.yaml", "")),
            "the default pack of auditor 0.1.0",
        ),
    ),
)


def _texts(text: str, attr: str, tag: str = "dd") -> dict[str, str]:
    """Each element carrying `attr`: its text, tags dropped, whitespace folded."""
    found = re.findall(rf'<{tag}[^>]* {attr}="([^"]*)"[^>]*>(.*?)</{tag}>', text, re.S)
    plain = (re.sub(r"<[^>]+>", " ", body) for _, body in found)
    return {key: " ".join(t.split()) for (key, _), t in zip(found, plain, strict=True)}


def test_scope_names_project_datasets_rules_sources_time_and_versions() -> None:
    text = html.render(SCOPED)
    shown = _texts(text, "data-scope")
    assert shown["project"] == "acme-prod"
    assert shown["datasets"] == (
        "3 (only those matching tenant_*) list customers tenant_a tenant_b"
    )
    assert shown["rules"].startswith("6 (the whole pack): AUD-001, AUD-006")
    # AUD-099 ran and had nothing to examine.
    assert shown["without-results"] == "1: AUD-099"
    assert shown["sources"] == "bigquery, iam-exports"
    assert shown["evaluation-time"] == "2024-05-01T11:00:00Z"
    assert shown["tool"] == "auditor 0.1.0"
    pack = SCOPED.run.policy_pack
    assert pack is not None
    assert shown["policy-pack"] == (
        f"the default pack of auditor 0.1.0, 2 rule files, SHA-256 {pack.sha256}"
    )
    counts = _texts(text, "data-count")
    assert (counts["rules"], counts["rules-with-results"], counts["rules-without-results"]) == (
        "6", "5", "1",
    )  # fmt: skip


def test_the_pack_hash_is_the_sha256sum_listing() -> None:
    pack = SCOPED.run.policy_pack
    assert pack is not None
    listing = f"{'1' * 64}  policies/AUD-001.yaml\n  policies/AUD-006.yaml\n"
    assert pack.sha256 == hashlib.sha256(listing.encode()).hexdigest()
    text = html.render(SCOPED)
    assert f'data-sha="policy-pack">{pack.sha256}<' in text
    assert text.count('class="pack-file"') == 2
    # The JSON report carries it and the reader checks it.
    data = json.loads(json_report.render(SCOPED))
    assert data["run"]["policy_pack"]["sha256"] == pack.sha256
    assert report_from_json(json.dumps(data), "r.json").run.policy_pack == pack
    data["run"]["policy_pack"]["files"][0]["sha256"] = "2" * 64
    with pytest.raises(InputError, match=r"policy_pack\.sha256 says"):
        report_from_json(json.dumps(data), "r.json")


def test_rules_are_explained_where_their_findings_are(page: Page, page_text: str) -> None:
    text = _texts(page_text, "data-rule", "details")["AUD-006"]
    assert "Why it matters Public datasets leak. Remediation Remove the public grant." in text
    data = data_block(page)
    assert data["rules"]["AUD-006"][:3] == [RULES[1].title, "Public datasets leak.",
                                            "Remove the public grant."]  # fmt: skip


def test_references_are_shown_without_a_scheme() -> None:
    rule = dataclasses.replace(RULES[0], references=("https://cloud.google.com/bigquery/docs",))
    text = html.render(dataclasses.replace(COMPLETE, rules=(rule, *RULES[1:])))
    assert "cloud.google.com/bigquery/docs" in text and "https:" not in text


def test_an_unsigned_page_says_so(page_text: str) -> None:
    assert 'id="signature-status" data-signed="false"' in page_text
    assert "Unsigned: nothing proves who made this page." in page_text


def test_resolved_findings_are_named_from_the_history() -> None:
    gone = html.ChangedFinding("AUD-006", "datasets-not-public", Severity.HIGH, Status.FAIL,
                               f"{BQ}/tenant_old", principal="allUsers")  # fmt: skip
    changes = html.ChangeSet(resolved=("a" * 24, "b" * 24), details={"a" * 24: gone})
    items = _texts(html.render(COMPLETE, changes=changes), "data-fingerprint", "li")
    assert items["a" * 24] == (
        f"high was FAIL AUD-006 datasets-not-public: {BQ}/tenant_old (allUsers)"
    )
    assert items["b" * 24] == f"not named in the history: {'b' * 24}"


def test_trend_labels_tell_runs_of_one_day_apart() -> None:
    history = [
        html.TrendPoint(RUN_START - timedelta(hours=h), {"critical": 1}, True) for h in (1, 2)
    ] + [html.TrendPoint(RUN_START - timedelta(days=3), {"critical": 2}, True)]
    trend = html.trend(COMPLETE, history)
    assert trend is not None
    assert [c.label for c in trend.columns] == ["04-28", "05-01 10:00", "05-01 11:00",
                                                "05-01 12:00"]  # fmt: skip


def test_a_gate_page_does_not_count_rules_that_had_nothing_to_examine() -> None:
    only_files = dataclasses.replace(
        COMPLETE,
        run=dataclasses.replace(COMPLETE.run, scope=RunScope(
            rules=tuple(f"AUD-{n:03d}" for n in range(1, 15)), sources=("repo",))),
    )  # fmt: skip
    text = html.render(only_files)
    assert "Rules evaluated" not in text
    # The issue's own example: 14 rules run, 9 of them with nothing to examine.
    assert 'data-count="rules-with-results">5<' in text
    assert 'data-count="rules-without-results">9<' in text
