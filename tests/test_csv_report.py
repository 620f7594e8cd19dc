"""`-f csv` and `-f controls-csv`: fixed columns, one row per finding, formula cells
neutralised, and every value back when read (report/csv.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auditor.model import Finding, Location, Report, RuleInfo, RunInfo, Severity, Status, WaiverRef
from auditor.report import csv as csv_report
from auditor.report.summary import ordered

BQ = "//bigquery.googleapis.com/projects/acme-prod/datasets"
START = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
RULES = (
    RuleInfo("AUD-001", "tenant-no-credential-columns", "t", Severity.CRITICAL, "r", "m",
             frameworks={"soc2": ("CC6.1",), "cis_gcp": ("7.1",)}),
    RuleInfo("AUD-006", "datasets-not-public", "t", Severity.HIGH, "r", "m",
             frameworks={"soc2": ("CC6.1", "CC6.6")}),
    RuleInfo("AUD-007", "dataset-default-cmek", "t", Severity.MEDIUM, "r", "m",
             frameworks={"iso27001_2022": ("A.8.24",)}),
)  # fmt: skip
HOSTILE = ["=HYPERLINK(\"http://x.test\")", "+1", "-2", "@SUM(A1)", "\tx", "'quoted", "a,b\n\"c\""]
FINDINGS = (
    Finding("AUD-001", RULES[0].name, Status.FAIL, Severity.CRITICAL, f"{BQ}/tenant_a/tables/t",
            HOSTILE[0], column="config.auth.token", location=Location("t.json", 12),
            evidence={"detector": "name", "kinds": ["a", "b"], "n": 1.5}, remediation=HOSTILE[1]),
    Finding("AUD-006", RULES[1].name, Status.WAIVED, Severity.HIGH, f"{BQ}/tenant_b",
            HOSTILE[6], principal="allUsers", in_baseline=True,
            waiver=WaiverRef(HOSTILE[3], HOSTILE[2], "2024-05-09")),
    Finding("AUD-006", RULES[1].name, Status.PASS, Severity.HIGH, f"{BQ}/tenant_c",
            HOSTILE[4] + HOSTILE[5], column=HOSTILE[5]),
    Finding("AUD-007", RULES[2].name, Status.ERROR, Severity.MEDIUM, "docs/x.md",
            "a line\u2028with a separator \x1b[31m"),
)  # fmt: skip
REPORT = Report(RunInfo(START, START + timedelta(seconds=1), "r", "scan"), RULES, FINDINGS)


def test_columns_are_fixed_and_rows_follow_report_order() -> None:
    text = csv_report.render(REPORT)
    assert text.splitlines()[0] == ",".join(csv_report.FINDING_COLUMNS)
    rows = csv_report.read(text)
    assert [r["fingerprint"] for r in rows] == [f.fingerprint for f in ordered(FINDINGS)]
    assert text.endswith("\r\n")


def test_every_value_comes_back() -> None:
    rows = {r["fingerprint"]: r for r in csv_report.read(csv_report.render(REPORT))}
    token = rows[FINDINGS[0].fingerprint]
    assert (token["message"], token["remediation"]) == (HOSTILE[0], HOSTILE[1])
    assert (token["location_path"], token["location_line"]) == ("t.json", "12")
    assert token["dataset"] == "acme-prod.tenant_a"
    assert csv_report.evidence_of(token) == {"detector": "name", "kinds": ["a", "b"], "n": 1.5}
    waived = rows[FINDINGS[1].fingerprint]
    assert (waived["waiver_owner"], waived["waiver_reason"], waived["waiver_expires"],
            waived["waiver_expired"], waived["in_baseline"]) == (
        HOSTILE[2], HOSTILE[3], "2024-05-09", "false", "true")  # fmt: skip
    assert waived["message"] == HOSTILE[6]
    passing = rows[FINDINGS[2].fingerprint]
    assert passing["column"] == HOSTILE[5] and passing["waiver_owner"] == ""
    # Control and separator characters are shown as on the page, never written raw.
    assert rows[FINDINGS[3].fingerprint]["message"] == "a line\\u2028with a separator \\u001b[31m"


@pytest.mark.parametrize("cell", HOSTILE[:6])
def test_no_cell_starts_a_formula(cell: str) -> None:
    assert csv_report.neutralise(cell).startswith("'")
    assert csv_report.unneutralise(csv_report.neutralise(cell)) == cell
    text = csv_report.render(REPORT)
    for line in text.splitlines()[1:]:
        assert not line.startswith(("=", "+", "-", "@"))


def test_controls_table() -> None:
    rows = csv_report.read(csv_report.render_controls(REPORT))
    assert [(r["framework"], r["control"], r["state"], r["rule_states"]) for r in rows] == [
        ("soc2", "CC6.1", "failing", "AUD-001=FAIL;AUD-006=WAIVED"),
        ("soc2", "CC6.6", "failing", "AUD-006=WAIVED"),
        ("iso27001_2022", "A.8.24", "unverified", "AUD-007=ERROR"),
        ("cis_gcp", "7.1", "failing", "AUD-001=FAIL"),
    ]
    assert [r["waived_only"] for r in rows] == ["false", "true", "false", "false"]
