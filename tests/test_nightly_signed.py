"""The nightly job as deployed, on the local BigQuery (faithful engine): a config with a
`[scope] datasets` list and a signing key, night after night, then once narrowed by hand.

- The config's dataset list is the standing scope: its runs are full runs (not narrowed in
  the JSON, the history, the trend or the page); `--dataset acme_corp` on top is narrowed.
- Every run's JSON and HTML verify with the signer's public key (`auditor verify`); an
  edited copy fails; the history records the signed JSON's SHA-256.
- `auditor report nightly-<run>.json` renders the same "Since the last run" section as the
  nightly's own page, not-examined count included.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auditor.cli import main
from auditor.history import HistoryStore
from auditor.model import fingerprint
from auditor.resources import PROJECT_DIR
from tests.conftest import LocalBigQuery

from .test_nightly_signing import edited_copy, keys, verify
from .test_since_last_run import counts, since_section

pytestmark = pytest.mark.emulator

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
DEMO_IAM = PROJECT_DIR / "examples" / "demo-iam"
ESTATE = ("customers", "acme_corp", "globex", "initech", "umbrella", "scratch_analytics")
INITECH_PUBLIC = {
    fingerprint("AUD-006", f"{BQ}/initech", None, "allUsers"),
    fingerprint("AUD-006", f"{BQ}/initech", None, "allAuthenticatedUsers"),
}


@pytest.fixture(scope="module")
def estate(faithful_bq: LocalBigQuery) -> LocalBigQuery:
    from auditor.demo.seed import SeedOptions, seed
    from auditor.sources.bigquery import make_client

    seed(make_client(P, faithful_bq.endpoint), SeedOptions())
    return faithful_bq


def make_initech_private(endpoint: str) -> None:
    from auditor.sources.bigquery import make_client

    client = make_client(P, endpoint)
    initech = client.get_dataset(f"{P}.initech")
    public = {"allUsers", "allAuthenticatedUsers"}
    initech.access_entries = [e for e in initech.access_entries if e.entity_id not in public]
    client.update_dataset(initech, ["access_entries"])


class Job:
    """`auditor nightly --config auditor.toml ...` as the scheduler runs it."""

    def __init__(self, folder: Path, endpoint: str) -> None:
        self.out = folder / "out"
        self.config = folder / "auditor.toml"
        self.config.write_text(
            f'[project]\nid = "{P}"\nbigquery_endpoint = "{endpoint}"\n'
            f'iam_exports = "{DEMO_IAM}"\n'
            f"[scope]\ndatasets = {json.dumps(list(ESTATE))}\n"
            '[outputs]\ndir = "out"\nformats = ["json", "sarif", "html"]\n'
            'sign_key = "signer.pem"\nsigner = "nightly job (test key)"\n'
            '[thresholds]\nfail_on = "high"\n',
            encoding="utf-8",
        )

    def __call__(self, *args: str) -> tuple[Path, dict[str, Any], list[str]]:
        result: Result = CliRunner().invoke(
            main, ["nightly", "--config", str(self.config), "--log-format", "json", *args]
        )
        assert "Traceback" not in result.output, result.output
        assert result.exit_code == 1, result.stderr  # the planted violations keep failing
        messages = [json.loads(line)["message"] for line in result.stderr.splitlines()]
        with HistoryStore.open(self.out / "history.sqlite") as store:
            latest = store.latest()
        assert latest is not None
        stem = self.out / f"nightly-{latest.id}"
        assert latest.results_sha256 == hashlib.sha256(
            stem.with_suffix(".json").read_bytes()
        ).hexdigest()
        return stem, json.loads(stem.with_suffix(".json").read_text(encoding="utf-8")), messages


def rendered_from_json(stem: Path) -> str:
    page = stem.with_name(stem.name + ".from-json.html")
    result = CliRunner().invoke(main, ["report", str(stem.with_suffix(".json")), "-o", str(page)])
    assert result.exit_code == 0, result.output
    return page.read_text(encoding="utf-8")


def test_a_configured_signed_nightly_job_night_after_night(
    estate: LocalBigQuery, tmp_path: Path
) -> None:
    _, _, public = keys(tmp_path)
    job = Job(tmp_path, estate.endpoint)

    first, first_json, first_log = job()
    make_initech_private(estate.endpoint)
    second, second_json, second_log = job()
    third, third_json, third_log = job("--dataset", "acme_corp")

    # The standing scope is not a narrowing; --dataset below it is.
    for report in (first_json, second_json):
        scope = report["run"]["scope"]
        assert (scope["dataset_filter"], scope["configured_datasets"]) == (
            list(ESTATE), list(ESTATE),
        )  # fmt: skip
        assert scope["narrowed"] is False
    assert third_json["run"]["scope"]["narrowed"] is True
    assert not any(m.startswith("narrowed run") for m in first_log + second_log)
    assert (
        "narrowed run (only datasets matching acme_corp): findings outside this scope are "
        "neither resolved nor new"
    ) in third_log
    with HistoryStore.open(job.out / "history.sqlite") as store:
        assert [r.narrowed for r in store.runs()] == [False, False, True]
        assert [p.narrowed for p in store.trend()] == [False, False, True]
    for stem in (first, second):
        page = stem.with_suffix(".html").read_text(encoding="utf-8")
        assert "Narrowed run" not in page
        assert "Every input in scope was examined" in page
    assert "Narrowed run: every input in its scope was examined, only datasets matching " \
        "acme_corp" in third.with_suffix(".html").read_text(encoding="utf-8")  # fmt: skip

    # initech's public access, fixed between the full runs, is resolved; nothing is new.
    since = second_json["since_last_run"]
    assert {f["fingerprint"] for f in since["resolved"]} == INITECH_PUBLIC
    assert since["new"] == [] and since["not_examined"] == []
    # The narrowed run examines acme_corp only: what fails elsewhere is not examined.
    since = third_json["since_last_run"]
    outside = {f["fingerprint"] for f in since["not_examined"]}
    assert outside and all(f"{BQ}/acme_corp" not in f["resource"] for f in since["not_examined"])
    assert since["resolved"] == [] and since["new"] == []

    # Signed: every run's JSON and HTML, and the latest copies, verify; an edit fails.
    for stem in (first, second, third):
        for suffix in (".json", ".html"):
            code, said = verify(stem.with_suffix(suffix), public)
            assert code == 0, said
            assert "signer 'nightly job (test key)'" in said
    for name in ("nightly-latest.json", "nightly-latest.html"):
        assert verify(job.out / name, public)[0] == 0
    page = second.with_suffix(".html")
    assert "Signed by <strong>nightly job (test key)</strong>" in page.read_text(encoding="utf-8")
    code, said = verify(edited_copy(page, 'data-status="FAILING"', 'data-status="PASSING"'), public)
    assert code == 1 and said.startswith("FAILED: the content was changed after signing")
    resolved_one = sorted(INITECH_PUBLIC)[0]
    code, said = verify(
        edited_copy(second.with_suffix(".json"), resolved_one, "0" * 24), public
    )
    assert code == 1 and said.startswith("FAILED: the content was changed after signing")

    # `auditor report` of each saved JSON: the same since-last-run section as the job's page.
    assert 'id="changes"' not in rendered_from_json(first)  # the first run: nothing before it
    for stem, report in ((second, second_json), (third, third_json)):
        nightly_page = stem.with_suffix(".html").read_text(encoding="utf-8")
        from_json = rendered_from_json(stem)
        assert since_section(from_json) == since_section(nightly_page)
        expected = report["since_last_run"]["counts"]
        assert counts(from_json) == {
            "changes-new": str(expected["new"]),
            "changes-resolved": str(expected["resolved"]),
            "changes-persisting": str(expected["persisting"]),
            "changes-not-examined": str(expected["not_examined"]),
        }
    assert counts(rendered_from_json(third))["changes-not-examined"] == str(len(outside))
