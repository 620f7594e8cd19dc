"""`auditor report`: render a saved JSON report as the self-contained HTML evidence page."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.common import exit_on_errors
from auditor.report import html
from auditor.report.reader import read_report


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
        saved = read_report(results)
        page = html.render(saved.report, results_sha256=saved.sha256)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(page, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)
