"""`auditor rules`: list, validate and explain policy rules; the pack as a Markdown table."""

from __future__ import annotations

import re
from pathlib import Path

import click

from auditor.cli.common import CommandError, exit_on_errors, load_rules, policies_option
from auditor.io.jsonwords import did_you_mean
from auditor.io.safe_text import terminal_lines, terminal_text
from auditor.policy.rule import Rule
from auditor.report.ruledoc import TABLE_BEGIN, TABLE_END, explain, markdown_table, replace_table

_ID_NUMBER = re.compile(r"(?:AUD)?[- ]?([0-9]{1,3})", re.IGNORECASE)


@click.group()
def rules() -> None:
    """List, validate and explain policy rules."""


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


@rules.command("explain")
@click.argument("rule_ref", metavar="RULE")
@policies_option
def rules_explain(rule_ref: str, policy_paths: tuple[Path, ...]) -> None:
    """Show a rule's doc: what it checks, why, an example and what to use instead, the fix,
    references and framework mappings. RULE is an id (AUD-001) or a name."""
    with exit_on_errors():
        loaded, _ = load_rules(policy_paths)
        rule = find_rule(loaded, rule_ref)
    click.echo(terminal_lines(explain(rule)), nl=False)


def find_rule(rules: list[Rule], ref: str) -> Rule:
    """The rule whose id (any case) or name is `ref`; CommandError with a suggestion if none."""
    for rule in rules:
        if ref.upper() == rule.id or ref == rule.name:
            return rule
    number = _ID_NUMBER.fullmatch(ref.strip())
    padded = f"AUD-{int(number.group(1)):03d}" if number else None
    if padded in {r.id for r in rules}:
        hint = f" (did you mean {padded!r}?)"  # AUD-2, aud-02, 2: the digits are what count
    else:
        hint = did_you_mean(ref, [r.id for r in rules] + [r.name for r in rules], ignore_case=True)
    raise CommandError(f"unknown rule {ref!r}{hint}; `auditor rules list` shows them all")


@rules.command("table")
@click.option(
    "--markdown", "markdown", is_flag=True, required=True, help="Markdown (the only format)."
)
@click.option(
    "--update",
    "target",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Rewrite the table between the rules-table markers of this Markdown file instead "
    "of printing it.",
)
@policies_option
def rules_table(markdown: bool, target: Path | None, policy_paths: tuple[Path, ...]) -> None:
    """The policy pack as a Markdown table: id, name, severity and title of every rule."""
    with exit_on_errors():
        loaded, _ = load_rules(policy_paths)
        table = markdown_table(loaded)
        if target is None:
            click.echo(table, nl=False)
            return
        try:
            document = target.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{target}: cannot read: {exc.strerror or exc}") from None
        updated = replace_table(document, table)
        if updated is None:
            raise CommandError(
                f"{target}: no rules table to update; put the lines {TABLE_BEGIN!r} and "
                f"{TABLE_END!r} where it goes"
            )
        if updated != document:
            target.write_text(updated, encoding="utf-8")
        click.echo(f"{'updated' if updated != document else 'up to date'}: {target}", err=True)
