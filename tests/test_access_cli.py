"""`auditor access explain` from an offline export folder (tests/data/exports)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from auditor.cli import main

EXPORTS = "tests/data/exports"


def explain(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["access", "explain", "--exports", EXPORTS, *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_an_org_deny_on_all_principals_leaves_no_reader() -> None:
    # The example org denies tables.getData to principalSet://goog/public:all (everyone).
    code, output = explain("--dataset", "customers")
    assert "no path found" in output
    assert code == 0


def test_an_authorized_view_outside_the_inventory_is_a_gap_and_exit_3() -> None:
    code, output = explain("--dataset", "acme")
    assert (
        "[unknown-dataset] //bigquery.googleapis.com/projects/gac-prod-471220/datasets/acme: "
        "authorized view projects/gac-prod-471220/datasets/reporting/tables/acme_runs is not in "
        "the inventory" in output
    )
    assert code == 3


def test_json_output() -> None:
    code, output = explain("--dataset", "acme", "--json")
    payload = json.loads(output[output.index("{") :])
    assert payload["paths"] == []
    assert [g["kind"] for g in payload["gaps"]] == ["unknown-dataset"]
    assert code == 3
