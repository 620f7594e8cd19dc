"""`auditor remediate plan|apply|rollback` and `auditor provision`: fix what the scan found.

Like terraform plan/apply: `plan` reads the estate (live, or a snapshot), audits it, and
writes a plan file of typed actions (and manual steps) for review; nothing changes. `apply
PLAN` refuses a stale plan (exit 2, naming the dataset), applies action by action and writes
a journal next to the plan; `rollback JOURNAL` undoes it, last action first. Both go to
the endpoint the plan (journal) records unless given --endpoint, so the commands printed
here work as pasted. `provision TENANT_ID` plans a compliant tenant dataset from the
templates, `provision customers` the hardening of the protected dataset (and says what it
leaves to `remediate plan`); both apply only with --apply.

Exit codes: 0 done; 2 usage, invalid plan/journal, a stale plan (nothing changed), a
recorded local endpoint that does not answer, no Google credentials; 3 incomplete: the
inventory had coverage gaps (plan; unless --allow-partial), an action failed mid-way
(apply: re-run it to converge), or an undo was left alone (rollback).
"""

from __future__ import annotations

import dataclasses
import functools
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from auditor import __version__
from auditor.audit import audit
from auditor.cli.common import (
    EXIT_INCOMPLETE,
    CommandError,
    exit_on_errors,
    fail,
    load_rules,
    now,
    policies_option,
    select,
)
from auditor.cli.scan import (
    LiveOptions,
    live_options,
    live_options_whole_estate,
    progress_display,
)
from auditor.io.safe_text import terminal_text
from auditor.local.endpoints import answers, is_local_endpoint
from auditor.model import Inventory
from auditor.policy.rule import Rule
from auditor.policy.waivers import load_waivers
from auditor.remediate.desired import CUSTOMERS_DATASET
from auditor.remediate.journal import Journal
from auditor.remediate.plan import (
    HARDENING_LEAVES,
    DatasetRole,
    DesiredState,
    Plan,
    Purpose,
    Resolution,
    desired_state,
    plan_harden_customers,
    plan_provision_tenant,
    plan_remediation,
)
from auditor.remediate.planfile import dump_plan, read_plan
from auditor.remediate.planfile import journal_path as default_journal
from auditor.remediate.state import ApplyError
from auditor.resources import SCHEMAS_DIR
from auditor.sources.snapshot.read import read_snapshot

DEFAULT_DIR = Path("reports") / "remediation"
F = TypeVar("F", bound=Callable[..., Any])


# ----------------------------------------------------------------------------- options


def desired_options(function: F) -> F:
    """--config, --kms-key, --location, --label: the desired state of what the plan makes."""
    options = [
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="Remediation config (YAML/JSON): location, kms_keys {tenant, customers, "
            "other}, labels, access (the ACL of new datasets).",
        ),
        click.option(
            "--kms-key",
            "kms_keys",
            multiple=True,
            metavar="ROLE=KEY",
            help="Default CMEK per dataset role (tenant, customers, other); repeatable. "
            "Default: projects/P/locations/us/keyRings/platform/cryptoKeys/{tenants,customers}.",
        ),
        click.option("--location", help="Location of new datasets (default US)."),
        click.option(
            "--label",
            "labels",
            multiple=True,
            metavar="KEY=VALUE",
            help="Extra label for provisioned datasets; repeatable.",
        ),
    ]

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        config = _config(
            kwargs.pop("config_path"),
            kwargs.pop("kms_keys"),
            kwargs.pop("location"),
            kwargs.pop("labels"),
        )
        return function(*args, config=config, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def _config(
    path: Path | None, kms_keys: Sequence[str], location: str | None, labels: Sequence[str]
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CommandError(f"{path}: cannot read the remediation config: {exc}") from None
        if not isinstance(loaded, dict):
            raise CommandError(f"{path}: the remediation config must be a mapping")
        config.update(loaded)
    keys = dict(config.get("kms_keys") or {})
    for item in kms_keys:
        role, _, key = item.partition("=")
        if role not in {r.value for r in DatasetRole} or not key:
            raise CommandError(
                f"--kms-key {item!r}: expected tenant=KEY, customers=KEY or other=KEY"
            )
        keys[role] = key
    if keys:
        config["kms_keys"] = keys
    if location:
        config["location"] = location
    extra = dict(config.get("labels") or {})
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--label {item!r}: expected KEY=VALUE")
        extra[key] = value
    if extra:
        config["labels"] = extra
    return config


@dataclass(frozen=True)
class Collected:
    inventory: Inventory
    source: str  # what the plan is computed from, in words
    endpoint: str | None  # the BigQuery endpoint the estate was read from (None: Google's)


def _collect(
    live: LiveOptions, snapshot_path: Path | None, rules: Sequence[Rule] | None = None
) -> Collected:
    with progress_display() as progress:
        if snapshot_path is not None:
            progress(f"replaying snapshot {snapshot_path}")
            inventory = read_snapshot(snapshot_path)
            # The snapshot's root is the endpoint it was collected from (or bigquery:P).
            endpoint = live.endpoint or (inventory.root if _is_url(inventory.root) else None)
            return Collected(inventory, f"snapshot {snapshot_path}", endpoint)
        inventory = live.collect(progress, rules)
    where = f" at {live.endpoint}" if live.endpoint else ""
    return Collected(inventory, f"live project {live.project}{where}", live.endpoint)


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _gaps(inventory: Inventory, allow_partial: bool) -> bool:
    for gap in inventory.gaps:
        click.echo(terminal_text(f"coverage gap: {gap.scope}: {gap.reason}"), err=True)
    if inventory.gaps and not allow_partial:
        click.echo(
            "the inventory is incomplete: findings in what could not be read are not in the "
            "plan (exit 3; --allow-partial to accept)",
            err=True,
        )
        return True
    return False


def _write_plan(plan: Plan, output: Path) -> None:

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(dump_plan(plan), encoding="utf-8")


# ----------------------------------------------------------------------------- remediate


@click.group()
def remediate() -> None:
    """Plan, review, apply and roll back fixes for the scan's findings."""


@remediate.command("plan")
@click.option(
    "--snapshot",
    "snapshot_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Plan from a snapshot file instead of reading BigQuery (apply still checks live).",
)
@policies_option
@click.option("--only", multiple=True, help="Only findings of these rules (id or name).")
@click.option(
    "--only-resource",
    "only_resources",
    multiple=True,
    metavar="GLOB",
    help="Only findings whose resource matches: a full resource name, DATASET or "
    "DATASET.TABLE (fnmatch); repeatable.",
)
@click.option(
    "--waivers",
    "waivers_path",
    type=click.Path(path_type=Path),
    help="Waivers file: waived findings are not remediated.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_DIR / "plan.json",
    show_default=True,
    help="Where to write the plan.",
)
@click.option("--allow-partial", is_flag=True, help="Do not exit 3 on coverage gaps.")
@live_options
@desired_options
def plan_command(
    live: LiveOptions,
    snapshot_path: Path | None,
    policy_paths: tuple[Path, ...],
    only: tuple[str, ...],
    only_resources: tuple[str, ...],
    waivers_path: Path | None,
    output: Path,
    allow_partial: bool,
    config: Mapping[str, Any],
) -> None:
    """Plan fixes for the FAIL findings of a scan. Writes the plan; changes nothing."""
    with exit_on_errors():
        all_rules, registry = load_rules(policy_paths)
        rules = select(all_rules, only)
        waivers = load_waivers(waivers_path) if waivers_path else ()
        collected = _collect(live, snapshot_path, rules)
        inventory = collected.inventory
        project = inventory.project or live.project
        result = audit(inventory, rules, registry, now, waivers=waivers, command="remediate plan")
        desired = desired_state(inventory, project, config)
        plan = plan_remediation(
            result.report.findings,
            inventory,
            desired,
            {r.id: r.check for r in all_rules},
            created_at=now(),
            source=collected.source,
            only_resources=only_resources,
            tool_version=__version__,
            endpoint=collected.endpoint,
        )
        _write_plan(plan, output)
        click.echo(render_plan(plan, output))
        incomplete = _gaps(inventory, allow_partial)
    sys.exit(EXIT_INCOMPLETE if incomplete else 0)


@remediate.command("apply")
@click.argument("plan_path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--endpoint",
    envvar="AUDITOR_BIGQUERY_ENDPOINT",
    help="BigQuery API endpoint (default: the one the plan was made against, recorded in it; "
    "Google's API, with application default credentials, for a plan made there).",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Journal file (default: <plan stem>.journal.jsonl next to the plan).",
)
def apply_command(plan_path: Path, endpoint: str | None, journal_path: Path | None) -> None:
    """Apply a reviewed plan: refuses a stale plan, journals every action."""
    # Imported here: the applier loads the Google client libraries, slow to import.
    from auditor.remediate.apply import apply_plan

    with exit_on_errors():
        plan = read_plan(plan_path)
        journal = journal_path or default_journal(plan_path)
        target = endpoint or plan.endpoint
        estate = _estate(plan.project, target, None if endpoint else f"recorded in {plan_path}")
        click.echo(
            f"applying {len(plan.actions)} action(s) of {plan_path} to project "
            f"{plan.project}{_at(target)}"
        )
        try:
            report = apply_plan(
                plan,
                estate,
                journal,
                clock=now,
                progress=lambda m: click.echo(f"  {terminal_text(m)}"),
                plan_path=str(plan_path),
                endpoint=target,
            )
        except ApplyError as exc:
            fail(str(exc), EXIT_INCOMPLETE)
    done, noop, skipped = report.count("done"), report.count("noop"), report.count("skipped")
    recovered, redone = report.count("recovered"), report.count("redone")
    again = f" (again after drift: {redone})" if redone else ""
    click.echo(
        f"applied {done + redone}{again}, already in place {noop + recovered}, done earlier "
        f"{skipped} in {report.seconds:.2f} s; journal {report.journal}"
    )
    if plan.manual_steps:
        click.echo(f"{len(plan.manual_steps)} manual step(s) remain; see the plan")
    click.echo(f"undo with: {command('remediate', 'rollback', str(report.journal))}")


@remediate.command("rollback")
@click.argument("journal_path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--endpoint",
    envvar="AUDITOR_BIGQUERY_ENDPOINT",
    help="BigQuery API endpoint (default: the one the last apply run used, recorded in the "
    "journal).",
)
def rollback_command(journal_path: Path, endpoint: str | None) -> None:
    """Undo what a journal's apply runs did, last action first."""
    # Imported here: rollback loads the Google client libraries, slow to import.
    from auditor.remediate.rollback import rollback

    with exit_on_errors():
        runs = [r for r in Journal(journal_path, now).records() if r["record"] == "run"]
        if not runs:
            raise CommandError(f"{journal_path}: no apply run recorded, nothing to roll back")
        applies = [r for r in runs if r["op"] == "apply"]
        target = endpoint or (applies[-1].get("endpoint") if applies else None)
        where = None if endpoint else f"recorded in {journal_path}"
        estate = _estate(runs[0]["project"], target, where)
        click.echo(f"rolling back {journal_path} in project {runs[0]['project']}{_at(target)}")
        try:
            report = rollback(
                journal_path,
                estate,
                clock=now,
                progress=lambda m: click.echo(f"  {terminal_text(m)}"),
                endpoint=target,
            )
        except ApplyError as exc:
            fail(str(exc), EXIT_INCOMPLETE)
    undone = {o.action_id for o in report.outcomes if o.status == "undone"}
    click.echo(
        f"undid {len(undone)} action(s) in {report.seconds:.2f} s; "
        f"{len(report.conflicts)} left alone"
    )
    for conflict in report.conflicts:
        click.echo(f"  left alone: {terminal_text(conflict)}", err=True)
    sys.exit(EXIT_INCOMPLETE if report.conflicts else 0)


def _estate(project: str, endpoint: str | None, recorded: str | None) -> Any:
    """The applier's view of the estate at `endpoint`. A local engine that does not answer
    is a usage error naming the way out (it was stopped, or restarted on another port)."""
    # Imported here: the BigQuery client library is slow to import; planning never needs it.
    from auditor.gcp.clients import bigquery_client
    from auditor.remediate.bigquery import BigQueryEstate

    if endpoint is not None and is_local_endpoint(endpoint) and not answers(endpoint, project):
        where = f" ({recorded})" if recorded else ""
        raise CommandError(
            f"the BigQuery endpoint {endpoint}{where} does not answer: the local engine is not "
            "running there. Start it (`auditor local start` prints its endpoint) and pass "
            "--endpoint, or make a new plan"
        )
    return BigQueryEstate(bigquery_client(project, endpoint))


def _at(endpoint: str | None) -> str:
    return f" at {endpoint}" if endpoint else " through Google's BigQuery API"


def command(*words: str) -> str:
    """An `auditor` command line as a user pastes it (every word shell-quoted)."""
    return " ".join(shlex.quote(w) for w in ("auditor", *words))


# ----------------------------------------------------------------------------- provision


@click.command()
@click.argument("target", metavar="TENANT_ID|customers")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the plan (default reports/remediation/provision-TARGET.json).",
)
@click.option("--apply", "apply_now", is_flag=True, help="Apply the plan right away.")
@live_options_whole_estate
@desired_options
def provision(
    live: LiveOptions,
    target: str,
    output: Path | None,
    apply_now: bool,
    config: Mapping[str, Any],
) -> None:
    """Plan a compliant tenant dataset from the templates (TENANT_ID), or the hardening of
    the protected dataset (`customers`): CMEK, labels, no public or project special-group
    entries, missing tables. Applies only with --apply."""
    with exit_on_errors():
        scoped = dataclasses.replace(live, datasets=(target,))
        collected = _collect(scoped, None)
        inventory = collected.inventory
        project = inventory.project or live.project
        if any(g.scope.endswith(f"/datasets/{target}") for g in inventory.gaps):
            raise CommandError(
                f"dataset {target} could not be read: "
                + "; ".join(g.reason for g in inventory.gaps)
            )
        desired: DesiredState = desired_state(inventory, project, config)
        common: dict[str, Any] = {
            "created_at": now(),
            "source": collected.source,
            "tool_version": __version__,
            "endpoint": collected.endpoint,
        }
        if target == CUSTOMERS_DATASET:
            plan = plan_harden_customers(inventory, desired, **common)
        else:
            plan = plan_provision_tenant(target, inventory, desired, **common)
        path = output or DEFAULT_DIR / f"provision-{target}.json"
        _write_plan(plan, path)
        click.echo(render_plan(plan, path))
        if target == CUSTOMERS_DATASET:
            click.echo(render_not_hardened(live))
    if apply_now and plan.actions:
        ctx = click.get_current_context()
        ctx.invoke(apply_command, plan_path=path, endpoint=live.endpoint, journal_path=None)


def render_not_hardened(live: LiveOptions) -> str:
    """What `provision customers` leaves to `remediate plan`, and the command for it."""
    rules, _ = load_rules(())
    by_kind: dict[str, list[str]] = {}
    for rule in rules:
        by_kind.setdefault(rule.check, []).append(rule.id)
    lines = ["", "Hardening does not cover (plan these with `remediate plan`):"]
    for kind, what in HARDENING_LEAVES:
        ids = ", ".join(by_kind.get(kind, ())) or kind
        lines.append(f"  - {what} ({ids})")
    flags = ["--only-resource", CUSTOMERS_DATASET, *live_flags(live)]
    lines.append(f"  {command('remediate', 'plan', *flags)}")
    if live.endpoint is not None and live.iam_endpoint is None and live.iam_exports is None:
        lines.append(
            "  (this endpoint has no IAM API: add --iam-exports DIR or --iam-endpoint URL for "
            "the access rules)"
        )
    return "\n".join(terminal_text(line) for line in lines)


def live_flags(live: LiveOptions) -> list[str]:
    """The options that say where the estate is read, as a command line repeats them."""
    flags = ["--project", live.project]
    for option, value in (
        ("--endpoint", live.endpoint),
        ("--iam-endpoint", live.iam_endpoint),
        ("--iam-exports", live.iam_exports),
    ):
        if value is not None:
            flags += [option, str(value)]
    if live.templates != SCHEMAS_DIR:
        flags += ["--templates", str(live.templates)]
    return flags


# ----------------------------------------------------------------------------- rendering


def render_plan(plan: Plan, path: Path) -> str:
    """The plan for a terminal: actions with what they fix, manual steps, findings."""
    lines = [
        f"Plan {path} for project {plan.project} ({plan.purpose.value}; preconditions by "
        f"{plan.precondition_mode}; from {plan.source})",
        f"  {len(plan.actions)} action(s), {len(plan.manual_steps)} manual step(s)"
        + (
            f"; fixes {len(plan.fixed)} of {len(plan.findings)} finding(s)"
            if plan.purpose is Purpose.REMEDIATE
            else ""
        ),
        "",
    ]
    findings = {f.fingerprint: f for f in plan.findings}
    for action in plan.actions:
        lines.append(f"  {action.id} {action.kind.value:<21} {_short(action.resource)}")
        lines.append(f"      {action.describe()}")
        for fp in action.fixes:
            f = findings.get(fp)
            if f is not None:
                lines.append(f"      fixes {f.rule_id} {f.rule_name}: {_what(f)}")
        undo = "reversible" if action.reversible else "NOT reversible by rollback"
        lines.append(f"      needs {', '.join(action.PERMISSIONS)}; {undo}")
    if plan.manual_steps:
        lines += ["", "  Manual steps (never executed):"]
        for step in plan.manual_steps:
            lines.append(f"  {step.id} {_short(step.resource)}: {step.title}")
            lines.append(f"      why: {step.why}")
            lines.extend(f"      - {s}" for s in step.steps)
    open_findings = [f for f in plan.findings if f.resolution is not Resolution.FIXED]
    if open_findings:
        lines += ["", "  Findings left to manual steps:"]
        lines.extend(
            f"  {f.resolution.value:<8} {f.rule_id} {_what(f)} ({', '.join(f.actions)})"
            for f in open_findings
        )
    lines += [
        "",
        "Nothing has changed. Review the plan, then: " + command("remediate", "apply", str(path))
        if plan.actions
        else "Nothing to apply.",
    ]
    # One line per entry (policy texts may end in a newline): a newline or ESC inside a name
    # is shown escaped, never obeyed.
    return "\n".join(terminal_text(line.rstrip("\n")) for line in lines)


def _short(resource: str) -> str:
    rest = resource.split("/datasets/", 1)
    return rest[1].replace("/tables/", ".") if len(rest) == 2 else resource


def _what(f: Any) -> str:
    extra = f.column or f.principal
    return f"{_short(f.resource)}{f' [{extra}]' if extra else ''}"


__all__ = ["command", "provision", "remediate", "render_plan"]
