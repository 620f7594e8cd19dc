"""The whole estate as one inventory: expected templates, live BigQuery, and IAM around it.

Where IAM cannot be read (a local BigQuery has no IAM API), that is a coverage gap naming
what is missing; the access rules then cannot vouch for anything, and the run says so.

It orchestrates the collection, the content scan included, so it sits above sources/ and
content/ (beside audit.py), not inside sources/: a source only reads one kind of input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from google.cloud import bigquery

from auditor.content.base import TENANT_LABELS, ContentMode, ContentOptions
from auditor.content.scan import scan_contents, scanner_for
from auditor.gcp.clients import bigquery_client
from auditor.local.endpoints import engine_datasets
from auditor.model import CoverageGap, Dataset, GranteeKind, Inventory, Table
from auditor.sources.assets import AssetInventory
from auditor.sources.bigquery import CollectOptions, collect
from auditor.sources.exports import ExportLoad, load_exports
from auditor.sources.repo import collect_repo
from auditor.sources.scrub import scrub_inventory

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EstateSource:
    project: str
    templates: Path
    template_globs: tuple[str, ...]
    endpoint: str | None = None  # None: Google's BigQuery API
    bigquery: CollectOptions = field(default_factory=CollectOptions)
    iam: bool = True  # False: no rule of the run reads IAM, so it is not collected
    iam_endpoint: str | None = None  # None: Google's APIs when `endpoint` is None too
    iam_exports: Path | None = None  # IAM parts from an offline export folder instead
    # Credential values in tenant tables (AUD-014): on by default, local sampling.
    content: ContentOptions = field(default_factory=ContentOptions)
    # Table IAM in bulk from Cloud Asset Inventory: Google's with Google's BigQuery, else
    # only where asset_endpoint names one (a local BigQuery has no asset API).
    asset_inventory: bool = True
    asset_endpoint: str | None = None
    # The roles the caller's role catalog defines: any other bound role is looked up (IAM
    # roles.get). None: none is looked up (unknown roles stay coverage gaps).
    known_roles: Container[str] | None = None

    @property
    def root(self) -> str:
        return self.endpoint or f"bigquery:{self.project}"


def collect_estate(source: EstateSource, progress: Progress) -> Inventory:
    scanner_for(source.content.mode)  # a mode this build cannot run: UsageError, before reading
    progress(f"loading templates from {source.templates}")
    inventory = collect_repo(source.templates, source.template_globs)
    where = f" at {source.endpoint}" if source.endpoint else ""
    progress(f"reading BigQuery project {source.project}{where}")
    client = bigquery_client(source.project, source.endpoint)
    live = collect(client, source.project, source.bigquery, _table_policies(source))
    progress(
        f"collected {len(live.datasets)} datasets, {len(live.tables)} tables from BigQuery, "
        f"{len(live.gaps)} coverage gaps there, in {live.stats.seconds:.1f} s "
        f"({live.stats.api_calls} API calls, {live.stats.queries} queries)"
    )
    # A local engine's own dataset is not part of the estate (auditor.local.endpoints).
    engine_own = {
        d.dataset_id
        for d in engine_datasets(source.endpoint, live.datasets, live.tables, live.gaps)
    }
    if engine_own:
        progress(
            f"left out {', '.join(sorted(engine_own))}: the local engine's own empty "
            "dataset, not part of the estate"
        )
    inventory = dataclasses.replace(
        inventory,
        root=source.root,
        project=source.project,
        datasets=tuple(d for d in live.datasets if d.dataset_id not in engine_own),
        live_tables=live.tables,
        gaps=inventory.gaps + live.gaps,
        collection=live.stats.run_section(),
    )
    inventory = _with_contents(inventory, source.content, client, progress)
    return scrub_inventory(_with_iam(inventory, source, progress))


def _table_policies(source: EstateSource) -> AssetInventory | None:
    if not source.asset_inventory or not source.bigquery.table_iam:
        return None
    if source.asset_endpoint is not None:
        return AssetInventory(source.asset_endpoint)
    return AssetInventory() if source.endpoint is None else None


def _with_contents(
    inventory: Inventory, options: ContentOptions, client: bigquery.Client, progress: Progress
) -> Inventory:
    """The inventory with the content scan of the tables in tenant datasets."""
    if options.mode is ContentMode.OFF:
        progress("content scan off: tenant table contents are not read")
        return inventory
    tenant = {
        d.dataset_id
        for d in inventory.datasets
        if all(d.labels.get(k) == v for k, v in TENANT_LABELS.items())
    }
    tables = [t for t in inventory.live_tables if t.dataset_id in tenant]
    progress(
        f"scanning the contents of {len(tables)} tenant tables ({options.mode.value}, "
        f"up to {options.sample_rows} rows each)"
    )
    result = scan_contents(client, tables, options)
    progress(
        f"content scan: {len(result.scans)} tables scanned, {len(result.hits)} credential "
        f"findings, {len(result.gaps)} coverage gaps"
    )
    return dataclasses.replace(
        inventory,
        content_scans=result.scans,
        value_hits=result.hits,
        gaps=inventory.gaps + result.gaps,
    )


def _with_iam(inventory: Inventory, source: EstateSource, progress: Progress) -> Inventory:
    if not source.iam:
        progress(
            "IAM not read (project, folder and organization policies, deny policies, "
            "groups): no rule of this run needs it"
        )
        return inventory
    if source.iam_exports is not None:
        progress(f"reading IAM exports from {source.iam_exports}")
        return iam_parts(load_exports(source.iam_exports), inventory)
    if source.iam_endpoint is None and source.endpoint is not None:
        gap = CoverageGap(
            f"//cloudresourcemanager.googleapis.com/projects/{source.project}",
            "IAM not collected (project, folder and organization policies, deny policies, "
            "groups): a custom BigQuery endpoint has no IAM API; pass --iam-endpoint or "
            "--iam-exports",
        )
        progress(f"coverage gap: {gap.reason}")
        return dataclasses.replace(inventory, gaps=(*inventory.gaps, gap))
    # Imported here: the IAM and Resource Manager clients are slow to import, and a run
    # that reads no IAM (or reads it from exports) never needs them.
    from auditor.sources.iam import IamEndpoints, collect_iam

    endpoints = IamEndpoints.local(source.iam_endpoint) if source.iam_endpoint else None
    progress("reading IAM: ancestry, allow and deny policies, custom roles, groups")
    iam = collect_iam(
        source.project,
        endpoints=endpoints,
        groups=named_groups(inventory.datasets, inventory.live_tables),
        roles=named_roles(inventory.datasets, inventory.live_tables),
        known_roles=source.known_roles,
    )
    return iam.into(inventory)


def iam_parts(exports: ExportLoad, inventory: Inventory) -> Inventory:
    """The IAM parts of an export folder on top of a live inventory (its datasets stay)."""
    return dataclasses.replace(
        inventory,
        ancestry=exports.ancestry,
        iam_policies=exports.iam_policies,
        deny_policies=exports.deny_policies,
        group_memberships=exports.group_memberships,
        custom_roles=exports.custom_roles,
        problems=inventory.problems + exports.problems,
        gaps=inventory.gaps + exports.gaps,
        inputs=inventory.inputs + exports.inputs,
    )


def collect_from_exports(
    folder: Path, templates: Path, template_globs: tuple[str, ...], progress: Progress
) -> Inventory:
    """Everything from an offline export folder: datasets, tables and IAM."""
    progress(f"loading templates from {templates}")
    inventory = collect_repo(templates, template_globs)
    progress(f"reading exports from {folder}")
    exports = load_exports(folder)
    return scrub_inventory(dataclasses.replace(exports.into(inventory), root=str(folder)))


def named_roles(datasets: Iterable[Dataset], tables: Iterable[Table]) -> tuple[str, ...]:
    """Roles granted on datasets or tables: the ones the catalog lacks are looked up too."""
    roles = {entry.role for dataset in datasets for entry in dataset.access if entry.role}
    roles.update(binding.role for table in tables for binding in table.iam or ())
    return tuple(sorted(roles))


def named_groups(datasets: Iterable[Dataset], tables: Iterable[Table]) -> tuple[str, ...]:
    """Groups granted on datasets or tables: their members must be expanded too."""
    groups = {
        entry.entity
        for dataset in datasets
        for entry in dataset.access
        if entry.kind is GranteeKind.GROUP
    }
    for table in tables:
        for binding in table.iam or ():
            groups.update(
                m.removeprefix("group:") for m in binding.members if m.startswith("group:")
            )
    return tuple(sorted(groups))
