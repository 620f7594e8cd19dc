"""The run history: record, previous, changes, trend; the file's schema; the BigQuery sink.

Two runs: A fails then is fixed (resolved), B fails in both (persisting), C and D appear in
the second (new; D is an ERROR, which fails too). PASS, WAIVED and SKIPPED never count as
failing.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.history import HistoryError, HistoryStore, new_run_id
from auditor.history.store import SCHEMA_VERSION
from auditor.model import CoverageGap, Finding, Report, RunInfo, Severity, Status, fingerprint
from auditor.report import html

BQ = "//bigquery.googleapis.com/projects/gac-prod-471220/datasets"
T1 = datetime(2025, 11, 17, 2, 0, 0, 123456, tzinfo=UTC)
T2 = T1 + timedelta(days=1)


def finding(
    rule_id: str,
    resource: str,
    status: Status = Status.FAIL,
    severity: Severity = Severity.HIGH,
    *,
    column: str | None = None,
    principal: str | None = None,
) -> Finding:
    return Finding(
        rule_id=rule_id,
        rule_name=f"rule-{rule_id.lower()}",
        status=status,
        severity=severity,
        resource=resource,
        message=f"{rule_id} on {resource}",
        column=column,
        principal=principal,
    )


A = finding("AUD-006", f"{BQ}/initech", principal="allUsers")
B = finding("AUD-001", f"{BQ}/globex/tables/x", severity=Severity.CRITICAL, column="api_token")
C = finding("AUD-001", f"{BQ}/acme/tables/y", severity=Severity.CRITICAL, column="api_key")
D = finding("AUD-009", f"{BQ}/acme/tables/y", Status.ERROR, Severity.MEDIUM)
PASSED = finding("AUD-007", f"{BQ}/acme", Status.PASS)
WAIVED = finding("AUD-010", f"{BQ}/scratch", Status.WAIVED, Severity.MEDIUM)
SKIPPED = finding("AUD-012", f"{BQ}/customers", Status.SKIPPED)


def report(started: datetime, *findings: Finding, gaps: tuple[CoverageGap, ...] = ()) -> Report:
    run = RunInfo(
        started_at=started,
        finished_at=started + timedelta(seconds=42),
        root="http://127.0.0.1:9050",
        command="auditor nightly",
        coverage=gaps,
        tool_version="0.1.0",
    )
    return Report(run=run, rules=(), findings=findings)


FIRST = report(T1, A, B, PASSED, WAIVED)
SECOND = report(T2, B, C, D, PASSED, SKIPPED, gaps=(CoverageGap(f"{BQ}/umbrella", "403"),))


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with HistoryStore.open(tmp_path / "reports" / "history.sqlite") as opened:
        yield opened


def test_changes_between_two_runs_are_exact(store: HistoryStore) -> None:
    first = store.record(FIRST, "a" * 64)
    second = store.record(SECOND, "b" * 64)
    changes = store.changes(second)
    assert changes == html.ChangeSet(
        new=tuple(sorted((C.fingerprint, D.fingerprint))),
        resolved=(A.fingerprint,),
        persisting=(B.fingerprint,),
    )
    assert A.fingerprint == fingerprint("AUD-006", f"{BQ}/initech", None, "allUsers")
    # The first run has nothing before it: everything failing is new.
    assert store.previous(first) is None
    everything = tuple(sorted((A.fingerprint, B.fingerprint)))
    assert store.changes(first) == html.ChangeSet(new=everything)
    previous = store.previous(second)
    assert previous is not None and previous.id == first


def test_trend_has_one_point_per_run_oldest_first(store: HistoryStore) -> None:
    store.record(FIRST)
    store.record(SECOND)
    zero = {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0}
    assert store.trend() == [
        html.TrendPoint(T1, {**zero, "critical": 1, "high": 1}, True),
        # D is an ERROR: failing, but the chart counts FAILs (as every report's summary does).
        html.TrendPoint(T2, {**zero, "critical": 2}, False),
    ]
    assert store.trend(limit=1) == store.trend()[1:]
    with pytest.raises(HistoryError):
        store.trend(limit=0)


def test_a_run_record_keeps_the_summary(store: HistoryStore) -> None:
    run_id = store.record(SECOND, "c" * 64)
    run = store.run(run_id)
    assert run.id == run_id
    assert (run.started_at, run.finished_at) == (T2, T2 + timedelta(seconds=42))
    assert run.started_at.tzinfo is not None
    assert (run.command, run.root, run.tool_version) == (
        "auditor nightly",
        "http://127.0.0.1:9050",
        "0.1.0",
    )
    assert run.complete is False
    assert run.results_sha256 == "c" * 64
    assert run.findings == 5
    assert run.by_status == {"PASS": 1, "FAIL": 2, "ERROR": 1, "WAIVED": 0, "SKIPPED": 1}
    assert (run.coverage_gaps, run.errors) == (1, 0)
    assert store.latest() == run
    assert store.runs() == [run]


def test_findings_are_stored_by_fingerprint_without_passes(store: HistoryStore) -> None:
    duplicate = finding("AUD-006", f"{BQ}/initech", principal="allUsers")
    run_id = store.record(report(T1, A, duplicate, PASSED, WAIVED, SKIPPED))
    stored = store.findings(run_id)
    assert sorted((f.fingerprint, f.status) for f in stored) == sorted(
        [(A.fingerprint, Status.FAIL), (WAIVED.fingerprint, Status.WAIVED),
         (SKIPPED.fingerprint, Status.SKIPPED)]
    )  # fmt: skip
    row = next(f for f in stored if f.fingerprint == A.fingerprint)
    assert (row.rule_id, row.rule_name, row.severity, row.resource, row.principal) == (
        "AUD-006",
        "rule-aud-006",
        Severity.HIGH,
        f"{BQ}/initech",
        "allUsers",
    )
    assert row.column is None and row.message == A.message
    assert store.failing(run_id) == {A.fingerprint}


def test_run_ids_name_the_start_and_order_does_not_depend_on_them(store: HistoryStore) -> None:
    assert new_run_id(T1).startswith("20251117T020000Z-")
    # Recorded in this order, whatever the ids and start times say.
    later = store.record(SECOND, run_id="zz-run")
    earlier = store.record(FIRST, run_id="aa-run")
    previous = store.previous(earlier)
    assert previous is not None and previous.id == later
    with pytest.raises(HistoryError, match="cannot record run aa-run"):
        store.record(FIRST, run_id="aa-run")
    with pytest.raises(HistoryError, match="invalid run id"):
        store.record(FIRST, run_id="x'; DROP TABLE runs; --")
    with pytest.raises(HistoryError, match="no run 'nope'"):
        store.changes("nope")
    with pytest.raises(HistoryError, match="64 lower-case hex"):
        store.record(FIRST, "not-a-digest")


def test_the_file_is_versioned_wal_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with HistoryStore.open(path) as store:
        first = store.record(FIRST)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    assert not path.with_name("history.sqlite-wal").exists() or (
        path.with_name("history.sqlite-wal").stat().st_size == 0
    )
    with HistoryStore.open(path) as store:
        second = store.record(SECOND)
        assert [r.id for r in store.runs()] == [first, second]


def test_a_newer_or_foreign_file_is_refused_naming_it(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(HistoryError, match=rf"newer\.sqlite: .*version {SCHEMA_VERSION + 1}"):
        HistoryStore.open(newer)

    foreign = tmp_path / "app.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match=r"app\.sqlite: .*not an auditor history"):
        HistoryStore.open(foreign)

    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(HistoryError, match=r"garbage\.sqlite: not a readable SQLite"):
        HistoryStore.open(garbage)


def test_values_are_parameters_not_sql(store: HistoryStore) -> None:
    hostile = finding("AUD-001", "x'); DROP TABLE findings; --", column="a'b\"c")
    run_id = store.record(report(T1, hostile))
    assert [f.resource for f in store.findings(run_id)] == [hostile.resource]
    assert store.failing(run_id) == {hostile.fingerprint}


def test_rows_match_the_bigquery_sink_schema(store: HistoryStore) -> None:
    from auditor.history.bigquery_sink import FINDINGS_SCHEMA, RUNS_SCHEMA

    run_id = store.record(FIRST, "d" * 64)
    assert list(store.run(run_id).row()) == [f.name for f in RUNS_SCHEMA]
    assert list(store.findings(run_id)[0].row()) == [f.name for f in FINDINGS_SCHEMA]


def test_the_html_report_takes_the_history(store: HistoryStore) -> None:
    store.record(FIRST)
    second = store.record(SECOND)
    page = html.render(SECOND, history=store.trend(), changes=store.changes(second))
    assert 'data-count="changes-new">2<' in page
    assert 'data-count="changes-resolved">1<' in page
    assert 'data-count="changes-persisting">1<' in page
    assert A.fingerprint in page  # the resolved one, listed by fingerprint


# ------------------------------------------------------------------ BigQuery sink (emulator)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v)
        for k, v in row.items()
    }


@pytest.mark.emulator
def test_the_bigquery_sink_writes_the_same_rows(faithful_bq: Any, tmp_path: Path) -> None:
    from auditor.history.bigquery_sink import BigQuerySink, parse_dataset
    from auditor.sources.bigquery import make_client

    client = make_client(faithful_bq.project, faithful_bq.endpoint)
    dataset = parse_dataset(f"compliance_test_{uuid.uuid4().hex[:8]}", faithful_bq.project)
    sink = BigQuerySink(client, dataset)
    try:
        with HistoryStore.open(tmp_path / "history.sqlite") as store:
            ids = [store.record(FIRST, "e" * 64), store.record(SECOND)]
            for run_id in ids:
                sink.write_run(store, run_id)
            sink.ensure()  # idempotent: the tables exist now
            expected_runs = sorted((store.run(i).row() for i in ids), key=lambda r: r["id"])
            expected_findings = sorted(
                (f.row() for i in ids for f in store.findings(i)),
                key=lambda r: (r["run_id"], r["fingerprint"], r["status"]),
            )
        runs = sorted(
            (_plain(dict(r)) for r in client.list_rows(dataset.table("runs"))),
            key=lambda r: r["id"],
        )
        findings = sorted(
            (_plain(dict(r)) for r in client.list_rows(dataset.table("findings"))),
            key=lambda r: (r["run_id"], r["fingerprint"], r["status"]),
        )
        assert runs == [_plain_iso(r) for r in expected_runs]
        assert findings == expected_findings
    finally:
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)


def _plain_iso(row: dict[str, Any]) -> dict[str, Any]:
    """The store writes `...123456Z`; BigQuery reads back a datetime: compare as instants."""
    out = dict(row)
    for key in ("started_at", "finished_at"):
        out[key] = datetime.fromisoformat(row[key]).isoformat().replace("+00:00", "Z")
    return out
