"""Column-by-column differences between an actual and an expected schema."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from auditor.model import Field, walk_fields


class DiffKind(StrEnum):
    MISSING = "missing"  # expected, not there
    EXTRA = "extra"  # there, not expected
    CHANGED = "changed"  # type or mode differs


@dataclass(frozen=True)
class ColumnDiff:
    kind: DiffKind
    path: str  # as spelled on the side that has it (the actual side for CHANGED)
    actual: Field | None
    expected: Field | None

    @staticmethod
    def spell(field: Field) -> str:
        return f"{field.canonical_type} {field.mode.upper()}"


def diff_columns(actual: tuple[Field, ...], expected: tuple[Field, ...]) -> list[ColumnDiff]:
    """Missing, then extra and changed columns, each in schema order. Names compare
    case-insensitively and types by their standard SQL names, as BigQuery does."""
    have = {path.lower(): (path, f) for path, f in walk_fields(actual)}
    want = {path.lower(): (path, f) for path, f in walk_fields(expected)}
    diffs = [
        ColumnDiff(DiffKind.MISSING, path, None, field)
        for key, (path, field) in want.items()
        if key not in have
    ]
    for key, (path, field) in have.items():
        if key not in want:
            diffs.append(ColumnDiff(DiffKind.EXTRA, path, field, None))
        elif ColumnDiff.spell(field) != ColumnDiff.spell(want[key][1]):
            diffs.append(ColumnDiff(DiffKind.CHANGED, path, field, want[key][1]))
    return diffs
