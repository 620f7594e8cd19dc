"""`auditor access explain`: who can read a dataset, by which path, and what would cut it."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from auditor.access import AccessGraph
from auditor.access.catalog import (
    CATALOG,
    REFERENCE,
    build_catalog,
    catalog_text,
    reference_bytes,
    reference_from_roles,
)
from auditor.access.explain import explain, to_json
from auditor.access.roles import builtin_catalog
from auditor.cli.common import (
    CommandError,
    as_utc,
    evaluation_time_option,
    exit_on_errors,
    now,
)
from auditor.cli.scan import LiveOptions, live_options_whole_estate, progress_display
from auditor.io.safe_text import terminal_text
from auditor.model import Inventory
from auditor.sources.snapshot.read import read_snapshot


@click.group()
def access() -> None:
    """Effective access: every path by which a principal can read a dataset."""


@access.command("explain")
@click.option("--dataset", required=True, help="Dataset id (or P.D / full resource name).")
@click.option(
    "--principal", help="Only this member, e.g. serviceAccount:x@p.iam.gserviceaccount.com."
)
@click.option(
    "--snapshot",
    "snapshot_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Answer from a snapshot file instead of reading the estate.",
)
@click.option(
    "--exports",
    "exports_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Answer from an offline export folder (docs/offline-exports.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@evaluation_time_option
@live_options_whole_estate
def explain_command(
    live: LiveOptions,
    dataset: str,
    principal: str | None,
    snapshot_path: Path | None,
    exports_dir: Path | None,
    as_json: bool,
    evaluation_time: datetime | None,
) -> None:
    """Every principal that can read DATASET, each path whole (numbered), and the change that
    would cut it. Exit 1 when any path exists, 3 when coverage gaps make the answer incomplete
    (with --principal: gaps that could hide a path of that principal), 0 when nobody (of
    those asked about) can read it."""

    with exit_on_errors():
        inventory = _inventory(live, snapshot_path, exports_dir)
        # The instant `scan` would use: a snapshot is evaluated as of its collection.
        when = as_utc(evaluation_time) if evaluation_time else inventory.collected_at or now()
        graph = AccessGraph.build(inventory, now=when)
        answer = graph.paths_for(principal, dataset) if principal else graph.readers(dataset)
    if as_json:
        click.echo(json.dumps(to_json(answer), indent=2, sort_keys=True))
    else:
        click.echo(explain(answer, principal=principal), nl=False)
    gaps = inventory.gaps
    for gap in gaps:
        click.echo(terminal_text(f"coverage gap: {gap.scope}: {gap.reason}"), err=True)
    # A gap that could hide no principal's path (an unknown role held by no one who reads)
    # is shown, but leaves the answer complete.
    if gaps or any(g.anyone or g.affects for g in answer.gaps):
        sys.exit(3)
    sys.exit(1 if answer.paths else 0)


def _inventory(live: LiveOptions, snapshot: Path | None, exports: Path | None) -> Inventory:
    if snapshot is not None and exports is not None:
        raise CommandError("--snapshot and --exports are two different sources; pick one")
    with progress_display() as progress:
        if snapshot is not None:
            return read_snapshot(snapshot)
        if exports is not None:
            # Imported here: auditor.collect loads the Google client libraries (slow to
            # import), which a snapshot never needs.
            from auditor.collect import collect_from_exports

            return collect_from_exports(exports, live.templates, live.template_globs, progress)
        return live.collect(progress)


@access.group("roles")
def roles() -> None:
    """The role catalog: what each predefined role lets its members do to data."""


@roles.command("show")
@click.argument("role", required=False)
def show_command(role: str | None) -> None:
    """The catalog's size, source and date; with ROLE, the tracked permissions it holds."""

    with exit_on_errors():
        catalog = builtin_catalog()
    if role is None:
        click.echo(f"{len(catalog.roles)} predefined roles, published {catalog.published}")
        click.echo(terminal_text(f"source: {catalog.source}"))
        click.echo(f"tracked permissions: {', '.join(sorted(catalog.tracked))}")
        return
    perms = catalog.permissions(role)
    if perms is None:
        click.echo(terminal_text(f"{role} is not in the catalog"), err=True)
        sys.exit(1)
    click.echo(terminal_text(f"{catalog.normalise(role)}: {', '.join(sorted(perms)) or 'none'}"))


@roles.command("refresh")
@click.option(
    "--iam-endpoint",
    envvar="AUDITOR_IAM_ENDPOINT",
    help="Base URL of the IAM API (default: Google's, with application default credentials).",
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the catalog (default: the one this installation loads).",
)
@click.option(
    "--reference",
    "reference_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the reference (every role's data-related permissions, gzip JSON) "
    "here; default in a source checkout: reference/iam/gcp-predefined-roles.json.gz.",
)
def refresh_command(
    iam_endpoint: str | None, catalog_path: Path | None, reference_path: Path | None
) -> None:
    """Regenerate the role catalog from today's definitions: IAM roles.list (view FULL).
    Nothing is written unless every page was read."""
    # Imported here: the IAM client libraries are slow to import; only this command needs them.
    from auditor.sources.iam import IamEndpoints, list_predefined_roles

    with exit_on_errors():
        endpoints = IamEndpoints.local(iam_endpoint) if iam_endpoint else IamEndpoints()
        items = list_predefined_roles(endpoints=endpoints)
        today = now().date().isoformat()
        source = f"IAM roles.list view=FULL at {endpoints.iam}, read {today}"
        reference = reference_from_roles(items, source, today)
        doc = build_catalog(reference, "auditor access roles refresh")
        if reference_path is None and REFERENCE.parent.is_dir():
            reference_path = REFERENCE
        target = catalog_path or CATALOG
        try:
            if reference_path is not None:
                reference_path.write_bytes(reference_bytes(reference))
            target.write_text(catalog_text(doc), encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {exc.filename}: {exc.strerror}") from None
    click.echo(f"{len(doc['roles'])} predefined roles ({today}) -> {target}")
    if reference_path is not None:
        click.echo(f"reference -> {reference_path}")
