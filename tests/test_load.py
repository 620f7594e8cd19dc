"""A CI-size load test: `auditor scan --endpoint` over 100 tenant datasets, faults on.

The estate and both scans come from benchmarks/load.py (the 10,000-dataset benchmark): the
fast engine in memory, seeded through the REST API, scanned once through a fault-free proxy
and once through `chaos(rate=0.05, seed=7)` (which draws every fault kind at this size) plus
one table that always answers 503. The contract: the faulted scan's findings equal the
fault-free scan's, or differ only in objects its coverage gaps name, and then it exits 3.
Peak traced Python memory of each scan stays under memory_bound_mib().

Runtime measured on two shared cores at load average 8: 46 s for this file (engine start, both
scans, the listing test), 21 s of it CPU in the test process; most of the wall time is the
scans waiting, one HTTP call at a time, on a contended engine, and retry backoff.
AUDITOR_LOAD_DATASETS=N runs another size (150: 78 s at load average 9).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from benchmarks import load
from tests.support.faultproxy import FAULT_KINDS, FaultProxy

pytestmark = pytest.mark.emulator

P = load.PROJECT
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
DATASETS = int(os.environ.get("AUDITOR_LOAD_DATASETS", "100"))
FAULT_RATE = 0.05
FAULT_SEED = 7
# A hang-up after 1 s instead of a 30 s client timeout: the same retry path, a CI-size wait.
STALL_SECONDS = 1.0
# tables.get of the table with tenant_00042's planted secret always fails (503).
BROKEN_PATH = f"/projects/{P}/datasets/{load.dataset_id(42)}/tables/x_meta_step_logs"
BROKEN = f"//bigquery.googleapis.com{BROKEN_PATH}"
MISSING = ("x_meta_dq_results", "x_meta_pipeline_queue", "x_meta_pipeline_runs",
           "x_meta_scheduled_runs")  # fmt: skip


@pytest.fixture(scope="module")
def fast_in_memory() -> Iterator[str]:
    """A private in-memory fast engine: the session's fast_bq keeps data on disk and holds
    other tests' datasets."""
    with load.private_engine() as endpoint:
        yield endpoint


def memory_bound_mib(datasets: int) -> float:
    """Measured 6.8 MiB at 100 datasets, 9.2 at 150 and 17.5 at 300 (most of it rendering the JSON
    report, ~3 KB per finding, then the inventory): 5 MiB plus 60 KiB a dataset. Keeping every
    raw tables.get answer (~20 KiB each) or reading an input file with read(64 MiB) exceeds it.
    """
    return 5.0 + datasets * 60 / 1024


def expected_findings(datasets: int) -> set[load.Finding]:
    """What the seeded estate must give (every dataset has one table, x_meta_step_logs)."""
    found: set[load.Finding] = set()
    for index in range(datasets):
        dataset = f"{BQ}/{load.dataset_id(index)}"
        table = f"{dataset}/tables/x_meta_step_logs"
        # bqemulator drops CMEK settings: every dataset and table fails both CMEK rules.
        found.add(("AUD-007", "FAIL", dataset, None, None))
        found.add(("AUD-008", "FAIL", table, None, None))
        tenant = index % load.UNLABELLED_EVERY != load.UNLABELLED_AT
        if not tenant:
            found.add(("AUD-010", "FAIL", dataset, None, None))
            continue
        for missing in MISSING:
            found.add(("AUD-009", "FAIL", f"{dataset}/tables/{missing}", None, None))
        if index % load.CREDENTIAL_EVERY == load.CREDENTIAL_AT:
            found.add(("AUD-001", "FAIL", table, "api_token", None))
            found.add(("AUD-009", "FAIL", table, "api_token", None))
        if index % load.SECRET_EVERY == load.SECRET_AT:
            found.add(("AUD-014", "FAIL", table, "error_message", None))
    return found


def test_faulted_scan_loses_coverage_never_findings(fast_in_memory: str, tmp_path: Path) -> None:
    faults = load.Faults(FAULT_RATE, FAULT_SEED, STALL_SECONDS, broken=f"{BROKEN_PATH}$")
    config = load.LoadConfig(load.EstateShape(DATASETS, 1), faults, workers=1, keep=tmp_path)
    result = load.run_load(fast_in_memory, config, print)  # figures shown on failure
    base, faulted = result.baseline, result.faulted

    assert (base.exit_code, base.gaps) == (1, ())
    assert base.findings == expected_findings(DATASETS)
    assert base.faults == {}

    # Every fault kind was injected, so each had its chance to slip through.
    assert set(faulted.faults) == set(FAULT_KINDS)
    assert faulted.requests > base.requests  # retries went through the proxy
    estate = {f"{BQ}/{load.dataset_id(i)}" for i in range(DATASETS)}
    for scope in faulted.gaps:
        dataset = scope.split("/tables/")[0]
        assert dataset in estate, scope
    # The table that always answers 503 is a gap, and its findings (the planted secret among
    # them) are not claimed either way.
    assert BROKEN in faulted.gaps
    assert any(r.startswith(f"{BROKEN}: table could not be read: 503") for r in faulted.reasons)
    lost = {f for f in base.findings if f[2] == BROKEN}
    assert lost == {
        ("AUD-008", "FAIL", BROKEN, None, None),
        ("AUD-014", "FAIL", BROKEN, "error_message", None),
    }
    assert lost.isdisjoint(faulted.findings)
    assert faulted.exit_code == 3
    # Whatever differs lies in an object a gap names (or inside it); the rest is identical.
    differing = base.findings ^ faulted.findings
    assert {f for f in differing if not load.covered(f[2], faulted.gaps)} == set()

    for run in (base, faulted):
        assert run.peak_mib < memory_bound_mib(DATASETS), run.peak_mib


def test_a_listing_cut_short_without_a_page_token_is_a_coverage_gap(
    fast_in_memory: str, tmp_path: Path
) -> None:
    """bqemulator answers datasets.list with at most maxResults datasets, no page token and
    the true totalItems: the scan must not pass that off as the whole project."""
    dataset = "cut_short_a"
    created = requests.post(
        f"{fast_in_memory}/bigquery/v2/projects/{P}/datasets",
        json={"datasetReference": {"projectId": P, "datasetId": dataset}, "location": "US"},
        timeout=60,
    )
    assert created.status_code == 200, created.text
    listed = {
        "kind": "bigquery#datasetList",
        "datasets": [
            {
                "kind": "bigquery#dataset",
                "id": f"{P}:{dataset}",
                "datasetReference": {"projectId": P, "datasetId": dataset},
                "location": "US",
            }
        ],
        "totalItems": 3,
    }
    output = tmp_path / "scan.json"
    with FaultProxy(fast_in_memory) as proxy:
        proxy.fail("GET", rf"/projects/{P}/datasets$", 200, listed)
        code = load.run_cli(load.scan_args(proxy.url, 1, output))
    report = json.loads(output.read_text(encoding="utf-8"))
    assert [(g["scope"], g["reason"]) for g in report["run"]["coverage"]] == [
        (
            f"//bigquery.googleapis.com/projects/{P}",
            "malformed answer: datasets.list gave 1 of the 3 datasets it counts, without a "
            "page token; the other 2 were not examined",
        )
    ]
    assert code == 3
    # What was listed is still audited.
    assert ("AUD-010", "FAIL", f"{BQ}/{dataset}", None, None) in load.findings_of(report)
