"""Tenant tables hold no credential values: the content scan's hits, judged.

The check reads what the content scan put into the inventory (`content_scans`,
`value_hits`, coverage gaps); it never reads a value and never shows one. Its params are
read by the scan, not by the check: `mode`, `sample_rows` and `max_bytes` configure how the
live scan samples tables (`content_options` below turns them into the scan's plain
options), so the rule that judges the contents also says how much of them is read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from auditor.content.base import MAX_SAMPLE_ROWS, SCANNED_TYPES, ContentMode, ContentOptions
from auditor.errors import UsageError
from auditor.model import CheckContext, CheckResult, Inventory, Status, ValueHit
from auditor.policy.checks import register
from auditor.policy.checks.live_scope import datasets_in_scope
from auditor.policy.rule import Rule

CHECK_KIND = "no-credential-values"
_DEFAULTS = ContentOptions()  # frozen: safe as a default argument


@register(
    CHECK_KIND,
    description=(
        "No sampled value of a table in scope looks like a credential (detector catalog: "
        "auditor/detect/catalog.yaml). A table in scope that was not scanned is an ERROR. "
        "Params configure the scan: mode (local, pushdown, dlp, off), sample_rows (rows "
        "per table) and max_bytes (bytes a pushdown query may bill per table)."
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "mode": {"enum": [m.value for m in ContentMode]},
            "sample_rows": {"type": "integer", "minimum": 1, "maximum": MAX_SAMPLE_ROWS},
            "max_bytes": {"type": "integer", "minimum": 1},
        },
    },
    permissions=("bigquery.tables.getData", "bigquery.jobs.create"),
)
def no_credential_values(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    scans = {s.table: s for s in inventory.content_scans}
    hits: dict[str, list[ValueHit]] = defaultdict(list)
    for hit in inventory.value_hits:
        hits[hit.table].append(hit)
    gaps: dict[str, list[str]] = defaultdict(list)
    for gap in inventory.gaps:
        gaps[gap.scope].append(gap.reason)
    in_scope = {d.dataset_id for d in datasets_in_scope(inventory, rule)}
    tables = sorted(
        (t for t in inventory.live_tables if t.dataset_id in in_scope), key=lambda t: t.resource
    )
    for table in tables:
        name = f"{table.dataset_id}.{table.table_id}"
        if table.type not in SCANNED_TYPES:
            yield CheckResult(
                status=Status.SKIPPED,
                resource=table.resource,
                message=(
                    f"{table.type.lower()} {name} holds no rows of its own: the tables it "
                    "reads are scanned where they are in scope"
                ),
            )
            continue
        for hit in sorted(hits.get(table.resource, ()), key=lambda h: (h.column, h.detector)):
            yield CheckResult(
                status=Status.FAIL,
                resource=table.resource,
                column=hit.column,
                message=(
                    f"table {name} holds credential-like values in {hit.column}: "
                    f"{hit.detector} in {hit.rows} sampled row{'s' if hit.rows != 1 else ''}"
                ),
                evidence={
                    "detector": hit.detector,
                    "rows": hit.rows,
                    "prefix": hit.prefix,
                    "fingerprint": hit.fingerprint,
                },
            )
        scan = scans.get(table.resource)
        if scan is None:
            why = "; ".join(gaps.get(table.resource, ())) or "the content scan did not run"
            yield CheckResult(
                status=Status.ERROR,
                resource=table.resource,
                message=f"contents of table {name} were not scanned, so not vouched for: {why}",
            )
        elif not hits.get(table.resource):
            yield CheckResult(
                status=Status.PASS,
                resource=table.resource,
                message=(
                    f"table {name}: no credential-like value in {scan.rows_scanned} sampled "
                    f"rows of {len(scan.columns)} text columns ({scan.mode} scan)"
                ),
                evidence={"mode": scan.mode, "rows": scan.rows_scanned},
            )


def content_options(
    rules: Sequence[Rule] | None = None,
    *,
    mode: str | None = None,
    sample_rows: int | None = None,
    max_bytes: int | None = None,
    base: ContentOptions = _DEFAULTS,
) -> ContentOptions:
    """`base` with the params of the first `no-credential-values` rule, then the explicit
    command-line values (None: not given) on top.

    `rules` None: the rules are not known (a snapshot is taken for any later audit). A rule
    set without a `no-credential-values` rule turns the scan off unless `mode` is given:
    no table contents are read when nothing judges them.
    """
    rule = next((r for r in rules or () if r.check == CHECK_KIND), None)
    params: Mapping[str, Any] = rule.params if rule is not None else {}
    chosen_mode = mode if mode is not None else params.get("mode")
    if chosen_mode is None and rules is not None and rule is None:
        chosen_mode = ContentMode.OFF.value
    rows = sample_rows if sample_rows is not None else params.get("sample_rows")
    budget = max_bytes if max_bytes is not None else params.get("max_bytes")
    options = base
    if chosen_mode is not None:
        try:
            options = replace(options, mode=ContentMode(chosen_mode))
        except ValueError:
            known = ", ".join(m.value for m in ContentMode)
            raise UsageError(f"unknown content scan mode {chosen_mode!r} ({known})") from None
    if rows is not None:
        options = replace(options, sample_rows=int(rows))
    if budget is not None:
        options = replace(options, max_bytes_billed=int(budget))
    options.check()
    return options
