"""`auditor scan` and `auditor snapshot`: the live estate, from BigQuery or a snapshot file."""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.text import Text

from auditor import __version__
from auditor.access.roles import builtin_catalog
from auditor.audit import audit
from auditor.cli.common import AuditOptions, CommandError, audit_options, exit_on_errors, now
from auditor.content.base import (
    DEFAULT_MAX_BYTES_BILLED,
    DEFAULT_SAMPLE_ROWS,
    MAX_SAMPLE_ROWS,
    ContentMode,
    ContentOptions,
)
from auditor.io.safe_text import terminal_text
from auditor.model import InputFile, Inventory, Report
from auditor.policy.checks import Reads, load_all, reads_of
from auditor.policy.checks.content import content_options
from auditor.policy.rule import Rule
from auditor.resources import SCHEMAS_DIR
from auditor.sources.snapshot.read import read_snapshot
from auditor.sources.snapshot.write import dump_snapshot

DEFAULT_PROJECT = "gac-prod-471220"
# The shipped templates: what tenant and customers tables must look like.
SHIPPED_TEMPLATE_GLOBS = ("tenant/*.json", "customers/*.json")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class LiveOptions:
    project: str
    endpoint: str | None
    iam_endpoint: str | None
    iam_exports: Path | None
    templates: Path
    template_globs: tuple[str, ...]
    datasets: tuple[str, ...]
    regions: tuple[str, ...]
    workers: int
    fast_path: bool
    table_iam: bool
    policy_tags: bool
    api_concurrency: int
    asset_inventory: bool
    asset_endpoint: str | None
    # The content scan (AUD-014). None: not given, the no-credential-values rule's params
    # decide, then the defaults (auditor.policy.checks.content.content_options).
    content_scan: str | None
    sample_rows: int | None
    max_bytes_billed: int | None
    dlp_endpoint: str | None

    def collect(
        self, progress: Callable[[str], None], rules: Sequence[Rule] | None = None
    ) -> Inventory:
        """Templates (the expected state) plus the live estate and its IAM, as one inventory.

        `rules`: the rules the audit will run. Only what they read is collected (table IAM,
        project IAM, table contents: `Reads`), so a run is not incomplete for want of what
        none of its rules needs; their no-credential-values rule configures the content
        scan. None: not known (a snapshot), everything is read and the defaults apply.
        """
        # Imported here: the Google clients are slow to import and the gate never needs them.
        from auditor.collect import EstateSource, collect_estate
        from auditor.sources.bigquery import CollectOptions

        parts = self.reads(rules)
        table_iam = self.table_iam and Reads.TABLE_IAM in parts
        if self.table_iam and not table_iam:
            progress("table IAM policies not read: no rule of this run needs them")
        source = EstateSource(
            project=self.project,
            templates=self.templates,
            template_globs=self.template_globs,
            endpoint=self.endpoint,
            bigquery=CollectOptions(
                workers=self.api_concurrency,
                fast_path=self.fast_path,
                regions=self.regions,
                table_iam=table_iam,
                policy_tags=("*",) if self.policy_tags else (),
                datasets=self.datasets,
            ),
            iam=Reads.IAM in parts,
            asset_inventory=self.asset_inventory,
            asset_endpoint=self.asset_endpoint,
            iam_endpoint=self.iam_endpoint,
            iam_exports=self.iam_exports,
            content=content_options(
                rules,
                mode=self.content_scan,
                sample_rows=self.sample_rows,
                max_bytes=self.max_bytes_billed,
                base=ContentOptions(workers=self.workers, dlp_endpoint=self.dlp_endpoint),
            ),
            known_roles=builtin_catalog(),
        )
        return collect_estate(source, progress)

    def sources(self, rules: Sequence[Rule] | None = None) -> tuple[str, ...]:
        """Where a live collection of `rules` reads from, for the run's scope."""
        if Reads.IAM not in self.reads(rules):
            return ("templates", "bigquery")
        iam = f"iam-exports:{self.iam_exports}" if self.iam_exports else "iam-api"
        return ("templates", "bigquery", iam)

    @staticmethod
    def reads(rules: Sequence[Rule] | None) -> frozenset[Reads]:
        """The optional parts of the estate a run of `rules` reads (None: every part)."""
        return frozenset(Reads) if rules is None else reads_of(rules, load_all())


def live_options(function: F) -> F:
    return _live_options(function, dataset_filter=True, content_scan=True)


def live_options_whole_estate(function: F) -> F:
    """The live options without the dataset filter (for commands that must see every path)
    and without the content scan (they judge access, not contents)."""
    return _live_options(function, dataset_filter=False, content_scan=False)


def _live_options(function: F, *, dataset_filter: bool, content_scan: bool) -> F:
    options = [
        click.option(
            "--project",
            default=DEFAULT_PROJECT,
            show_default=True,
            help="The Google Cloud project holding the datasets.",
        ),
        click.option(
            "--endpoint",
            envvar="AUDITOR_BIGQUERY_ENDPOINT",
            help="BigQuery API endpoint, e.g. a local emulator's http://127.0.0.1:PORT "
            "(default: Google's API with application default credentials).",
        ),
        click.option(
            "--iam-endpoint",
            envvar="AUDITOR_IAM_ENDPOINT",
            help="Base URL serving the Resource Manager, IAM and Cloud Identity APIs "
            "(default: Google's, unless --endpoint points BigQuery elsewhere).",
        ),
        click.option(
            "--iam-exports",
            type=click.Path(path_type=Path, file_okay=False),
            help="Take project/folder/org IAM, deny policies, custom roles and groups from "
            "an offline export folder (docs/offline-exports.md).",
        ),
        click.option(
            "--templates",
            type=click.Path(path_type=Path, file_okay=False),
            default=SCHEMAS_DIR,
            show_default=True,
            help="Folder of the expected table templates and SQL docs.",
        ),
        click.option(
            "--template-glob",
            "template_globs",
            multiple=True,
            help="Which JSON files under --templates are templates.",
        ),
        dataset_option := click.option(
            "--dataset",
            "datasets",
            multiple=True,
            help="Only datasets matching this glob; repeatable (default: all).",
        ),
        click.option(
            "--region",
            "regions",
            multiple=True,
            help="Only these locations' INFORMATION_SCHEMA is read by the fast path; "
            "repeatable (default: every location the datasets live in).",
        ),
        click.option(
            "--api-concurrency",
            default=32,
            show_default=True,
            type=click.IntRange(1, 300),
            help="BigQuery calls in flight at most while collecting (BigQuery allows 300 "
            "per user); halved on a 429, then grown back. Calls are also spaced to 100 per "
            "second per API method, BigQuery's documented quota.",
        ),
        click.option(
            "--asset-inventory/--no-asset-inventory",
            default=True,
            show_default=True,
            help="Read table IAM policies in bulk from Cloud Asset Inventory "
            "(searchAllIamPolicies) instead of one getIamPolicy per table; where it cannot "
            "be read (API off, no permission) tables are read one by one and the run says "
            "so. With --endpoint it needs --asset-endpoint.",
        ),
        click.option(
            "--asset-endpoint",
            envvar="AUDITOR_ASSET_ENDPOINT",
            help="Base URL of the Cloud Asset Inventory API (default: Google's, unless "
            "--endpoint points BigQuery elsewhere).",
        ),
        click.option(
            "--workers",
            default=8,
            show_default=True,
            type=click.IntRange(1, 64),
            help="Concurrent reads: objects collected, tables content-scanned.",
        ),
        click.option(
            "--fast-path/--no-fast-path",
            default=True,
            show_default=True,
            help="Read schemas region-wide through INFORMATION_SCHEMA.",
        ),
        click.option(
            "--policy-tags/--no-policy-tags",
            default=False,
            show_default=True,
            help="Insist on column policy tags for every table: where INFORMATION_SCHEMA has "
            "no policy_tags column, read each table one by one (no rule reads policy tags; "
            "by default such tables come without them and the run section says so).",
        ),
        click.option(
            "--table-iam/--no-table-iam",
            default=True,
            show_default=True,
            help="Read each table's IAM policy.",
        ),
        content_scan_option := click.option(
            "--content-scan",
            type=click.Choice([m.value for m in ContentMode]),
            help="How tenant table contents are scanned for credential values (AUD-014): "
            "local samples rows through the API, pushdown runs the detectors as SQL in "
            "BigQuery, dlp uses Cloud DLP, off skips it (AUD-014 then reports ERROR). "
            "Default: the rule's mode param, else local.",
        ),
        sample_rows_option := click.option(
            "--sample-rows",
            type=click.IntRange(1, MAX_SAMPLE_ROWS),
            help=f"Rows sampled per tenant table (default: the rule's sample_rows, else "
            f"{DEFAULT_SAMPLE_ROWS}).",
        ),
        max_bytes_option := click.option(
            "--max-bytes-billed",
            type=click.IntRange(1),
            help="Pushdown: bytes one table's query may bill; a table whose dry run "
            "estimates more is not scanned (a coverage gap). Default: the rule's max_bytes, "
            f"else {DEFAULT_MAX_BYTES_BILLED}.",
        ),
        dlp_endpoint_option := click.option(
            "--dlp-endpoint",
            envvar="AUDITOR_DLP_ENDPOINT",
            help="With --content-scan dlp: the Cloud DLP API endpoint (default: Google's, "
            "with application default credentials).",
        ),
    ]

    if not dataset_filter:
        options = [o for o in options if o is not dataset_option]
    if not content_scan:
        content = (content_scan_option, sample_rows_option, max_bytes_option, dlp_endpoint_option)
        options = [o for o in options if o not in content]

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["template_globs"] = kwargs["template_globs"] or SHIPPED_TEMPLATE_GLOBS
        kwargs.setdefault("datasets", ())
        if not content_scan:  # commands that never judge table contents do not read them
            kwargs.update(content_scan=ContentMode.OFF.value, sample_rows=None)
            kwargs.update(max_bytes_billed=None, dlp_endpoint=None)
        fields = LiveOptions.__dataclass_fields__
        live = LiveOptions(**{k: kwargs.pop(k) for k in list(kwargs) if k in fields})
        return function(live, *args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_display() -> Iterator[Callable[[str], None]]:
    """A spinner with the current step in a terminal; plain lines on stderr otherwise."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda message: click.echo(f"... {terminal_text(message)}", err=True)
        return
    with console.status("starting") as status:

        def show(message: str) -> None:
            shown = terminal_text(message)
            console.log(shown, highlight=False, markup=False)
            status.update(Text(shown))  # Text: rich would parse a plain str as markup

        yield show


@click.command()
@click.option(
    "--snapshot",
    "snapshot_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Replay the audit offline from a snapshot file instead of reading BigQuery.",
)
@click.option(
    "--exports",
    "exports_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Audit offline from an export folder of bq/gcloud JSON (docs/offline-exports.md).",
)
@live_options
@audit_options
def scan(
    opts: AuditOptions, live: LiveOptions, snapshot_path: Path | None, exports_dir: Path | None
) -> None:
    """Audit the live BigQuery estate against the templates and the policy pack.

    Exit codes: 0 clean, 1 findings at/above --fail-on, 2 usage/config/policy error,
    3 incomplete audit (coverage gaps: objects that could not be read).
    """
    with exit_on_errors():
        if snapshot_path is not None and exports_dir is not None:
            raise CommandError("--snapshot and --exports are two different sources; pick one")
        rules, registry = opts.load_rules()
        waivers, baseline = opts.load_waivers(), opts.baseline()
        started = now()
        with progress_display() as progress:
            sources: tuple[str, ...]
            if exports_dir is not None:
                sources = ("templates", "exports")
                # Imported here: auditor.collect loads the Google client libraries (slow
                # to import), which a snapshot never needs.
                from auditor.collect import collect_from_exports

                inventory = collect_from_exports(
                    exports_dir, live.templates, live.template_globs, progress
                )
            elif snapshot_path is not None:
                sources = ("snapshot",)
                progress(f"replaying snapshot {snapshot_path}")
                inventory = read_snapshot(snapshot_path)
                inventory = dataclasses.replace(
                    inventory, inputs=(*inventory.inputs, _input(snapshot_path))
                )
            else:
                sources = live.sources(rules)
                inventory = live.collect(progress, rules)
            progress(f"evaluating {len(rules)} rules")
            result = audit(
                inventory,
                rules,
                registry,
                now,
                started=started,
                waivers=waivers,
                baseline=baseline,
                command=" ".join(["auditor", *sys.argv[1:]]),
                evaluation_time=opts.evaluation_instant(),
                scope=opts.scope(sources, live.datasets),
            )
    say_why_incomplete(result.report, opts.allow_partial)
    opts.finish(result, "scan")


def say_why_incomplete(report: Report, allowed: bool) -> None:
    """On stderr, whatever the output format: why the run is incomplete, if it is."""
    run = report.run
    if run.complete:
        return
    consequence = "accepted by --allow-partial" if allowed else "exit 3"
    click.echo(
        f"incomplete audit ({consequence}): {len(run.coverage)} coverage gap(s), "
        f"{len(run.errors)} rule(s) that did not run",
        err=True,
    )
    for gap in run.coverage:
        click.echo(terminal_text(f"  coverage gap: {gap.scope}: {gap.reason}"), err=True)
    for error in run.errors:
        click.echo(terminal_text(f"  {error}"), err=True)


@click.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where to write the snapshot (JSON).",
)
@live_options
def snapshot(live: LiveOptions, output: Path) -> None:
    """Collect the estate (templates + live BigQuery) into a snapshot file for offline replay.

    Exit 3 when part of the estate could not be read (the gaps are in the snapshot too).
    """
    with exit_on_errors():
        with progress_display() as progress:
            inventory = live.collect(progress)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(
            dump_snapshot(inventory, created_at=now(), tool_version=__version__), encoding="utf-8"
        )
    click.echo(f"wrote {output}", err=True)
    for gap in inventory.gaps:
        click.echo(terminal_text(f"coverage gap: {gap.scope}: {gap.reason}"), err=True)
    sys.exit(3 if inventory.gaps else 0)


def _input(path: Path) -> InputFile:
    import hashlib

    return InputFile(str(path), hashlib.sha256(path.read_bytes()).hexdigest())
