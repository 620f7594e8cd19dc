"""SARIF that GitHub code scanning accepts, live findings included.

GitHub refuses a whole upload when one result has only a logical location. Every result
therefore gets a physical one: the file of a file finding, the template (or SQL doc) that
defines a live table, at the column's line when the template has the column, else a stable
path made from the resource name. The output is checked against the official SARIF 2.1.0
schema (with its URI formats) and against GitHub's documented upload rules
(tests/support/github_sarif.py), which are themselves tested here to fail on what GitHub
refuses.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft7Validator, FormatChecker

from auditor.cli import main
from auditor.model import (
    Finding,
    Location,
    Report,
    RuleInfo,
    RunInfo,
    Severity,
    Status,
)
from auditor.report import sarif
from auditor.report.html import ChangeSet
from tests.support import github_sarif

DATA = Path(__file__).parent / "data"
SNAPSHOT = DATA / "remediate" / "demo-estate.snapshot.json"
P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"

# RFC 3986 URI-reference (absolute or relative), for the schema's "uri"/"uri-reference".
_URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def sarif_validator() -> Draft7Validator:
    """The official schema (tests/data/sarif-schema-2.1.0.json, OASIS), formats checked."""
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    formats = FormatChecker()
    formats.checks("uri-reference")(
        lambda v: not isinstance(v, str) or bool(_URI_REFERENCE.match(v))
    )
    formats.checks("uri")(
        lambda v: not isinstance(v, str) or bool(_URI.match(v) and _URI_REFERENCE.match(v))
    )
    return Draft7Validator(schema, format_checker=formats)


def schema_errors(log: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator().iter_errors(log)]


# ------------------------------------------------------------------ the rules themselves

RULE = RuleInfo(
    id="AUD-006",
    name="datasets-not-public",
    title="No dataset is public",
    severity=Severity.CRITICAL,
    rationale="Public datasets leak.",
    remediation="Remove allUsers.",
    frameworks={"soc2": ("CC6.1",)},
)
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
RUN = RunInfo(started_at=START, finished_at=START, root="http://x", command="auditor scan")


def live(resource: str, principal: str | None = "allUsers", **more: Any) -> Finding:
    return Finding(
        rule_id="AUD-006",
        rule_name="datasets-not-public",
        status=Status.FAIL,
        severity=Severity.CRITICAL,
        resource=resource,
        message=f"{resource} is readable by {principal}",
        principal=principal,
        **more,
    )


def log_of(*findings: Finding, **report: Any) -> dict[str, Any]:
    data = sarif.to_dict(Report(run=RUN, rules=(RULE,), findings=findings, **report))
    assert isinstance(data, dict)
    return data


def test_a_log_of_live_findings_passes_schema_and_github_rules() -> None:
    log = log_of(live(f"{BQ}/initech"), live(f"{BQ}/initech", "allAuthenticatedUsers"))
    assert schema_errors(log) == []
    assert github_sarif.problems(log, json.dumps(log).encode()) == []


def _result(log: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = log["runs"][0]["results"][0]
    return result


MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    # What GitHub answered the user: a result with a logical location only.
    "logical only": (
        lambda log: _result(log)["locations"][0].pop("physicalLocation"),
        "results[0].locations[0].physicalLocation: required (expected artifact location)",
    ),
    "no location": (
        lambda log: _result(log).update(locations=[]),
        "results[0].locations[]: at least one required",
    ),
    "absolute uri": (
        lambda log: _result(log)["locations"][0]["physicalLocation"]["artifactLocation"].update(
            uri="file:///work/schemas/x.json"
        ),
        "is no relative URI",
    ),
    "rooted path": (
        lambda log: _result(log)["locations"][0]["physicalLocation"]["artifactLocation"].update(
            uri="/work/x.json"
        ),
        "is no relative URI",
    ),
    "escaping path": (
        lambda log: _result(log)["locations"][0]["physicalLocation"]["artifactLocation"].update(
            uri="a/../../x.json"
        ),
        "leaves its root",
    ),
    "unencoded space": (
        lambda log: _result(log)["locations"][0]["physicalLocation"]["artifactLocation"].update(
            uri="a dir/x.json"
        ),
        "is no relative URI",
    ),
    "line 0": (
        lambda log: _result(log)["locations"][0]["physicalLocation"]["region"].update(startLine=0),
        "startLine: 0, must be >= 1",
    ),
    "no region": (
        lambda log: _result(log)["locations"][0]["physicalLocation"].pop("region"),
        "startLine: None, must be >= 1",
    ),
    "no fingerprints": (
        lambda log: _result(log).pop("partialFingerprints"),
        "results[0].partialFingerprints: required",
    ),
    "no line hash": (
        lambda log: _result(log)["partialFingerprints"].pop("primaryLocationLineHash"),
        "primaryLocationLineHash: the one GitHub uses",
    ),
    "empty message": (
        lambda log: _result(log).update(message={"text": ""}),
        "results[0].message.text: required",
    ),
    "wrong rule index": (
        lambda log: _result(log).update(ruleIndex=3),
        "ruleIndex: 3 does not point at 'AUD-006'",
    ),
    "too many tags": (
        lambda log: log["runs"][0]["tool"]["driver"]["rules"][0]["properties"].update(
            tags=[f"t{i}" for i in range(21)]
        ),
        "properties.tags: over 20",
    ),
    "long description": (
        lambda log: log["runs"][0]["tool"]["driver"]["rules"][0]["fullDescription"].update(
            text="x" * 1025
        ),
        "fullDescription.text: over 1024 characters",
    ),
    "no help": (
        lambda log: log["runs"][0]["tool"]["driver"]["rules"][0].pop("help"),
        "help.text: required",
    ),
    "too many results": (
        lambda log: log["runs"][0].update(results=log["runs"][0]["results"] * 25_001),
        "25001 results > 25000",
    ),
    "too many runs": (
        lambda log: log.update(runs=log["runs"] * 21),
        "runs: 21 > 20",
    ),
    "old version": (lambda log: log.update(version="2.0.0"), "version: must be 2.1.0"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_the_github_rules_refuse_what_github_refuses(name: str) -> None:
    mutate, expected = MUTATIONS[name]
    log = copy.deepcopy(log_of(live(f"{BQ}/initech")))
    mutate(log)
    found = github_sarif.problems(log)
    assert len(found) >= 1 and all(expected in p for p in found), found


def test_the_size_limit_is_on_the_compressed_file() -> None:
    log = log_of(live(f"{BQ}/initech"))
    compressible = bytes(range(256)) * (github_sarif.MAX_GZIP_BYTES // 200)
    noise = random.Random(7).randbytes(github_sarif.MAX_GZIP_BYTES + 1)
    assert github_sarif.problems(log, compressible) == []  # compresses well
    assert github_sarif.problems(log, noise) == [
        f"gzip-compressed file over {github_sarif.MAX_GZIP_BYTES} bytes"
    ]


# ------------------------------------------------------------------ what the writer does


def test_a_live_resource_gets_a_stable_path_from_its_name_and_keeps_its_name() -> None:
    log = log_of(live(f"{BQ}/initech"))
    (location,) = _result(log)["locations"]
    assert location == {
        "physicalLocation": {
            "artifactLocation": {"uri": f"bigquery.googleapis.com/projects/{P}/datasets/initech"},
            "region": {"startLine": 1},
        },
        "logicalLocations": [{"fullyQualifiedName": f"{BQ}/initech", "kind": "resource"}],
    }
    assert log_of(live(f"{BQ}/initech")) == log  # the same path every run


@pytest.mark.parametrize(
    ("resource", "uri"),
    [
        (
            f"{BQ}/a b/tables/t#1?",
            f"bigquery.googleapis.com/projects/{P}/datasets/a%20b/tables/t%231%3F",
        ),
        (
            "//cloudresourcemanager.googleapis.com/projects/p",
            "cloudresourcemanager.googleapis.com/projects/p",
        ),
        ("tenant/x.json", "tenant/x.json"),
        ("caf\u00e9/\u202etxt", "caf%C3%A9/%E2%80%AEtxt"),
        # Segments that a URI resolver would collapse, or an absolute path: a hashed path.
        (f"{BQ}/../tables/x", "resources/"),
        ("/etc/passwd", "resources/"),
        ("c:/x", "resources/"),
    ],
)
def test_resource_paths_are_relative_uris(resource: str, uri: str) -> None:
    path = sarif.resource_path(resource)
    assert path == uri or (uri == "resources/" and re.fullmatch(r"resources/[0-9a-f]{32}", path))
    assert github_sarif.RELATIVE_URI.match(path)
    assert sarif.resource_path(resource) == path


def test_a_table_finding_points_at_its_definition_and_column_line() -> None:
    table = f"{BQ}/acme/tables/x_meta_pipeline_runs"
    at_column = live(table, principal=None, column="api_key")
    whole_table = live(table, principal=None)
    definitions = {
        (table, "api_key"): Location("tenant/x_meta_pipeline_runs.json", 40),
        (table, None): Location("tenant/x_meta_pipeline_runs.json"),
    }
    log = log_of(at_column, whole_table, definitions=definitions)
    physical = [r["locations"][0]["physicalLocation"] for r in log["runs"][0]["results"]]
    artifact = {"uri": "tenant/x_meta_pipeline_runs.json", "uriBaseId": "%SRCROOT%"}
    assert physical == [  # report order: the table, then its column
        {"artifactLocation": artifact, "region": {"startLine": 1}},
        {"artifactLocation": artifact, "region": {"startLine": 40}},
    ]
    assert github_sarif.problems(log) == []


def test_a_file_finding_without_a_line_starts_at_line_one() -> None:
    f = live("tenant/x.json", principal=None, location=Location("tenant/x.json"))
    (location,) = _result(log_of(f))["locations"]
    assert location == {
        "physicalLocation": {
            "artifactLocation": {"uri": "tenant/x.json", "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": 1},
        }
    }


def test_over_the_result_limit_the_least_severe_are_left_out_and_said_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sarif, "MAX_RESULTS", 2)
    low = Finding("AUD-006", "n", Status.FAIL, Severity.LOW, f"{BQ}/a", "low one")
    log = log_of(live(f"{BQ}/b"), low, live(f"{BQ}/c"))
    run = log["runs"][0]
    assert [
        r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] for r in run["results"]
    ] == [
        f"{BQ}/b",
        f"{BQ}/c",
    ]
    (notice,) = run["invocations"][0]["toolExecutionNotifications"]
    assert notice["descriptor"]["id"] == "results-left-out"
    assert notice["message"]["text"].startswith("1 results left out")


def test_rule_texts_fit_github_limits() -> None:
    wordy = RuleInfo(
        id="AUD-006",
        name="n" * 300,
        title="t" * 2000,
        severity=Severity.HIGH,
        rationale="r" * 2000,
        remediation="fix",
        frameworks={"soc2": tuple(f"C{i}" for i in range(40))},
    )
    log = sarif.to_dict(Report(run=RUN, rules=(wordy,), findings=(live(f"{BQ}/x"),)))
    (rule,) = log["runs"][0]["tool"]["driver"]["rules"]
    assert len(rule["name"]) == 255 and len(rule["shortDescription"]["text"]) == 1024
    assert rule["properties"]["tags"][0] == "security" and len(rule["properties"]["tags"]) == 20
    assert github_sarif.problems(log) == []


def test_the_nightly_baseline_is_the_last_run() -> None:
    new, old = live(f"{BQ}/new"), live(f"{BQ}/old")
    waived = dataclasses.replace(live(f"{BQ}/w"), status=Status.WAIVED)
    since = ChangeSet(new=(new.fingerprint,), persisting=(old.fingerprint,))
    data = sarif.to_dict(
        Report(run=RUN, rules=(RULE,), findings=(new, old, waived)), since_last_run=since
    )
    states = {
        r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]: r.get("baselineState")
        for r in data["runs"][0]["results"]
    }
    # A waived finding is no failure the history tracks: no state rather than a wrong one.
    assert states == {f"{BQ}/new": "new", f"{BQ}/old": "unchanged", f"{BQ}/w": None}


# ------------------------------------------------------------------ the command, end to end


def _definition_line(snapshot: dict[str, Any], table: str, column: str) -> int:
    (template,) = [t for t in snapshot["inventory"]["templates"] if t["name"] == table]
    (field,) = [f for f in template["fields"] if f["name"] == column]
    line: int = field["line"]
    return line


def test_scan_sarif_of_live_findings_is_accepted_by_github(tmp_path: Path) -> None:
    """`auditor scan -f sarif` on a collected estate (a snapshot of the demo's live
    BigQuery), as a user uploads it: every result located, exactly where."""
    out = tmp_path / "scan.sarif"
    result = CliRunner().invoke(
        main,
        ["scan", "--snapshot", str(SNAPSHOT), "-f", "sarif", "-o", str(out), "--allow-partial"],
    )
    assert result.exit_code == 1, result.output
    raw = out.read_bytes()
    log = json.loads(raw)
    assert schema_errors(log) == []
    github_sarif.check_file(raw)
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    located = {
        (
            r["ruleId"],
            r["properties"]["resource"],
            r["properties"].get("column") or r["properties"].get("principal"),
        ): (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        )
        for r in log["runs"][0]["results"]
    }
    dq, logs = f"{BQ}/umbrella/tables/x_meta_dq_results", f"{BQ}/globex/tables/x_meta_step_logs"
    rag = f"serviceAccount:rag-indexer@{P}.iam.gserviceaccount.com"
    vertex = "serviceAccount:service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com"

    def made(resource: str) -> tuple[str, int, str]:
        return (resource.removeprefix("//"), 1, resource)

    assert located == {
        # Template columns: the template, at the column's line.
        ("AUD-009", dq, "pass_rate"): (
            "tenant/x_meta_dq_results.json",
            _definition_line(snapshot, "x_meta_dq_results", "pass_rate"),
            dq,
        ),
        ("AUD-009", dq, "rows_failed"): (
            "tenant/x_meta_dq_results.json",
            _definition_line(snapshot, "x_meta_dq_results", "rows_failed"),
            dq,
        ),
        # A column the template lacks: the template itself.
        ("AUD-009", logs, "api_token"): ("tenant/x_meta_step_logs.json", 1, logs),
        ("AUD-001", logs, "api_token"): ("tenant/x_meta_step_logs.json", 1, logs),
        # Datasets: no file defines them; a path made from the resource name.
        ("AUD-006", f"{BQ}/initech", "allUsers"): made(f"{BQ}/initech"),
        ("AUD-006", f"{BQ}/initech", "allAuthenticatedUsers"): made(f"{BQ}/initech"),
        ("AUD-007", f"{BQ}/umbrella", None): made(f"{BQ}/umbrella"),
        ("AUD-010", f"{BQ}/scratch_analytics", None): made(f"{BQ}/scratch_analytics"),
        ("AUD-011", f"{BQ}/customers", rag): made(f"{BQ}/customers"),
        ("AUD-011", f"{BQ}/customers", vertex): made(f"{BQ}/customers"),
        ("AUD-013", f"{BQ}/customers", "group:bi-analysts@convergence.example"): made(
            f"{BQ}/customers"
        ),
        # AUD-015: every reader of customers outside the approved ones (issue 12).
        **{
            ("AUD-015", f"{BQ}/customers", member): made(f"{BQ}/customers")
            for member in (
                rag,
                vertex,
                "user:amara.diallo@convergence.example",
                "user:kenji.watanabe@convergence.example",
                "user:priya.nair@convergence.example",
                "user:sofia.rossi@convergence.example",
                "user:wei.zhang@convergence.example",
            )
        },
    }
    fingerprints = [
        r["partialFingerprints"]["primaryLocationLineHash"] for r in log["runs"][0]["results"]
    ]
    assert len(set(fingerprints)) == len(fingerprints)  # GitHub tells the alerts apart
