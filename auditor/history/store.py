"""The run history: every audit run and its non-PASS findings, in one SQLite file.

What it answers: what changed since the last run (FAIL/ERROR findings new since the last
run, resolved, persisting, or not examined by a narrower run, by fingerprint) and how the
failures trend over the last runs. The nightly job records each run here, then writes its
reports with the comparison and the trend.

- One file per estate (default `reports/history.sqlite`); keep separate files for separate
  estates. Each run records its scope (rules, datasets, filters, sources, coverage gaps), and
  runs are compared like with like (auditor.history.compare): a finding outside a run's
  scope is neither resolved nor new in it.
- Runs have string ids (`20250101T020000Z-1a2b3c`: start time plus a random suffix), so the
  same id names the run in the logs, in the report file names and in the BigQuery sink,
  where several jobs may write to one table.
- PASS findings are counted in the run's summary but not stored one by one: they are most
  of every run (one per table and rule) and no question asked here needs them.
- Schema version in `PRAGMA user_version`; each version's DDL is frozen text in
  `_MIGRATIONS`, applied in order, in one transaction. A file from a newer auditor, or a
  SQLite file that is not a history, is refused (HistoryError), never rewritten.
- WAL journal, so a reader (a dashboard, `sqlite3`) does not block the nightly writer.
- Every value goes through `?` parameters; no SQL is built from strings.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from auditor.errors import InputError
from auditor.history.compare import Comparison, Coverage, compare
from auditor.history.records import FindingRecord, RunRecord
from auditor.model import Finding, Report, RunScope, Severity, Status
from auditor.report.summary import FAILING, iso_utc, ordered, summarize
from auditor.report.views import ChangeSet, TrendPoint

__all__ = [
    "DEFAULT_HISTORY",
    "SCHEMA_VERSION",
    "FindingRecord",
    "HistoryError",
    "HistoryStore",
    "RunRecord",
    "new_run_id",
]

DEFAULT_HISTORY = Path("reports") / "history.sqlite"
SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 30_000
# Findings kept one by one (PASS only counted, in the run's summary).
STORED_STATUSES = (Status.FAIL, Status.ERROR, Status.WAIVED, Status.SKIPPED)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

# Index i holds the DDL that takes a file from user_version i to i + 1. Never edit an entry
# once released: add the next one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE runs (
            seq            INTEGER PRIMARY KEY AUTOINCREMENT,
            id             TEXT    NOT NULL UNIQUE,
            started_at     TEXT    NOT NULL,
            finished_at    TEXT    NOT NULL,
            command        TEXT    NOT NULL,
            root           TEXT    NOT NULL,
            complete       INTEGER NOT NULL CHECK (complete IN (0, 1)),
            tool_version   TEXT    NOT NULL,
            results_sha256 TEXT,
            findings       INTEGER NOT NULL,
            pass_count     INTEGER NOT NULL,
            fail_count     INTEGER NOT NULL,
            error_count    INTEGER NOT NULL,
            waived_count   INTEGER NOT NULL,
            skipped_count  INTEGER NOT NULL,
            fail_critical  INTEGER NOT NULL,
            fail_high      INTEGER NOT NULL,
            fail_medium    INTEGER NOT NULL,
            fail_low       INTEGER NOT NULL,
            fail_info      INTEGER NOT NULL,
            coverage_gaps  INTEGER NOT NULL,
            errors         INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE findings (
            run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL,
            rule_id     TEXT NOT NULL,
            rule_name   TEXT NOT NULL,
            status      TEXT NOT NULL,
            severity    TEXT NOT NULL,
            resource    TEXT NOT NULL,
            column_path TEXT,
            principal   TEXT,
            message     TEXT NOT NULL,
            PRIMARY KEY (run_id, fingerprint, status)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX findings_by_fingerprint ON findings (fingerprint)",
    ),
    # 2: each run's scope and the scopes of its coverage gaps (lists as JSON text). Runs
    # recorded under schema 1 keep NULLs: their scope is unknown.
    (
        "ALTER TABLE runs ADD COLUMN narrowed INTEGER CHECK (narrowed IN (0, 1))",
        "ALTER TABLE runs ADD COLUMN scope_rules TEXT",
        "ALTER TABLE runs ADD COLUMN scope_project TEXT",
        "ALTER TABLE runs ADD COLUMN scope_datasets TEXT",
        "ALTER TABLE runs ADD COLUMN rule_filter TEXT",
        "ALTER TABLE runs ADD COLUMN dataset_filter TEXT",
        "ALTER TABLE runs ADD COLUMN sources TEXT",
        "ALTER TABLE runs ADD COLUMN gap_scopes TEXT",
    ),
    # 3: the standing scope's dataset globs (auditor.toml [scope] datasets), so a run of a
    # config with a dataset list is not taken for a narrowed one. NULL under schema 2: those
    # runs keep the narrowed mark they were recorded with.
    ("ALTER TABLE runs ADD COLUMN configured_datasets TEXT",),
)
assert len(_MIGRATIONS) == SCHEMA_VERSION

_RUN_SELECT = """
    SELECT id, started_at, finished_at, command, root, complete, tool_version,
           results_sha256, findings, pass_count, fail_count, error_count, waived_count,
           skipped_count, fail_critical, fail_high, fail_medium, fail_low, fail_info,
           coverage_gaps, errors, narrowed, scope_rules, scope_project, scope_datasets,
           rule_filter, dataset_filter, sources, gap_scopes, configured_datasets
    FROM runs
"""
_FINDING_SELECT = """
    SELECT run_id, fingerprint, rule_id, rule_name, status, severity, resource, column_path,
           principal, message
    FROM findings
"""


class HistoryError(InputError):
    """The history file cannot be opened, is not a history, or lacks a run asked for."""


def new_run_id(started_at: datetime) -> str:
    """`20250101T020000Z-1a2b3c`: sorts by start time, unique across machines in practice."""
    moment = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class HistoryStore:
    """An open history file. Use `HistoryStore.open(path)`, ideally as a context manager."""

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._db = connection
        self.path = path

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: Path | str) -> HistoryStore:
        """Open (creating it and its folder if needed) and migrate the history at `path`."""
        where = str(path)
        if where != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(where, f"cannot create its folder: {exc.strerror}") from None
        try:
            db = sqlite3.connect(where, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise HistoryError(where, f"cannot open: {exc}") from None
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            _migrate(db, where)
            if where != ":memory:":
                db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise HistoryError(where, f"not a readable SQLite history file: {exc}") from None
        except BaseException:
            db.close()
            raise
        return cls(db, where)

    def close(self) -> None:
        """Fold the WAL into the main file and close: the file alone is then the history
        (safe to copy, e.g. to an archive on a file system SQLite cannot lock)."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def record(
        self, report: Report, results_sha256: str | None = None, *, run_id: str | None = None
    ) -> str:
        """Store `report`'s run and its non-PASS findings; return the new run's id.

        `results_sha256`: hex SHA-256 of the JSON report file written for this run.
        `run_id`: the id to record under (default: a new one from the run's start time).
        Two findings with the same fingerprint and status in one run are stored once.
        """
        if results_sha256 is not None and not _SHA256.match(results_sha256):
            raise HistoryError(
                self.path, f"results_sha256 must be 64 lower-case hex digits: {results_sha256!r}"
            )
        run_id = run_id or new_run_id(report.run.started_at)
        if not _RUN_ID.match(run_id):
            raise HistoryError(self.path, f"invalid run id {run_id!r}")
        summary = summarize(report)
        by_status, fail = summary["by_status"], summary["fail_by_severity"]
        run = report.run
        try:
            with self._db:
                self._db.execute(
                    """
                    INSERT INTO runs (
                        id, started_at, finished_at, command, root, complete, tool_version,
                        results_sha256, findings, pass_count, fail_count, error_count,
                        waived_count, skipped_count, fail_critical, fail_high, fail_medium,
                        fail_low, fail_info, coverage_gaps, errors, narrowed, scope_rules,
                        scope_project, scope_datasets, rule_filter, dataset_filter, sources,
                        gap_scopes, configured_datasets
                    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                              ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    (
                        run_id,
                        iso_utc(run.started_at),
                        iso_utc(run.finished_at),
                        run.command,
                        run.root,
                        int(run.complete),
                        run.tool_version,
                        results_sha256,
                        len(report.findings),
                        by_status["PASS"],
                        by_status["FAIL"],
                        by_status["ERROR"],
                        by_status["WAIVED"],
                        by_status["SKIPPED"],
                        fail["critical"],
                        fail["high"],
                        fail["medium"],
                        fail["low"],
                        fail["info"],
                        len(run.coverage),
                        len(run.errors),
                        *_scope_params(run.scope),
                        _json_list(g.scope for g in run.coverage),
                        _json_list(run.scope.configured_datasets),
                    ),
                )
                self._db.executemany(
                    """
                    INSERT OR IGNORE INTO findings (
                        run_id, fingerprint, rule_id, rule_name, status, severity, resource,
                        column_path, principal, message
                    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    _finding_params(run_id, report.findings),
                )
        except sqlite3.IntegrityError as exc:
            raise HistoryError(self.path, f"cannot record run {run_id}: {exc}") from None
        return run_id

    # ------------------------------------------------------------------ reading

    def run(self, run_id: str) -> RunRecord:
        """The run recorded as `run_id` (HistoryError if there is none)."""
        row = self._db.execute(f"{_RUN_SELECT} WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise HistoryError(self.path, f"no run {run_id!r} in the history")
        return self._run_record(row)

    def runs(self) -> list[RunRecord]:
        """Every recorded run, oldest first."""
        return [self._run_record(r) for r in self._db.execute(f"{_RUN_SELECT} ORDER BY seq")]

    def latest(self) -> RunRecord | None:
        row = self._db.execute(f"{_RUN_SELECT} ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else self._run_record(row)

    def previous(self, before_run_id: str) -> RunRecord | None:
        """The run recorded just before `before_run_id`; None when that one is the first."""
        seq = self._seq(before_run_id)
        row = self._db.execute(
            f"{_RUN_SELECT} WHERE seq < ? ORDER BY seq DESC LIMIT 1", (seq,)
        ).fetchone()
        return None if row is None else self._run_record(row)

    def findings(self, run_id: str) -> list[FindingRecord]:
        """The stored (non-PASS) findings of a run, by fingerprint then status."""
        self._seq(run_id)
        rows = self._db.execute(
            f"{_FINDING_SELECT} WHERE run_id = ? ORDER BY fingerprint, status", (run_id,)
        )
        return [_finding_record(r) for r in rows]

    def failing(self, run_id: str) -> frozenset[str]:
        """Fingerprints of the run's FAIL and ERROR findings."""
        self._seq(run_id)
        return frozenset(fp for fp, _, _ in self._failing_observed(run_id))

    def compare(self, report: Report) -> Comparison:
        """`report` (not recorded yet) against every recorded run, like with like."""
        return compare(
            Coverage.of(report.run.scope, (g.scope for g in report.run.coverage)),
            {f.fingerprint for f in report.findings if f.status in FAILING},
            self._history_before(None),
            self._failing_records,
        )

    def compare_recorded(self, run_id: str) -> Comparison:
        """The recorded run `run_id` against the runs recorded before it."""
        seq = self._seq(run_id)
        run = self.run(run_id)
        return compare(
            Coverage.of_run(run),
            {fp for fp, _, _ in self._failing_observed(run_id)},
            self._history_before(seq),
            self._failing_records,
        )

    def changes(self, run_id: str) -> ChangeSet:
        """FAIL/ERROR fingerprints of `run_id` new since the last run, resolved and
        persisting, each part sorted (auditor.history.compare says how runs of different
        scopes compare). For the first run everything failing is new."""
        return self.compare_recorded(run_id).change_set()

    def trend(self, limit: int = 30) -> list[TrendPoint]:
        """The last `limit` runs, oldest first, as points of the HTML trend chart; narrowed
        and incomplete runs are marked, since their counts are not the whole estate's."""
        if limit < 1:
            raise HistoryError(self.path, f"trend limit must be at least 1, not {limit}")
        rows = self._db.execute(f"{_RUN_SELECT} ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        records = reversed([self._run_record(row) for row in rows])
        return [
            TrendPoint(r.started_at, r.fail_by_severity, r.complete, narrowed=r.narrowed)
            for r in records
        ]

    def _failing_observed(self, run_id: str) -> list[tuple[str, str, str]]:
        """(fingerprint, rule id, resource) of run `run_id`'s FAIL and ERROR findings: what
        the comparison walks (cheap to read for every earlier run)."""
        first, second = sorted(s.value for s in FAILING)  # ERROR and FAIL
        rows = self._db.execute(
            "SELECT DISTINCT fingerprint, rule_id, resource FROM findings "
            "WHERE run_id = ? AND status IN (?, ?)",
            (run_id, first, second),
        )
        return [(fp, rule_id, resource) for fp, rule_id, resource in rows]

    def _failing_records(self, run_id: str, fingerprints: Collection[str]) -> list[FindingRecord]:
        """The FAIL/ERROR records of run `run_id` among `fingerprints`, one per fingerprint
        (an ERROR before a FAIL of the same one)."""
        first, second = sorted(s.value for s in FAILING)  # ERROR and FAIL
        wanted = frozenset(fingerprints)
        rows = self._db.execute(
            f"{_FINDING_SELECT} WHERE run_id = ? AND status IN (?, ?) ORDER BY fingerprint, status",
            (run_id, first, second),
        )
        unique: dict[str, FindingRecord] = {}
        for row in rows:
            if row[1] in wanted and row[1] not in unique:
                unique[row[1]] = _finding_record(row)
        return list(unique.values())

    def _history_before(
        self, seq: int | None
    ) -> Iterator[tuple[RunRecord, list[tuple[str, str, str]]]]:
        """The runs before `seq` (None: every run), newest first, each with its FAIL/ERROR
        records; read one run at a time, as the comparison asks for them."""
        upper = seq if seq is not None else self._max_seq() + 1
        earlier = self._db.execute(
            "SELECT seq FROM runs WHERE seq < ? ORDER BY seq DESC", (upper,)
        ).fetchall()
        for (run_seq,) in earlier:
            row = self._db.execute(f"{_RUN_SELECT} WHERE seq = ?", (run_seq,)).fetchone()
            run = self._run_record(row)
            yield run, self._failing_observed(run.id)

    def _max_seq(self) -> int:
        row = self._db.execute("SELECT coalesce(max(seq), 0) FROM runs").fetchone()
        highest: int = row[0]
        return highest

    def _run_record(self, row: Sequence[Any]) -> RunRecord:
        try:
            return _run_record(row)
        except ValueError as exc:
            raise HistoryError(self.path, f"run {row[0]!r}: {exc}") from None

    def _seq(self, run_id: str) -> int:
        row = self._db.execute("SELECT seq FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise HistoryError(self.path, f"no run {run_id!r} in the history")
        seq: int = row[0]
        return seq


# ---------------------------------------------------------------------- internals


def _migrate(db: sqlite3.Connection, where: str) -> None:
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise HistoryError(
            where,
            f"history schema version {version} is newer than this auditor's "
            f"({SCHEMA_VERSION}); use a newer auditor or another file",
        )
    if version == 0:
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise HistoryError(where, "a SQLite file that is not an auditor history")
    if version == SCHEMA_VERSION:
        return
    with db:  # one transaction: a failed migration leaves the file as it was
        for statements in _MIGRATIONS[version:]:
            for statement in statements:
                db.execute(statement)
        # PRAGMA takes no parameters; SCHEMA_VERSION is a module constant.
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")


def _finding_params(run_id: str, findings: Iterable[Finding]) -> Iterator[tuple[Any, ...]]:
    for f in ordered(findings):  # report order: which duplicate is kept is fixed
        if f.status not in STORED_STATUSES:
            continue
        yield (
            run_id,
            f.fingerprint,
            f.rule_id,
            f.rule_name,
            f.status.value,
            f.severity.value,
            f.resource,
            f.column,
            f.principal,
            f.message,
        )


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(list(values), ensure_ascii=True)


def _scope_params(scope: RunScope) -> tuple[Any, ...]:
    return (
        int(scope.narrowed),
        _json_list(scope.rules),
        scope.project,
        _json_list(scope.datasets),
        _json_list(scope.rule_filter),
        _json_list(scope.dataset_filter),
        _json_list(scope.sources),
    )


def _strings(text: str | None) -> tuple[str, ...]:
    """A JSON list of strings as written by `_json_list` (None: not recorded)."""
    if text is None:
        return ()
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"a scope column holds {text[:80]!r}, not a JSON list of strings")
    return tuple(values)


def _scope(
    narrowed: int | None,
    rules: str | None,
    project: str | None,
    datasets: str | None,
    rule_filter: str | None,
    dataset_filter: str | None,
    sources: str | None,
    configured_datasets: str | None,
) -> RunScope | None:
    if narrowed is None:  # recorded under schema 1
        return None
    return RunScope(
        rules=_strings(rules),
        project=project,
        datasets=_strings(datasets),
        rule_filter=_strings(rule_filter),
        dataset_filter=_strings(dataset_filter),
        sources=_strings(sources),
        # NULL under schema 2, where a config's dataset list could not be told from
        # --dataset: such a run stays narrowed, as it was recorded.
        configured_datasets=_strings(configured_datasets),
    )


def _run_record(row: Sequence[Any]) -> RunRecord:
    (
        run_id, started, finished, command, root, complete, tool_version, sha, findings,
        n_pass, n_fail, n_error, n_waived, n_skipped, critical, high, medium, low, info,
        gaps, errors, narrowed, rules, project, datasets, rule_filter, dataset_filter,
        sources, gap_scopes, configured_datasets,
    ) = row  # fmt: skip
    return RunRecord(
        id=run_id,
        started_at=_parse_time(started),
        finished_at=_parse_time(finished),
        command=command,
        root=root,
        complete=bool(complete),
        tool_version=tool_version,
        results_sha256=sha,
        findings=findings,
        by_status={
            "PASS": n_pass,
            "FAIL": n_fail,
            "ERROR": n_error,
            "WAIVED": n_waived,
            "SKIPPED": n_skipped,
        },
        fail_by_severity={
            "critical": critical,
            "high": high,
            "medium": medium,
            "low": low,
            "info": info,
        },
        coverage_gaps=gaps,
        errors=errors,
        scope=_scope(
            narrowed,
            rules,
            project,
            datasets,
            rule_filter,
            dataset_filter,
            sources,
            configured_datasets,
        ),
        gap_scopes=_strings(gap_scopes),
    )


def _finding_record(row: Sequence[Any]) -> FindingRecord:
    run_id, fp, rule_id, rule_name, status, severity, resource, column, principal, msg = row
    return FindingRecord(
        run_id=run_id,
        fingerprint=fp,
        rule_id=rule_id,
        rule_name=rule_name,
        status=Status(status),
        severity=Severity(severity),
        resource=resource,
        column=column,
        principal=principal,
        message=msg,
    )
