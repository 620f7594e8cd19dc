"""The command line (click). The only place where errors become exit codes and text."""

from __future__ import annotations

import logging

import click

from auditor import __version__
from auditor.cli.access import access
from auditor.cli.gate import gate
from auditor.cli.local import demo, local
from auditor.cli.nightly import nightly
from auditor.cli.remediate import provision, remediate
from auditor.cli.report import report, verify
from auditor.cli.rules import rules
from auditor.cli.scan import scan, snapshot


@click.group()
@click.version_option(__version__, prog_name="auditor")
def main() -> None:
    """Audit the Convergence Data Pipeline's BigQuery estate against its security promise."""
    # sqlglot warns on stderr about syntax it cannot model; the SQL-doc loader reports those.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)


for command in (
    gate,
    scan,
    snapshot,
    report,
    verify,
    access,
    rules,
    local,
    demo,
    nightly,
    remediate,
    provision,
):
    main.add_command(command)

__all__ = ["main"]
