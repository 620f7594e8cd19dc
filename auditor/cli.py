"""The command line. The only place where errors become exit codes and text."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from auditor import __version__
from auditor.errors import AuditorError
from auditor.model import Report, Severity
from auditor.policy.baseline import checkout_ref, fingerprints_from_report
from auditor.policy.checks import CheckKind, load_all
from auditor.policy.loader import load_policies
from auditor.policy.rule import Rule
from auditor.policy.waivers import Waiver, load_waivers
from auditor.report import EXTENSIONS, FORMATS
from auditor.report.console import render as render_console
from auditor.report.summary import exit_code
from auditor.resources import POLICIES_DIR
from auditor.sources.templates import DEFAULT_TEMPLATE_GLOBS

EXIT_USAGE = 2
SEVERITY_CHOICES = [s.value for s in Severity] + ["none"]


def _now() -> datetime:
    return datetime.now(UTC)


class _Fail(Exception):
    """Stops a command with a message and exit code 2 (usage, config or policy error)."""


@click.group()
@click.version_option(__version__, prog_name="auditor")
def main() -> None:
    """Audit the Convergence Data Pipeline's BigQuery estate against its security promise."""


def _load_rules(paths: Sequence[Path]) -> tuple[list[Rule], dict[str, CheckKind]]:
    registry = dict(load_all())
    loaded = load_policies(list(paths) or [POLICIES_DIR], registry)
    if loaded.errors:
        raise _Fail("\n".join(str(e) for e in loaded.errors))
    if not loaded.rules:
        raise _Fail(f"no rules loaded from {', '.join(map(str, paths or [POLICIES_DIR]))}")
    return list(loaded.rules), registry


def _select(rules: list[Rule], only: Sequence[str]) -> list[Rule]:
    if not only:
        return rules
    wanted = set(only)
    unknown = wanted - {r.id for r in rules} - {r.name for r in rules}
    if unknown:
        raise _Fail(f"unknown rule(s): {', '.join(sorted(unknown))}")
    return [r for r in rules if r.id in wanted or r.name in wanted]


def _write_outputs(
    report: Report,
    formats: Sequence[str],
    output: Path | None,
    output_dir: Path | None,
    stem: str,
    color: bool,
) -> None:
    files = [f for f in formats if f != "console"]
    if output is not None and len(files) != 1:
        raise _Fail("--output needs exactly one non-console --format; use --output-dir for more")
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


@main.command()
@click.argument("root", type=click.Path(path_type=Path), default=".")
@click.option(
    "--policies",
    "-p",
    "policy_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Policy files or folders (default: the shipped policy pack).",
)
@click.option("--only", multiple=True, help="Run only these rules (id or name); repeatable.")
@click.option(
    "--waivers",
    "waivers_path",
    type=click.Path(path_type=Path),
    help="Waivers file (rule, resource pattern, reason, owner, expiry).",
)
@click.option(
    "--baseline",
    "baseline_report",
    type=click.Path(path_type=Path),
    help="A previous JSON report: its findings do not block.",
)
@click.option(
    "--baseline-ref",
    help="A git ref (e.g. origin/main) whose findings do not block.",
)
@click.option(
    "--template-glob",
    "template_globs",
    multiple=True,
    help="Which JSON files are templates (fnmatch on root-relative paths).",
)
@click.option(
    "--format",
    "-f",
    "formats",
    multiple=True,
    default=["console"],
    show_default=True,
    type=click.Choice(sorted(FORMATS)),
    help="Output formats; repeatable.",
)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="Write the one non-console format here."
)
@click.option(
    "--output-dir", type=click.Path(path_type=Path), help="Write every non-console format here."
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITY_CHOICES),
    default="high",
    show_default=True,
    help="Exit 1 when a new finding is at or above this severity.",
)
@click.option("--allow-partial", is_flag=True, help="Do not exit 3 when coverage is incomplete.")
@click.option(
    "--color/--no-color", default=None, help="Colour the console output (default: if a terminal)."
)
def gate(
    root: Path,
    policy_paths: tuple[Path, ...],
    only: tuple[str, ...],
    waivers_path: Path | None,
    baseline_report: Path | None,
    baseline_ref: str | None,
    template_globs: tuple[str, ...],
    formats: tuple[str, ...],
    output: Path | None,
    output_dir: Path | None,
    fail_on: str,
    allow_partial: bool,
    color: bool | None,
) -> None:
    """Check a platform repo's table templates and SQL docs (the pre-merge gate).

    Exit codes: 0 clean, 1 findings at/above --fail-on, 2 usage/config/policy error,
    3 incomplete audit (unreadable inputs or a check that failed to run).
    """
    from auditor.gate import failing_fingerprints, run_gate

    try:
        if not root.is_dir():
            raise _Fail(f"{root}: not a directory")
        rules, registry = _load_rules(policy_paths)
        rules = _select(rules, only)
        waivers: tuple[Waiver, ...] = load_waivers(waivers_path) if waivers_path else ()
        globs = template_globs or DEFAULT_TEMPLATE_GLOBS
        baseline: set[str] = set()
        if baseline_report is not None:
            baseline |= fingerprints_from_report(baseline_report)
        if baseline_ref is not None:
            with tempfile.TemporaryDirectory(prefix="auditor-baseline-") as tmp:
                base_root = checkout_ref(root, baseline_ref, Path(tmp))
                base = run_gate(base_root, rules, registry, _now, template_globs=globs)
                baseline |= failing_fingerprints(base.report.findings)
        result = run_gate(
            root,
            rules,
            registry,
            _now,
            waivers=waivers,
            baseline=baseline,
            template_globs=globs,
            command=_command_line(),
        )
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        use_color = sys.stdout.isatty() if color is None else color
        _write_outputs(result.report, formats, output, output_dir, "gate", use_color)
    except (_Fail, AuditorError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    threshold = None if fail_on == "none" else Severity(fail_on)
    sys.exit(exit_code(result.report, threshold, allow_partial))


def _command_line() -> str:
    return " ".join(["auditor", *sys.argv[1:]])


@main.group()
def rules() -> None:
    """List and validate policy rules."""


@rules.command("list")
@click.option("--policies", "-p", "policy_paths", multiple=True, type=click.Path(path_type=Path))
def rules_list(policy_paths: tuple[Path, ...]) -> None:
    """Show every rule: id, name, severity, check kind and title."""
    try:
        loaded, _ = _load_rules(policy_paths)
    except (_Fail, AuditorError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    for rule in loaded:
        click.echo(f"{rule.id}  {rule.name:<42} {rule.severity.value:<8} {rule.title}")


@rules.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def rules_validate(paths: tuple[Path, ...]) -> None:
    """Validate policy files; exit 2 with file:line errors when any is invalid."""
    try:
        loaded, _ = _load_rules(paths)
    except (_Fail, AuditorError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"{len(loaded)} rule(s) valid")
