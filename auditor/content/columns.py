"""Which columns of a table can hold a secret, and the path to each.

A text column is a STRING or JSON leaf anywhere in the schema: top level, inside RECORDs,
under REPEATED fields at any depth. BYTES, numbers, booleans, dates and timestamps are not
examined (a secret in BYTES is out of reach of every mode; the customers dataset keeps
its encrypted secrets there on purpose).

Names go into SQL (pushdown) and into tabledata.list's comma-separated `selectedFields`
(local), so only plain names are used: letters, digits and underscores. A text column under
any other name is left out and named in `TextColumns.unsafe`, which the modes turn into a
coverage gap; nothing is quoted by escaping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from auditor.model import Field

TEXT_TYPES = frozenset({"STRING", "JSON"})
SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,299}")


@dataclass(frozen=True)
class TextColumn:
    """One text leaf: the fields from its top-level column down to it."""

    steps: tuple[Field, ...]

    @property
    def path(self) -> str:
        return ".".join(f.name for f in self.steps)

    @property
    def top(self) -> str:
        return self.steps[0].name

    @property
    def is_json(self) -> bool:
        return self.steps[-1].canonical_type == "JSON"

    @property
    def repeated(self) -> bool:
        """True when the leaf or a RECORD above it is REPEATED: a cell then holds every
        value of the row, joined with newlines."""
        return any(f.mode == "REPEATED" for f in self.steps)


@dataclass(frozen=True)
class TextColumns:
    columns: tuple[TextColumn, ...]  # schema order
    unsafe: tuple[str, ...]  # dotted paths of text columns left out for their names

    @property
    def tops(self) -> tuple[str, ...]:
        """The top-level columns holding the text columns, in schema order, once each."""
        return tuple(dict.fromkeys(c.top for c in self.columns))


def text_columns(fields: tuple[Field, ...]) -> TextColumns:
    columns: list[TextColumn] = []
    unsafe: list[str] = []
    for steps in _leaves(fields, ()):
        if all(SAFE_NAME.fullmatch(f.name) for f in steps):
            columns.append(TextColumn(steps))
        else:
            unsafe.append(".".join(f.name for f in steps))
    return TextColumns(tuple(columns), tuple(unsafe))


def _leaves(fields: tuple[Field, ...], above: tuple[Field, ...]) -> Iterator[tuple[Field, ...]]:
    # Recursion is bounded by the schema's depth (BigQuery allows 15 levels).
    for f in fields:
        steps = (*above, f)
        if f.is_record:
            yield from _leaves(f.fields, steps)
        elif f.canonical_type in TEXT_TYPES:
            yield steps
