"""`auditor gate`: the pre-merge policy gate over a platform repo."""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from auditor.audit import (
    failing_fingerprints,
    rule_template_paths,
    run_gate,
    tenant_scope_warning,
)
from auditor.cli.common import AuditOptions, CommandError, audit_options, exit_on_errors, now
from auditor.config import Config, find_project_config, load_config
from auditor.io.safe_text import terminal_text
from auditor.model import DiscoveredInput, Discovery
from auditor.policy.baseline import checkout_ref
from auditor.policy.rule import Rule, Target
from auditor.sources.discovery import DEFAULT_DIALECT, DiscoveryOptions
from auditor.sources.repo import collect_inputs


@click.command()
@click.argument("root", type=click.Path(path_type=Path), default=".")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Project config (default: ROOT/auditor.toml, else [tool.auditor] in ROOT/pyproject.toml).",
)
@click.option("--baseline-ref", help="A git ref (e.g. origin/main) whose findings do not block.")
@click.option(
    "--template-glob",
    "template_globs",
    multiple=True,
    help="Which files are table templates (default: discovered). Repeatable.",
)
@click.option(
    "--sql-glob",
    "sql_globs",
    multiple=True,
    help="Which files are SQL schema docs (default: every *.sql, examined). Repeatable.",
)
@click.option("--sql-dialect", help="Dialect of the SQL docs (sqlglot name; default bigquery).")
@click.option(
    "--tenant-glob",
    "tenant_globs",
    multiple=True,
    help="Templates of tenant tables (default: the tenant rules' paths). Repeatable.",
)
@click.option(
    "--customers-glob",
    "customers_globs",
    multiple=True,
    help="Templates of customers tables (default: the customers rules' paths). Repeatable.",
)
@click.option("--exclude", "excludes", multiple=True, help="Files never read. Repeatable.")
@click.option(
    "--list-inputs",
    is_flag=True,
    help="List every discovered file and how it was classified, then stop.",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Do not fail when no template is in tenant scope (a repo without tenant templates).",
)
@audit_options
def gate(
    opts: AuditOptions,
    root: Path,
    config_path: Path | None,
    baseline_ref: str | None,
    template_globs: tuple[str, ...],
    sql_globs: tuple[str, ...],
    sql_dialect: str | None,
    tenant_globs: tuple[str, ...],
    customers_globs: tuple[str, ...],
    excludes: tuple[str, ...],
    list_inputs: bool,
    allow_empty: bool,
) -> None:
    """Check a platform repo's table templates and SQL docs (the pre-merge gate).

    Settings: command-line options over the project config (auditor.toml, or [tool.auditor]
    in pyproject.toml) over defaults. Exit codes: 0 clean, 1 findings at/above --fail-on,
    2 usage/config/policy error or nothing in tenant scope (see --allow-empty), 3 incomplete
    audit (unreadable inputs or a check that failed to run).
    """
    with exit_on_errors():
        if not root.is_dir():
            raise CommandError(f"{root}: not a directory")
        config_file = config_path or find_project_config(root)
        config = load_config(config_file) if config_file is not None else Config()
        opts = _with_config(opts, config)
        gate_config = config.gate
        rules, registry = opts.load_rules()
        options = DiscoveryOptions(
            templates=template_globs or gate_config.templates,
            sql_docs=sql_globs or gate_config.sql_docs,
            sql_dialect=sql_dialect or gate_config.sql_dialect or DEFAULT_DIALECT,
            tenant=tenant_globs or gate_config.tenant or rule_template_paths(rules, Target.TENANT),
            customers=customers_globs
            or gate_config.customers
            or rule_template_paths(rules, Target.CUSTOMERS),
            other=gate_config.other or (),
            exclude=excludes or gate_config.exclude or (),
        )
        _check_dialect(options.sql_dialect)
        rules = _scoped(rules, options)
        config_name = str(config_file) if config_file is not None else None
        if list_inputs:
            collected = collect_inputs(root, options)
            warning = tenant_scope_warning(collected.inventory, collected.discovered, rules)
            click.echo(render_inputs(collected.discovered, config_name, warning), nl=False)
            sys.exit(0)
        empty_ok = allow_empty or bool(gate_config.allow_empty)
        baseline = opts.baseline()
        ref = baseline_ref or gate_config.baseline_ref
        if ref is not None:
            with tempfile.TemporaryDirectory(prefix="auditor-baseline-") as tmp:
                base_root = checkout_ref(root, ref, Path(tmp))
                base = run_gate(base_root, rules, registry, now, options=options)
                baseline |= failing_fingerprints(base.report.findings)
        result = run_gate(
            root,
            rules,
            registry,
            now,
            waivers=opts.load_waivers(),
            baseline=baseline,
            options=options,
            config=config_name,
            command=command_line(),
            scope=opts.scope(("repo",)),
            evaluation_time=opts.evaluation_instant(),
        )
    refusal = None
    if result.nothing_in_tenant_scope:
        warning = result.report.run.discovery.warnings[0] if result.report.run.discovery else ""
        if empty_ok:
            click.echo(f"warning: {terminal_text(warning)}", err=True)
        else:
            refusal = warning
    opts.finish(result, "gate", refuse=refusal)


def command_line() -> str:
    return " ".join(["auditor", *sys.argv[1:]])


def render_inputs(files: Sequence[DiscoveredInput], config: str | None, warning: str | None) -> str:
    """`--list-inputs`: one line per discovered file, then a count per classification."""
    lines = [f"config: {terminal_text(config) if config else '(none: defaults)'}"]
    width = min(72, max((len(f.path) for f in files), default=0))
    for item in files:
        lines.append(f"{terminal_text(item.path):<{width}}  {terminal_text(item.label)}")
    lines.append(Discovery(files=tuple(files)).summary)
    if warning:
        lines.append(f"warning: {terminal_text(warning)}")
    return "\n".join(lines) + "\n"


def _with_config(opts: AuditOptions, config: Config) -> AuditOptions:
    """Fill the audit options the command line left at their defaults from the config."""
    ctx = click.get_current_context()
    given: dict[str, Any] = {
        "policy_paths": config.policies,
        "waivers_path": config.waivers,
        "baseline_report": config.gate.baseline,
        "fail_on": config.fail_on,
        "allow_partial": config.allow_partial,
    }
    changes = {
        name: value
        for name, value in given.items()
        if value is not None and ctx.get_parameter_source(name) in (None, ParameterSource.DEFAULT)
    }
    return dataclasses.replace(opts, **changes)


def _scoped(rules: Sequence[Rule], options: DiscoveryOptions) -> list[Rule]:
    """Rules that judge tenant (customers) templates judge the configured ones: discovery's
    classification and the rules' scopes must agree."""
    out: list[Rule] = []
    for rule in rules:
        globs = {Target.TENANT: options.tenant, Target.CUSTOMERS: options.customers}.get(
            rule.scope.target
        )
        if globs and rule.scope.template_paths:
            scope = dataclasses.replace(rule.scope, template_paths=tuple(globs))
            rule = dataclasses.replace(rule, scope=scope)
        out.append(rule)
    return out


def _check_dialect(dialect: str) -> None:
    from sqlglot.dialects.dialect import Dialects

    if dialect not in {d.value for d in Dialects if d.value}:
        known = ", ".join(sorted(d.value for d in Dialects if d.value))
        raise CommandError(f"unknown SQL dialect {dialect!r}; known: {known}")
