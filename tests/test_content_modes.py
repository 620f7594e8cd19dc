"""One finding set, whatever the mode: a slice of the labelled values corpus planted on the
fast engine, one case per cell, scanned by the local, pushdown and DLP modes (DLP: the
real client against the responder in tests/support, captured then replayed). The three
must report the same hits, detector, row count, prefix and fingerprint alike, and each
case must come out as labelled.

The slice is every CASE_STEP-th case of the dev half plus the cases the issue saw the
modes disagree on (placeholders reported by pushdown only; a PyPI token missed by both).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from auditor.detect.catalog import join_example
from auditor.sources.bigquery import make_client
from benchmarks.corpora.modes import flagged, plant, run_modes
from tests.conftest import LocalBigQuery

CORPUS = Path(__file__).parent.parent / "benchmarks" / "corpora" / "values.dev.csv"
CASE_STEP = 9
P = "gac-prod-471220"
PYPI = "pypi-" + "AgEIcHlwaS5vcmcCJDNmYWtlLXRva2VuLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMAACKlsz"
ISSUE_CASES = [
    ("api_key=<REDACTED> password=******** token=${API_TOKEN}", set()),
    (f"2026-11-26 upload failed: twine upload -u __token__ -p {PYPI}", {"pypi-token"}),
    ("GITHUB_TOKEN=ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", set()),  # bad checksum
    ("next_page_token=eyJvZmZzZXQiOjEwMH0 max_tokens=4096", set()),
]


def cases() -> list[tuple[str, set[str]]]:
    with CORPUS.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    picked = [
        (join_example(r["value"]), set(r["detector"].split())) for r in rows[::CASE_STEP]
    ]
    return picked + ISSUE_CASES


@pytest.mark.emulator
def test_local_pushdown_and_dlp_report_the_same_findings(fast_bq: LocalBigQuery) -> None:
    chosen = cases()
    client = make_client(P, fast_bq.endpoint)
    planted = plant(client, P, "tenant_corpus", [value for value, _ in chosen])
    results = run_modes(fast_bq.endpoint, P, planted.dataset)
    for mode, result in results.items():
        assert result.gaps == (), mode
        assert {s.rows_scanned for s in result.scans} == {1}, mode
    assert results["local"].hits == results["pushdown"].hits == results["dlp"].hits
    found = flagged(planted, results["local"].hits)
    wrong = [
        (n, sorted(expected), sorted(got))
        for n, ((_, expected), got) in enumerate(zip(chosen, found, strict=True))
        if bool(expected) != bool(got) or not expected <= got
    ]
    assert wrong == []
    assert len(results["local"].hits) == sum(1 for _, expected in chosen if expected)
