"""The content scan: credential values in tenant tables, sampled locally or pushed down as SQL.

Pure parts first (columns, SQL compilation, the evidence computed in SQL, the check), then
both local engines seeded with the demo estate, whose CONTENT_SECRET_PLANTS put three fake
secrets into tenant logs: local, pushdown and DLP mode (the real DLP client, answered by
tests/support/dlp_responder.py) must find exactly those, with the same evidence, and no
output, snapshot or log of a scan may contain a secret.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from google.cloud import bigquery

from auditor.cli import main
from auditor.content import dlp, local, pushdown
from auditor.content.base import (
    DEFAULT_SAMPLE_ROWS,
    ContentMode,
    ContentOptions,
)
from auditor.content.columns import text_columns
from auditor.content.confirm import Cell, confirm_cells
from auditor.content.sample import SampledRows
from auditor.content.scan import ContentResult, scan_contents, scanner_for
from auditor.demo.plants import CONTENT_SECRET_PLANTS, SetCell
from auditor.demo.seed import SeedOptions, seed
from auditor.detect.catalog import catalog
from auditor.detect.redact import fingerprint_secret
from auditor.detect.values import evidence, scan_value
from auditor.errors import UsageError
from auditor.gcp.calls import Caller
from auditor.gcp.retry import RetryPolicy
from auditor.model import (
    CheckContext,
    ContentScan,
    CoverageGap,
    Dataset,
    Field,
    Inventory,
    Status,
    Table,
    ValueHit,
    table_resource_name,
)
from auditor.policy.checks import load_all
from auditor.policy.checks.content import content_options
from auditor.policy.engine import evaluate
from auditor.policy.loader import load_policies
from auditor.resources import PROJECT_DIR
from auditor.sources.bigquery import CollectOptions, collect, make_client
from auditor.sources.infoschema import Malformed
from tests.conftest import LocalBigQuery
from tests.support.dlp_responder import write_recordings
from tests.support.faultproxy import FaultProxy, google_error
from tests.support.recorded import RecordedServer

# Checks get the run's context; these tests decide no time-bound condition.
CONTEXT = CheckContext(evaluation_time=datetime(2026, 1, 1, tzinfo=UTC))

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
TENANTS = ("acme_corp", "globex", "initech", "umbrella")
AUD_014 = PROJECT_DIR / "policies" / "AUD-014-tenant-no-credential-values.yaml"
# The DLP recordings of test_content_dlp.py: none of them answers the demo estate's rows.
DLP_RECORDED = Path(__file__).parent / "data" / "recorded" / "dlp"

# ---------------------------------------------------------------------------- the plants

# What the brief asks for, spelled out; the evidence is computed from the planted values.
PLANTED_AT = {
    ("globex", "x_meta_step_logs", "error_message", "google-api-key"),
    ("acme_corp", "x_meta_pipeline_runs", "error_message", "authorization-bearer"),
    ("initech", "x_meta_pipeline_runs", "run_config.source.query", "url-credentials"),
}


def planted_secrets() -> list[tuple[str, str, str, str, str]]:
    """(dataset, table, column, detector id, secret) of every content-secret plant."""
    found = []
    for plant in CONTENT_SECRET_PLANTS:
        assert isinstance(plant.change, SetCell)
        value = plant.change.value
        (match,) = scan_value(value)  # one secret each, one detector
        v = plant.violation
        assert v.table is not None and v.column is not None
        found.append(
            (v.dataset, v.table, v.column, match.detector_id, value[match.start : match.end])
        )
    return found


def expected_hits() -> tuple[ValueHit, ...]:
    hits = []
    for plant in CONTENT_SECRET_PLANTS:
        assert isinstance(plant.change, SetCell)
        value = plant.change.value
        (match,) = scan_value(value)
        shown = evidence(value, match)
        v = plant.violation
        assert v.table is not None and v.column is not None
        table = table_resource_name(P, v.dataset, v.table)
        hits.append(
            ValueHit(table, v.column, match.detector_id, 1, shown.redacted, shown.fingerprint)
        )
    return tuple(sorted(hits, key=lambda h: (h.table, h.column, h.detector)))


def needles() -> list[str]:
    """Every planted secret and its middle third: neither may appear in any output."""
    out = []
    for *_, secret in planted_secrets():
        third = len(secret) // 3
        out += [secret, secret[third : 2 * third + 1]]
    return out


def test_the_plants_are_the_three_of_the_brief_and_clean_positives() -> None:
    assert {s[:4] for s in planted_secrets()} == PLANTED_AT
    for plant in CONTENT_SECRET_PLANTS:
        assert isinstance(plant.change, SetCell)
        value = plant.change.value
        # Clean: no other detector's bare pattern (what SQL runs) matches anywhere.
        patterns = [d.id for d in catalog() if d.regex.search(value)]
        assert patterns == [scan_value(value)[0].detector_id]


def test_the_repository_does_not_spell_the_planted_secrets() -> None:
    estate = (PROJECT_DIR / "auditor" / "demo" / "estate.py").read_text(encoding="utf-8")
    for *_, secret in planted_secrets():
        assert secret not in estate


# ---------------------------------------------------------------------------- columns


def f(name: str, type_: str = "STRING", mode: str = "NULLABLE", *sub: Field) -> Field:
    return Field(name, type_, mode, fields=tuple(sub))


NESTED = (
    f("id", "STRING", "REQUIRED"),
    f("blob", "BYTES"),
    f("n", "INT64"),
    f("at", "TIMESTAMP"),
    f("details", "JSON"),
    f("tags", "STRING", "REPEATED"),
    f(
        "config", "RECORD", "NULLABLE",
        f("source", "RECORD", "NULLABLE", f("query", "STRING"), f("port", "INT64")),
        f("params", "JSON"),
    ),
    f(
        "samples", "RECORD", "REPEATED",
        f("reason", "STRING"),
        f("steps", "RECORD", "REPEATED", f("note", "STRING")),
    ),
    f("bad-name", "STRING"),
    f("meta", "RECORD", "NULLABLE", f("ok", "STRING"), f("not ok", "STRING"), f("x", "BOOL")),
)  # fmt: skip


def test_text_columns_are_string_and_json_leaves_at_any_depth() -> None:
    found = text_columns(NESTED)
    assert [c.path for c in found.columns] == [
        "id",
        "details",
        "tags",
        "config.source.query",
        "config.params",
        "samples.reason",
        "samples.steps.note",
        "meta.ok",
    ]
    assert [(c.is_json, c.repeated) for c in found.columns][:7] == [
        (False, False),
        (True, False),
        (False, True),
        (False, False),
        (True, False),
        (False, True),
        (False, True),
    ]
    assert found.unsafe == ("bad-name", "meta.not ok")
    assert found.tops == ("id", "details", "tags", "config", "samples", "meta")


def test_cells_in_sql() -> None:
    columns = {c.path: c for c in text_columns(NESTED).columns}
    sql = pushdown._column_sql
    assert sql(columns["config.source.query"]) == "t.`config`.`source`.`query`"
    assert sql(columns["details"]) == "TO_JSON_STRING(t.`details`)"
    assert sql(columns["tags"]) == (
        "ARRAY_TO_STRING(ARRAY(SELECT u0 FROM UNNEST(t.`tags`) AS u0 WHERE u0 IS NOT NULL), '\\n')"
    )
    assert sql(columns["samples.steps.note"]) == (
        "ARRAY_TO_STRING(ARRAY(SELECT u1.`note` FROM UNNEST(t.`samples`) AS u0, "
        "UNNEST(u0.`steps`) AS u1 WHERE u1.`note` IS NOT NULL), '\\n')"
    )


def test_the_flattener_reads_rest_cells_like_the_sql_does() -> None:
    table = Table(P, "acme", "t", fields=NESTED)
    columns = text_columns(NESTED).columns
    tops = tuple(fl for fl in NESTED if fl.name in {c.top for c in columns})
    row = [
        "r1",
        {"password": "x"},  # the faithful engine sends JSON cells as JSON values
        [{"v": "a"}, {"v": None}, {"v": "b"}],
        {"f": [{"v": {"f": [{"v": "SELECT 1"}, {"v": "5432"}]}}, {"v": '{"k":1}'}]},
        [
            {
                "v": {
                    "f": [
                        {"v": "why"},
                        {"v": [{"v": {"f": [{"v": "n1"}]}}, {"v": {"f": [{"v": "n2"}]}}]},
                    ]
                }
            },
            {"v": {"f": [{"v": None}, {"v": []}]}},
        ],
        {"f": [{"v": "fine"}, {"v": "skipped"}, {"v": "true"}]},
    ]
    flat = local._Flattener(tuple(c.path for c in columns), 65536)
    assert flat.row(row, tops) == (
        "r1",
        '{"password":"x"}',
        "a\nb",
        "SELECT 1",
        '{"k":1}',
        "why",
        "n1\nn2",
        "fine",
    )
    assert table.resource.endswith("/datasets/acme/tables/t")
    with pytest.raises(Malformed, match="config is not an object"):
        flat.row([*row[:3], "oops", *row[4:]], tops)
    with pytest.raises(Malformed, match="a row has 2 cells for 3"):
        local._row_cells({"f": [{"v": 1}, {"v": 2}]}, 3)


# ---------------------------------------------------------------------------- scanning a sample


def test_scan_sample_counts_rows_and_keeps_the_lowest_fingerprint_never_a_value() -> None:
    secrets = {detector: secret for *_, detector, secret in planted_secrets()}
    key, token = secrets["google-api-key"], secrets["authorization-bearer"]
    other = key[:-6] + "Zz9Yy8"  # another key of the same shape
    rows = (
        (f"GET /x?key={key}", "nothing"),
        (f"retry GET /x?key={other} and again key={key}", None),
        (None, f"Authorization: Bearer {token}"),
        ("plain text", ""),
    )
    sample = SampledRows("//t", ("a", "b"), rows, 0)
    hits = local.scan_sample(sample, 65536)
    fingerprints = sorted(evidence(k, scan_value(k)[0]).fingerprint for k in (key, other))
    assert [(h.column, h.detector, h.rows) for h in hits] == [
        ("a", "google-api-key", 2),
        ("b", "authorization-bearer", 1),
    ]
    assert hits[0].fingerprint == fingerprints[0]
    assert all(key not in repr(h) and token not in repr(h) for h in hits)


# ---------------------------------------------------------------------------- SQL pieces


@pytest.mark.parametrize("detector", catalog(), ids=lambda d: d.id)
def test_the_sql_pattern_finds_what_python_finds(detector: Any) -> None:
    """The pattern the SQL runs (its group made non-capturing) matches where Python's does:
    the SQL only narrows, so it must never miss a cell Python would report."""
    whole = re.compile(pushdown.whole_match_pattern(detector.pattern), re.ASCII)
    assert whole.groups == 0
    for example in detector.positive_examples + detector.negative_examples:
        python = detector.regex.search(example)
        match = whole.search(example)
        assert (match is None) is (python is None)
        if match is not None and python is not None:
            assert match.span() == python.span()


def test_the_query_validates_names_and_carries_patterns_as_parameters() -> None:
    table = Table(P, "acme_corp", "x_meta_step_logs", fields=NESTED)
    columns = text_columns(NESTED).columns
    target = pushdown.ScanTarget(table, columns)
    query = pushdown.compile_query([target], sample_rows=250, max_cell_chars=100)
    assert f"FROM `{P}`.`acme_corp`.`x_meta_step_logs` AS t" in query.sql
    assert "LIMIT 250" in query.sql
    assert "SUBSTR(t.`id`, 1, 100) AS c0" in query.sql
    for detector in catalog():  # nothing of the catalog is spliced into the SQL text
        assert detector.pattern not in query.sql
        assert all(f"'{k}'" not in query.sql for k in detector.keywords)
    assert query.detectors == tuple(d.id for d in catalog())
    values = {value for _, value in query.parameters}
    for detector in catalog():
        assert pushdown.whole_match_pattern(detector.pattern) in values
        assert set(detector.keywords) <= values
    parameters = query.job_parameters()
    assert {p.name for p in parameters} == {f"p{n}" for n in range(len(parameters))}
    assert all(f"@{p.name}" in query.sql for p in parameters)
    for bad in (replace(table, table_id="t`; DROP"), replace(table, dataset_id="a.b")):
        with pytest.raises(pushdown.NotCompilable):
            pushdown.compile_query(
                [pushdown.ScanTarget(bad, columns)], sample_rows=1, max_cell_chars=1
            )


def test_one_query_scans_several_tables_sharing_the_detectors() -> None:
    runs = Table(P, "acme_corp", "x_meta_pipeline_runs", fields=(f("error_message"),))
    logs = Table(P, "globex", "x_meta_step_logs", fields=NESTED)
    targets = [pushdown.ScanTarget(t, tuple(text_columns(t.fields).columns)) for t in (runs, logs)]
    query = pushdown.compile_query(targets, sample_rows=7, max_cell_chars=100)
    assert query.tables == (runs.resource, logs.resource)
    assert query.columns == (("error_message",), tuple(c.path for c in targets[1].columns))
    assert "FROM s0 AS s" in query.sql and "FROM s1 AS s" in query.sql
    assert query.sql.count("UNION ALL") == 1
    assert query.sql.count("REGEXP_CONTAINS(") == len(catalog())  # once per detector, not per table
    assert query.sql.count("LIMIT 7") == 2
    # The dry run reads every sampled column of both tables and none of the detectors.
    assert query.estimate_sql.count("COUNT(s.c") == 1 + len(targets[1].columns)
    assert "REGEXP" not in query.estimate_sql and "UNION ALL" in query.estimate_sql
    rows = [
        {"t": 0, "i": -1, "v": None, "n": 7},
        {"t": 1, "i": -1, "v": None, "n": 3},
        {"t": 1, "i": 0, "v": "key=" + GOOGLE_KEY, "n": 2},
    ]
    (runs_answer, logs_answer) = pushdown.read_answer(pushdown.ANSWER_COLUMNS, rows, query)
    assert runs_answer == (7, ())
    assert logs_answer == (3, (Cell(0, "key=" + GOOGLE_KEY, 2),))


GOOGLE_KEY = "AIza" + "SyFAKE0123456789abcdefghijKLMNOPQRS"
ONE_COLUMN = Table(P, "d", "t", fields=(f("a"),))
COUNT_ROW = {"t": 0, "i": -1, "v": None, "n": 5}
HIT_ROW = {"t": 0, "i": 0, "v": "url?key=" + GOOGLE_KEY, "n": 1}
NAMES = ("t", "i", "v", "n")


def one_column_query() -> pushdown.PushdownQuery:
    target = pushdown.ScanTarget(ONE_COLUMN, tuple(text_columns(ONE_COLUMN.fields).columns))
    return pushdown.compile_query([target], sample_rows=5, max_cell_chars=9)


def test_an_answer_is_read_into_cells_the_catalog_confirms() -> None:
    placeholder = {"t": 0, "i": 0, "v": "api_key=<REDACTED> token=${API_TOKEN}", "n": 3}
    answer = pushdown.read_answer(NAMES, [COUNT_ROW, HIT_ROW, placeholder], one_column_query())
    ((sampled, cells),) = answer
    assert sampled == 5
    assert cells == (Cell(0, placeholder["v"], 3), Cell(0, HIT_ROW["v"], 1))
    # The SQL's candidates go through the same judge as the local mode's cells: the
    # placeholder row is dropped, the key reported with the local mode's evidence.
    assert confirm_cells(ONE_COLUMN.resource, ("a",), cells, 100) == (
        ValueHit(
            ONE_COLUMN.resource,
            "a",
            "google-api-key",
            1,
            "AIza…[redacted 35 chars]",
            fingerprint_secret(GOOGLE_KEY),
        ),
    )


@pytest.mark.parametrize(
    "rows",
    [
        [HIT_ROW],  # no row count: the engine failed without saying so
        [COUNT_ROW, COUNT_ROW],
        [COUNT_ROW, HIT_ROW, HIT_ROW],
        [COUNT_ROW, {**HIT_ROW, "i": 99}],
        [COUNT_ROW, {**HIT_ROW, "v": None}],
        [COUNT_ROW, {**HIT_ROW, "n": 6}],
        [COUNT_ROW, {**HIT_ROW, "n": 3}, {**HIT_ROW, "v": "other", "n": 3}],
        [{**COUNT_ROW, "v": "text"}],
        [{**COUNT_ROW, "n": "5"}],
        [COUNT_ROW, {**HIT_ROW, "t": 1}],
    ],
    ids=[
        "no count",
        "count twice",
        "cell twice",
        "unknown column",
        "no text",
        "more than sampled",
        "more in total than sampled",
        "count with text",
        "type",
        "unknown table",
    ],
)
def test_odd_answers_are_malformed(rows: list[dict[str, Any]]) -> None:
    with pytest.raises(Malformed):
        pushdown.read_answer(NAMES, rows, one_column_query())


def test_no_rows_is_an_empty_table_only_with_the_columns() -> None:
    assert pushdown.read_answer(NAMES, [], one_column_query()) == [(0, ())]
    # What the fast engine answers to a query it could not run: no rows, no columns.
    with pytest.raises(Malformed, match="did it run"):
        pushdown.read_answer((), [], one_column_query())


def test_options_come_from_the_command_line_then_the_rule_then_the_defaults() -> None:
    rules = load_policies([AUD_014], load_all()).rules
    assert content_options().mode is ContentMode.LOCAL
    assert content_options().sample_rows == DEFAULT_SAMPLE_ROWS
    rule = replace(rules[0], params={"mode": "pushdown", "sample_rows": 50, "max_bytes": 10**8})
    from_rule = content_options([rule])
    assert (from_rule.mode, from_rule.sample_rows, from_rule.max_bytes_billed) == (
        ContentMode.PUSHDOWN,
        50,
        10**8,
    )
    given = content_options([rule], mode="local", sample_rows=7, max_bytes=11)
    assert (given.mode, given.sample_rows, given.max_bytes_billed) == (ContentMode.LOCAL, 7, 11)
    # Rules that do not judge contents: nothing is read, unless asked for.
    others = load_policies([PROJECT_DIR / "policies"], load_all()).rules
    others = tuple(r for r in others if r.check != "no-credential-values")
    assert content_options(others).mode is ContentMode.OFF
    assert content_options(others, mode="pushdown").mode is ContentMode.PUSHDOWN
    with pytest.raises(UsageError, match="unknown content scan mode"):
        content_options(mode="regex")
    with pytest.raises(UsageError, match="sample rows"):
        content_options(sample_rows=0)
    with pytest.raises(UsageError, match="tables per query"):
        content_options(base=ContentOptions(tables_per_query=0))
    assert scanner_for(ContentMode.LOCAL) is local.scan_table
    assert scanner_for(ContentMode.DLP) is dlp.scan_table
    assert scanner_for(ContentMode.PUSHDOWN) is None  # batched: pushdown.scan_tables
    assert scanner_for(ContentMode.OFF) is None


def test_off_scans_nothing() -> None:
    result = scan_contents(None, [Table(P, "d", "t")], ContentOptions(mode=ContentMode.OFF))  # type: ignore[arg-type]
    assert result == ContentResult((), (), ())


# ---------------------------------------------------------------------------- the check


def run_check(inventory: Inventory) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    rules = load_policies([AUD_014], load_all()).rules
    findings = evaluate(inventory, rules, load_all(), CONTEXT)
    return [(f.status.value, f.resource, f.column, dict(f.evidence)) for f in findings]


def test_the_check_fails_per_hit_passes_scanned_tables_and_fails_closed() -> None:
    tenant = Dataset(P, "acme", labels={"dataset_role": "tenant"})
    other = Dataset(P, "scratch")
    runs, steps, queue, view = (
        Table(P, "acme", "runs"),
        Table(P, "acme", "steps"),
        Table(P, "acme", "queue"),
        Table(P, "acme", "v", type="VIEW"),
    )
    elsewhere = Table(P, "scratch", "t")
    hit = ValueHit(
        runs.resource,
        "error_message",
        "google-api-key",
        2,
        "AIza…[redacted 35 chars]",
        "0123456789abcdef",
    )
    inventory = Inventory(
        root="r",
        datasets=(tenant, other),
        live_tables=(runs, steps, queue, view, elsewhere),
        content_scans=(
            ContentScan(runs.resource, "local", 20, ("error_message",)),
            ContentScan(steps.resource, "local", 20, ("a", "b")),
        ),
        value_hits=(hit,),
        gaps=(CoverageGap(queue.resource, "contents not scanned (local): 403 Forbidden: no"),),
    )
    results = run_check(inventory)
    assert results == [
        ("ERROR", queue.resource, None, {}),
        ("FAIL", runs.resource, "error_message", {
            "detector": "google-api-key", "rows": 2, "prefix": "AIza…[redacted 35 chars]",
            "fingerprint": "0123456789abcdef",
        }),
        ("PASS", steps.resource, None, {"mode": "local", "rows": 20}),
        ("SKIPPED", view.resource, None, {}),
    ]  # fmt: skip
    findings = evaluate(inventory, load_policies([AUD_014], load_all()).rules, load_all(), CONTEXT)
    error = next(f for f in findings if f.status is Status.ERROR)
    assert "403 Forbidden" in error.message and "acme.queue" in error.message
    # Nothing scanned at all (content scan off): every tenant table is an ERROR.
    off = replace(inventory, content_scans=(), value_hits=(), gaps=())
    assert [r[0] for r in run_check(off)] == ["ERROR", "ERROR", "ERROR", "SKIPPED"]


# ---------------------------------------------------------------------------- on the engines


def tenant_tables(endpoint: str) -> tuple[Table, ...]:
    client = make_client(P, endpoint)
    live = collect(client, P, CollectOptions(table_iam=False, datasets=TENANTS))
    assert live.gaps == ()
    return tuple(t for t in live.tables if t.type == "TABLE")


@pytest.fixture(scope="module")
def faithful_estate(faithful_bq: LocalBigQuery) -> LocalBigQuery:
    seed(make_client(P, faithful_bq.endpoint), SeedOptions())
    return faithful_bq


@pytest.fixture(scope="module")
def fast_estate(fast_bq: LocalBigQuery) -> LocalBigQuery:
    seed(make_client(P, fast_bq.endpoint), SeedOptions(faithful=False))
    return fast_bq


def both_modes(endpoint: str, local_workers: int) -> tuple[ContentResult, ContentResult]:
    client = make_client(P, endpoint)
    tables = tenant_tables(endpoint)
    found = (
        scan_contents(
            client, tables, ContentOptions(mode=ContentMode.LOCAL, workers=local_workers)
        ),
        scan_contents(client, tables, ContentOptions(mode=ContentMode.PUSHDOWN, workers=2)),
    )
    for result in found:
        assert result.gaps == ()
        assert len(result.scans) == len(tables) == 20
    return found


@pytest.mark.emulator
def test_local_and_pushdown_agree_on_the_faithful_engine(faithful_estate: LocalBigQuery) -> None:
    local_result, pushdown_result = both_modes(faithful_estate.endpoint, local_workers=4)
    assert local_result.hits == pushdown_result.hits == expected_hits()
    assert [(s.table, s.rows_scanned, s.columns) for s in local_result.scans] == [
        (s.table, s.rows_scanned, s.columns) for s in pushdown_result.scans
    ]
    runs = next(
        s for s in local_result.scans if s.table.endswith("initech/tables/x_meta_pipeline_runs")
    )
    assert runs.rows_scanned == 20 and "run_config.source.query" in runs.columns
    assert "run_config.parameters" in runs.columns  # JSON inside a RECORD
    assert {s.mode for s in pushdown_result.scans} == {"pushdown"}


def dlp_scan(client: bigquery.Client, tables: Sequence[Table], endpoint: str) -> ContentResult:
    options = ContentOptions(mode=ContentMode.DLP, workers=1, dlp_endpoint=endpoint, attempts=1)
    return scan_contents(client, tables, options)


@pytest.mark.emulator
def test_the_three_modes_agree_on_the_demo_estate(
    fast_estate: LocalBigQuery, tmp_path: Path
) -> None:
    """Local, pushdown and DLP mode over the demo estate (the fast engine; local with one
    worker: bqemulator's tabledata.list mixes up concurrent answers).

    DLP mode runs with the real DLP client. What it sends is captured
    first (no recording answers it yet: every table is a gap), then answered by the
    responder (tests/support/dlp_responder.py) from each request alone, and replayed."""
    client = make_client(P, fast_estate.endpoint)
    tables = tenant_tables(fast_estate.endpoint)
    local_result, pushdown_result = both_modes(fast_estate.endpoint, local_workers=1)
    with RecordedServer(DLP_RECORDED) as capture:
        unanswered = dlp_scan(client, tables, capture.url)
        sent = list(capture.requests)
    assert unanswered.hits == () and len(unanswered.gaps) == len(tables) == 20
    assert all("404 Not Found" in g.reason for g in unanswered.gaps)
    assert write_recordings(sent, tmp_path) == 20  # one request per table: small samples
    with RecordedServer(tmp_path) as replay:
        dlp_result = dlp_scan(client, tables, replay.url)
        assert replay.count("POST", r"/content:inspect$") == 20
        # The same through the command line: --dlp-endpoint reaches the DLP client.
        report = tmp_path / "dlp.json"
        run = CliRunner().invoke(
            main,
            ["scan", *cli_estate(fast_estate), "--workers", "1", "--content-scan", "dlp",
             "--dlp-endpoint", replay.url, "--only", "AUD-014", "-f", "json", "-o", str(report)],
        )  # fmt: skip
        assert run.exit_code == 1, run.output
    failed = {
        (f["resource"], f["column"], f["evidence"]["detector"], f["evidence"]["rows"])
        for f in json.loads(report.read_text(encoding="utf-8"))["findings"]
        if f["status"] == "FAIL"
    }
    assert failed == {(h.table, h.column, h.detector, h.rows) for h in expected_hits()}
    assert dlp_result.gaps == ()
    assert [(s.table, s.rows_scanned, s.columns) for s in dlp_result.scans] == [
        (s.table, s.rows_scanned, s.columns) for s in local_result.scans
    ]
    assert {s.mode for s in dlp_result.scans} == {"dlp"}
    # Same detector, table, column path, row count and evidence in all three modes: the
    # three planted leaks of the brief, nothing else.
    assert dlp_result.hits == local_result.hits == pushdown_result.hits == expected_hits()
    assert {
        (
            h.table.split("/datasets/")[1].split("/")[0],
            h.table.rsplit("/", 1)[1],
            h.column,
            h.detector,
        )
        for h in dlp_result.hits
    } == PLANTED_AT


@pytest.mark.emulator
def test_a_failing_table_does_not_leave_its_query_batch_unscanned(
    fast_estate: LocalBigQuery,
) -> None:
    """Tables share a query; one that cannot be read fails it, and the batch is split until
    the others are scanned and only that table is a gap."""
    client = make_client(P, fast_estate.endpoint)
    tables = sorted(tenant_tables(fast_estate.endpoint), key=lambda t: t.resource)
    acme = [
        t
        for t in tables
        if t.dataset_id == "acme_corp"
        and t.table_id in {"x_meta_pipeline_runs", "x_meta_step_logs"}
    ]
    missing = replace(acme[0], table_id="x_meta_gone")
    options = ContentOptions(mode=ContentMode.PUSHDOWN, workers=1, tables_per_query=8)
    result = scan_contents(client, [*acme, missing], options)
    assert [s.table for s in result.scans] == [t.resource for t in acme]
    assert [g.scope for g in result.gaps] == [missing.resource]
    assert result.gaps[0].reason.startswith("contents not scanned (pushdown): ")
    expected = tuple(h for h in expected_hits() if "/acme_corp/" in h.table)
    assert result.hits == expected and len(expected) == 1


@pytest.mark.emulator
@pytest.mark.parametrize("engine", ["faithful_estate", "fast_estate"])
def test_an_empty_table_is_scanned_with_zero_rows(
    engine: str, request: pytest.FixtureRequest
) -> None:
    endpoint = request.getfixturevalue(engine).endpoint
    client = make_client(P, endpoint)
    schema = [
        bigquery.SchemaField("error_message", "STRING"),
        bigquery.SchemaField("meta", "RECORD", fields=[bigquery.SchemaField("note", "STRING")]),
    ]
    client.create_table(bigquery.Table(f"{P}.globex.empty_logs", schema=schema))
    table = Table(
        P,
        "globex",
        "empty_logs",
        fields=(f("error_message"), f("meta", "RECORD", "NULLABLE", f("note"))),
    )
    try:
        for mode in (ContentMode.LOCAL, ContentMode.PUSHDOWN):
            result = scan_contents(client, [table], ContentOptions(mode=mode, workers=1))
            scan = ContentScan(table.resource, mode.value, 0, ("error_message", "meta.note"))
            assert result == ContentResult((scan,), (), ())
    finally:
        client.delete_table(f"{P}.globex.empty_logs")


@pytest.mark.emulator
def test_local_sampling_is_bounded_in_rows_and_bytes(faithful_estate: LocalBigQuery) -> None:
    client = make_client(P, faithful_estate.endpoint)
    (table,) = [
        t
        for t in tenant_tables(faithful_estate.endpoint)
        if t.resource.endswith("acme_corp/tables/x_meta_pipeline_runs")
    ]
    columns = text_columns(table.fields).columns
    call = Caller(RetryPolicy())
    few = local.sample_table(client, table, columns, ContentOptions(sample_rows=3), call)
    assert len(few.rows) == 3
    small = local.sample_table(client, table, columns, ContentOptions(max_sample_bytes=2_000), call)
    assert 1 <= len(small.rows) < 20 and small.bytes_read <= 2_000
    whole = local.sample_table(client, table, columns, ContentOptions(), call)
    assert len(whole.rows) == 20 and whole.bytes_read > 2_000


@pytest.mark.emulator
def test_a_table_over_the_budget_is_a_gap_not_a_silent_skip(faithful_estate: LocalBigQuery) -> None:
    tables = [t for t in tenant_tables(faithful_estate.endpoint) if t.dataset_id == "globex"]
    dry = {
        "kind": "bigquery#job",
        "jobReference": {"projectId": P, "jobId": "dry", "location": "US"},
        "configuration": {"dryRun": True, "query": {"query": "SELECT 1", "useLegacySql": False}},
        "status": {"state": "DONE"},
        "statistics": {
            "totalBytesProcessed": "5000000000",
            "query": {"totalBytesProcessed": "5000000000"},
        },
    }
    options = ContentOptions(mode=ContentMode.PUSHDOWN, max_bytes_billed=10**9)
    with FaultProxy(faithful_estate.endpoint) as proxy:
        proxy.fail("POST", r"/projects/[^/]+/jobs$", 200, dry)
        result = scan_contents(make_client(P, proxy.url), tables, options)
        queries = proxy.count("POST", r"/queries$")
    assert result.scans == () and result.hits == () and queries == 0
    assert [g.scope for g in result.gaps] == sorted(t.resource for t in tables)
    assert (
        "estimates 5,000,000,000 bytes, over the budget of 1,000,000,000" in result.gaps[0].reason
    )
    # BigQuery's own refusal (maximum_bytes_billed) is a gap too.
    limit = google_error(
        400, "Query exceeded limit for bytes billed: 1000000000.", "bytesBilledLimitExceeded"
    )
    with FaultProxy(faithful_estate.endpoint) as proxy:
        proxy.fail("POST", r"/queries$", 400, limit)
        result = scan_contents(make_client(P, proxy.url), tables, options)
    assert result.scans == () and len(result.gaps) == len(tables)
    assert {g.reason for g in result.gaps} == {
        "contents not scanned (pushdown): 400 Bad Request (bytesBilledLimitExceeded); "
        "message withheld: it may quote table data"
    }


@pytest.mark.emulator
def test_every_failure_is_a_gap_naming_the_table(faithful_estate: LocalBigQuery) -> None:
    tables = [t for t in tenant_tables(faithful_estate.endpoint) if t.dataset_id == "acme_corp"]
    with FaultProxy(faithful_estate.endpoint) as proxy:
        proxy.fail(
            "GET",
            r"/tables/x_meta_step_logs/data$",
            403,
            google_error(403, "Access Denied", "accessDenied"),
        )
        proxy.fail("GET", r"/tables/x_meta_dq_results/data$", 200, {"rows": [{"f": []}]})
        result = scan_contents(make_client(P, proxy.url), tables, ContentOptions())
    assert {(g.scope.rsplit("/", 1)[1], g.reason.split(":")[0]) for g in result.gaps} == {
        ("x_meta_step_logs", "contents not scanned (local)"),
        ("x_meta_dq_results", "contents not scanned (local)"),
    }
    reasons = " ".join(g.reason for g in result.gaps)
    assert "403 Forbidden" in reasons and "malformed answer" in reasons
    assert len(result.scans) == 3


def cli_estate(engine: LocalBigQuery) -> list[str]:
    """The tenant datasets of the demo estate, its IAM from the export folder (complete)."""
    datasets = [arg for d in TENANTS for arg in ("--dataset", d)]
    iam = ["--iam-exports", str(PROJECT_DIR / "examples" / "demo-iam")]
    return ["--endpoint", engine.endpoint, "--no-table-iam", *iam, *datasets]


@pytest.mark.emulator
def test_no_output_snapshot_or_log_holds_a_planted_secret(
    faithful_estate: LocalBigQuery, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs = tmp_path / "reports"
    common = cli_estate(faithful_estate)
    texts: dict[str, str] = {}
    for mode in ("local", "pushdown"):
        run = CliRunner().invoke(
            main,
            ["scan", *common, "--content-scan", mode, "--only", "AUD-014",
             "-f", "console", "-f", "json", "-f", "sarif", "-f", "junit", "-f", "html",
             "--output-dir", str(outputs / mode)],
        )  # fmt: skip
        assert "Traceback" not in run.output, run.output
        texts[f"{mode} console and progress"] = run.output
        for file in sorted((outputs / mode).iterdir()):
            texts[f"{mode} {file.name}"] = file.read_text(encoding="utf-8")
        report = json.loads(
            next(t for n, t in texts.items() if n.startswith(mode) and n.endswith(".json"))
        )
        keys = ("detector", "rows", "prefix", "fingerprint")
        failed = {
            (f["resource"], f["column"], *(f["evidence"][k] for k in keys))
            for f in report["findings"]
            if f["status"] == "FAIL"
        }
        assert failed == {
            (h.table, h.column, h.detector, h.rows, h.prefix, h.fingerprint)
            for h in expected_hits()
        }
        assert run.exit_code == 1
    snap = tmp_path / "snap.json"
    run = CliRunner().invoke(main, ["snapshot", *common, "-o", str(snap)])
    assert run.exit_code == 0, run.output
    texts["snapshot"] = snap.read_text(encoding="utf-8")
    texts["captured logs"] = caplog.text
    for mode in ("local", "pushdown"):  # console (in the output) and the four files
        written = sorted(file.suffix for file in (outputs / mode).iterdir())
        assert written == [".html", ".json", ".sarif", ".xml"]
    for needle in needles():
        leaking = [name for name, text in texts.items() if needle in text]
        assert leaking == [], f"a planted secret (or its middle) is in {leaking}"
    # The evidence is there, redacted: the reports say what was found and where.
    assert "google-api-key in 1 sampled row" in texts["local console and progress"]


@pytest.mark.emulator
def test_the_snapshot_replays_the_content_findings(
    faithful_estate: LocalBigQuery, tmp_path: Path
) -> None:
    snap = tmp_path / "snap.json"
    common = cli_estate(faithful_estate)
    run = CliRunner().invoke(main, ["snapshot", *common, "--sample-rows", "5", "-o", str(snap)])
    assert run.exit_code == 0, run.output
    doc = json.loads(snap.read_text(encoding="utf-8"))
    inventory = doc["inventory"]
    assert doc["snapshot_version"] == 4
    assert {s["rows_scanned"] for s in inventory["content_scans"]} == {5}
    assert len(inventory["content_scans"]) == 20
    assert [h["fingerprint"] for h in inventory["value_hits"]] == [
        h.fingerprint for h in expected_hits()
    ]
    out = tmp_path / "replay.json"
    run = CliRunner().invoke(
        main, ["scan", "--snapshot", str(snap), "--only", "AUD-014", "-f", "json", "-o", str(out)]
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    # 20 tables; the view acme_corp.customer_lookup (a GenAI plant) holds no rows of its own.
    statuses = sorted(f["status"] for f in report["findings"])
    assert statuses == ["FAIL"] * 3 + ["PASS"] * 17 + ["SKIPPED"]
    assert run.exit_code == 1
