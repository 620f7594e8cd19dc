"""The nightly job's paths as a user types them, on the local BigQuery (faithful engine).

A full run, then `auditor nightly --only AUD-007 --only AUD-011`, then `--dataset acme_corp`,
then a full run again, with the estate changing in between: umbrella gets its default KMS
key (AUD-007, inside the rule-narrowed run's scope) and initech stops being public (AUD-006,
outside both narrowed runs' scopes). Every failing fingerprint's state is asserted after
each run: a narrowed run changes nothing outside its scope, the next full run resolves what
was fixed and raises nothing as new. Each run's SARIF passes the SARIF schema and GitHub's
upload rules; no report of a narrowed run says "Every input in scope was examined".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import main
from auditor.history import HistoryStore
from auditor.model import fingerprint
from auditor.resources import PROJECT_DIR
from tests.conftest import LocalBigQuery
from tests.support import github_sarif
from tests.test_sarif_upload import schema_errors

pytestmark = pytest.mark.emulator

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
DEMO_IAM = PROJECT_DIR / "examples" / "demo-iam"
UMBRELLA_CMEK = fingerprint("AUD-007", f"{BQ}/umbrella", None, None)
INITECH_PUBLIC = {
    fingerprint("AUD-006", f"{BQ}/initech", None, "allUsers"),
    fingerprint("AUD-006", f"{BQ}/initech", None, "allAuthenticatedUsers"),
}
EXAMINED_ALL = "Every input in scope was examined"


@pytest.fixture(scope="module")
def estate(faithful_bq: LocalBigQuery) -> LocalBigQuery:
    from auditor.demo.seed import SeedOptions, seed
    from auditor.sources.bigquery import make_client

    seed(make_client(P, faithful_bq.endpoint), SeedOptions())
    return faithful_bq


def fix_umbrella_and_initech(endpoint: str) -> None:
    """umbrella gets a default CMEK key; initech is no longer public."""
    from google.cloud import bigquery

    from auditor.demo.specs import kms_key
    from auditor.sources.bigquery import make_client

    client = make_client(P, endpoint)
    umbrella = client.get_dataset(f"{P}.umbrella")
    umbrella.default_encryption_configuration = bigquery.EncryptionConfiguration(
        kms_key_name=kms_key(P, "tenants")
    )
    client.update_dataset(umbrella, ["default_encryption_configuration"])
    initech = client.get_dataset(f"{P}.initech")
    public = {"allUsers", "allAuthenticatedUsers"}
    initech.access_entries = [e for e in initech.access_entries if e.entity_id not in public]
    client.update_dataset(initech, ["access_entries"])


class Nightly:
    """`auditor nightly --config auditor.toml ...`, and what each run left behind."""

    def __init__(self, tmp_path: Path, endpoint: str) -> None:
        self.out = tmp_path / "out"
        self.config = tmp_path / "auditor.toml"
        self.config.write_text(
            f'[project]\nid = "{P}"\nbigquery_endpoint = "{endpoint}"\n'
            f'iam_exports = "{DEMO_IAM}"\n'
            '[outputs]\ndir = "out"\nformats = ["json", "sarif", "html"]\n'
            '[thresholds]\nfail_on = "high"\n',
            encoding="utf-8",
        )

    def __call__(self, *args: str) -> tuple[dict[str, Any], list[str], str]:
        command = ["nightly", "--config", str(self.config), "--log-format", "json", *args]
        result = CliRunner().invoke(main, command)
        assert "Traceback" not in result.output, result.output
        assert result.exit_code == 1, result.stderr  # the planted violations keep failing
        messages = [json.loads(line)["message"] for line in result.stderr.splitlines()]
        with HistoryStore.open(self.out / "history.sqlite") as store:
            latest = store.latest()
        assert latest is not None
        stem = self.out / f"nightly-{latest.id}"
        report = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
        sarif = stem.with_suffix(".sarif").read_bytes()
        assert schema_errors(json.loads(sarif)) == []
        github_sarif.check_file(sarif)
        page = stem.with_suffix(".html").read_text(encoding="utf-8")
        return report, messages, page


def failing(report: dict[str, Any]) -> set[str]:
    return {f["fingerprint"] for f in report["findings"] if f["status"] in ("FAIL", "ERROR")}


def states(report: dict[str, Any]) -> dict[str, str]:
    """Every fingerprint the run compared: new / resolved / persisting / not examined."""
    since = report["since_last_run"]
    out = dict.fromkeys(since["new"], "new")
    out.update(dict.fromkeys(since["persisting"], "persisting"))
    out.update((f["fingerprint"], "resolved") for f in since["resolved"])
    out.update((f["fingerprint"], "not examined") for f in since["not_examined"])
    counts = since["counts"]
    assert (
        len(out)
        == counts["new"] + counts["persisting"] + counts["resolved"] + counts["not_examined"]
    )
    return out


def of_rules(report: dict[str, Any], *rule_ids: str) -> set[str]:
    return {
        f["fingerprint"]
        for f in report["findings"]
        if f["status"] in ("FAIL", "ERROR") and f["rule_id"] in rule_ids
    }


def in_dataset(report: dict[str, Any], dataset: str) -> set[str]:
    prefix = f"{BQ}/{dataset}"
    return {
        f["fingerprint"]
        for f in report["findings"]
        if f["status"] in ("FAIL", "ERROR")
        and (f["resource"] == prefix or f["resource"].startswith(prefix + "/"))
    }


def test_scan_sarif_from_the_live_estate_is_accepted_and_narrowed_runs_say_so(
    estate: LocalBigQuery, tmp_path: Path
) -> None:
    """`auditor scan -f sarif` against the local engine, uploaded as is: every result has a
    physical location GitHub accepts; a drifted column points at its template line."""
    live = ["scan", "--endpoint", estate.endpoint, "--iam-exports", str(DEMO_IAM)]
    out = tmp_path / "scan.sarif"
    result = CliRunner().invoke(main, [*live, "-f", "sarif", "-o", str(out)])
    assert result.exit_code == 1, result.output
    raw = out.read_bytes()
    log = json.loads(raw)
    assert schema_errors(log) == []
    github_sarif.check_file(raw)
    template = PROJECT_DIR / "schemas" / "tenant" / "x_meta_dq_results.json"
    line = next(
        i
        for i, text in enumerate(template.read_text(encoding="utf-8").splitlines(), 1)
        if '"name": "pass_rate"' in text
    )
    (drift,) = [
        r
        for r in log["runs"][0]["results"]
        if r["ruleId"] == "AUD-009" and r["properties"].get("column") == "pass_rate"
    ]
    assert drift["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {
                    "uri": "tenant/x_meta_dq_results.json",
                    "uriBaseId": "%SRCROOT%",
                },
                "region": {"startLine": line},
            },
            "logicalLocations": [
                {
                    "fullyQualifiedName": f"{BQ}/umbrella/tables/x_meta_dq_results",
                    "kind": "resource",
                }
            ],
        }
    ]

    narrowed = CliRunner().invoke(main, [*live, "--only", "AUD-007", "--only", "AUD-011"])
    assert narrowed.exit_code == 1, narrowed.output
    assert "complete: every input in scope was examined" not in narrowed.stdout
    assert (
        "narrowed: only rules AUD-007, AUD-011; every input in this scope was examined, the "
        "rest of the estate was not"
    ) in narrowed.stdout


def test_narrowed_nightly_runs_change_nothing_outside_their_scope(
    estate: LocalBigQuery, tmp_path: Path
) -> None:
    nightly = Nightly(tmp_path, estate.endpoint)

    full, _, page = nightly()
    before = failing(full)
    assert UMBRELLA_CMEK in before and before >= INITECH_PUBLIC
    assert full["since_last_run"]["previous_run"] is None
    assert states(full) == dict.fromkeys(before, "new")
    assert EXAMINED_ALL in page

    fix_umbrella_and_initech(estate.endpoint)

    # --only AUD-007 --only AUD-011: umbrella's fix is seen; initech's is not looked at.
    narrowed, messages, page = nightly("--only", "AUD-007", "--only", "AUD-011")
    assert narrowed["run"]["scope"]["narrowed"] is True
    assert narrowed["run"]["scope"]["rules"] == ["AUD-007", "AUD-011"]
    scoped = of_rules(full, "AUD-007", "AUD-011")
    assert failing(narrowed) == scoped - {UMBRELLA_CMEK}
    assert states(narrowed) == {
        **dict.fromkeys(before - scoped, "not examined"),
        **dict.fromkeys(scoped - {UMBRELLA_CMEK}, "persisting"),
        UMBRELLA_CMEK: "resolved",
    }
    assert EXAMINED_ALL not in page
    assert (
        "Narrowed run: every input in its scope was examined, only rules AUD-007, AUD-011" in page
    )
    assert (
        "narrowed run (only rules AUD-007, AUD-011): findings outside this scope are neither "
        "resolved nor new"
    ) in messages
    run_two = narrowed["since_last_run"]["previous_run"]["id"]
    assert (
        f"since run {run_two}: 0 new since the last run, 1 resolved, "
        f"{len(scoped) - 1} persisting, {len(before - scoped)} not examined by this run"
    ) in messages

    # --dataset acme_corp: only acme's findings (and the templates') are compared.
    acme, messages, page = nightly("--dataset", "acme_corp")
    assert acme["run"]["scope"]["dataset_filter"] == ["acme_corp"]
    still_failing = before - {UMBRELLA_CMEK}
    acme_fps = in_dataset(full, "acme_corp")
    assert failing(acme) == acme_fps
    assert states(acme) == {
        **dict.fromkeys(still_failing - acme_fps, "not examined"),
        **dict.fromkeys(acme_fps, "persisting"),
    }
    assert {fp for fp, s in states(acme).items() if s == "not examined"} >= INITECH_PUBLIC
    assert EXAMINED_ALL not in page
    assert "only datasets matching acme_corp" in page

    # Full again: initech's fix is resolved now; nothing comes back as new.
    again, messages, page = nightly()
    assert failing(again) == before - {UMBRELLA_CMEK} - INITECH_PUBLIC
    assert states(again) == {
        **dict.fromkeys(failing(again), "persisting"),
        **dict.fromkeys(INITECH_PUBLIC, "resolved"),
    }
    assert EXAMINED_ALL in page
    assert page.count("(narrowed run: not the whole estate)") == 2  # the trend marks both

    with HistoryStore.open(nightly.out / "history.sqlite") as store:
        runs = store.runs()
        assert [r.narrowed for r in runs] == [False, True, True, False]
        assert [r.partial for r in runs] == [False, True, True, False]
        # The history answers the same afterwards as the reports said at the time.
        assert store.changes(runs[-1].id).resolved == tuple(sorted(INITECH_PUBLIC))
