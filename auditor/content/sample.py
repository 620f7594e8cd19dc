"""Rows sampled from one table, flattened to (column path -> text) cells.

Every mode works on this shape: the local scanner and DLP read the cells; the pushdown mode
never fetches rows at all. Values live only in memory for the scan and are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SampledRows:
    table: str  # full resource name
    columns: tuple[str, ...]  # dotted paths of the text-bearing leaf columns, in schema order
    # One tuple per sampled row, aligned with `columns`; None where the cell is NULL. A
    # REPEATED leaf's values are joined with "\n" so one cell still stands for one row.
    rows: tuple[tuple[str | None, ...], ...]
    bytes_read: int  # size of the text read, to enforce and report the budget
