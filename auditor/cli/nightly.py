"""`auditor nightly`: the scheduled compliance job. Scan, record, report, exit.

1. Settings: command-line options over `auditor.toml` (auditor.config) over defaults.
2. The history file is opened first, so a bad one stops the job before a long scan.
3. The estate is collected with scan's own code (LiveOptions.collect) and audited.
4. The run is compared with the history, like with like (auditor.history.compare): what is
   new since the last run, resolved, persisting, or outside a narrowed run's scope (not
   examined: neither resolved nor new). Then the run and its findings are recorded.
5. Reports: `<dir>/nightly-<run id>.{json,sarif,html,...}` and `nightly-latest.*` copies;
   the JSON carries the comparison (`since_last_run`), the SARIF's baselineState says new
   or unchanged since the last run, the HTML has the trend (partial runs marked) and the
   changes, and the SHA-256 of the JSON it was made from. With `--sign` (`sign_key`) the
   JSON and the HTML carry an Ed25519 signature (report.signing; a Cloud KMS key for the
   job), made before they are written: the history records the signed JSON's SHA-256.
6. Optionally the recorded rows are copied to a BigQuery dataset (auditor.history
   .bigquery_sink).

Exit codes: 0 nothing failing at or above --fail-on; 1 FAIL/ERROR findings at or above it,
new since the last run or persisting alike (a nightly job must keep failing until a problem
is fixed or waived); 2 usage or config error (a signing key that cannot be read or used is
one: it is tried before the scan); 3 incomplete audit (coverage gaps) unless --allow-partial,
or the run could not be written to the BigQuery sink, or the reports could not be signed
(they are then written unsigned, and say so).

Logs: JSON lines for Cloud Logging on stderr with `--log-format json`, or when stderr is not
a terminal; otherwise the terminal's progress display (auditor.logs says what a line may
carry: ids and counts, never a finding's values or a secret).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from auditor.audit import audit
from auditor.cli.common import (
    EXIT_INCOMPLETE,
    EXIT_USAGE,
    as_utc,
    evaluation_time_option,
    load_rules,
    now,
    policies_option,
    select,
)
from auditor.cli.nightly_reports import (
    STEM,
    Signing,
    report_signer,
    results_json,
    write_atomic,
    write_reports,
)
from auditor.cli.scan import LiveOptions, live_options, progress_display
from auditor.config import CONFIG_NAME, FAIL_ON_CHOICES, FILE_FORMATS, Config, load_config
from auditor.errors import AuditorError
from auditor.history.compare import Comparison
from auditor.history.store import HistoryError, HistoryStore, new_run_id
from auditor.logs import JsonLog, Log, LogFormat, LogSeverity, TextLog, scrub
from auditor.model import Finding, Report, RunScope, Severity
from auditor.policy.waivers import load_waivers
from auditor.report import html, signing
from auditor.report.summary import blocking, exit_code

if TYPE_CHECKING:  # the Google client is imported only when a sink is configured
    from auditor.history.bigquery_sink import BigQuerySink

DEFAULT_OUTPUT_DIR = Path("reports")
HISTORY_NAME = "history.sqlite"
DEFAULT_FORMATS = ("json", "sarif", "html")
MAX_LISTED = 100  # findings new since the last run / coverage gaps logged one by one
NEW = "new since the last run"  # one meaning of "new"; "not in baseline" is the other

# Config attribute -> the command's parameter it stands in for.
_CONFIG_PARAMS = {
    "project": "project",
    "bigquery_endpoint": "endpoint",
    "iam_endpoint": "iam_endpoint",
    "dlp_endpoint": "dlp_endpoint",
    "iam_exports": "iam_exports",
    "datasets": "datasets",
    "output_dir": "output_dir",
    "formats": "formats",
    "history": "history_path",
    "history_archive": "history_archive",
    "bigquery_sink": "bigquery_sink",
    "sign_key": "sign_key",
    "signer": "signer",
    "fail_on": "fail_on",
    "allow_partial": "allow_partial",
    "policies": "policy_paths",
    "waivers": "waivers_path",
}
_LIVE_FIELDS = frozenset(f.name for f in dataclasses.fields(LiveOptions))


@dataclass(frozen=True)
class NightlySettings:
    live: LiveOptions
    config: Path | None
    policy_paths: tuple[Path, ...]
    only: tuple[str, ...]
    waivers_path: Path | None
    output_dir: Path
    formats: tuple[str, ...]  # json always among them
    history_path: Path
    history_archive: Path | None
    bigquery_sink: str | None
    sign_key: str | None  # Ed25519 PEM file or gcpkms://... key version; None: unsigned
    signer: str | None
    kms_endpoint: str | None
    fail_on: Severity | None
    allow_partial: bool
    evaluation_time: datetime | None = None  # None: the run's start
    configured_datasets: tuple[str, ...] = ()  # auditor.toml [scope] datasets: the standing scope

    def scope(self) -> RunScope:
        """The run's filters: a config's dataset list is its standing scope, so only --only
        or a --dataset narrower than that list makes the run a narrowed one."""
        return RunScope(
            rule_filter=self.only,
            dataset_filter=self.live.datasets,
            sources=self.live.sources(),
            configured_datasets=self.configured_datasets,
        )


@dataclass(frozen=True)
class Outcome:
    run_id: str
    report: Report
    comparison: Comparison
    files: tuple[Path, ...]
    problems: tuple[str, ...]  # what went wrong after the audit (sink, archive): exit 3


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="AUDITOR_CONFIG",
    help=f"Settings file (default: ./{CONFIG_NAME} when it exists). Options given here win.",
)
@live_options
@policies_option
@click.option("--only", multiple=True, help="Run only these rules (id or name).")
@click.option(
    "--waivers",
    "waivers_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Waivers file (rule, resource pattern, reason, owner, expiry).",
)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_OUTPUT_DIR,
    show_default=True,
    help="Where the reports go.",
)
@click.option(
    "--format",
    "-f",
    "formats",
    multiple=True,
    type=click.Choice(FILE_FORMATS),
    default=DEFAULT_FORMATS,
    show_default=True,
    help="Report formats; repeatable (json is always written).",
)
@click.option(
    "--history",
    "history_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Run history (SQLite; default: OUTPUT_DIR/{HISTORY_NAME}).",
)
@click.option(
    "--history-archive",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Durable copy of the history (e.g. on a Cloud Storage volume): copied to --history "
    "before the run and back after it.",
)
@click.option(
    "--bigquery-sink",
    help="Also write the run's history rows to this BigQuery dataset (dataset or "
    "project.dataset; tables runs and findings, created when missing).",
)
@click.option(
    "--sign",
    "sign_key",
    metavar="KEY",
    help="Sign the JSON and HTML reports: a Cloud KMS key version "
    "gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V (the job's) "
    "or an Ed25519 private key (PEM file). `auditor verify` checks them.",
)
@click.option("--signer", help="The signer's name shown with the signature (default: the key).")
@click.option("--kms-endpoint", hidden=True, help="Cloud KMS endpoint (tests: recorded answers).")
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON_CHOICES),
    default="high",
    show_default=True,
    help="Exit 1 when a FAIL/ERROR finding, new since the last run or persisting, is at or "
    "above this severity.",
)
@click.option(
    "--allow-partial/--no-allow-partial",
    default=False,
    help="Do not exit 3 when coverage is incomplete.",
)
@click.option(
    "--log-format",
    type=click.Choice([f.value for f in LogFormat]),
    default=LogFormat.AUTO.value,
    show_default=True,
    help="json: one Cloud Logging object per line on stderr; auto: json unless a terminal.",
)
@evaluation_time_option
def nightly(live: LiveOptions, config_path: Path | None, log_format: str, **options: Any) -> None:
    """The nightly compliance job: scan the live estate, record the run in the history,
    write reports with the trend and the changes since the previous run.

    A run narrowed by --only or --dataset neither resolves nor raises findings outside
    its scope: the next full run compares with what each finding was last seen as.

    Exit codes: 0 clean; 1 FAIL/ERROR findings at/above --fail-on, new or persisting;
    2 usage/config error; 3 incomplete audit (unless --allow-partial), or the history
    could not be archived or written to the BigQuery sink.
    """
    started = now()
    run_id = new_run_id(started)
    ctx = click.get_current_context()
    with run_log(LogFormat(log_format), run_id) as log:
        job = functools.partial(_nightly, ctx, log, run_id, started, live, config_path, options)
        code = _guarded(log, job)
    sys.exit(code)


@contextmanager
def run_log(chosen: LogFormat, run_id: str) -> Iterator[Log]:
    """JSON lines (asked for, or stderr is not a terminal), else the progress display."""
    as_json = chosen is LogFormat.JSON or (chosen is LogFormat.AUTO and not _stderr_is_terminal())
    if as_json:
        yield JsonLog(run_id=run_id, labels={"command": STEM}, producer="auditor-nightly")
        return
    with progress_display() as show:
        yield TextLog(show)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _guarded(log: Log, job: Callable[[], int]) -> int:
    """Run the job; the auditor's errors become exit 2, anything unexpected exit 3."""
    try:
        code = job()
    except AuditorError as exc:
        log.log(LogSeverity.ERROR, f"error: {exc}", exit_code=EXIT_USAGE)
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get("AUDITOR_DEBUG"):
            raise
        log.log(
            LogSeverity.CRITICAL,
            f"internal error ({type(exc).__name__}): {exc}; set AUDITOR_DEBUG=1 to see where",
            exit_code=EXIT_INCOMPLETE,
        )
        return EXIT_INCOMPLETE
    return code


def _nightly(
    ctx: click.Context,
    log: Log,
    run_id: str,
    started: datetime,
    live: LiveOptions,
    config_path: Path | None,
    options: dict[str, Any],
) -> int:
    settings = resolve(ctx, live, config_path, options)
    log.label("project", settings.live.project)
    log.log(
        LogSeverity.INFO,
        f"nightly run {run_id} started for project {settings.live.project}",
        project=settings.live.project,
        config=str(settings.config) if settings.config else None,
        history=str(settings.history_path),
        output_dir=str(settings.output_dir),
    )
    rules, registry = load_rules(settings.policy_paths)
    rules = select(rules, settings.only)
    scope = settings.scope()
    _log_narrowing(log, scope, [r.id for r in rules])
    waivers = load_waivers(settings.waivers_path) if settings.waivers_path else ()
    sink = _sink(settings)
    signer = report_signer(settings.sign_key, settings.signer, settings.kms_endpoint, log)
    _restore_history(settings, log)
    store = HistoryStore.open(settings.history_path)
    try:
        with store:
            inventory = settings.live.collect(log.progress, rules)
            log.progress(f"evaluating {len(rules)} rules")
            result = audit(
                inventory,
                rules,
                registry,
                now,
                started=started,
                waivers=waivers,
                command=scrub(" ".join(["auditor", *sys.argv[1:]])),
                evaluation_time=settings.evaluation_time,
                scope=scope,
            )
            for note in result.notes:
                log.log(LogSeverity.NOTICE, note)
            outcome = _record_and_report(
                store, settings, run_id, result.report, sink, signer, log
            )
    finally:
        # Whatever failed once the history was open, keep what it recorded.
        archive_problem = _archive_history(settings, log)
    if archive_problem is not None:
        outcome = dataclasses.replace(outcome, problems=(*outcome.problems, archive_problem))
    return _finish(settings, outcome, log)


def resolve(
    ctx: click.Context, live: LiveOptions, config_path: Path | None, options: dict[str, Any]
) -> NightlySettings:
    """The command's settings: options given on the command line (or by environment
    variable) win over the config file, which wins over the options' defaults."""
    config = _load_config(config_path)
    values = {**{k: getattr(live, k) for k in _LIVE_FIELDS}, **options}
    for attribute, value in config.given().items():
        param = _CONFIG_PARAMS[attribute]
        if ctx.get_parameter_source(param) in (None, ParameterSource.DEFAULT):
            values[param] = value
    output_dir = Path(values["output_dir"])
    formats = tuple(dict.fromkeys(("json", *values["formats"])))
    return NightlySettings(
        live=LiveOptions(**{k: values[k] for k in _LIVE_FIELDS}),
        config=config.path,
        policy_paths=tuple(values["policy_paths"]),
        only=tuple(values["only"]),
        waivers_path=values["waivers_path"],
        output_dir=output_dir,
        formats=formats,
        history_path=values["history_path"] or output_dir / HISTORY_NAME,
        history_archive=values["history_archive"],
        bigquery_sink=values["bigquery_sink"],
        sign_key=values["sign_key"],
        signer=values["signer"],
        kms_endpoint=values["kms_endpoint"],
        fail_on=None if values["fail_on"] == "none" else Severity(values["fail_on"]),
        allow_partial=bool(values["allow_partial"]),
        evaluation_time=as_utc(values["evaluation_time"]) if values["evaluation_time"] else None,
        configured_datasets=config.datasets or (),
    )


def _load_config(config_path: Path | None) -> Config:
    if config_path is not None:
        return load_config(config_path)
    default = Path(CONFIG_NAME)
    return load_config(default) if default.is_file() else Config()


def _sink(settings: NightlySettings) -> BigQuerySink | None:
    """The BigQuery sink (built before the scan, so a bad dataset name fails early)."""
    if settings.bigquery_sink is None:
        return None
    # Imported here: the BigQuery client library is slow to import; only a sink needs it.
    from auditor.gcp.clients import bigquery_client
    from auditor.history.bigquery_sink import BigQuerySink, parse_dataset

    live = settings.live
    dataset = parse_dataset(settings.bigquery_sink, live.project)
    return BigQuerySink(bigquery_client(dataset.project, live.endpoint), dataset)


def _record_and_report(
    store: HistoryStore,
    settings: NightlySettings,
    run_id: str,
    report: Report,
    sink: BigQuerySink | None,
    signer: signing.Signer | None,
    log: Log,
) -> Outcome:
    # Compared before it is recorded, so that the JSON (and its digest, recorded with the
    # run) carries the comparison; the recorded run compares the same way afterwards.
    comparison = store.compare(report)
    # Signed (when a key is set) before the digest is taken: the history, the page's
    # manifest and `sha256sum nightly-<run id>.json` name the same bytes.
    sign = Signing(signer, now(), log)
    results = results_json(report, comparison, sign)
    digest = hashlib.sha256(results).hexdigest()
    store.record(report, digest, run_id=run_id)
    log.log(
        LogSeverity.INFO,
        f"recorded run {run_id} in {settings.history_path}",
        history=str(settings.history_path),
        results_sha256=digest,
    )
    files = write_reports(
        settings.output_dir,
        settings.formats,
        run_id,
        report,
        results,
        digest,
        trend=store.trend(html.TREND_RUNS),
        comparison=comparison,
        sign=sign,
        log=log,
    )
    problems = sign.problems
    if sink is not None:
        # Imported here, as above: the BigQuery client library only when there is a sink.
        from auditor.history.bigquery_sink import SinkError

        try:
            rows = sink.write_run(store, run_id)
        except SinkError as exc:
            problems.append(f"history sink: {exc}")
            log.log(LogSeverity.ERROR, f"history sink: {exc}", sink=sink.name)
        else:
            log.log(
                LogSeverity.INFO,
                f"wrote run {run_id} and {rows} finding rows to {sink.name}",
                sink=sink.name,
                rows=rows,
            )
    return Outcome(run_id, report, comparison, files, tuple(problems))


def _restore_history(settings: NightlySettings, log: Log) -> None:
    """Copy the archived history over the working one (the archive is the durable copy)."""
    archive, working = settings.history_archive, settings.history_path
    if archive is None:
        return
    if not archive.is_file():
        log.log(LogSeverity.NOTICE, f"no history archive at {archive} yet: starting a new one")
        return
    try:
        for stale in (_sidecar(working, "-wal"), _sidecar(working, "-shm")):
            stale.unlink(missing_ok=True)
        write_atomic(working, archive.read_bytes())
    except OSError as exc:
        raise HistoryError(str(archive), f"cannot restore the history from it: {exc}") from None
    log.log(LogSeverity.INFO, f"restored the history from {archive}", archive=str(archive))


def _archive_history(settings: NightlySettings, log: Log) -> str | None:
    """Copy the closed (checkpointed) working history to the archive; a problem or None."""
    archive = settings.history_archive
    if archive is None:
        return None
    try:
        write_atomic(archive, settings.history_path.read_bytes())
    except OSError as exc:
        problem = f"cannot archive the history to {archive}: {exc}"
        log.log(LogSeverity.ERROR, problem, archive=str(archive))
        return problem
    log.log(LogSeverity.INFO, f"archived the history to {archive}", archive=str(archive))
    return None


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _log_narrowing(log: Log, scope: RunScope, rule_ids: Sequence[str]) -> None:
    """Say up front that a narrowed run speaks only for its scope (a config's own dataset
    list is the standing scope, not a narrowing)."""
    parts = []
    if scope.rule_filter:
        parts.append(f"only rules {', '.join(rule_ids)}")
    if scope.narrowed_datasets:
        parts.append(f"only datasets matching {', '.join(scope.dataset_filter)}")
    if parts:
        log.log(
            LogSeverity.NOTICE,
            f"narrowed run ({'; '.join(parts)}): findings outside this scope are neither "
            "resolved nor new",
            rules=",".join(rule_ids) if scope.rule_filter else None,
            datasets=",".join(scope.dataset_filter) if scope.narrowed_datasets else None,
        )


def _finish(settings: NightlySettings, outcome: Outcome, log: Log) -> int:
    report, comparison = outcome.report, outcome.comparison
    for i, gap in enumerate(report.run.coverage):
        if i == MAX_LISTED:
            log.log(LogSeverity.WARNING, f"... and {len(report.run.coverage) - i} more gaps")
            break
        log.log(LogSeverity.WARNING, f"coverage gap: {gap.scope}: {gap.reason}", scope=gap.scope)
    first = comparison.previous is None
    if comparison.previous is not None:
        log.log(
            LogSeverity.NOTICE,
            f"since run {comparison.previous.id}: {len(comparison.new)} {NEW}, "
            f"{len(comparison.resolved)} resolved, {len(comparison.persisting)} persisting, "
            f"{len(comparison.not_examined)} not examined by this run",
            previous_run_id=comparison.previous.id,
            compared_runs=",".join(comparison.consulted),
            new=len(comparison.new),
            resolved=len(comparison.resolved),
            persisting=len(comparison.persisting),
            not_examined=len(comparison.not_examined),
        )
        if comparison.not_examined:
            why = "narrowed" if report.run.scope.narrowed else "incomplete"
            log.log(
                LogSeverity.NOTICE,
                f"{len(comparison.not_examined)} findings failing before are outside this "
                f"{why} run's scope: neither resolved nor new, they keep their state",
            )
    else:
        log.log(LogSeverity.NOTICE, "first run in this history: nothing to compare with")
    failing = blocking(report, settings.fail_on)
    new = set(comparison.new)
    # On the first run everything is "new"; say only what fails.
    _log_new(log, [f for f in failing if f.fingerprint in new], "" if first else f"{NEW}: ")
    code = exit_code(report, settings.fail_on, settings.allow_partial)
    if outcome.problems:
        code = EXIT_INCOMPLETE
    new_count = len({f.fingerprint for f in failing} & new)
    persisting_count = len({f.fingerprint for f in failing} - new)
    threshold = settings.fail_on.value if settings.fail_on else "none"
    log.log(
        LogSeverity.INFO if code == 0 else LogSeverity.ERROR,
        f"nightly run {outcome.run_id} finished: exit {code}; "
        f"{len(failing)} failing at or above {threshold} ({new_count} {NEW}, "
        f"{persisting_count} persisting); complete: {'yes' if report.run.complete else 'no'}"
        + ("; narrowed: yes" if report.run.scope.narrowed else ""),
        exit_code=code,
        failing=len(failing),
        failing_new=new_count,
        failing_persisting=persisting_count,
        complete=report.run.complete,
        narrowed=report.run.scope.narrowed,
        report=str(outcome.files[0]) if outcome.files else None,
    )
    return code


def _log_new(log: Log, findings: Sequence[Finding], prefix: str) -> None:
    """One line per failing finding new since the last run: its ids only (the report has
    the rest)."""
    for i, f in enumerate(findings):
        if i == MAX_LISTED:
            log.log(LogSeverity.WARNING, f"... and {len(findings) - i} more {prefix}findings")
            return
        log.log(
            LogSeverity.WARNING,
            f"{prefix}{f.status.value} finding {f.rule_id} ({f.severity.value}) {f.fingerprint}",
            rule_id=f.rule_id,
            severity_level=f.severity.value,
            status=f.status.value,
            fingerprint=f.fingerprint,
        )
