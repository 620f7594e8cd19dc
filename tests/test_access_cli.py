"""`auditor access explain` from an offline export folder (tests/data/exports)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from auditor.cli import main
from tests.support.estates import ExportEstate

EXPORTS = "tests/data/exports"
P = "gac-prod-471220"
CUSTOMERS = f"//bigquery.googleapis.com/projects/{P}/datasets/customers"
ALICE = "user:alice@convergence.example"
VERTEX = "serviceAccount:service-612345678901@gcp-sa-aiplatform.iam.gserviceaccount.com"


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


# ---------------------------------------------------------------------------- estates


def explain_estate(estate: ExportEstate, tmp_path: Path, *args: str) -> tuple[int, str]:
    folder = estate.write(tmp_path / "exports")
    result = CliRunner().invoke(
        main, ["access", "explain", "--exports", str(folder), "--dataset", "customers", *args]
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout


def test_a_principal_with_four_paths_gets_each_whole_and_numbered(tmp_path: Path) -> None:
    estate = ExportEstate(project=P)
    estate.dataset(
        "customers",
        [
            ("userByEmail", "alice@convergence.example", "READER"),
            ("groupByEmail", "g1@convergence.example", "READER"),
        ],
    )
    estate.bind(f"projects/{P}", "roles/bigquery.dataViewer", "group:g2@convergence.example")
    estate.group("g1@convergence.example", [ALICE])
    estate.group("g2@convergence.example", [ALICE, "group:g3@convergence.example"])
    estate.group("g3@convergence.example", [ALICE])
    code, text = explain_estate(estate, tmp_path, "--principal", ALICE)
    assert code == 1
    lines = text.splitlines()
    assert lines[0] == f"{ALICE} can read {CUSTOMERS} by 4 paths:"
    numbered = [
        line.split(". ", 1)[0].strip()
        for line in lines
        if line.startswith("  ") and ". " in line[:6]
    ]
    assert numbered == ["1", "2", "3", "4"]
    # The longest path, every hop: alice -> g3 -> g2 -> the project binding.
    start = lines.index(f"  4. {ALICE} is a member of group:g3@convergence.example")
    assert lines[start + 1 : start + 3] == [
        "     -> group:g3@convergence.example is a member of group:g2@convergence.example",
        "     -> group:g2@convergence.example holds roles/bigquery.dataViewer on "
        f"projects/{P}, which covers every dataset below it",
    ]


def test_a_gap_that_cannot_hide_the_principal_asked_about_leaves_it_complete(
    tmp_path: Path,
) -> None:
    estate = ExportEstate(project=P)
    estate.dataset("customers", [("groupByEmail", "admins@convergence.example", "OWNER")])
    estate.group("admins@convergence.example", ["user:admin@convergence.example"])
    estate.bind(f"projects/{P}", "roles/mystery.reader", ALICE)
    code, text = explain_estate(estate, tmp_path, "--principal", VERTEX)
    assert (code, text) == (0, f"no path found for {VERTEX}\n")
    code, text = explain_estate(estate, tmp_path, "--principal", ALICE)
    assert code == 3
    assert "    could matter for: user:alice@convergence.example\n" in text
