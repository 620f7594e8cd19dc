"""A narrower run resolves nothing it did not check: the history compares like with like.

Runs are recorded with their scope (rules, datasets, filters, sources, coverage gaps); each
finding is compared with the newest earlier run that examined it. Every test asserts the
exact state of every fingerprint: new (since the last run), resolved, persisting, or not
examined (outside this run's scope: carried over, neither resolved nor new).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.history import HistoryStore
from auditor.history.compare import Comparison, Coverage
from auditor.history.store import _MIGRATIONS, SCHEMA_VERSION
from auditor.model import (
    CoverageGap,
    Finding,
    Report,
    RunInfo,
    RunScope,
    Severity,
    Status,
)
from auditor.report import json as json_report

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
IAM_GAP = f"//cloudresourcemanager.googleapis.com/projects/{P}"
PACK = tuple(f"AUD-{i:03d}" for i in range(1, 15))
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def fail(rule_id: str, resource: str, principal: str | None = None) -> Finding:
    return Finding(
        rule_id=rule_id,
        rule_name=rule_id.lower(),
        status=Status.FAIL,
        severity=Severity.HIGH,
        resource=resource,
        message=f"{rule_id} fails on {resource}",
        principal=principal,
    )


PUBLIC = fail("AUD-006", f"{BQ}/initech", "allUsers")  # datasets-not-public
COLUMN = fail("AUD-001", f"{BQ}/globex/tables/x_meta_step_logs")  # credential column
NO_CMEK = fail("AUD-007", f"{BQ}/umbrella")  # dataset-default-cmek
GENAI = fail("AUD-011", f"{BQ}/customers", f"serviceAccount:rag@{P}.iam.gserviceaccount.com")
TEMPLATE = fail("AUD-002", "tenant/x_meta_step_logs.json")  # a template: no dataset
ACME = fail("AUD-009", f"{BQ}/acme_corp/tables/x_meta_pipeline_runs")


def run(
    day: int,
    *findings: Finding,
    only: tuple[str, ...] = (),
    datasets: tuple[str, ...] = (),
    gaps: tuple[str, ...] = (),
    project: str = P,
) -> Report:
    started = T0 + timedelta(days=day)
    scope = RunScope(
        rules=only or PACK,
        project=project,
        datasets=(),
        rule_filter=only,
        dataset_filter=datasets,
        sources=("templates", "bigquery", "iam-api"),
    )
    info = RunInfo(
        started_at=started,
        finished_at=started + timedelta(minutes=3),
        root="http://127.0.0.1:9050",
        command="auditor nightly",
        coverage=tuple(CoverageGap(g, "403: denied") for g in gaps),
        tool_version="0.1.0",
        scope=scope,
    )
    return Report(run=info, rules=(), findings=findings)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "history.sqlite") as opened:
        yield opened


def states(comparison: Comparison) -> dict[str, str]:
    """fingerprint -> new / resolved / persisting / not examined."""
    out = dict.fromkeys(comparison.new, "new")
    out.update((fp, "persisting") for fp in comparison.persisting)
    out.update((r.fingerprint, "resolved") for r in comparison.resolved)
    out.update((r.fingerprint, "not examined") for r in comparison.not_examined)
    assert len(out) == len(comparison.new) + len(comparison.persisting) + len(
        comparison.resolved
    ) + len(comparison.not_examined), "a fingerprint in two states"
    return out


def record(store: HistoryStore, report: Report) -> tuple[str, dict[str, str]]:
    """Compare (as the nightly job does, before recording), record, and check that the
    recorded run compares the same way."""
    before = store.compare(report)
    run_id = store.record(report)
    after = store.compare_recorded(run_id)
    assert after == before
    assert store.changes(run_id) == before.change_set()
    return run_id, states(before)


def fp(*findings: Finding) -> dict[str, str]:
    return {f.fingerprint: f.rule_id for f in findings}


def test_a_run_narrowed_by_rule_changes_nothing_outside_its_rules(store: HistoryStore) -> None:
    """The issue's path: full, `--only AUD-007 --only AUD-011`, full again."""
    _, first = record(store, run(0, PUBLIC, COLUMN, NO_CMEK, GENAI))
    assert first == dict.fromkeys(fp(PUBLIC, COLUMN, NO_CMEK, GENAI), "new")

    # umbrella got its CMEK key: resolved. AUD-006 and AUD-001 were not checked.
    _, narrowed = record(store, run(1, GENAI, only=("AUD-007", "AUD-011")))
    assert narrowed == {
        NO_CMEK.fingerprint: "resolved",
        GENAI.fingerprint: "persisting",
        PUBLIC.fingerprint: "not examined",
        COLUMN.fingerprint: "not examined",
    }

    # Full again: initech was fixed meanwhile; nothing comes back as "new".
    third_id, third = record(store, run(2, COLUMN, GENAI))
    assert third == {
        PUBLIC.fingerprint: "resolved",
        COLUMN.fingerprint: "persisting",
        GENAI.fingerprint: "persisting",
    }  # NO_CMEK: resolved by the narrowed run already, not again
    assert store.compare_recorded(third_id).consulted == tuple(r.id for r in store.runs()[1::-1])

    # It comes back: new since the last run.
    _, fourth = record(store, run(3, COLUMN, GENAI, NO_CMEK))
    assert fourth == {
        COLUMN.fingerprint: "persisting",
        GENAI.fingerprint: "persisting",
        NO_CMEK.fingerprint: "new",
    }


def test_a_run_narrowed_by_dataset_changes_nothing_outside_its_datasets(
    store: HistoryStore,
) -> None:
    record(store, run(0, PUBLIC, COLUMN, TEMPLATE, ACME))
    # --dataset 'glob*': globex examined (and still failing), templates read whatever the
    # filter (TEMPLATE fixed: resolved); initech and acme_corp not examined.
    _, narrowed = record(store, run(1, COLUMN, datasets=("glob*",)))
    assert narrowed == {
        COLUMN.fingerprint: "persisting",
        TEMPLATE.fingerprint: "resolved",
        PUBLIC.fingerprint: "not examined",
        ACME.fingerprint: "not examined",
    }
    # A new failure in the narrowed scope is new; one outside it was never looked at.
    _, again = record(
        store, run(2, COLUMN, fail("AUD-001", f"{BQ}/globex/tables/y"), datasets=("globex",))
    )
    assert again == {
        COLUMN.fingerprint: "persisting",
        fail("AUD-001", f"{BQ}/globex/tables/y").fingerprint: "new",
        PUBLIC.fingerprint: "not examined",
        ACME.fingerprint: "not examined",
    }
    _, full = record(store, run(3, PUBLIC, COLUMN))
    assert full == {
        PUBLIC.fingerprint: "persisting",
        COLUMN.fingerprint: "persisting",
        ACME.fingerprint: "resolved",
        fail("AUD-001", f"{BQ}/globex/tables/y").fingerprint: "resolved",
    }


def test_a_dataset_that_could_not_be_read_resolves_nothing_in_it(store: HistoryStore) -> None:
    record(store, run(0, PUBLIC, COLUMN, ACME))
    _, gap = record(store, run(1, gaps=(f"{BQ}/globex",)))
    assert gap == {
        PUBLIC.fingerprint: "resolved",
        ACME.fingerprint: "resolved",
        COLUMN.fingerprint: "not examined",  # globex and its tables were not read
    }
    # A table-level gap hides that table only; a project-level one, everything in it.
    _, table_gap = record(store, run(2, COLUMN, gaps=(f"{BQ}/globex/tables/other",)))
    assert table_gap == {COLUMN.fingerprint: "persisting"}
    _, project_gap = record(store, run(3, gaps=(f"//bigquery.googleapis.com/projects/{P}",)))
    assert project_gap == {COLUMN.fingerprint: "not examined"}


def test_unread_iam_resolves_only_what_was_seen_without_iam_too(store: HistoryStore) -> None:
    """A gap outside BigQuery (IAM, groups) may hide any access path: compare like with like."""
    record(store, run(0, PUBLIC, GENAI))
    _, no_iam = record(store, run(1, PUBLIC, gaps=(IAM_GAP,)))
    assert no_iam == {
        PUBLIC.fingerprint: "persisting",  # seen failing: observed, whatever was unread
        GENAI.fingerprint: "not examined",  # seen with IAM; tonight IAM was not read
    }
    # Still without IAM: a finding seen failing without IAM can be resolved without it.
    _, still = record(store, run(2, GENAI, gaps=(IAM_GAP,)))
    assert still == {
        PUBLIC.fingerprint: "resolved",
        GENAI.fingerprint: "persisting",
    }
    _, with_iam = record(store, run(3, GENAI))
    assert with_iam == {GENAI.fingerprint: "persisting"}


def test_runs_of_another_project_say_nothing_about_this_one(store: HistoryStore) -> None:
    record(store, run(0, PUBLIC))
    _, other = record(store, run(1, project="other-project"))
    assert other == {PUBLIC.fingerprint: "not examined"}


def test_a_full_complete_run_ends_the_look_back(store: HistoryStore) -> None:
    record(store, run(0, PUBLIC))
    full_id, _ = record(store, run(1, COLUMN))
    narrow_id, _ = record(store, run(2, only=("AUD-007",)))
    latest = store.compare(run(3, COLUMN))
    assert latest.consulted == (narrow_id, full_id)  # not the first: the full run settles it
    assert states(latest) == {COLUMN.fingerprint: "persisting"}
    # Same --dataset list every night: the last complete run with that list settles it.
    record(store, run(4, COLUMN, datasets=("globex", "initech")))
    listed_id, _ = record(store, run(5, COLUMN, datasets=("globex", "initech")))
    assert store.compare(run(6, datasets=("globex", "initech"))).consulted == (listed_id,)


def test_the_trend_marks_partial_runs(store: HistoryStore) -> None:
    record(store, run(0, PUBLIC, COLUMN))
    record(store, run(1, only=("AUD-007",)))
    record(store, run(2, COLUMN, gaps=(IAM_GAP,)))
    assert [(p.complete, p.narrowed) for p in store.trend()] == [
        (True, False),
        (True, True),
        (False, False),
    ]
    assert [r.partial for r in store.runs()] == [False, True, True]


def test_the_scope_is_recorded_and_read_back(store: HistoryStore) -> None:
    run_id = store.record(run(0, PUBLIC, only=("AUD-006",), datasets=("i*",), gaps=(IAM_GAP,)))
    recorded = store.run(run_id)
    assert recorded.scope == RunScope(
        rules=("AUD-006",),
        project=P,
        rule_filter=("AUD-006",),
        dataset_filter=("i*",),
        sources=("templates", "bigquery", "iam-api"),
    )
    assert recorded.gap_scopes == (IAM_GAP,)
    row = recorded.row()
    assert (row["narrowed"], row["scope_rules"], row["dataset_filter"], row["gap_scopes"]) == (
        True,
        ["AUD-006"],
        ["i*"],
        [IAM_GAP],
    )


def _schema_one_file(path: Path) -> None:
    """A history as the auditor wrote it before runs had a scope (schema 1), with one run."""
    db = sqlite3.connect(path)
    with db:
        for statement in _MIGRATIONS[0]:
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO runs VALUES (1, 'old-run', '2026-11-30T02:00:00Z', "
            "'2026-11-30T02:03:00Z', 'auditor nightly', 'x', 1, '0.1.0', NULL, 3, 1, 2, 0, 0, "
            "0, 0, 2, 0, 0, 0, 0, 0)"
        )
        for f in (PUBLIC, COLUMN):
            db.execute(
                "INSERT INTO findings VALUES ('old-run', ?, ?, ?, 'FAIL', 'high', ?, NULL, ?, ?)",
                (f.fingerprint, f.rule_id, f.rule_name, f.resource, f.principal, f.message),
            )
    db.close()


def test_a_schema_one_history_is_migrated_and_its_runs_count_as_full(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    _schema_one_file(path)
    with HistoryStore.open(path) as store:
        (old,) = store.runs()
        assert (old.id, old.scope, old.gap_scopes, old.narrowed) == ("old-run", None, (), False)
        assert old.row()["narrowed"] is None
        assert store.failing("old-run") == {PUBLIC.fingerprint, COLUMN.fingerprint}
        # The first run after the upgrade compares with it as the history always did.
        _, narrowed = record(store, run(1, only=("AUD-007",)))
        assert narrowed == {PUBLIC.fingerprint: "not examined", COLUMN.fingerprint: "not examined"}
        _, full = record(store, run(2, COLUMN))
        assert full == {PUBLIC.fingerprint: "resolved", COLUMN.fingerprint: "persisting"}
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    finally:
        db.close()


def test_a_bad_scope_column_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with HistoryStore.open(path) as store:
        store.record(run(0, PUBLIC))
    db = sqlite3.connect(path)
    with db:
        db.execute('UPDATE runs SET scope_rules = \'{"not": "a list"}\'')
    db.close()
    with (
        HistoryStore.open(path) as store,
        pytest.raises(Exception, match=r"history\.sqlite: run") as caught,
    ):
        store.runs()
    assert type(caught.value).__name__ == "HistoryError"


def test_the_json_report_carries_the_comparison(store: HistoryStore) -> None:
    first_id = store.record(run(0, PUBLIC, COLUMN, NO_CMEK))
    narrowed = run(1, COLUMN, only=("AUD-001", "AUD-007"))
    comparison = store.compare(narrowed)
    text = json_report.render(narrowed, since_last_run=comparison.as_json())
    data = json_report.load(text, "nightly.json")  # validates against the shipped schema
    since = data["since_last_run"]
    assert since["previous_run"] == {
        "id": first_id,
        "started_at": "2026-12-01T02:00:00Z",
        "complete": True,
        "narrowed": False,
    }
    assert since["compared_runs"] == [first_id]
    assert since["counts"] == {"new": 0, "resolved": 1, "persisting": 1, "not_examined": 1}
    assert since["new"] == [] and since["persisting"] == [COLUMN.fingerprint]
    assert since["resolved"] == [
        {
            "fingerprint": NO_CMEK.fingerprint,
            "rule_id": "AUD-007",
            "rule_name": "aud-007",
            "status": "FAIL",
            "severity": "high",
            "resource": f"{BQ}/umbrella",
        }
    ]
    assert since["not_examined"] == [
        {
            "fingerprint": PUBLIC.fingerprint,
            "rule_id": "AUD-006",
            "rule_name": "aud-006",
            "status": "FAIL",
            "severity": "high",
            "resource": f"{BQ}/initech",
            "principal": "allUsers",
        }
    ]
    # The first run: nothing before it, every failing finding new.
    with HistoryStore.open(":memory:") as empty:
        first = empty.compare(run(0, PUBLIC)).as_json()
    assert first["previous_run"] is None and first["new"] == [PUBLIC.fingerprint]
    assert json_report.load(json_report.render(run(0, PUBLIC), since_last_run=first), "x")


def test_a_report_written_before_the_rename_still_loads() -> None:
    text = json_report.render(run(0, PUBLIC))
    data: dict[str, Any] = json.loads(text)
    data["summary"]["new_fail_by_severity"] = data["summary"].pop(
        "fail_not_in_baseline_by_severity"
    )
    loaded = json_report.load(json.dumps(data), "old.json")
    assert loaded["summary"]["fail_not_in_baseline_by_severity"]["high"] == 1
    assert "new_fail_by_severity" not in loaded["summary"]
    both = json.loads(text)
    both["summary"]["new_fail_by_severity"] = both["summary"]["fail_not_in_baseline_by_severity"]
    with pytest.raises(Exception, match="not an auditor JSON report"):
        json_report.load(json.dumps(both), "both.json")


def test_coverage_of_a_run_without_a_recorded_scope_is_everything() -> None:
    unknown = Coverage.of(None, ())
    assert unknown.examines("AUD-001", f"{BQ}/x") and unknown.settles_all_before(unknown)
    narrowed = Coverage.of(RunScope(rules=("AUD-007",), rule_filter=("dataset-default-cmek",)), ())
    assert narrowed.examines("AUD-007", f"{BQ}/x")  # --only by name: the ids that ran count
    assert not narrowed.examines("AUD-001", f"{BQ}/x")


# ------------------------------------------------------------------ BigQuery sink (emulator)


@pytest.mark.emulator
def test_a_sink_table_from_before_gets_the_scope_columns(faithful_bq: Any, tmp_path: Path) -> None:
    """A compliance dataset made by an older auditor: its runs table lacks the scope columns.
    The sink adds them (the old rows stay) and writes the new run whole."""
    import uuid

    from google.cloud import bigquery

    from auditor.history.bigquery_sink import RUNS_SCHEMA, BigQuerySink, parse_dataset
    from auditor.sources.bigquery import make_client

    client = make_client(faithful_bq.project, faithful_bq.endpoint)
    dataset = parse_dataset(f"compliance_old_{uuid.uuid4().hex[:8]}", faithful_bq.project)
    old_columns = [f for f in RUNS_SCHEMA if f.name != "narrowed" and f.mode != "REPEATED"]
    old_columns = [f for f in old_columns if f.name != "scope_project"]
    try:
        client.create_dataset(bigquery.Dataset(dataset))
        client.create_table(bigquery.Table(dataset.table("runs"), schema=old_columns))
        with HistoryStore.open(tmp_path / "history.sqlite") as store:
            run_id = store.record(run(0, PUBLIC, only=("AUD-006",), gaps=(IAM_GAP,)))
            BigQuerySink(client, dataset).write_run(store, run_id)
            expected = store.run(run_id).row()
        table = client.get_table(dataset.table("runs"))
        assert [f.name for f in table.schema] == [f.name for f in RUNS_SCHEMA]
        (row,) = (dict(r) for r in client.list_rows(table))
        assert {k: row[k] for k in ("narrowed", "scope_rules", "scope_project", "gap_scopes")} == {
            "narrowed": True,
            "scope_rules": ["AUD-006"],
            "scope_project": P,
            "gap_scopes": [IAM_GAP],
        }
        assert row["id"] == expected["id"]
    finally:
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
