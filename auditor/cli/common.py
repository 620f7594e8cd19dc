"""What every auditing command shares: options, rule loading, outputs, exit codes."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from auditor.audit import AuditResult
from auditor.errors import AuditorError, MissingCredentials
from auditor.io.safe_text import terminal_text
from auditor.model import Report, RunScope, Severity
from auditor.policy.baseline import fingerprints_from_report
from auditor.policy.checks import CheckKind, load_all
from auditor.policy.loader import load_policies
from auditor.policy.rule import Rule
from auditor.policy.waivers import Waiver, load_waivers
from auditor.report import EXTENSIONS, FORMATS
from auditor.report.console import render as render_console
from auditor.report.summary import exit_code
from auditor.resources import POLICIES_DIR

EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
SEVERITY_CHOICES = [s.value for s in Severity] + ["none"]

F = TypeVar("F", bound=Callable[..., Any])


def now() -> datetime:
    return datetime.now(UTC)


class CommandError(AuditorError):
    """Stops a command with a message and exit code 2 (usage, config or policy error)."""


@contextmanager
def exit_on_errors() -> Iterator[None]:
    """Turn the auditor's errors into a message and exit 2 (missing Google credentials too,
    wherever a client is built); anything unexpected into exit 3 (no audit happened, so
    nothing is vouched for), without a traceback."""
    try:
        yield
    except AuditorError as exc:
        fail(str(exc), EXIT_USAGE)
    except (KeyboardInterrupt, SystemExit, click.exceptions.Exit, click.ClickException):
        raise
    except Exception as exc:
        auth = sys.modules.get("google.auth.exceptions")  # loaded if a Google client was built
        if auth is not None and isinstance(exc, auth.DefaultCredentialsError):
            fail(str(MissingCredentials("a Google API", detail=str(exc))), EXIT_USAGE)
        if os.environ.get("AUDITOR_DEBUG"):
            raise
        fail(
            f"internal error ({type(exc).__name__}): {exc}; set AUDITOR_DEBUG=1 to see where",
            EXIT_INCOMPLETE,
        )


def fail(message: str, code: int) -> NoReturn:
    # One "error:" per line (several policy errors come as lines); a line cannot carry a
    # control character, so a name in a message cannot restyle or rewrite the terminal.
    click.echo("\n".join(f"error: {terminal_text(line)}" for line in message.split("\n")), err=True)
    sys.exit(code)


@dataclass(frozen=True)
class AuditOptions:
    policy_paths: tuple[Path, ...]
    only: tuple[str, ...]
    waivers_path: Path | None
    baseline_report: Path | None
    formats: tuple[str, ...]
    output: Path | None
    output_dir: Path | None
    fail_on: str
    allow_partial: bool
    color: bool | None
    evaluation_time: datetime | None

    def load_rules(self) -> tuple[list[Rule], dict[str, CheckKind]]:
        rules, registry = load_rules(self.policy_paths)
        return select(rules, self.only), registry

    def evaluation_instant(self) -> datetime | None:
        """--evaluation-time as an aware UTC instant; None leaves the run's default."""
        return None if self.evaluation_time is None else as_utc(self.evaluation_time)

    def scope(self, sources: Sequence[str], datasets: Sequence[str] = ()) -> RunScope:
        """The run's filters and sources (the audit fills in what was examined)."""
        return RunScope(
            rule_filter=tuple(self.only), dataset_filter=tuple(datasets), sources=tuple(sources)
        )

    def load_waivers(self) -> tuple[Waiver, ...]:
        return load_waivers(self.waivers_path) if self.waivers_path else ()

    def baseline(self) -> set[str]:
        if self.baseline_report is None:
            return set()
        return set(fingerprints_from_report(self.baseline_report))

    def finish(self, result: AuditResult, stem: str, refuse: str | None = None) -> NoReturn:
        """Print notes, write every output, exit with the contract's code (or with exit 2
        and the `refuse` message, once the outputs are written)."""
        for note in result.notes:
            click.echo(f"note: {terminal_text(note)}", err=True)
        color = sys.stdout.isatty() if self.color is None else self.color
        with exit_on_errors():  # a report that cannot be written is exit 3, not a traceback
            write_outputs(result.report, self.formats, self.output, self.output_dir, stem, color)
        if refuse is not None:
            fail(refuse, EXIT_USAGE)
        threshold = None if self.fail_on == "none" else Severity(self.fail_on)
        sys.exit(exit_code(result.report, threshold, self.allow_partial))


# The policy pack to judge by: every command that evaluates rules takes it.
policies_option = click.option(
    "--policies",
    "-p",
    "policy_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Policy files or folders (default: the shipped policy pack).",
)


# One evaluation time for a run: time-bound IAM conditions are decided at this instant.
evaluation_time_option = click.option(
    "--evaluation-time",
    type=click.DateTime(),
    default=None,
    help="Decide time-bound IAM conditions at this UTC time (default: the run's start, or a "
    "replayed snapshot's collection time).",
)


def as_utc(value: datetime) -> datetime:
    """A naive time is taken to be UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def audit_options(function: F) -> F:
    """The options every auditing command takes, gathered into one AuditOptions argument."""
    options = [
        policies_option,
        click.option("--only", multiple=True, help="Run only these rules (id or name)."),
        click.option(
            "--waivers",
            "waivers_path",
            type=click.Path(path_type=Path),
            help="Waivers file (rule, resource pattern, reason, owner, expiry).",
        ),
        click.option(
            "--baseline",
            "baseline_report",
            type=click.Path(path_type=Path),
            help="A previous JSON report: its findings do not block.",
        ),
        click.option(
            "--format",
            "-f",
            "formats",
            multiple=True,
            default=["console"],
            show_default=True,
            type=click.Choice(sorted(FORMATS)),
            help="Output formats; repeatable.",
        ),
        click.option(
            "--output",
            "-o",
            type=click.Path(path_type=Path),
            help="Write the one non-console format here.",
        ),
        click.option(
            "--output-dir",
            type=click.Path(path_type=Path),
            help="Write every non-console format here.",
        ),
        click.option(
            "--fail-on",
            type=click.Choice(SEVERITY_CHOICES),
            default="high",
            show_default=True,
            help="Exit 1 when a FAIL/ERROR finding not in the baseline is at or above this "
            "severity.",
        ),
        click.option(
            "--allow-partial", is_flag=True, help="Do not exit 3 when coverage is incomplete."
        ),
        click.option(
            "--color/--no-color",
            default=None,
            help="Colour the console output (default: when a terminal).",
        ),
        evaluation_time_option,
    ]

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        fields = AuditOptions.__dataclass_fields__
        opts = AuditOptions(**{k: kwargs.pop(k) for k in list(kwargs) if k in fields})
        return function(opts, *args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def load_rules(paths: Sequence[Path]) -> tuple[list[Rule], dict[str, CheckKind]]:

    registry = dict(load_all())
    sources = list(paths) or [POLICIES_DIR]
    loaded = load_policies(sources, registry)
    if loaded.errors:
        raise CommandError("\n".join(str(e) for e in loaded.errors))
    if not loaded.rules:
        raise CommandError(f"no rules loaded from {', '.join(map(str, sources))}")
    return list(loaded.rules), registry


def select(rules: list[Rule], only: Sequence[str]) -> list[Rule]:
    if not only:
        return rules
    wanted = set(only)
    unknown = wanted - {r.id for r in rules} - {r.name for r in rules}
    if unknown:
        raise CommandError(f"unknown rule(s): {', '.join(sorted(unknown))}")
    return [r for r in rules if r.id in wanted or r.name in wanted]


def write_outputs(
    report: Report,
    formats: Sequence[str],
    output: Path | None,
    output_dir: Path | None,
    stem: str,
    color: bool,
) -> None:
    files = [f for f in formats if f != "console"]
    if output is not None and len(files) != 1:
        raise CommandError(
            "--output needs exactly one non-console --format; use --output-dir for more"
        )
    for fmt in files:
        text = FORMATS[fmt](report)
        if output is not None:
            target = output
        elif output_dir is not None:
            target = output_dir / f"{stem}{EXTENSIONS[fmt]}"
        else:
            click.echo(text, nl=False)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        click.echo(f"wrote {target}", err=True)
    if "console" in formats:
        width = max(100, shutil.get_terminal_size().columns) if color else 120
        click.echo(render_console(report, color=color, width=width), nl=False)
