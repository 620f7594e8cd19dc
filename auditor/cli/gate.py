"""`auditor gate`: the pre-merge policy gate over a platform repo."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from auditor.audit import failing_fingerprints, run_gate
from auditor.cli.common import AuditOptions, CommandError, audit_options, exit_on_errors, now
from auditor.policy.baseline import checkout_ref
from auditor.sources.templates import DEFAULT_TEMPLATE_GLOBS


@click.command()
@click.argument("root", type=click.Path(path_type=Path), default=".")
@click.option("--baseline-ref", help="A git ref (e.g. origin/main) whose findings do not block.")
@click.option(
    "--template-glob",
    "template_globs",
    multiple=True,
    help="Which JSON files are templates (fnmatch on root-relative paths).",
)
@audit_options
def gate(
    opts: AuditOptions, root: Path, baseline_ref: str | None, template_globs: tuple[str, ...]
) -> None:
    """Check a platform repo's table templates and SQL docs (the pre-merge gate).

    Exit codes: 0 clean, 1 findings at/above --fail-on, 2 usage/config/policy error,
    3 incomplete audit (unreadable inputs or a check that failed to run).
    """
    with exit_on_errors():
        if not root.is_dir():
            raise CommandError(f"{root}: not a directory")
        rules, registry = opts.load_rules()
        globs = template_globs or DEFAULT_TEMPLATE_GLOBS
        baseline = opts.baseline()
        if baseline_ref is not None:
            with tempfile.TemporaryDirectory(prefix="auditor-baseline-") as tmp:
                base_root = checkout_ref(root, baseline_ref, Path(tmp))
                base = run_gate(base_root, rules, registry, now, template_globs=globs)
                baseline |= failing_fingerprints(base.report.findings)
        result = run_gate(
            root,
            rules,
            registry,
            now,
            waivers=opts.load_waivers(),
            baseline=baseline,
            template_globs=globs,
            command=command_line(),
            scope=opts.scope(("repo",)),
        )
    opts.finish(result, "gate")


def command_line() -> str:
    return " ".join(["auditor", *sys.argv[1:]])
