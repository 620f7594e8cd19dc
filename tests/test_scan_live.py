"""`auditor scan` end to end on a real local BigQuery seeded with the demo estate.

The demo estate (auditor/demo/estate.py) plants a credential column (globex), a public
dataset (initech), a drifted table and a dataset without default CMEK (umbrella) and an
unclassified dataset (scratch_analytics). The faithful engine adds its own empty `local`
dataset, which is not part of the estate and is left out (auditor/local/endpoints.py), even
when asked for by name. With the demo IAM (examples/demo-iam, an offline export
folder) it also plants two GenAI paths to customers (an authorized view from acme_corp for
the Vertex AI agent, group ml-engineers for the RAG indexer) and a project-level dataViewer
binding for bi-analysts. The scan must report exactly those.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import main
from auditor.demo.seed import SeedOptions, seed
from auditor.local import Engine
from auditor.resources import PROJECT_DIR
from auditor.sources.bigquery import make_client
from tests.conftest import LocalBigQuery
from tests.support.faultproxy import FaultProxy, google_error

pytestmark = pytest.mark.emulator

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
ESTATE = ("customers", "acme_corp", "globex", "initech", "umbrella", "scratch_analytics", "local")
TENANT_TABLES = (
    "x_meta_dq_results",
    "x_meta_pipeline_queue",
    "x_meta_pipeline_runs",
    "x_meta_scheduled_runs",
    "x_meta_step_logs",
)
ONLY_ESTATE = [arg for d in ESTATE for arg in ("--dataset", d)]
# A local BigQuery has no IAM API: the demo estate's IAM comes from an offline export folder.
IAM = ("--iam-exports", str(PROJECT_DIR / "examples" / "demo-iam"))
VERTEX_AGENT = "serviceAccount:service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com"
RAG_INDEXER = f"serviceAccount:rag-indexer@{P}.iam.gserviceaccount.com"

EXPECTED = {
    ("tenant-no-credential-columns", f"{BQ}/globex/tables/x_meta_step_logs", "api_token", None),
    ("datasets-not-public", f"{BQ}/initech", None, "allAuthenticatedUsers"),
    ("datasets-not-public", f"{BQ}/initech", None, "allUsers"),
    ("dataset-default-cmek", f"{BQ}/umbrella", None, None),
    ("tenant-tables-match-templates", f"{BQ}/globex/tables/x_meta_step_logs", "api_token", None),
    ("tenant-tables-match-templates", f"{BQ}/umbrella/tables/x_meta_dq_results", "pass_rate", None),
    ("tenant-tables-match-templates", f"{BQ}/umbrella/tables/x_meta_dq_results", "rows_failed",
     None),
    ("datasets-classified", f"{BQ}/scratch_analytics", None, None),
    ("genai-cannot-reach-customers", f"{BQ}/customers", None, VERTEX_AGENT),
    ("genai-cannot-reach-customers", f"{BQ}/customers", None, RAG_INDEXER),
    ("no-broad-project-data-roles", f"{BQ}/customers", None,
     "group:bi-analysts@convergence.example"),
    # Everyone outside AUD-015's approved readers who reaches customers: the two GenAI
    # principals, ml-engineers' nested ml-research users and the bi-analysts users.
    *(
        ("only-approved-readers-of-customers", f"{BQ}/customers", None, member)
        for member in (
            VERTEX_AGENT,
            RAG_INDEXER,
            "user:amara.diallo@convergence.example",
            "user:kenji.watanabe@convergence.example",
            "user:priya.nair@convergence.example",
            "user:sofia.rossi@convergence.example",
            "user:wei.zhang@convergence.example",
        )
    ),
    # Secrets inside values (CONTENT_SECRET_PLANTS), found by the content scan (local mode).
    ("tenant-no-credential-values", f"{BQ}/globex/tables/x_meta_step_logs", "error_message",
     None),
    ("tenant-no-credential-values", f"{BQ}/acme_corp/tables/x_meta_pipeline_runs",
     "error_message", None),
    ("tenant-no-credential-values", f"{BQ}/initech/tables/x_meta_pipeline_runs",
     "run_config.source.query", None),
}  # fmt: skip


@pytest.fixture(scope="module")
def estate(faithful_bq: LocalBigQuery) -> LocalBigQuery:
    seed(make_client(P, faithful_bq.endpoint), SeedOptions())
    return faithful_bq


def scan(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "scan.json"
    result = CliRunner().invoke(main, ["scan", *args, "-f", "json", "-o", str(out)])
    assert "Traceback" not in result.output
    assert out.exists(), result.output
    return result.exit_code, json.loads(out.read_text()), result.output


def failing(report: dict[str, Any]) -> set[tuple[str, str, str | None, str | None]]:
    return {
        (f["rule_name"], f["resource"], f.get("column"), f.get("principal"))
        for f in report["findings"]
        if f["status"] == "FAIL"
    }


def test_scan_reports_exactly_the_planted_violations(estate: LocalBigQuery, tmp_path: Path) -> None:
    code, report, output = scan(tmp_path, "--endpoint", estate.endpoint, *IAM, *ONLY_ESTATE)
    assert failing(report) == EXPECTED
    # The engine's own dataset is no finding, and the run says it was left out.
    assert not [f for f in report["findings"] if f["resource"].startswith(f"{BQ}/local")]
    assert "local" not in report["run"]["scope"]["datasets"]
    assert "left out local: the local engine's own empty dataset" in output
    assert report["run"]["complete"] is True, report["run"]["coverage"]
    assert code == 1
    passed = {(f["rule_name"], f["resource"]) for f in report["findings"] if f["status"] == "PASS"}
    # GenAI-safe tenants stay clean; the customers dataset keeps its secrets in BYTES.
    assert ("tenant-no-credential-columns", f"{BQ}/acme_corp/tables/x_meta_step_logs") in passed
    assert (
        "customers-secrets-encrypted-bytes",
        f"{BQ}/customers/tables/customer_api_keys",
    ) in passed


def test_the_api_path_finds_the_same_as_the_fast_path(
    estate: LocalBigQuery, tmp_path: Path
) -> None:
    _, report, _ = scan(
        tmp_path, "--endpoint", estate.endpoint, "--no-fast-path", *IAM, *ONLY_ESTATE
    )
    assert failing(report) == EXPECTED


def test_snapshot_replays_the_same_audit_offline(estate: LocalBigQuery, tmp_path: Path) -> None:
    snap = tmp_path / "estate.json"
    result = CliRunner().invoke(
        main, ["snapshot", "--endpoint", estate.endpoint, *IAM, *ONLY_ESTATE, "-o", str(snap)]
    )
    assert result.exit_code == 0, result.output
    code, report, _ = scan(tmp_path, "--snapshot", str(snap))
    assert failing(report) == EXPECTED
    assert code == 1
    assert any(i["path"] == str(snap) for i in report["run"]["inputs"])


def test_an_unreadable_dataset_is_a_coverage_gap_and_exit_3(
    estate: LocalBigQuery, tmp_path: Path
) -> None:
    with FaultProxy(estate.endpoint) as proxy:
        proxy.fail(
            "GET",
            r"/datasets/initech$",
            403,
            google_error(403, "Access Denied: Dataset initech", "accessDenied"),
        )
        code, report, output = scan(tmp_path, "--endpoint", proxy.url, *IAM, *ONLY_ESTATE)
    assert code == 3
    assert report["run"]["complete"] is False
    assert [gap["scope"] for gap in report["run"]["coverage"]] == [f"{BQ}/initech"]
    assert "403" in report["run"]["coverage"][0]["reason"]
    # Everything else was still audited; initech's public grants (and its tables' contents)
    # are not claimed either way.
    assert failing(report) == {
        f for f in EXPECTED if f[1] != f"{BQ}/initech" and not f[1].startswith(f"{BQ}/initech/")
    }
    assert "INCOMPLETE" in output or code == 3


def test_allow_partial_turns_the_gap_into_the_findings_exit_code(
    estate: LocalBigQuery, tmp_path: Path
) -> None:
    with FaultProxy(estate.endpoint) as proxy:
        proxy.fail("GET", r"/datasets/initech$", 403, google_error(403, "Access Denied"))
        code, _, _ = scan(tmp_path, "--endpoint", proxy.url, "--allow-partial", *IAM, *ONLY_ESTATE)
    assert code == 1


def test_fast_engine_without_table_iam_says_so(fast_bq: LocalBigQuery, tmp_path: Path) -> None:
    seed(make_client(P, fast_bq.endpoint), SeedOptions(tenants=2, faithful=False))
    assert fast_bq.engine is Engine.FAST
    # One worker: bqemulator's tabledata.list mixes up answers under concurrent calls (the
    # content scan would report malformed answers as gaps).
    serial = ("--workers", "1")
    code, report, _ = scan(
        tmp_path, "--endpoint", fast_bq.endpoint, *IAM, *serial, "--dataset", "acme_corp"
    )
    gaps = {gap["scope"] for gap in report["run"]["coverage"]}
    # bqemulator answers 405 to tables.getIamPolicy: every table is a gap, never a silent pass.
    assert gaps == {
        f"{BQ}/acme_corp/tables/{t}"
        for t in (
            "x_meta_dq_results",
            "x_meta_pipeline_queue",
            "x_meta_pipeline_runs",
            "x_meta_scheduled_runs",
            "x_meta_step_logs",
        )
    }
    assert code == 3
    code, report, _ = scan(
        tmp_path,
        "--endpoint",
        fast_bq.endpoint,
        *IAM,
        *serial,
        "--dataset",
        "acme_corp",
        "--no-table-iam",
    )
    assert report["run"]["complete"] is True
    # bqemulator drops encryption configurations (the seeder sets them), so on this engine the
    # CMEK rules fail; the faithful engine keeps them (see the test above).
    assert failing(report) == {
        ("dataset-default-cmek", f"{BQ}/acme_corp", None, None),
        ("tenant-no-credential-values", f"{BQ}/acme_corp/tables/x_meta_pipeline_runs",
         "error_message", None),
    } | {
        ("table-cmek", f"{BQ}/acme_corp/tables/{t}", None, None) for t in TENANT_TABLES
    }  # fmt: skip
    assert code == 1  # the planted bearer token is critical; the CMEK findings are medium
