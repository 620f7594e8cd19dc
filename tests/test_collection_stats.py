"""The run section's collection figures: counted per API method, written into the JSON
report (validated by its schema) and read back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.gcp.counting import method_name
from auditor.model import CollectionStats, Report, RunInfo
from auditor.report import json as json_report
from auditor.report.reader import report_from_json

BASE = "http://127.0.0.1:9050/bigquery/v2/projects/gac-prod-471220"


@pytest.mark.parametrize(
    ("verb", "url", "method"),
    [
        ("GET", f"{BASE}/datasets?all=true&maxResults=10000", "datasets.list"),
        ("GET", f"{BASE}/datasets/tenant_00042?prettyPrint=false", "datasets.get"),
        ("GET", f"{BASE}/datasets/tenant_00042/tables", "tables.list"),
        ("GET", f"{BASE}/datasets/tenant_00042/tables/x_meta_step_logs", "tables.get"),
        ("POST", f"{BASE}/datasets/d/tables/t:getIamPolicy", "tables.getIamPolicy"),
        ("GET", f"{BASE}/datasets/d/tables/t/data?maxResults=100", "tabledata.list"),
        ("POST", f"{BASE}/queries", "jobs.query"),
        ("GET", f"{BASE}/queries/job_123?location=US", "jobs.getQueryResults"),
        ("POST", f"{BASE}/jobs", "jobs.insert"),
        ("GET", f"{BASE}/jobs/job_123", "jobs.get"),
        ("PATCH", f"{BASE}/datasets/d", "other"),
        ("GET", "http://127.0.0.1:9050/v1/projects/p:searchAllIamPolicies", "other"),
    ],
)
def test_requests_are_counted_under_their_rest_method(verb: str, url: str, method: str) -> None:
    assert method_name(verb, url) == method


def test_the_run_section_round_trips_through_the_json_report() -> None:
    stats = CollectionStats(
        seconds=12.5,
        calls={"tables.get": 2, "datasets.get": 3, "cloudasset.searchAllIamPolicies": 1},
        fast_path_tables=4,
        fallbacks={"dataset options disagree": 2},
        locations=("eu", "us"),
        table_iam="cloud-asset-inventory",
        throttled=1,
        concurrency=32,
        lowest_concurrency=16,
        notes=("2 tables read one by one: ...",),
    )
    when = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    report = Report(
        run=RunInfo(when, when, "bigquery:p", "auditor scan", collection=stats),
        rules=(),
        findings=(),
    )
    text = json_report.render(report)
    loaded = json_report.load(text)  # validates against schemas/formats/report.schema.json
    assert loaded["run"]["collection"]["calls"] == {
        "cloudasset.searchAllIamPolicies": 1,
        "datasets.get": 3,
        "tables.get": 2,
    }
    assert report_from_json(text, "r.json").run.collection == stats
    without = Report(run=RunInfo(when, when, "repo", "auditor gate"), rules=(), findings=())
    assert "collection" not in json_report.load(json_report.render(without))["run"]
