"""`auditor local` (the embedded local BigQuery) and `auditor demo` (the main job, locally)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.cli.common import exit_on_errors
from auditor.cli.scan import DEFAULT_PROJECT, scan
from auditor.local import Engine, ensure_installed, is_installed, start, status, stop
from auditor.resources import EXAMPLES_DIR

# The IAM half of the demo estate, as an offline export folder (docs/offline-exports.md).
DEMO_IAM_EXPORTS = EXAMPLES_DIR / "demo-iam"

ENGINE_OPTION = click.option(
    "--engine",
    type=click.Choice([e.value for e in Engine]),
    default=Engine.FAITHFUL.value,
    show_default=True,
    help="faithful: local-bigquery (access entries, table IAM, INFORMATION_SCHEMA); "
    "fast: bqemulator (for scale benchmarks).",
)


@click.group()
def local() -> None:
    """The embedded local BigQuery: installed on first use, bound to 127.0.0.1."""


@local.command("start")
@ENGINE_OPTION
@click.option("--port", type=int, help="REST port (default: a free one).")
@click.option("--fresh", is_flag=True, help="Wipe the engine's data before starting.")
def local_start(engine: str, port: int | None, fresh: bool) -> None:
    """Start the engine (installing it first if needed) and print its endpoint."""
    chosen = Engine(engine)
    with exit_on_errors():
        if not is_installed(chosen):
            click.echo(f"installing the {chosen.value} engine (about a minute, once)...", err=True)
            ensure_installed(chosen)
        state = start(chosen, port=port, fresh=fresh)
    click.echo(state.endpoint)


@local.command("stop")
@ENGINE_OPTION
def local_stop(engine: str) -> None:
    """Stop the engine. Stopping a stopped engine says so and exits 0 (the wanted state)."""
    with exit_on_errors():
        stopped = stop(Engine(engine))
    if stopped:
        click.echo(f"stopped the {engine} engine")
    else:
        click.echo(f"the {engine} engine was not running; nothing to stop")


@local.command("status")
@ENGINE_OPTION
def local_status(engine: str) -> None:
    """Show whether the engine runs, its endpoint, data and log; exit 1 if stopped."""
    with exit_on_errors():
        state = status(Engine(engine))
    click.echo(f"engine:   {state.engine.value}")
    click.echo(f"running:  {'yes, pid ' + str(state.pid) if state.running else 'no'}")
    click.echo(f"endpoint: {state.endpoint or '-'}")
    click.echo(f"data:     {state.data_dir}")
    click.echo(f"log:      {state.log}")
    sys.exit(0 if state.running else 1)


@click.command()
@ENGINE_OPTION
@click.option("--tenants", default=4, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
)
@click.option("--keep-running", is_flag=True, help="Leave the local BigQuery running afterwards.")
@click.pass_context
def demo(
    ctx: click.Context, engine: str, tenants: int, output_dir: Path, keep_running: bool
) -> None:
    """The nightly job on a local estate: start the local BigQuery, seed the demo estate
    (customers + tenants with planted violations), scan it, write reports.

    Exits like `auditor scan`: 1 is expected here, since the demo plants violations.
    """
    # Imported here: the BigQuery client library is slow to import; only `demo` needs it.
    from auditor.demo.seed import SeedOptions, seed
    from auditor.gcp.clients import bigquery_client

    chosen = Engine(engine)
    with exit_on_errors():
        if not is_installed(chosen):
            click.echo(f"installing the {chosen.value} engine (about a minute, once)...", err=True)
            ensure_installed(chosen)
        state = start(chosen, project=DEFAULT_PROJECT)
        assert state.endpoint is not None
        click.echo(f"local BigQuery ({chosen.value}) at {state.endpoint}", err=True)
        summary = seed(
            bigquery_client(DEFAULT_PROJECT, state.endpoint),
            SeedOptions(tenants=tenants, faithful=chosen is Engine.FAITHFUL),
            progress=lambda message: click.echo(f"... {message}", err=True),
        )
        click.echo(
            f"seeded {len(summary.datasets)} datasets, {summary.tables} tables, "
            f"{summary.rows} rows in {summary.seconds:.1f} s; planted: "
            + "; ".join(f"{p.kind} in {p.dataset}" for p in summary.planted),
            err=True,
        )
    try:
        ctx.invoke(
            scan,
            endpoint=state.endpoint,
            project=DEFAULT_PROJECT,
            table_iam=chosen is Engine.FAITHFUL,
            # The demo estate's IAM (project/folder/org policies, groups, deny policies):
            # a local BigQuery has no IAM API.
            iam_exports=DEMO_IAM_EXPORTS,
            # bqemulator's tabledata.list mixes up concurrent answers: read it one at a time.
            **({"workers": 1} if chosen is Engine.FAST else {}),
            formats=("console", "json", "sarif", "junit", "html"),
            output_dir=output_dir,
        )
    finally:
        if not keep_running:
            stop(chosen)
