"""The page's findings data block: JSON safe inside a <script> element, written in pieces.

One array per finding, in report order, in COLUMNS order. String columns hold an index into
the block's string table (0 is the empty string), so a rule name or a resource repeated in
10,000 findings is written once; `waiver` is an index into the waiver table or -1;
`baseline` 0 or 1; `line` 0 when there is none; `evidence` an object or null. Rows come
first, the string table after them (JSON.parse does not mind the order), so rows are
serialised a batch at a time and never held all at once: 100,000 findings stay within a few
MB beyond the report itself.

Every piece is ASCII only, with `<`, `>` and `&` written as \\u003c, \\u003e, \\u0026, so no
text in a finding can close the element or start markup.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from typing import Any

from auditor.io.resource_names import dataset_of
from auditor.model import Finding, Report, WaiverRef
from auditor.report.controls import FrameworkView, RuleView
from auditor.report.csv import CONTROL_COLUMNS, FINDING_COLUMNS, control_rows
from auditor.report.json import jsonable
from auditor.report.summary import ordered
from auditor.report.views import (
    EXPIRY_WARNING_DAYS,
    ChangeSet,
    utc,
    waiver_status,
)

PRINT_LIMIT = 5000  # rows the page expands for printing (the rest: narrow the filters)
BATCH = 2000

STRING_COLUMNS = (
    "severity", "status", "rule_id", "rule_name", "resource", "dataset", "column",
    "principal", "message", "remediation", "location", "fingerprint", "change",
)  # fmt: skip
COLUMNS = (*STRING_COLUMNS, "line", "waiver", "baseline", "evidence")


def _finite(value: Any) -> Any:
    """JSON.parse rejects NaN and Infinity: write them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def script_json(payload: Any) -> str:
    """JSON safe inside a <script> element: ASCII only, and no `<`, `>` or `&` at all."""
    try:
        text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(payload), ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _Strings:
    def __init__(self) -> None:
        self.table: list[str] = [""]
        self.index: dict[str, int] = {"": 0}

    def __call__(self, text: str | None) -> int:
        if not text:
            return 0
        i = self.index.get(text)
        if i is None:
            i = self.index[text] = len(self.table)
            self.table.append(text)
        return i


def _rules_table(rules: Sequence[RuleView]) -> dict[str, list[Any]]:
    """What a finding's detail shows about its rule: title, rationale, remediation, refs."""
    return {r.id: [r.title, r.rationale, r.remediation, list(r.references_shown)] for r in rules}


def chunks(
    report: Report,
    changes: ChangeSet | None,
    rules: Sequence[RuleView],
    frameworks: Sequence[FrameworkView],
) -> Iterator[str]:
    """The data block's text, piece by piece."""
    run_day = utc(report.run.started_at).date()
    intern = _Strings()
    waiver_rows: list[list[Any]] = []
    waiver_index: dict[WaiverRef, int] = {}
    change: dict[str, str] = {}
    if changes is not None:
        change.update((fp, "persisting") for fp in changes.persisting)
        change.update((fp, "new") for fp in changes.new)

    def waiver(w: WaiverRef | None) -> int:
        if w is None:
            return -1
        i = waiver_index.get(w, -1)
        if i < 0:
            i = waiver_index[w] = len(waiver_rows)
            status = waiver_status(w, run_day)
            waiver_rows.append(
                [w.reason, w.owner, w.expires, status == "EXPIRED", status == "EXPIRING",
                 w.expired]
            )  # fmt: skip
        return i

    def row(f: Finding) -> list[Any]:
        fp = f.fingerprint
        loc = f.location
        return [
            intern(f.severity.value),
            intern(f.status.value),
            intern(f.rule_id),
            intern(f.rule_name),
            intern(f.resource),
            intern(dataset_of(f.resource)),
            intern(f.column),
            intern(f.principal),
            intern(f.message),
            intern(f.remediation),
            intern(loc.path if loc is not None else None),
            intern(fp),
            intern(change.get(fp)),
            loc.line if loc is not None and loc.line is not None else 0,
            waiver(f.waiver),
            1 if f.in_baseline else 0,
            jsonable(f.evidence) if f.evidence else None,
        ]

    yield '{"columns":' + script_json(list(COLUMNS)) + ',"rows":['
    findings = ordered(report.findings)
    for start in range(0, len(findings), BATCH):
        batch = [row(f) for f in findings[start : start + BATCH]]
        text = script_json(batch)[1:-1]
        yield ("," if start else "") + text
    del findings
    yield '],"strings":' + script_json(intern.table)
    yield ',"waivers":' + script_json(waiver_rows)
    tail = {
        "rules": _rules_table(rules),
        "csv_columns": list(FINDING_COLUMNS),
        "controls": [list(CONTROL_COLUMNS), *control_rows(frameworks)],
        "print_limit": PRINT_LIMIT,
        "expiry_warning_days": EXPIRY_WARNING_DAYS,
    }
    yield "," + script_json(tail)[1:]


def payload(
    report: Report,
    changes: ChangeSet | None = None,
    rules: Sequence[RuleView] = (),
    frameworks: Sequence[FrameworkView] = (),
) -> dict[str, Any]:
    """The data block as Python data (for tests)."""
    data: dict[str, Any] = json.loads("".join(chunks(report, changes, rules, frameworks)))
    return data


__all__ = ["COLUMNS", "PRINT_LIMIT", "chunks", "payload", "script_json"]
