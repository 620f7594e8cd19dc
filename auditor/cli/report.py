"""`auditor report`: render a saved JSON report as the self-contained HTML evidence page."""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from auditor.cli.common import exit_on_errors
from auditor.errors import InputError
from auditor.report import html
from auditor.report.reader import report_from_json


@click.command()
@click.argument("results", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where to write the HTML page.",
)
def report(results: Path, output: Path) -> None:
    """Render RESULTS.json (from `gate` or `scan -f json`) as one offline HTML page.

    The page lists the SHA-256 of RESULTS.json so a reader can verify what it was made from.
    """
    with exit_on_errors():
        try:
            raw = results.read_bytes()
        except OSError as exc:
            raise InputError(str(results), f"cannot read: {exc.strerror}") from None
        parsed = report_from_json(raw.decode("utf-8", errors="replace"), str(results))
        page = html.render(parsed, results_sha256=hashlib.sha256(raw).hexdigest())
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(page, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)
