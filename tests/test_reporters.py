"""Reporters: exact output (golden files), schema validity, ordering, exit codes, hostile names.

Refresh golden files on purpose only: AUDITOR_UPDATE_GOLDEN=1 pytest tests/test_reporters.py
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from auditor.errors import InputError
from auditor.model import (
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
from auditor.report import EXTENSIONS, FORMATS, console, junit, sarif
from auditor.report import json as json_report
from auditor.report.summary import exit_code, iso_utc, ordered, summarize
from auditor.resources import format_schema

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
UPDATE = os.environ.get("AUDITOR_UPDATE_GOLDEN") == "1"

BQ = "//bigquery.googleapis.com/projects/acme-prod/datasets"
TEMPLATES = "templates/customer/onboarding/schemas"
HOSTILE = f'{BQ}/t1/tables/<script>alert("x")</script>\x1b[31m[bold]pwn\'s'
GENAI = "serviceAccount:genai-agent@acme-prod.iam.gserviceaccount.com"

RULES = (
    # Listed out of id order on purpose: reporters sort.
    RuleInfo(
        id="BQA-003",
        name="customers-cmek",
        title="The customers dataset is encrypted with a customer-managed key",
        severity=Severity.MEDIUM,
        rationale="Credentials at rest must be under keys the platform controls.",
        remediation="Set a default KMS key on the customers dataset.",
    ),
    RuleInfo(
        id="BQA-001",
        name="no-credential-columns-in-tenant",
        title="Tenant tables contain no credential-like columns",
        severity=Severity.CRITICAL,
        rationale="Tenant datasets are readable by GenAI agents; credentials there leak.",
        remediation="Move the column to the customers dataset, KMS-encrypted.",
        references=("https://cloud.google.com/bigquery/docs/column-level-security",),
        frameworks={"soc2": ("CC6.1",), "cis-gcp": ("7.1", "7.3")},
    ),
    RuleInfo(
        id="BQA-002",
        name="no-genai-access-to-customers",
        title="No GenAI principal can read the customers dataset",
        severity=Severity.HIGH,
        rationale="The customers dataset holds credentials.",
        remediation="Remove the grant, or add a deny policy.",
        references=("docs/access.md",),
    ),
    RuleInfo(
        id="BQA-004",
        name="column-descriptions",
        title="Every column has a description",
        severity=Severity.LOW,
        rationale="Undocumented columns hide what they hold.",
        remediation="Describe the column.",
    ),
)

FINDINGS = (
    Finding(
        rule_id="BQA-004",
        rule_name="column-descriptions",
        status=Status.PASS,
        severity=Severity.LOW,
        resource=f"{TEMPLATES}/x_meta_dq_results.json",
        message="every column is described",
        location=Location(f"{TEMPLATES}/x_meta_dq_results.json"),
    ),
    Finding(
        rule_id="BQA-001",
        rule_name="no-credential-columns-in-tenant",
        status=Status.FAIL,
        severity=Severity.CRITICAL,
        resource=f"{TEMPLATES}/x_meta_pipeline_runs.json",
        message="column config.auth.token looks like a credential (name matches 'token')",
        column="config.auth.token",
        location=Location(f"{TEMPLATES}/x_meta_pipeline_runs.json", 12),
        evidence={"detector": "name", "pattern": "token", "kinds": frozenset({"b", "a"})},
        remediation="Drop config.auth.token from the tenant template.",
    ),
    Finding(
        rule_id="BQA-003",
        rule_name="customers-cmek",
        status=Status.WAIVED,
        severity=Severity.MEDIUM,
        resource=f"{BQ}/customers",
        message="customers has no default KMS key",
        waiver=WaiverRef(
            reason="KMS key rollout tracked in SEC-42", owner="secops@acme.test",
            expires="2099-01-31",
        ),
    ),
    Finding(
        rule_id="BQA-002",
        rule_name="no-genai-access-to-customers",
        status=Status.FAIL,
        severity=Severity.HIGH,
        resource=f"{BQ}/customers",
        message=f"{GENAI} can read customers via group:analysts@acme.test",
        principal=GENAI,
        evidence={"path": ("group:analysts@acme.test", "roles/bigquery.dataViewer")},
    ),
    Finding(
        rule_id="BQA-001",
        rule_name="no-credential-columns-in-tenant",
        status=Status.FAIL,
        severity=Severity.CRITICAL,
        resource=f"{TEMPLATES}/x_meta_step_logs.json",
        message="column api_key looks like a credential (name matches 'api_key')",
        column="api_key",
        location=Location(f"{TEMPLATES}/x_meta_step_logs.json", 3),
        in_baseline=True,
    ),
    Finding(
        rule_id="BQA-003",
        rule_name="customers-cmek",
        status=Status.ERROR,
        severity=Severity.MEDIUM,
        resource=HOSTILE,
        message="check crashed on table <script>alert(\"x\")</script>\x1b[31m[bold]pwn",
    ),
    Finding(
        rule_id="BQA-004",
        rule_name="column-descriptions",
        status=Status.SKIPPED,
        severity=Severity.LOW,
        resource=f"{BQ}/t2",
        message="dataset not readable",
    ),
)

RUN = RunInfo(
    started_at=datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC),
    finished_at=datetime(2024, 5, 1, 14, 0, 3, 250000, tzinfo=timezone(timedelta(hours=2))),
    root="/src/platform",
    command="auditor gate /src/platform --format json",
    coverage=(CoverageGap(scope=f"{BQ}/t2", reason="403: bigquery.tables.list denied"),),
    errors=("rule BQA-003 (customers-cmek) did not run: boom",),
    inputs=(
        InputFile(f"{TEMPLATES}/x_meta_pipeline_runs.json", "ab" * 32),
        InputFile("docs/unreadable.md", ""),
    ),
    tool_version="0.1.0",
)

REPORT = Report(run=RUN, rules=RULES, findings=FINDINGS)
COMPLETE = Report(
    run=dataclasses.replace(RUN, coverage=(), errors=()),
    rules=RULES,
    findings=tuple(f for f in FINDINGS if f.status is not Status.ERROR),
)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        return
    assert path.exists(), f"{path} missing: run with AUDITOR_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_bytes().decode("utf-8")


# --- summary / exit code ---------------------------------------------------------------


def test_order_is_severity_then_rule_resource_column_principal() -> None:
    keys = [(f.severity.value, f.rule_id, f.resource, f.status.value) for f in ordered(FINDINGS)]
    assert keys == [
        ("critical", "BQA-001", f"{TEMPLATES}/x_meta_pipeline_runs.json", "FAIL"),
        ("critical", "BQA-001", f"{TEMPLATES}/x_meta_step_logs.json", "FAIL"),
        ("high", "BQA-002", f"{BQ}/customers", "FAIL"),
        ("medium", "BQA-003", f"{BQ}/customers", "WAIVED"),
        ("medium", "BQA-003", HOSTILE, "ERROR"),
        ("low", "BQA-004", f"{BQ}/t2", "SKIPPED"),
        ("low", "BQA-004", f"{TEMPLATES}/x_meta_dq_results.json", "PASS"),
    ]
    assert ordered(reversed(FINDINGS)) == ordered(FINDINGS)


def test_iso_utc() -> None:
    assert iso_utc(RUN.started_at) == "2024-05-01T12:00:00Z"
    assert iso_utc(RUN.finished_at) == "2024-05-01T12:00:03.250000Z"
    assert iso_utc(datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00Z"


def test_summarize() -> None:
    assert summarize(REPORT) == {
        "complete": False,
        "rules_evaluated": 4,
        "findings": 7,
        "by_status": {"PASS": 1, "FAIL": 3, "ERROR": 1, "WAIVED": 1, "SKIPPED": 1},
        "fail_by_severity": {"critical": 2, "high": 1, "medium": 0, "low": 0, "info": 0},
        "fail_not_in_baseline_by_severity": {
            "critical": 1, "high": 1, "medium": 0, "low": 0, "info": 0,
        },
        "coverage_gaps": 1,
        "errors": 1,
    }


def _only(*findings: Finding) -> Report:
    return Report(run=COMPLETE.run, rules=RULES, findings=findings)


def _at(severity: Severity, status: Status = Status.FAIL, baseline: bool = False) -> Finding:
    return Finding("R", "r", status, severity, "res", "msg", in_baseline=baseline)


@pytest.mark.parametrize(
    ("report", "fail_on", "allow_partial", "expected"),
    [
        # Incomplete: 3, even with nothing to fail on; 3 wins over 1.
        (REPORT, Severity.HIGH, False, 3),
        (REPORT, None, False, 3),
        (dataclasses.replace(REPORT, findings=()), Severity.HIGH, False, 3),
        # --allow-partial: judged on findings alone.
        (REPORT, Severity.HIGH, True, 1),
        (REPORT, None, True, 0),
        (dataclasses.replace(REPORT, findings=()), Severity.HIGH, True, 0),
        # Complete runs.
        (COMPLETE, Severity.CRITICAL, False, 1),
        (COMPLETE, None, False, 0),
        (_only(), Severity.INFO, False, 0),
        (_only(_at(Severity.HIGH)), Severity.HIGH, False, 1),
        (_only(_at(Severity.HIGH)), Severity.CRITICAL, False, 0),
        (_only(_at(Severity.MEDIUM)), Severity.HIGH, False, 0),
        (_only(_at(Severity.INFO)), Severity.INFO, False, 1),
        # Baseline findings never block; a crashed check fails at its severity.
        (_only(_at(Severity.CRITICAL, baseline=True)), Severity.INFO, False, 0),
        (_only(_at(Severity.HIGH, Status.ERROR)), Severity.HIGH, False, 1),
        (_only(_at(Severity.LOW, Status.ERROR)), Severity.HIGH, False, 0),
        (_only(_at(Severity.HIGH, Status.ERROR, baseline=True)), Severity.HIGH, False, 0),
        # Waived, skipped and passing findings never block.
        (_only(_at(Severity.CRITICAL, Status.WAIVED)), Severity.INFO, False, 0),
        (_only(_at(Severity.CRITICAL, Status.SKIPPED)), Severity.INFO, False, 0),
        (_only(_at(Severity.CRITICAL, Status.PASS)), Severity.INFO, False, 0),
    ],
)
def test_exit_code(
    report: Report, fail_on: Severity | None, allow_partial: bool, expected: int
) -> None:
    assert exit_code(report, fail_on, allow_partial) == expected


# --- registry --------------------------------------------------------------------------


def test_formats_and_extensions() -> None:
    assert set(FORMATS) == set(EXTENSIONS) == {
        "json", "sarif", "junit", "console", "html", "csv", "controls-csv",
    }  # fmt: skip
    assert EXTENSIONS == {
        "json": ".json", "sarif": ".sarif", "junit": ".xml", "console": ".txt", "html": ".html",
        "csv": ".csv", "controls-csv": ".controls.csv",
    }  # fmt: skip
    for render in FORMATS.values():
        text = render(REPORT)
        assert text == render(REPORT)
        assert text.endswith("\n")
        assert "\x1b" not in text


def test_output_does_not_depend_on_input_order() -> None:
    shuffled = Report(RUN, tuple(reversed(RULES)), tuple(reversed(FINDINGS)))
    for render in FORMATS.values():
        assert render(shuffled) == render(REPORT)


# --- JSON ------------------------------------------------------------------------------


def _report_validator() -> Draft202012Validator:
    schema = json.loads(format_schema("report").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_json_golden() -> None:
    check_golden("report.json", json_report.render(REPORT))


@pytest.mark.parametrize("report", [REPORT, COMPLETE, _only()], ids=["full", "complete", "empty"])
def test_json_validates_against_schema(report: Report) -> None:
    data = json.loads(json_report.render(report))
    errors = [e.message for e in _report_validator().iter_errors(data)]
    assert errors == []


def test_json_content() -> None:
    data = json.loads(json_report.render(REPORT))
    assert data["version"] == "1"
    assert data["tool"] == {"name": "auditor", "version": "0.1.0"}
    assert data["run"]["complete"] is False
    assert data["run"]["coverage"] == [
        {"scope": f"{BQ}/t2", "reason": "403: bigquery.tables.list denied"}
    ]
    assert [r["id"] for r in data["rules"]] == ["BQA-001", "BQA-002", "BQA-003", "BQA-004"]
    assert data["rules"][0]["frameworks"] == {"cis-gcp": ["7.1", "7.3"], "soc2": ["CC6.1"]}
    by_status = {f["status"]: f for f in data["findings"] if f["status"] != "FAIL"}
    first = data["findings"][0]
    assert first == {
        "rule_id": "BQA-001",
        "rule_name": "no-credential-columns-in-tenant",
        "status": "FAIL",
        "severity": "critical",
        "resource": f"{TEMPLATES}/x_meta_pipeline_runs.json",
        "message": "column config.auth.token looks like a credential (name matches 'token')",
        "fingerprint": FINDINGS[1].fingerprint,
        "column": "config.auth.token",
        "location": {"path": f"{TEMPLATES}/x_meta_pipeline_runs.json", "line": 12},
        "evidence": {"detector": "name", "pattern": "token", "kinds": ["a", "b"]},
        "remediation": "Drop config.auth.token from the tenant template.",
    }
    assert data["findings"][1]["in_baseline"] is True
    assert all("in_baseline" not in f for f in data["findings"] if f is not data["findings"][1])
    assert by_status["WAIVED"]["waiver"] == {
        "reason": "KMS key rollout tracked in SEC-42",
        "owner": "secops@acme.test",
        "expires": "2099-01-31",
        "expired": False,
    }
    assert by_status["PASS"]["location"] == {"path": f"{TEMPLATES}/x_meta_dq_results.json"}
    assert by_status["ERROR"]["resource"] == HOSTILE  # exact round trip, escaped on the wire
    assert data["findings"][2]["principal"] == GENAI


def test_json_load_round_trip() -> None:
    text = json_report.render(REPORT)
    assert json_report.load(text) == json.loads(text)


def test_json_load_rejects_invalid() -> None:
    with pytest.raises(InputError, match=r"^base\.json:2: not valid JSON"):
        json_report.load('{\n  "version": }', "base.json")
    data = json.loads(json_report.render(REPORT))
    data["findings"][0]["status"] = "BROKEN"
    with pytest.raises(InputError, match=r"^base\.json: .*at findings/0/status: 'BROKEN'"):
        json_report.load(json.dumps(data), "base.json")
    data = json.loads(json_report.render(REPORT))
    del data["run"]["complete"]
    with pytest.raises(InputError, match="'complete' is a required property"):
        json_report.load(json.dumps(data))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["findings"][0].update(column=None),
        lambda d: d["findings"][0].update(in_baseline=False),
        lambda d: d["findings"][0].update(extra=1),
        lambda d: d["findings"][0].update(severity="urgent"),
        lambda d: d["findings"][0].update(fingerprint="xyz"),
        lambda d: d["findings"][0]["location"].update(line=0),
        lambda d: d["run"].update(started_at="2024-05-01T12:00:00+02:00"),
        lambda d: d.update(version="2"),
        lambda d: d["summary"]["by_status"].pop("SKIPPED"),
    ],
)
def test_schema_is_strict(mutate: Callable[[dict[str, Any]], object]) -> None:
    data = json.loads(json_report.render(REPORT))
    mutate(data)
    assert list(_report_validator().iter_errors(data)) != []


# --- SARIF -----------------------------------------------------------------------------


def _sarif_validator() -> Draft7Validator:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    return Draft7Validator(schema)


def test_sarif_golden() -> None:
    check_golden("report.sarif", sarif.render(REPORT))


@pytest.mark.parametrize("report", [REPORT, COMPLETE, _only()], ids=["full", "complete", "empty"])
def test_sarif_validates_against_official_schema(report: Report) -> None:
    data = json.loads(sarif.render(report))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _sarif_validator().iter_errors(data)]
    assert errors == []


def test_sarif_content() -> None:
    data = json.loads(sarif.render(REPORT))
    assert data["version"] == "2.1.0"
    (run,) = data["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "auditor"
    assert driver["version"] == "0.1.0"
    assert "informationUri" not in driver
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["BQA-001", "BQA-002", "BQA-003", "BQA-004"]
    assert rules[0]["properties"] == {
        "tags": ["security", "cis-gcp:7.1", "cis-gcp:7.3", "soc2:CC6.1"],
        "security-severity": "9.5",
    }
    assert rules[0]["helpUri"] == "https://cloud.google.com/bigquery/docs/column-level-security"
    assert "helpUri" not in rules[1]  # a relative reference is not a URI to link to
    assert [r["defaultConfiguration"]["level"] for r in rules] == [
        "error", "error", "warning", "note",
    ]
    assert [r["properties"]["security-severity"] for r in rules] == ["9.5", "8.0", "5.5", "3.0"]

    results = run["results"]
    assert [(r["ruleId"], r["ruleIndex"], r["level"], r["baselineState"]) for r in results] == [
        ("BQA-001", 0, "error", "new"),
        ("BQA-001", 0, "error", "unchanged"),
        ("BQA-002", 1, "error", "new"),
        ("BQA-003", 2, "warning", "new"),
        ("BQA-003", 2, "warning", "new"),
    ]
    assert results[0]["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {
                    "uri": f"{TEMPLATES}/x_meta_pipeline_runs.json",
                    "uriBaseId": "%SRCROOT%",
                },
                "region": {"startLine": 12},
            }
        }
    ]
    assert results[0]["partialFingerprints"] == {
        "auditor/v1": FINDINGS[1].fingerprint,
        "primaryLocationLineHash": f"{FINDINGS[1].fingerprint}:1",
    }
    # A live resource is no file: code scanning still needs one (it refuses a result with
    # only a logical location), so a stable path made from its name, and the name itself.
    assert results[2]["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {
                    "uri": "bigquery.googleapis.com/projects/acme-prod/datasets/customers"
                },
                "region": {"startLine": 1},
            },
            "logicalLocations": [{"fullyQualifiedName": f"{BQ}/customers", "kind": "resource"}],
        }
    ]
    assert "suppressions" not in results[2]
    assert results[3]["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "KMS key rollout tracked in SEC-42",
            "properties": {"owner": "secops@acme.test", "expires": "2099-01-31"},
        }
    ]
    assert results[4]["properties"]["status"] == "ERROR"
    assert results[4]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == HOSTILE

    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert [n["message"]["text"] for n in invocation["toolExecutionNotifications"]] == [
        f"coverage gap: {BQ}/t2: 403: bigquery.tables.list denied",
        "error: rule BQA-003 (customers-cmek) did not run: boom",
    ]
    complete = json.loads(sarif.render(COMPLETE))["runs"][0]["invocations"][0]
    assert complete["executionSuccessful"] is True
    assert complete["toolExecutionNotifications"] == []


def test_sarif_uri_is_percent_encoded() -> None:
    f = dataclasses.replace(
        FINDINGS[1], resource="a dir/x#1?.json", location=Location("a dir/x#1?.json", 1)
    )
    data = json.loads(sarif.render(_only(f)))
    (result,) = data["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "a%20dir/x%231%3F.json"
    assert "logicalLocations" not in result["locations"][0]


# --- JUnit -----------------------------------------------------------------------------


def test_junit_golden() -> None:
    check_golden("report.junit.xml", junit.render(REPORT))


def _counts(element: ET.Element) -> tuple[str | None, ...]:
    return tuple(element.get(k) for k in ("tests", "failures", "errors", "skipped"))


def test_junit_structure() -> None:
    root = ET.fromstring(junit.render(REPORT))
    assert root.tag == "testsuites"
    assert _counts(root) == ("9", "3", "3", "2")
    assert root.get("time") == "3.250"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == [
        "BQA-001 no-credential-columns-in-tenant",
        "BQA-002 no-genai-access-to-customers",
        "BQA-003 customers-cmek",
        "BQA-004 column-descriptions",
        "coverage",
    ]
    assert _counts(suites["BQA-001 no-credential-columns-in-tenant"]) == ("2", "2", "0", "0")
    assert _counts(suites["BQA-003 customers-cmek"]) == ("2", "0", "1", "1")
    assert _counts(suites["BQA-004 column-descriptions"]) == ("2", "0", "0", "1")
    assert _counts(suites["coverage"]) == ("2", "0", "2", "0")

    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    fail = cases[("BQA-001", f"{TEMPLATES}/x_meta_pipeline_runs.json [config.auth.token]")]
    failure = fail.find("failure")
    assert failure is not None
    assert failure.get("type") == "critical"
    assert failure.get("message") == FINDINGS[1].message
    baseline = cases[("BQA-001", f"{TEMPLATES}/x_meta_step_logs.json [api_key]")].find("failure")
    assert baseline is not None
    assert baseline.get("message", "").endswith("(in baseline)")
    assert cases[("BQA-002", f"{BQ}/customers ({GENAI})")].find("failure") is not None
    skipped = cases[("BQA-003", f"{BQ}/customers")].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == (
        "waived: KMS key rollout tracked in SEC-42 (owner secops@acme.test, expires 2099-01-31)"
    )
    hostile = HOSTILE.replace("\x1b", "\\x1b")  # XML 1.0 cannot carry ESC at all
    assert cases[("BQA-003", hostile)].find("error") is not None
    passing = cases[("BQA-004", f"{TEMPLATES}/x_meta_dq_results.json")]
    assert list(passing) == []
    gap = cases[("coverage", f"{BQ}/t2")].find("error")
    assert gap is not None
    assert gap.get("message") == "403: bigquery.tables.list denied"


def test_junit_worst_status_wins_for_one_case() -> None:
    report = _only(
        _at(Severity.LOW, Status.PASS),
        _at(Severity.LOW, Status.FAIL),
        _at(Severity.LOW, Status.WAIVED),
    )
    root = ET.fromstring(junit.render(report))
    assert _counts(root) == ("1", "1", "0", "0")


def test_junit_complete_run_has_no_coverage_suite() -> None:
    root = ET.fromstring(junit.render(COMPLETE))
    assert "coverage" not in {s.get("name") for s in root.iter("testsuite")}


# --- console ---------------------------------------------------------------------------

_SGR = re.compile(r"\x1b\[[0-9;]*m")


def test_console_golden() -> None:
    check_golden("report.console.txt", console.render(REPORT))


def test_console_complete_golden() -> None:
    check_golden("report-complete.console.txt", console.render(COMPLETE, width=120))


def test_console_hostile_names_are_inert() -> None:
    text = console.render(REPORT, width=400)
    assert "\x1b" not in text
    assert "<script>alert(\"x\")</script>\\x1b[31m[bold]pwn's" in text  # shown, not obeyed


def test_console_color_only_adds_styles() -> None:
    plain = console.render(REPORT, width=120)
    colored = console.render(REPORT, color=True, width=120)
    assert colored != plain
    assert _SGR.sub("", colored) == plain
    assert "\x1b[1;31mINCOMPLETE" in colored
    # the only escape sequences are rich's own SGR styles
    assert "\x1b" not in _SGR.sub("", colored)


def test_console_incomplete_header_comes_first() -> None:
    lines = console.render(REPORT, width=200).splitlines()
    assert lines[4].startswith("INCOMPLETE")
    assert lines[5] == f"  coverage gap: {BQ}/t2: 403: bigquery.tables.list denied"
    assert lines[-1].startswith(
        "Summary: 3 failed (2 critical, 1 high, 2 not in baseline), 1 error,"
    )


def test_console_clean_escapes_controls() -> None:
    assert (
        console.clean("a\x1b[31mb\x9bc\x07d\re\tf\ng\u202eh\x7f")
        == "a\\x1b[31mb\\x9bc\\x07d\\x0de\\x09f\\x0ag\\u202eh\\x7f"
    )
