"""Secrets stay secret: canaries planted throughout a demo estate never come out.

`tests/support/canaries.py` makes fresh canary secrets for each run (AWS key id and secret,
GitHub token, Google API key, PEM private key, DSN password, JWT, Slack webhook, and an
opaque random string). One module-scoped estate on the faithful engine carries them in
tenant values (free text, JSON, nested and repeated fields), in the customers dataset's
encrypted_* columns, in a view's SQL literal, in dataset, table and column descriptions and
in a label; the gate gets them in template descriptions and defaults and SQL doc comments.
Then every output path runs: scan reports in every format (local and pushdown content
scans), Python logs at DEBUG, snapshots, the nightly job (JSON logs, SQLite history, the
BigQuery sink), remediation plans, apply journals, and failures forced on the paths that
handle values (errors that echo a canary, malformed rows, a failing pushdown query, DLP
errors). No canary may show, in any encoded form.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import shutil
import sqlite3
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result

from auditor.cli import main
from auditor.content.base import ContentMode, ContentOptions
from auditor.content.dlp import inspect_sample, make_dlp_client
from auditor.content.sample import SampledRows
from auditor.content.scan import scan_contents
from auditor.demo import seed as seed_module
from auditor.demo.estate import Estate, build_estate
from auditor.demo.plants import AddView, SetCell, apply_change
from auditor.demo.seed import SeedOptions, seed
from auditor.detect.redact import redact
from auditor.detect.values import redact_secrets, scan_value
from auditor.model import CoverageGap, Dataset, Inventory, Table
from auditor.remediate.actions import dataset_digest
from auditor.resources import PROJECT_DIR
from auditor.sources.bigquery import CollectOptions, collect, make_client
from auditor.sources.iam import Retries
from auditor.sources.scrub import scrub_inventory
from tests.conftest import LocalBigQuery
from tests.support.canaries import Canaries, find_canaries, make_canaries
from tests.support.faultproxy import FaultProxy, google_error
from tests.support.recorded import RecordedServer

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
DEMO = ("customers", "acme_corp", "globex", "initech", "umbrella", "scratch_analytics")
ONLY = [arg for d in DEMO for arg in ("--dataset", d)]
IAM = ["--iam-exports", str(PROJECT_DIR / "examples" / "demo-iam")]
SINK = "canary_history"
# The nightly job reads the datasets with value, description, view and label canaries.
NIGHTLY = ("acme_corp", "initech", "umbrella")
CANARIES = make_canaries()
CANARY_VIEW = "run_notes"
FULL = os.environ.get("AUDITOR_CANARIES_FULL") == "1"  # pushdown over the whole estate (slow)

# (dataset, table, column, row) -> planted text. Row 0 holds the demo's own content plants.
CELLS: dict[tuple[str, str, str, int], str] = {
    ("acme_corp", "x_meta_step_logs", "error_message", 2): (
        "boto3 upload failed; environment: "
        f"{CANARIES.text('aws-key-id')} {CANARIES.text('aws-secret')}"
    ),
    ("acme_corp", "x_meta_pipeline_runs", "run_config.source.query", 3): (
        f"SELECT * FROM EXTERNAL_QUERY('{CANARIES.text('dsn')}', 'SELECT 1')"
    ),
    ("acme_corp", "x_meta_pipeline_queue", "payload.headers.authorization", 4): CANARIES.text(
        "jwt"
    ),
    ("acme_corp", "x_meta_dq_results", "failed_samples.observed_value", 5): CANARIES.text("github"),
    ("acme_corp", "x_meta_scheduled_runs", "notification_channels", 6): CANARIES.text(
        "slack-webhook"
    ),
    ("globex", "x_meta_step_logs", "error_message", 2): (
        f"could not parse the key file: {CANARIES.text('pem')}"
    ),
    ("globex", "x_meta_dq_results", "details.request.url", 3): CANARIES.text("google-api-key"),
    ("umbrella", "x_meta_pipeline_runs", "error_message", 2): (
        f"session {CANARIES.text('opaque')} expired"
    ),
    ("umbrella", "x_meta_pipeline_queue", "payload.session", 3): CANARIES.text("opaque"),
    ("customers", "customer_api_keys", "encrypted_api_key", 0): CANARIES.text("google-api-key"),
    ("customers", "customer_cloud_credentials", "encrypted_credentials", 1): (
        f"{CANARIES.text('aws-secret')} {CANARIES.text('opaque')}"
    ),
}
DATASET_DESCRIPTIONS = {"initech": f"Pipeline logs; legacy source {CANARIES.text('dsn')}"}
TABLE_DESCRIPTIONS = {("globex", "x_meta_pipeline_runs"): f"replay with {CANARIES.text('jwt')}"}
COLUMN_DESCRIPTIONS = {
    # umbrella's x_meta_dq_results gets a remediation (a column added): its journal too.
    ("umbrella", "x_meta_dq_results", "error_message"): f"e.g. {CANARIES.text('github')}"
}
LABELS = {"umbrella": {"deploy_token": CANARIES.by_name["label"].needle}}
VIEW_SQL = (
    f"SELECT run_id, '{CANARIES.text('slack-webhook')}' AS alert_sink "
    f"FROM `{P}.initech.x_meta_pipeline_runs`"
)


def with_canaries(estate: Estate) -> Estate:
    """The demo estate with the canaries planted (pure)."""
    by_id = {s.dataset_id: s for s in estate.datasets}
    for (dataset, table, column, row), text in CELLS.items():
        by_id[dataset] = apply_change(by_id[dataset], table, SetCell(row, column, text))
    by_id["initech"] = apply_change(by_id["initech"], CANARY_VIEW, AddView(VIEW_SQL))
    for dataset, description in DATASET_DESCRIPTIONS.items():
        by_id[dataset] = replace(by_id[dataset], description=description)
    for dataset, labels in LABELS.items():
        by_id[dataset] = replace(by_id[dataset], labels={**by_id[dataset].labels, **labels})
    for (dataset, table_id, column), description in COLUMN_DESCRIPTIONS.items():
        spec = by_id[dataset]
        tables = tuple(
            replace(
                t,
                fields=tuple(
                    {**f, "description": description} if f["name"] == column else f
                    for f in t.fields
                ),
            )
            if t.table_id == table_id
            else t
            for t in spec.tables
        )
        by_id[dataset] = replace(spec, tables=tables)
    return replace(estate, datasets=tuple(by_id[s.dataset_id] for s in estate.datasets))


@pytest.fixture(scope="module")
def estate(faithful_bq: LocalBigQuery) -> Iterator[LocalBigQuery]:
    client = make_client(P, faithful_bq.endpoint)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(seed_module, "build_estate", lambda o: with_canaries(build_estate(o)))
        seed(client, SeedOptions())
    for (dataset, table_id), description in TABLE_DESCRIPTIONS.items():
        table = client.get_table(f"{P}.{dataset}.{table_id}")
        table.description = description
        client.update_table(table, ["description"])
    yield faithful_bq
    # Modules that use the engine seed it themselves; only the sink is not the seeder's.
    client.delete_dataset(f"{P}.{SINK}", delete_contents=True, not_found_ok=True)


def cli(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def tenant_tables(endpoint: str) -> list[Table]:
    tenants = ("acme_corp", "globex", "initech", "umbrella")
    live = collect(make_client(P, endpoint), P, CollectOptions(table_iam=False, datasets=tenants))
    assert live.gaps == ()
    return [t for t in live.tables if t.type == "TABLE"]


def files_under(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_bytes().decode("utf-8", "replace")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def sqlite_dump(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return "\n".join(db.iterdump())


def assert_no_canary(outputs: Mapping[str, str], canaries: Canaries = CANARIES) -> None:
    leaks = find_canaries(canaries, outputs)
    assert leaks == [], "canaries leaked:\n" + "\n".join(leaks[:40])


class Records(logging.Handler):
    """Every log record, with its extra fields (google-auth puts request and response
    bodies there at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in self.records)


@contextmanager
def debug_logging(handler: Records) -> Iterator[None]:
    """`handler` on the root, google, auditor and urllib3 loggers, all at DEBUG."""
    loggers = [logging.getLogger(n) for n in ("", "google", "auditor", "urllib3")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)


@pytest.fixture
def debug_logs() -> Iterator[Records]:
    handler = Records()
    with debug_logging(handler):
        yield handler


# ---------------------------------------------------------------------------- the plants


def test_the_canaries_are_fresh_and_recognised() -> None:
    again = make_canaries()
    assert {c.name for c in CANARIES.all} == {
        "aws-key-id", "aws-secret", "github", "google-api-key", "pem", "dsn", "jwt",
        "slack-webhook", "opaque", "label",
    }  # fmt: skip
    for canary in CANARIES.all:
        assert canary.needle != again.by_name[canary.name].needle
        found = [m.detector_id for m in scan_value(canary.text)]
        assert found == ([canary.detector] if canary.detector else []), canary.name
        assert canary.needle in canary.text.replace("\n", "")
    # The search finds every canary in every form it claims to undo.
    for canary in CANARIES.all:
        raw = f"x{canary.needle}y".encode()
        for name, shown in {
            "plain": canary.needle,
            "base64": base64.b64encode(b"ab" + raw).decode(),
            "urlsafe": base64.urlsafe_b64encode(b"a" + raw).decode(),
            "hex": raw.hex(),
            "url": quote(canary.needle, safe=""),
            "json": json.dumps({"v": canary.text}),
            "wrapped": "\n  ".join(textwrap.wrap(canary.needle, 20)),
            "html": html.escape(canary.text),
            "cut": f"...{canary.needle[5:-5]}...",
        }.items():
            assert find_canaries(CANARIES, {name: shown}), (canary.name, name)
    assert find_canaries(CANARIES, {"clean": redact_secrets(CANARIES.text("github"))}) == []


def test_scrubbing_redacts_recognised_secrets_in_metadata_and_keeps_the_rest() -> None:
    description = f"legacy source {CANARIES.text('dsn')}; owner data-platform"
    dataset = Dataset(
        P,
        "umbrella",
        labels={"dataset_role": "tenant", "deploy_token": CANARIES.by_name["label"].needle},
        description=description,
    )
    view = Table(P, "initech", CANARY_VIEW, type="VIEW", view_query=VIEW_SQL)
    gap = CoverageGap(f"{BQ}/globex", f"403 Forbidden: {echo('github')}")
    inventory = scrub_inventory(
        Inventory(root="r", datasets=(dataset,), live_tables=(view,), gaps=(gap,))
    )
    password = CANARIES.by_name["dsn"].needle
    assert inventory.datasets[0].description == description.replace(password, redact(password))
    assert inventory.datasets[0].labels == {
        "dataset_role": "tenant",
        "deploy_token": redact(CANARIES.by_name["label"].needle),
    }
    hook = CANARIES.by_name["slack-webhook"].needle
    assert inventory.live_tables[0].view_query == VIEW_SQL.replace(hook, redact(hook))
    github = CANARIES.by_name["github"].needle
    assert inventory.gaps[0].reason == gap.reason.replace(github, redact(github))
    # A plan made from the scrubbed inventory matches the applier's fresh read.
    assert dataset_digest(inventory.datasets[0]) == dataset_digest(dataset)
    assert dataset_digest(replace(dataset, description="other")) != dataset_digest(dataset)


# (dataset, table, column, detector) the content scan must report for the planted cells.
PLANTED_HITS = {
    ("acme_corp", "x_meta_step_logs", "error_message", "aws-access-key-id"),
    ("acme_corp", "x_meta_step_logs", "error_message", "aws-secret-access-key"),
    ("acme_corp", "x_meta_pipeline_runs", "run_config.source.query", "url-credentials"),
    ("acme_corp", "x_meta_pipeline_queue", "payload", "jwt"),
    ("acme_corp", "x_meta_dq_results", "failed_samples.observed_value", "github-token"),
    ("acme_corp", "x_meta_scheduled_runs", "notification_channels", "slack-webhook"),
    ("globex", "x_meta_step_logs", "error_message", "pem-private-key"),
    ("globex", "x_meta_dq_results", "details", "google-api-key"),
}
# The demo estate's own content plants (tests/test_content.py).
DEMO_HITS = {
    ("globex", "x_meta_step_logs", "error_message", "google-api-key"),
    ("acme_corp", "x_meta_pipeline_runs", "error_message", "authorization-bearer"),
    ("initech", "x_meta_pipeline_runs", "run_config.source.query", "url-credentials"),
}


def hits_in(report: Mapping[str, Any]) -> set[tuple[str, str, str, str]]:
    out = set()
    for f in report["findings"]:
        if f["rule_id"] == "AUD-014" and f["status"] == "FAIL":
            _, dataset, _, table = f["resource"].rsplit("/", 3)
            out.add((dataset, table, f["column"], f["evidence"]["detector"]))
    return out


# ---------------------------------------------------------------------------- scans


@pytest.fixture(scope="module")
def scanned(estate: LocalBigQuery, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A snapshot of the estate (the live read and local content scan, every log record at
    DEBUG), and the scan of that snapshot in every format (the live scan's reports come
    from the nightly job below): {"outputs": name -> text, "codes", "snapshot": path}."""
    folder = tmp_path_factory.mktemp("scanned")
    snap = folder / "estate.json"
    logs = Records()
    with debug_logging(logs):
        common = ["--endpoint", estate.endpoint, *IAM, *ONLY]
        snapshot = cli("snapshot", *common, "--content-scan", "local", "-o", str(snap))
        scan = cli(
            "scan", "--snapshot", str(snap),
            "-f", "console", "-f", "json", "-f", "sarif", "-f", "junit", "-f", "html",
            "--output-dir", str(folder / "scan"),
        )  # fmt: skip
    outputs = {"scan console": scan.output, "snapshot console": snapshot.output}
    outputs.update({f"scan {k}": v for k, v in files_under(folder / "scan").items()})
    outputs["snapshot"] = snap.read_text(encoding="utf-8")
    outputs["python logs at DEBUG"] = logs.text()
    return {"outputs": outputs, "codes": (scan.exit_code, snapshot.exit_code), "snapshot": snap}


@pytest.mark.emulator
def test_no_scan_report_snapshot_or_log_holds_a_canary(scanned: dict[str, Any]) -> None:
    outputs = scanned["outputs"]
    assert scanned["codes"] == (1, 0), outputs["scan console"] + outputs["snapshot console"]
    assert sorted(k for k in outputs if k.startswith("scan scan.")) == [
        "scan scan.html", "scan scan.json", "scan scan.sarif", "scan scan.xml",
    ]  # fmt: skip
    report = json.loads(outputs["scan scan.json"])
    assert hits_in(report) == PLANTED_HITS | DEMO_HITS  # the canaries are there and found
    assert report["run"]["complete"] is True
    assert "Making request" in outputs["python logs at DEBUG"]  # DEBUG records were seen
    assert_no_canary(outputs)

    # The metadata is kept, with the secrets redacted in place.
    inventory = json.loads(outputs["snapshot"])["inventory"]
    umbrella = next(d for d in inventory["datasets"] if d["dataset_id"] == "umbrella")
    assert umbrella["labels"]["deploy_token"] == redact(CANARIES.by_name["label"].needle)
    assert umbrella["labels"]["dataset_role"] == "tenant"
    initech = next(d for d in inventory["datasets"] if d["dataset_id"] == "initech")
    assert initech["description"] == redact_secrets(DATASET_DESCRIPTIONS["initech"])
    view = next(t for t in inventory["live_tables"] if t["table_id"] == CANARY_VIEW)
    assert view["view_query"] == redact_secrets(VIEW_SQL)
    assert "FROM `gac-prod-471220.initech.x_meta_pipeline_runs`" in view["view_query"]


@pytest.mark.emulator
def test_pushdown_scans_say_where_not_what(estate: LocalBigQuery, debug_logs: Records) -> None:
    """Pushdown on the table with a JSON canary (the whole estate with AUDITOR_CANARIES_FULL=1:
    minutes on the faithful engine; the JSON column is the one pushdown reads differently,
    through TO_JSON_STRING)."""
    client = make_client(P, estate.endpoint)
    chosen = {("acme_corp", "x_meta_pipeline_queue")}
    tables = [
        t for t in tenant_tables(estate.endpoint) if FULL or (t.dataset_id, t.table_id) in chosen
    ]
    options = ContentOptions(mode=ContentMode.PUSHDOWN, workers=2)
    result = scan_contents(client, tables, options)
    assert result.gaps == ()
    found = {
        (h.table.rsplit("/", 3)[1], h.table.rsplit("/", 1)[1], h.column, h.detector)
        for h in result.hits
    }
    wanted = {h for h in PLANTED_HITS | DEMO_HITS if FULL or h[:2] in chosen}
    assert FULL or {h[3] for h in wanted} == {"jwt"}
    assert wanted <= found  # pushdown may report more (no Python-only validators)
    assert_no_canary({"pushdown result": repr(result), "logs": debug_logs.text()})


# ---------------------------------------------------------------------------- failures


def echo(*names: str) -> str:
    """An error message that quotes planted values, as a server may."""
    return "bad value: " + " | ".join(CANARIES.text(n) for n in names)


ECHOED = ("aws-key-id", "aws-secret", "github", "google-api-key", "pem", "dsn", "jwt",
          "slack-webhook")  # fmt: skip


@pytest.mark.emulator
def test_failures_on_value_paths_never_quote_a_canary(
    estate: LocalBigQuery, debug_logs: Records
) -> None:
    tables = [t for t in tenant_tables(estate.endpoint) if t.dataset_id == "acme_corp"]
    by_name = {t.table_id: t for t in tables}
    outcomes: dict[str, str] = {}
    with FaultProxy(estate.endpoint) as proxy:
        client = make_client(P, proxy.url)
        # tabledata.list answers an error that echoes values, then a malformed row made of one.
        # Content reads keep no server text, so even the opaque canary (no detector knows
        # it) cannot come back in a gap reason.
        content_echo = google_error(400, echo(*ECHOED, "opaque"), "invalid")
        proxy.fail("GET", r"/x_meta_step_logs/data$", 400, content_echo)
        cells = [{"v": CANARIES.text(n)} for n in ECHOED]
        proxy.fail("GET", r"/x_meta_dq_results/data$", 200, {"rows": [{"f": cells}]})
        nested = {"f": [{"v": CANARIES.text("dsn")}] * 11}
        proxy.fail("GET", r"/x_meta_pipeline_runs/data$", 200, {"rows": [nested]})
        local_result = scan_contents(
            client,
            [by_name[n] for n in ("x_meta_step_logs", "x_meta_dq_results", "x_meta_pipeline_runs")],
            ContentOptions(mode=ContentMode.LOCAL, workers=1, attempts=1),
        )
        # The pushdown query fails with a message that echoes values.
        proxy.fail(
            "POST", r"/queries$", 400, google_error(400, echo(*ECHOED, "opaque"), "invalidQuery")
        )
        pushdown_result = scan_contents(
            client,
            [by_name["x_meta_pipeline_queue"]],
            ContentOptions(mode=ContentMode.PUSHDOWN, workers=1, attempts=1),
        )
    outcomes["local"] = repr(local_result)
    outcomes["pushdown"] = repr(pushdown_result)
    reasons = {g.scope.rsplit("/", 1)[1]: g.reason for g in local_result.gaps}
    assert sorted(reasons) == ["x_meta_dq_results", "x_meta_pipeline_runs", "x_meta_step_logs"]
    assert reasons["x_meta_step_logs"] == (
        "contents not scanned (local): 400 Bad Request (invalid); "
        "message withheld: it may quote table data"
    )
    assert reasons["x_meta_dq_results"] == (
        "contents not scanned (local): malformed answer: a row has 8 cells for 11 selected columns"
    )
    assert "malformed answer: RECORD column run_config" in reasons["x_meta_pipeline_runs"]
    (gap,) = pushdown_result.gaps
    assert gap.reason == (
        "contents not scanned (pushdown): 400 Bad Request (invalidQuery); "
        "message withheld: it may quote table data"
    )
    assert local_result.hits == pushdown_result.hits == ()
    outcomes["logs"] = debug_logs.text()
    assert_no_canary(outcomes)


@pytest.mark.emulator
def test_a_scan_whose_reads_fail_with_echoed_canaries_exits_3_without_them(
    estate: LocalBigQuery, tmp_path: Path, debug_logs: Records
) -> None:
    report = tmp_path / "scan.json"
    with FaultProxy(estate.endpoint) as proxy:
        proxy.fail("GET", r"/datasets/globex$", 403, google_error(403, echo(*ECHOED)))
        proxy.fail("GET", r"/x_meta_step_logs/data$", 400, google_error(400, echo(*ECHOED)))
        run = cli(
            "scan", "--endpoint", proxy.url, *IAM, "--dataset", "acme_corp",
            "--dataset", "globex", "--no-table-iam", "--only", "AUD-014",
            "-f", "console", "-f", "json", "--output-dir", str(tmp_path),
        )  # fmt: skip
    assert run.exit_code == 3, run.output
    gaps = {g["scope"].rsplit("/", 1)[1]: g["reason"] for g in coverage_gaps(report)}
    assert gaps["globex"].startswith(
        "dataset could not be read: 403 Forbidden: bad value: AWS_ACCESS_KEY_ID=AKIA…"
    )
    assert gaps["x_meta_step_logs"] == (
        "contents not scanned (local): 400 Bad Request; message withheld: it may quote table data"
    )
    outputs = {"console": run.output, "report": report.read_text(encoding="utf-8")}
    assert_no_canary({**outputs, "logs": debug_logs.text()})


def coverage_gaps(report: Path) -> list[dict[str, str]]:
    run = json.loads(report.read_text(encoding="utf-8"))["run"]
    gaps: list[dict[str, str]] = run["coverage"]
    return gaps


def test_dlp_errors_that_echo_the_sample_never_quote_a_canary(debug_logs: Records) -> None:
    values = tuple(CANARIES.text(n) for n in (*ECHOED, "opaque"))
    rows = SampledRows(f"{BQ}/acme_corp/tables/x_meta_step_logs", ("error_message",),
                       tuple((v,) for v in values), sum(map(len, values)))  # fmt: skip
    with RecordedServer(PROJECT_DIR / "tests" / "data" / "recorded" / "dlp") as server:
        server.fail("POST", r"/content:inspect$", 400, message="bad cells " + " ".join(values))
        client = make_dlp_client(server.url)
        try:
            result = inspect_sample(client, P, rows, retries=Retries(sleep=lambda _: None))
        finally:
            client.transport.close()  # type: ignore[no-untyped-call]
    (gap,) = result.gaps
    assert gap.reason.startswith("DLP inspect of sample rows 0-8: 400 Bad Request: bad cells")
    assert result.hits == ()
    assert_no_canary({"dlp result": repr(result), "logs": debug_logs.text()})


# ---------------------------------------------------------------------------- the nightly job


@pytest.mark.emulator
def test_the_nightly_job_history_and_sink_hold_no_canary(
    estate: LocalBigQuery, tmp_path: Path, debug_logs: Records
) -> None:
    config = tmp_path / "auditor.toml"
    config.write_text(
        f'[project]\nid = "{P}"\nbigquery_endpoint = "{estate.endpoint}"\n'
        f'iam_exports = "{PROJECT_DIR / "examples" / "demo-iam"}"\n'
        f"[scope]\ndatasets = {json.dumps(list(NIGHTLY))}\n"
        '[outputs]\ndir = "out"\nformats = ["json", "sarif", "html", "junit"]\n'
        f'bigquery_sink = "{SINK}"\n'
        '[thresholds]\nfail_on = "high"\n',
        encoding="utf-8",
    )
    run = CliRunner().invoke(main, ["nightly", "--log-format", "json", "--config", str(config)])
    assert "Traceback" not in run.output, run.output
    assert run.exit_code == 1, run.stderr
    lines = [json.loads(line) for line in run.stderr.splitlines()]
    assert lines[-1]["exit_code"] == 1
    outputs = {"stdout": run.stdout, "json log lines": run.stderr}
    outputs.update(files_under(tmp_path / "out"))
    outputs["history.sqlite"] = sqlite_dump(tmp_path / "out" / "history.sqlite")
    client = make_client(P, estate.endpoint)
    for table in ("runs", "findings"):
        rows = [dict(r.items()) for r in client.list_rows(f"{P}.{SINK}.{table}")]
        assert rows, table
        outputs[f"sink {table}"] = json.dumps(rows, default=str)
    outputs["python logs at DEBUG"] = debug_logs.text()
    assert_no_canary(outputs)
    assert '"AUD-014"' in outputs["sink findings"]  # the value findings went in, as evidence


# ---------------------------------------------------------------------------- the gate


def test_gate_reports_hold_no_canary_from_templates_or_sql_docs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(PROJECT_DIR / "examples" / "platform-repo", repo)
    template = repo / "templates/customer/onboarding/schemas/x_meta_step_logs.json"
    fields = json.loads(template.read_text(encoding="utf-8"))
    fields = fields if isinstance(fields, list) else fields["fields"]
    fields.append(
        {"name": "api_token", "type": "STRING", "mode": "NULLABLE",
         "description": f"for example {CANARIES.text('github')}",
         "defaultValueExpression": f"'{CANARIES.text('google-api-key')}'"}
    )  # fmt: skip
    fields.append(  # a credential column by its description only: the finding quotes it
        {"name": "notes", "type": "STRING", "mode": "NULLABLE",
         "description": f"deploy {CANARIES.text('github')} {CANARIES.text('slack-webhook')}",
         "defaultValueExpression": f"'{CANARIES.text('dsn')}'"}
    )  # fmt: skip
    template.write_text(json.dumps(fields, indent=2), encoding="utf-8")
    sql = repo / "database/schemas/tenant_dataset.sql"
    sql.write_text(
        f"-- connect with {CANARIES.text('dsn')}\n"
        f"/* service token: {CANARIES.text('jwt')}\n   {CANARIES.text('aws-secret')} */\n"
        + sql.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    out = tmp_path / "gate"
    run = cli(
        "gate", str(repo), "-f", "console", "-f", "json", "-f", "sarif", "-f", "junit",
        "-f", "html", "--output-dir", str(out),
    )  # fmt: skip
    assert run.exit_code == 1, run.output
    report = json.loads((out / "gate.json").read_text(encoding="utf-8"))
    token = [
        f for f in report["findings"]
        if f["rule_id"] == "AUD-001" and f.get("column") == "api_token"
    ]  # fmt: skip
    assert len(token) == 1 and token[0]["status"] == "FAIL"
    (notes,) = [
        f for f in report["findings"]
        if f["rule_id"] == "AUD-001" and f.get("column") == "notes"
    ]  # fmt: skip
    github = CANARIES.by_name["github"].needle
    shown = f"'deploy GITHUB_TOKEN={redact(github)} https://hook...'"
    assert f"description {shown} names credential keyword 'token'" in notes["message"]
    assert_no_canary({"console": run.output, **files_under(out)})


# ---------------------------------------------------------------------------- remediation


@pytest.mark.emulator
def test_remediation_plan_apply_and_journal_hold_no_canary(
    estate: LocalBigQuery, scanned: dict[str, Any], tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    source = ["--snapshot", str(scanned["snapshot"])]  # what the scan saw; apply reads live
    planned = cli("remediate", "plan", *source, "-o", str(plan))
    assert planned.exit_code == 0, planned.output
    applied = cli("remediate", "apply", str(plan), "--endpoint", estate.endpoint)
    assert applied.exit_code == 0, applied.output
    journal = tmp_path / "plan.journal.jsonl"
    records = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    touched = {r["resource"] for r in records if r["record"] == "action"}
    # The journal saw the canary label (umbrella) and column description (its dq table).
    assert {f"{BQ}/umbrella", f"{BQ}/umbrella/tables/x_meta_dq_results"} <= touched
    labels = [
        r["before"]["labels"] for r in records
        if r.get("resource") == f"{BQ}/umbrella" and "before" in r
    ]  # fmt: skip
    assert labels and all(
        lb["deploy_token"] == redact(CANARIES.by_name["label"].needle) for lb in labels
    )
    rolled = cli("remediate", "rollback", str(journal), "--endpoint", estate.endpoint)
    assert rolled.exit_code == 0, rolled.output
    assert_no_canary(
        {
            "plan console": planned.output,
            "apply console": applied.output,
            "rollback console": rolled.output,
            **files_under(tmp_path),
        }
    )
    # Rollback restored the live label itself, not the journal's redacted copy.
    live = make_client(P, estate.endpoint).get_dataset(f"{P}.umbrella")
    assert live.labels["deploy_token"] == CANARIES.by_name["label"].needle
