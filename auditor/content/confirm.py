"""The one judge of every content-scan mode: candidate cells confirmed by the catalog.

Whatever the mode, the hits come from here. Local mode hands in every sampled cell;
pushdown hands in the cells its SQL selected (those some detector's keyword and pattern
match, with how many sampled rows hold that exact text); DLP hands in the cells its
findings point at. Each cell is scanned by `detect.values.scan_value`, the same
detectors, validators and precedence in every mode, so one leak gets one hit, with one
detector, count, prefix and fingerprint, whichever mode found the cell.

Per (column, detector): the number of sampled rows whose cell matched, and the evidence
(redacted prefix, fingerprint) of one match: each row's first match in text order, and of
those the one with the lowest fingerprint, so the choice depends neither on row order nor
on how a mode batches or deduplicates cells. Values live only in memory for the scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from auditor.detect.catalog import catalog
from auditor.detect.values import Evidence, evidence, scan_value
from auditor.model import ValueHit

__all__ = ["Cell", "confirm_cells"]


@dataclass(frozen=True)
class Cell:
    """A candidate cell: its column's position, its text, and how many sampled rows of the
    column hold exactly this text (pushdown groups identical cells; otherwise 1)."""

    column: int
    text: str
    rows: int = 1


def confirm_cells(
    table: str, columns: Sequence[str], cells: Iterable[Cell], max_chars: int
) -> tuple[ValueHit, ...]:
    """The value hits of `cells`, by column (in `columns` order) then detector (catalog
    order)."""
    found: dict[tuple[int, str], tuple[int, Evidence]] = {}
    for cell in cells:
        if not cell.text:
            continue
        text = cell.text[:max_chars]
        seen: set[str] = set()
        for match in scan_value(text, max_chars=max_chars):  # in text order
            if match.detector_id in seen:
                continue  # one row counts once; its first match stands for it
            seen.add(match.detector_id)
            shown = evidence(text, match)
            key = (cell.column, match.detector_id)
            previous = found.get(key)
            if previous is None:
                found[key] = (cell.rows, shown)
            else:
                count, best = previous
                found[key] = (count + cell.rows, min(best, shown, key=lambda e: e.fingerprint))
    order = {d.id: i for i, d in enumerate(catalog())}
    return tuple(
        ValueHit(
            table=table,
            column=columns[index],
            detector=detector,
            rows=count,
            prefix=shown.redacted,
            fingerprint=shown.fingerprint,
        )
        for (index, detector), (count, shown) in sorted(
            found.items(), key=lambda item: (item[0][0], order[item[0][1]])
        )
    )
