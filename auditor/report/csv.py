"""Findings and framework controls as CSV, for auditors to take away (`-f csv`,
`-f controls-csv`, and the page's download links, which write the same columns).

One row per finding, columns fixed (FINDING_COLUMNS), in report order. Spreadsheets run a
cell that starts with = + - @ (or a tab or carriage return) as a formula, so such a cell is
written with a leading apostrophe, and so is a cell that starts with an apostrophe: reading
removes exactly one leading apostrophe (`unneutralise`), and every value comes back as the
page shows it (control and bidi characters as \\uXXXX, safe_text.visible).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from auditor.io.resource_names import dataset_of
from auditor.io.safe_text import visible
from auditor.model import Finding, Report
from auditor.report.controls import FrameworkView, controls
from auditor.report.json import jsonable
from auditor.report.summary import ordered

FINDING_COLUMNS = (
    "rule_id", "rule_name", "status", "severity", "resource", "dataset", "column",
    "principal", "location_path", "location_line", "message", "remediation", "fingerprint",
    "waiver_owner", "waiver_reason", "waiver_expires", "waiver_expired", "in_baseline",
    "evidence",
)  # fmt: skip
CONTROL_COLUMNS = (
    "framework", "framework_name", "control", "state", "waived_only", "rules", "rule_states",
)  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text, never runs, and a terminal never obeys: control
    and bidi characters are shown as \\uXXXX, as on the page (safe_text.visible)."""
    cell = visible(cell)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def unneutralise(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def _flag(value: bool) -> str:
    return "true" if value else "false"


def finding_row(f: Finding) -> list[str]:
    waiver = f.waiver
    evidence = jsonable(f.evidence) if f.evidence else None
    return [
        f.rule_id,
        f.rule_name,
        f.status.value,
        f.severity.value,
        f.resource,
        dataset_of(f.resource),
        f.column or "",
        f.principal or "",
        f.location.path if f.location is not None else "",
        str(f.location.line) if f.location is not None and f.location.line is not None else "",
        f.message,
        f.remediation or "",
        f.fingerprint,
        waiver.owner if waiver else "",
        waiver.reason if waiver else "",
        waiver.expires if waiver else "",
        _flag(waiver.expired) if waiver else "",
        _flag(f.in_baseline),
        json.dumps(evidence, ensure_ascii=False, separators=(",", ":")) if evidence else "",
    ]


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([neutralise(c) for c in row] for row in rows)
    return out.getvalue()


def render(report: Report) -> str:
    """Every finding, one row each, in report order."""
    return _table(FINDING_COLUMNS, (finding_row(f) for f in ordered(report.findings)))


def control_rows(frameworks: Iterable[FrameworkView]) -> Iterator[list[str]]:
    for fw in frameworks:
        for c in fw.controls:
            yield [
                fw.key,
                fw.name,
                c.control,
                c.state.value,
                _flag(c.waived_only),
                ";".join(r.id for r in c.rules),
                ";".join(f"{r.id}={r.state.value}" for r in c.rules),
            ]


def render_controls(report: Report) -> str:
    """Each framework control, its state and the rules behind it (see report.controls)."""
    return _table(CONTROL_COLUMNS, control_rows(controls(report)[0]))


def read(text: str) -> list[dict[str, str]]:
    """Rows of a CSV written here, as dicts, with every cell as it was before writing."""
    rows = csv.DictReader(io.StringIO(text, newline=""))
    return [{k: unneutralise(v) for k, v in row.items()} for row in rows]


def evidence_of(row: Mapping[str, str]) -> Any:
    return json.loads(row["evidence"]) if row["evidence"] else {}


__all__ = [
    "CONTROL_COLUMNS",
    "FINDING_COLUMNS",
    "finding_row",
    "neutralise",
    "read",
    "render",
    "render_controls",
    "unneutralise",
]
