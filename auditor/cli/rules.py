"""`auditor rules`: list and validate policy rules."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.common import exit_on_errors, load_rules
from auditor.report.safe_text import terminal_text


@click.group()
def rules() -> None:
    """List and validate policy rules."""


@rules.command("list")
@click.option("--policies", "-p", "policy_paths", multiple=True, type=click.Path(path_type=Path))
def rules_list(policy_paths: tuple[Path, ...]) -> None:
    """Show every rule: id, name, severity and title."""
    with exit_on_errors():
        loaded, _ = load_rules(policy_paths)
    for rule in loaded:
        click.echo(
            f"{rule.id}  {rule.name:<42} {rule.severity.value:<8} {terminal_text(rule.title)}"
        )


@rules.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def rules_validate(paths: tuple[Path, ...]) -> None:
    """Validate policy files; exit 2 with file:line errors when any is invalid."""
    with exit_on_errors():
        loaded, _ = load_rules(paths)
    click.echo(f"{len(loaded)} rule(s) valid")
