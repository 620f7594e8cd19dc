"""A config's dataset list is the run's standing scope, not a narrowing.

`auditor.toml [scope] datasets` is applied to every run of that config: those runs are full
runs of their estate (not "Narrowed run" in the trend, the JSON, the console or the page).
A run is narrowed only when it examined less than that: --only, or a --dataset that leaves
out part of the configured list. The history still compares what each run read: a finding
in a dataset outside the configured list is not examined by its runs, never resolved.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import main
from auditor.cli.nightly import NightlySettings, nightly, resolve
from auditor.cli.scan import SHIPPED_TEMPLATE_GLOBS, LiveOptions
from auditor.history import HistoryStore
from auditor.history.store import _MIGRATIONS, SCHEMA_VERSION
from auditor.model import Finding, Report, RunScope
from auditor.report import console, html
from auditor.report import json as json_report
from auditor.report.reader import report_from_json

from .test_history_scope import (
    BQ,
    COLUMN,
    NO_CMEK,
    PACK,
    PUBLIC,
    P,
    fail,
    record,
    run,
)
from .test_reporters import _report_validator

CONFIGURED = ("initech", "globex", "umbrella")
OUTSIDE = fail("AUD-007", f"{BQ}/scratch_analytics")  # a dataset the config leaves out


def configured_run(
    day: int, *findings: Finding, datasets: tuple[str, ...] = CONFIGURED, only: tuple[str, ...] = ()
) -> Report:
    """A run of a config whose [scope] datasets is CONFIGURED (`datasets`: the globs the run
    applied, the config's unless --dataset said otherwise)."""
    report = run(day, *findings, only=only, datasets=datasets)
    scope = replace(report.run.scope, configured_datasets=CONFIGURED)
    return replace(report, run=replace(report.run, scope=scope))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "history.sqlite") as opened:
        yield opened


# --------------------------------------------------------------------------- the scope


@pytest.mark.parametrize(
    ("configured", "applied", "only", "narrowed"),
    [
        ((), (), (), False),  # every dataset, every rule
        (CONFIGURED, CONFIGURED, (), False),  # the config's own list: the standing scope
        (CONFIGURED, ("globex", "umbrella", "initech"), (), False),  # the same list, reordered
        (CONFIGURED, (*CONFIGURED, "acme_*"), (), False),  # --dataset wider than the config
        (CONFIGURED, ("globex",), (), True),  # --dataset narrower than the config
        (CONFIGURED, ("*",), (), True),  # other globs: compared as text, taken as narrower
        ((), ("globex",), (), True),  # --dataset without a config
        (CONFIGURED, CONFIGURED, ("AUD-007",), True),  # --only
    ],
)
def test_a_run_is_narrowed_only_below_its_standing_scope(
    configured: tuple[str, ...], applied: tuple[str, ...], only: tuple[str, ...], narrowed: bool
) -> None:
    scope = RunScope(rule_filter=only, dataset_filter=applied, configured_datasets=configured)
    assert scope.narrowed is narrowed
    assert scope.narrowed_datasets is (narrowed and not only)


def settings(*args: str) -> NightlySettings:
    ctx = nightly.make_context("nightly", list(args))
    with ctx:
        params = dict(ctx.params)
        params["template_globs"] = params["template_globs"] or SHIPPED_TEMPLATE_GLOBS
        live = LiveOptions(**{k: params.pop(k) for k in LiveOptions.__dataclass_fields__})
        config = params.pop("config_path")
        params.pop("log_format")
        return resolve(ctx, live, config, params)


def test_the_nightly_job_records_the_configured_datasets_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUDITOR_CONFIG", raising=False)
    cfg = tmp_path / "etc" / "auditor.toml"  # not ./auditor.toml, which would be the default
    cfg.parent.mkdir()
    cfg.write_text(f"[scope]\ndatasets = {json.dumps(list(CONFIGURED))}\n", encoding="utf-8")
    nightly_run = settings("--config", str(cfg)).scope()
    assert (nightly_run.dataset_filter, nightly_run.configured_datasets) == (CONFIGURED, CONFIGURED)
    assert not nightly_run.narrowed
    by_hand = settings("--config", str(cfg), "--dataset", "globex").scope()
    assert (by_hand.dataset_filter, by_hand.configured_datasets) == (("globex",), CONFIGURED)
    assert by_hand.narrowed
    no_config = settings("--dataset", "globex").scope()
    assert (no_config.dataset_filter, no_config.configured_datasets, no_config.narrowed) == (
        ("globex",), (), True,
    )  # fmt: skip


# --------------------------------------------------------------------------- the history


def test_config_runs_night_after_night_are_full_runs(store: HistoryStore) -> None:
    first_id, first = record(store, configured_run(0, PUBLIC, COLUMN, NO_CMEK))
    assert first == {f.fingerprint: "new" for f in (PUBLIC, COLUMN, NO_CMEK)}
    # initech fixed: resolved, as in any full run (the config's list covers it).
    second_id, second = record(store, configured_run(1, COLUMN, NO_CMEK))
    assert second == {
        PUBLIC.fingerprint: "resolved",
        COLUMN.fingerprint: "persisting",
        NO_CMEK.fingerprint: "persisting",
    }
    assert store.compare_recorded(second_id).consulted == (first_id,)  # one run settles it
    # The same config with --dataset globex: narrowed; umbrella is not examined.
    _, narrowed = record(store, configured_run(2, COLUMN, datasets=("globex",)))
    assert narrowed == {COLUMN.fingerprint: "persisting", NO_CMEK.fingerprint: "not examined"}
    # The config again: umbrella still fails, nothing is new twice.
    _, again = record(store, configured_run(3, COLUMN, NO_CMEK))
    assert again == {COLUMN.fingerprint: "persisting", NO_CMEK.fingerprint: "persisting"}
    runs = store.runs()
    assert [r.narrowed for r in runs] == [False, False, True, False]
    assert [r.partial for r in runs] == [False, False, True, False]
    assert [p.narrowed for p in store.trend()] == [False, False, True, False]
    assert [r.scope.configured_datasets for r in runs if r.scope] == [CONFIGURED] * 4
    assert [r.row()["narrowed"] for r in runs] == [False, False, True, False]
    assert runs[0].row()["configured_datasets"] == list(CONFIGURED)


def test_a_dataset_outside_the_configured_list_is_not_examined_never_resolved(
    store: HistoryStore,
) -> None:
    # A run without a config read every dataset and saw scratch_analytics fail.
    record(store, run(0, OUTSIDE, COLUMN))
    _, configured = record(store, configured_run(1, COLUMN))
    assert configured == {OUTSIDE.fingerprint: "not examined", COLUMN.fingerprint: "persisting"}
    assert not store.runs()[-1].narrowed  # the standing scope, though it reads less


def test_a_schema_two_history_is_migrated_and_keeps_its_narrowed_marks(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    db = sqlite3.connect(path)
    with db:
        for statements in _MIGRATIONS[:2]:
            for statement in statements:
                db.execute(statement)
        db.execute("PRAGMA user_version = 2")
        db.execute(
            "INSERT INTO runs VALUES (1, 'run-2', '2026-12-01T02:00:00Z', "
            "'2026-12-01T02:03:00Z', 'auditor nightly', 'x', 1, '0.1.0', NULL, 0, 0, 0, 0, 0, "
            "0, 0, 0, 0, 0, 0, 0, 0, 1, ?, ?, '[]', '[]', '[\"globex\"]', '[]', '[]')",
            (json.dumps(list(PACK)), P),
        )
    db.close()
    with HistoryStore.open(path) as store:
        (old,) = store.runs()
        # Recorded when a config's list could not be told from --dataset: it stays narrowed.
        assert old.scope is not None and old.scope.configured_datasets == ()
        assert old.narrowed
        new_id = store.record(configured_run(1, COLUMN))
        assert not store.run(new_id).narrowed
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    finally:
        db.close()


# --------------------------------------------------------------------------- the reports


def test_reports_of_a_configured_run_say_it_examined_its_scope() -> None:
    report = configured_run(0, COLUMN)
    text = json_report.render(report)
    data = json.loads(text)
    assert list(_report_validator().iter_errors(data)) == []
    assert data["run"]["scope"]["configured_datasets"] == list(CONFIGURED)
    assert data["run"]["scope"]["narrowed"] is False
    assert report_from_json(text, "x.json").run.scope == report.run.scope
    page = html.render(report)
    assert "Every input in scope was examined" in page and "Narrowed run" not in page
    assert "(those matching initech, globex, umbrella: the configured scope)" in page
    shown = console.render(report)
    assert (
        "complete: every input in scope (the configured datasets matching initech, globex, "
        "umbrella) was examined" in " ".join(shown.split())
    )

    narrowed = configured_run(0, COLUMN, datasets=("globex",))
    page = html.render(narrowed)
    assert "Narrowed run: every input in its scope was examined, only datasets matching globex" in (
        page
    )
    assert "(only those matching globex; the configured scope: initech, globex, umbrella)" in page
    assert json.loads(json_report.render(narrowed))["run"]["scope"]["narrowed"] is True
    assert "narrowed: only datasets matching globex" in " ".join(console.render(narrowed).split())


def test_a_report_written_before_configured_datasets_reads_as_before() -> None:
    data = json.loads(json_report.render(run(0, COLUMN, datasets=("globex",))))
    del data["run"]["scope"]["configured_datasets"]
    back = report_from_json(json.dumps(data, indent=2), "old.json")
    assert back.run.scope.configured_datasets == ()
    assert back.run.scope.narrowed  # a --dataset, as it was then taken to be


def test_the_nightly_cli_logs_no_narrowing_for_the_configured_list(tmp_path: Path) -> None:
    """Up to the estate read (an unreachable endpoint: exit 3): no "narrowed run" line for a
    config with a dataset list, one with --dataset on top."""
    cfg = tmp_path / "auditor.toml"
    cfg.write_text(
        f'[project]\nbigquery_endpoint = "http://127.0.0.1:9"\n'
        f"[scope]\ndatasets = {json.dumps(list(CONFIGURED))}\n"
        f'[outputs]\ndir = "{tmp_path / "out"}"\n',
        encoding="utf-8",
    )

    def messages(*args: str) -> list[str]:
        result = CliRunner().invoke(
            main, ["nightly", "--config", str(cfg), "--log-format", "json", *args]
        )
        assert result.exit_code == 3, result.output
        return [json.loads(line)["message"] for line in result.stderr.splitlines()]

    assert not any(m.startswith("narrowed run") for m in messages())
    assert (
        "narrowed run (only datasets matching globex): findings outside this scope are neither "
        "resolved nor new"
    ) in messages("--dataset", "globex")
