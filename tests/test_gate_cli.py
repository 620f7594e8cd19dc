"""`auditor gate` end to end, through the CLI: exact findings, exit codes, formats, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from jsonschema import Draft7Validator

from auditor.cli import main
from auditor.report import json as json_report
from auditor.resources import PROJECT_DIR, SCHEMAS_DIR

EXAMPLE = PROJECT_DIR / "examples" / "platform-repo"
ONBOARDING = "templates/customer/onboarding/schemas"
SQL = "database/schemas"
DATA = Path(__file__).parent / "data"

# The planted problems of examples/platform-repo (see its README), and nothing else.
PLANTED = {
    (
        "tenant-no-credential-columns",
        f"{ONBOARDING}/x_meta_pipeline_runs.json",
        "run_config.source.access_token",
    ),
    (
        "tenant-no-credential-columns",
        f"{SQL}/tenant_dataset.sql#x_meta_pipeline_runs",
        "run_config.source.access_token",
    ),
    ("tenant-no-credential-columns", f"{ONBOARDING}/x_meta_api_keys.json", "encrypted_api_key"),
    (
        "tenant-no-credential-columns",
        f"{ONBOARDING}/x_meta_cloud_credentials.json",
        "encrypted_credentials",
    ),
    ("tenant-no-credential-templates", f"{ONBOARDING}/x_meta_api_keys.json", None),
    ("tenant-no-credential-templates", f"{ONBOARDING}/x_meta_cloud_credentials.json", None),
    ("sql-docs-match-templates", f"{SQL}/tenant_dataset.sql#x_meta_step_logs", "duration_ms"),
    ("sql-docs-match-templates", f"{SQL}/tenant_dataset.sql#x_meta_step_logs", "bytes_processed"),
    ("sql-docs-match-templates", f"{SQL}/tenant_dataset.sql#x_meta_step_logs", "worker_hostname"),
    (
        "customers-secrets-encrypted-bytes",
        f"{SQL}/customers_auth_dataset.sql#customer_cloud_credentials",
        "service_account_json",
    ),
}


def gate(*args: str | Path) -> tuple[Result, dict[str, Any] | None]:
    """Run `auditor gate ... -f json -o FILE` and return the result and the parsed report."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        result = CliRunner().invoke(main, ["gate", *map(str, args), "-f", "json", "-o", str(out)])
        report = json_report.load(out.read_text(), "out.json") if out.exists() else None
    assert "Traceback" not in result.output
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result, report


def failing(report: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    return {
        (f["rule_name"], f["resource"], f.get("column"))
        for f in report["findings"]
        if f["status"] == "FAIL"
    }


def clean_copy(tmp_path: Path) -> Path:
    """The example repo fixed: no NOT USED templates, the canonical schemas and SQL docs."""
    root = tmp_path / "clean"
    shutil.copytree(EXAMPLE, root)
    for name in ("x_meta_api_keys.json", "x_meta_cloud_credentials.json"):
        (root / ONBOARDING / name).unlink()
    for template in (SCHEMAS_DIR / "tenant").glob("*.json"):
        shutil.copy(template, root / ONBOARDING / template.name)
    for doc in (SCHEMAS_DIR / "sql").glob("*.sql"):
        shutil.copy(doc, root / SQL / doc.name)
    return root


def test_example_repo_reports_exactly_the_planted_problems() -> None:
    result, report = gate(EXAMPLE)
    assert result.exit_code == 1
    assert report is not None
    assert failing(report) == PLANTED
    assert report["run"]["complete"] is True
    assert report["summary"]["by_status"]["ERROR"] == 0


def test_findings_point_at_the_offending_line() -> None:
    _, report = gate(EXAMPLE)
    assert report is not None
    lines = {
        (f["resource"], f.get("column")): f["location"]
        for f in report["findings"]
        if f["status"] == "FAIL"
    }
    template = (EXAMPLE / ONBOARDING / "x_meta_pipeline_runs.json").read_text().splitlines()
    loc = lines[(f"{ONBOARDING}/x_meta_pipeline_runs.json", "run_config.source.access_token")]
    assert loc["path"] == f"{ONBOARDING}/x_meta_pipeline_runs.json"
    assert '"name": "access_token"' in template[loc["line"] - 1]
    doc = (EXAMPLE / SQL / "tenant_dataset.sql").read_text().splitlines()
    loc = lines[(f"{SQL}/tenant_dataset.sql#x_meta_step_logs", "worker_hostname")]
    assert doc[loc["line"] - 1].strip().startswith("worker_hostname")


def test_clean_copy_passes(tmp_path: Path) -> None:
    result, report = gate(clean_copy(tmp_path))
    assert report is not None
    assert failing(report) == set()
    assert result.exit_code == 0


def test_the_shipped_schemas_pass_every_rule() -> None:
    result, report = gate(
        SCHEMAS_DIR, "--template-glob", "tenant/*.json", "--template-glob", "customers/*.json"
    )
    assert report is not None
    assert failing(report) == set()
    passed = {(f["rule_name"], f["resource"]) for f in report["findings"] if f["status"] == "PASS"}
    assert ("customers-secrets-encrypted-bytes", "customers/customer_api_keys.json") in passed
    assert ("tenant-no-credential-columns", "tenant/x_meta_step_logs.json") in passed
    assert result.exit_code == 0


def test_sarif_output_is_valid_and_points_at_files(tmp_path: Path) -> None:
    out = tmp_path / "gate.sarif"
    result = CliRunner().invoke(main, ["gate", str(EXAMPLE), "-f", "sarif", "-o", str(out)])
    assert result.exit_code == 1
    sarif = json.loads(out.read_text())
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    Draft7Validator(schema).validate(sarif)
    located = {
        (
            r["ruleId"],
            loc["physicalLocation"]["artifactLocation"]["uri"],
            loc["physicalLocation"]["region"]["startLine"],
        )
        for r in sarif["runs"][0]["results"]
        for loc in r["locations"]
    }
    lines = (EXAMPLE / ONBOARDING / "x_meta_api_keys.json").read_text().splitlines()
    api_key_line = next(i for i, t in enumerate(lines, 1) if '"encrypted_api_key"' in t)
    assert ("AUD-001", f"{ONBOARDING}/x_meta_api_keys.json", api_key_line) in located


def test_junit_has_a_case_per_rule_and_resource(tmp_path: Path) -> None:
    out = tmp_path / "gate.xml"
    CliRunner().invoke(main, ["gate", str(EXAMPLE), "-f", "junit", "-o", str(out)])
    suites = ET.parse(out).getroot()
    failed = {
        (suite.get("name"), case.get("name"))
        for suite in suites
        for case in suite
        if case.find("failure") is not None
    }
    assert (
        "AUD-002 tenant-no-credential-templates",
        f"{ONBOARDING}/x_meta_api_keys.json",
    ) in failed
    assert len(failed) == len(PLANTED)


def test_output_dir_writes_every_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "gate",
            str(EXAMPLE),
            "-f",
            "json",
            "-f",
            "sarif",
            "-f",
            "junit",
            "-f",
            "console",
            "--output-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gate.json", "gate.sarif", "gate.xml"]
    assert "tenant-no-credential-templates" in result.output


def test_broken_json_template_is_a_located_failure_and_an_incomplete_audit(tmp_path: Path) -> None:
    root = clean_copy(tmp_path)
    (root / ONBOARDING / "x_meta_dq_results.json").write_text('{"fields": [\n  {"name": "a",\n')
    result, report = gate(root)
    assert result.exit_code == 3
    assert report is not None
    assert report["run"]["complete"] is False
    (gap,) = report["run"]["coverage"]
    assert gap["scope"] == f"{ONBOARDING}/x_meta_dq_results.json"
    (bad,) = [f for f in report["findings"] if f["status"] == "FAIL"]
    assert bad["rule_name"] == "schema-definitions-valid"
    assert bad["location"] == {"path": f"{ONBOARDING}/x_meta_dq_results.json", "line": 3}
    # --allow-partial: the failure itself still blocks.
    result, _ = gate(root, "--allow-partial")
    assert result.exit_code == 1


def test_wrong_types_and_deep_nesting_are_reported_with_column_paths(tmp_path: Path) -> None:
    root = clean_copy(tmp_path)
    deep: dict[str, Any] = {"name": "leaf", "type": "STRING"}
    for level in range(19, 0, -1):
        deep = {"name": f"l{level}", "type": "RECORD", "fields": [deep]}
    deep_text = json.dumps([deep], indent=2)
    (root / ONBOARDING / "x_meta_deep.json").write_text(deep_text)
    l16_line = next(i for i, t in enumerate(deep_text.splitlines(), 1) if '"l16"' in t)
    (root / ONBOARDING / "x_meta_typed.json").write_text(
        '[\n {"name": "a", "type": "STRNG"},\n {"name": 42, "type": "STRING"}\n]\n'
    )
    result, report = gate(root)
    assert report is not None
    problems = {
        (f["resource"], f.get("column"), f["location"]["line"])
        for f in report["findings"]
        if f["status"] == "FAIL"
    }
    deep_path = ".".join(f"l{i}" for i in range(1, 17))
    assert (f"{ONBOARDING}/x_meta_deep.json", deep_path, l16_line) in problems
    assert (f"{ONBOARDING}/x_meta_typed.json", "a", 2) in problems
    assert any(r == f"{ONBOARDING}/x_meta_typed.json" and line == 3 for r, _, line in problems)
    assert result.exit_code in (1, 3)


def test_policy_with_a_typo_is_exit_2_with_file_and_line(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(PROJECT_DIR / "policies", policies)
    bad = policies / "AUD-003-schema-definitions-valid.yaml"
    bad.write_text(bad.read_text().replace("severity: high", "severty: high"))
    result = CliRunner().invoke(main, ["gate", str(EXAMPLE), "--policies", str(policies)])
    assert result.exit_code == 2
    assert f"{bad}:4: unknown key 'severty' (did you mean 'severity'?)" in result.output
    assert "Traceback" not in result.output


def test_waivers_apply_until_they_expire(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n"
        "  - rule: sql-docs-match-templates\n"
        f"    resource: '{SQL}/tenant_dataset.sql#*'\n"
        "    reason: doc refresh tracked in PLAT-812\n"
        "    owner: data-platform@example.com\n"
        "    expires: 2999-01-01\n"
        "  - rule: AUD-005\n"
        "    resource: '*'\n"
        "    reason: migration\n"
        "    owner: sec@example.com\n"
        "    expires: 2020-01-01\n"
    )
    result, report = gate(EXAMPLE, "--waivers", waivers)
    assert report is not None
    waived = {
        (f["rule_name"], f.get("column")) for f in report["findings"] if f["status"] == "WAIVED"
    }
    assert waived == {
        ("sql-docs-match-templates", c)
        for c in ("duration_ms", "bytes_processed", "worker_hostname")
    }
    (expired,) = [
        f
        for f in report["findings"]
        if f["rule_name"] == "customers-secrets-encrypted-bytes" and f["status"] == "FAIL"
    ]
    assert expired["waiver"]["expired"] is True
    assert "expired on 2020-01-01" in result.output
    assert result.exit_code == 1


def test_only_narrows_the_rules() -> None:
    result, report = gate(EXAMPLE, "--only", "AUD-004", "--fail-on", "medium")
    assert report is not None
    assert {f["rule_id"] for f in report["findings"]} == {"AUD-004"}
    assert result.exit_code == 1
    result, _ = gate(EXAMPLE, "--only", "no-such-rule")
    assert result.exit_code == 2


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
    )


def test_baseline_ref_blocks_only_what_the_change_introduces(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE, root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    result, report = gate(root, "--baseline-ref", "main")
    assert report is not None
    assert result.exit_code == 0
    assert all(f.get("in_baseline") for f in report["findings"] if f["status"] == "FAIL")

    queue = root / ONBOARDING / "x_meta_pipeline_queue.json"
    fields = json.loads(queue.read_text())
    fields.append({"name": "webhookSecret", "type": "STRING", "mode": "NULLABLE"})
    queue.write_text(json.dumps(fields, indent=2))
    result, report = gate(root, "--baseline-ref", "main")
    assert report is not None
    new = {
        (f["resource"], f.get("column"))
        for f in report["findings"]
        if f["status"] == "FAIL" and not f.get("in_baseline")
    }
    assert new == {(f"{ONBOARDING}/x_meta_pipeline_queue.json", "webhookSecret")}
    assert result.exit_code == 1


def test_baseline_report_file(tmp_path: Path) -> None:
    runner = CliRunner()
    base = tmp_path / "base.json"
    runner.invoke(main, ["gate", str(EXAMPLE), "-f", "json", "-o", str(base)])
    result, report = gate(EXAMPLE, "--baseline", base)
    assert result.exit_code == 0
    assert report is not None
    assert report["summary"]["fail_not_in_baseline_by_severity"]["critical"] == 0


@pytest.mark.parametrize("args", [["gate", "/no/such/dir"], ["gate", ".", "--fail-on", "bogus"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(main, args).exit_code == 2
