"""BigQuery's own rules for a JSON field list: types, modes, names, limits, parameters.

Works on the raw JSON (not on model.Field) because most of what BigQuery checks, such as
precision, collation or rangeElementType, never reaches the model. The JSON shape itself
(JSON types, unknown keys) is the JSON Schema's job; a value of the wrong JSON type is
left alone here so each mistake is reported once.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditor import limits
from auditor.io.jsonpos import Pointer, Positioned
from auditor.model import Problem, canonical_type

MAX_NAME_LENGTH = limits.MAX_COLUMN_NAME_LENGTH
MAX_DESCRIPTION_LENGTH = limits.MAX_DESCRIPTION_LENGTH
MAX_NESTING = limits.MAX_SCHEMA_NESTING
MAX_COLUMNS = limits.MAX_COLUMNS

# Standard SQL names after canonical_type(); the legacy names map onto these. The column
# types are those of BigQuery's TableFieldSchema.Type (Storage API v1: STRING, INT64, DOUBLE
# = FLOAT64, STRUCT, BYTES, BOOL, TIMESTAMP, DATE, TIME, DATETIME, GEOGRAPHY, NUMERIC,
# BIGNUMERIC, INTERVAL, JSON, RANGE; the same list as StandardSQLTypeName without ARRAY),
# plus FOREIGN, which the v2 REST TableFieldSchema allows with a foreignTypeDefinition.
# Checked 2026-12-07 against the client reference docs (cloud.google.com, "TableFieldSchema.Type"
# of google-cloud-bigquery-storage and "StandardSQLTypeName" of google-cloud-bigquery).
KNOWN_TYPES = frozenset(
    {
        "STRING", "BYTES", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "DATE", "TIME",
        "DATETIME", "GEOGRAPHY", "NUMERIC", "BIGNUMERIC", "INTERVAL", "JSON", "STRUCT",
        "RANGE", "FOREIGN",
    }
)  # fmt: skip
# What a user may write, for "did you mean" suggestions.
_SPELLINGS = sorted(KNOWN_TYPES | {"INTEGER", "FLOAT", "BOOLEAN", "RECORD"})
MODES = ("NULLABLE", "REQUIRED", "REPEATED")
RANGE_ELEMENT_TYPES = ("DATE", "DATETIME", "TIMESTAMP")
COLLATIONS = ("und:ci", "")
RESERVED_PREFIXES = (
    "_TABLE_",
    "_FILE_",
    "_PARTITION",
    "_ROW_TIMESTAMP",
    "__ROOT__",
    "_COLIDENTIFIER",
    "_CHANGE_SEQUENCE_NUMBER",
    "_CHANGE_TYPE",
    "_CHANGE_TIMESTAMP",
)
# NUMERIC and BIGNUMERIC: (max scale, how many integer digits precision may add to scale).
_DECIMAL_BOUNDS = {"NUMERIC": (9, 29), "BIGNUMERIC": (38, 38)}

_STRICT_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Flexible column names also allow any letter, mark or number, connector and dash
# punctuation, spaces, and these characters.
_FLEXIBLE_EXTRA = frozenset("&%=+:'<>#| ")
_FLEXIBLE_CATEGORIES = frozenset({"Pc", "Pd", "Zs"})
_INT64_RE = re.compile(r"-?[0-9]{1,19}")


@dataclass(frozen=True)
class FieldNode:
    """One item of a field list, wherever it is nested, and how to name it in a report."""

    pointer: Pointer  # JSON pointer of the item
    parent: str  # dotted path of the enclosing RECORD, "" at the top level
    index: int  # position in its list
    depth: int  # 1 for a top-level column
    value: Any  # the raw JSON item

    @property
    def usable(self) -> bool:
        """Whether the item is a field at all: an object with a string name and type."""
        return is_usable(self.value)

    @property
    def named(self) -> bool:
        return isinstance(self.value, dict) and isinstance(self.value.get("name"), str)

    @property
    def column(self) -> str | None:
        """Dotted column path; for an item without a name, its parent's (None at the top)."""
        if self.named:
            name: str = self.value["name"]
            return (f"{self.parent}.{name}" if self.parent else name) or None
        return self.parent or None


def is_usable(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and isinstance(item.get("type"), str)
    )


def walk_nodes(items: Sequence[Any], pointer: Pointer) -> Iterator[FieldNode]:
    """Every item of a field list in document order, parents first.

    Only usable fields are descended into: below an item that is not a field, nothing
    can be named reliably. Iterative, so nesting depth costs no Python stack.
    """
    stack = [FieldNode((*pointer, i), "", i, 1, item) for i, item in enumerate(items)]
    stack.reverse()
    while stack:
        node = stack.pop()
        yield node
        sub = node.value.get("fields") if node.usable else None
        if isinstance(sub, list):
            base = (*node.pointer, "fields")
            parent = node.column or ""
            children = [
                FieldNode((*base, i), parent, i, node.depth + 1, item) for i, item in enumerate(sub)
            ]
            stack.extend(reversed(children))


def check_fields(
    items: Sequence[Any], pointer: Pointer, positioned: Positioned, path: str
) -> list[Problem]:
    """BigQuery's rules for the field list at pointer (the list itself is items)."""
    checker = _Checker(positioned, path)
    leaves = 0
    too_deep_reported = False
    # parent pointer -> lower-case name -> the first field with that name
    seen: dict[Pointer, dict[str, FieldNode]] = {}
    for node in walk_nodes(items, pointer):
        if not node.usable:
            continue
        if not _has_sub_fields(node.value):
            leaves += 1
        if node.depth > MAX_NESTING and not too_deep_reported:
            too_deep_reported = True
            checker.add(
                node,
                "name",
                f"column is nested {node.depth} levels deep; BigQuery allows at most {MAX_NESTING}",
            )
        name: str = node.value["name"]
        siblings = seen.setdefault(node.pointer[:-1], {})
        first = siblings.setdefault(name.lower(), node)
        if first is not node:
            checker.add(
                node,
                "name",
                f"duplicate column name {name!r} (same as {first.value['name']!r} on line "
                f"{positioned.line_of((*first.pointer, 'name'))}; names are case-insensitive)",
            )
        checker.check(node)
    if leaves > MAX_COLUMNS:
        checker.problems.append(
            Problem(
                path,
                f"table has {leaves:,} leaf columns (nested fields counted, RECORD columns "
                f"themselves not, as BigQuery counts them); BigQuery allows at most "
                f"{MAX_COLUMNS:,}",
                positioned.line_of(pointer),
            )
        )
    return checker.problems


def _has_sub_fields(field: Mapping[str, Any]) -> bool:
    """A RECORD with sub-fields is not a leaf: BigQuery's column limit counts leaf fields
    ("Too many total leaf fields: N, max allowed field count: 10000")."""
    sub = field.get("fields")
    return isinstance(sub, list) and any(is_usable(item) for item in sub)


class _Checker:
    """The per-field rules; collects Problems that name file, line and column."""

    def __init__(self, positioned: Positioned, path: str) -> None:
        self.positioned = positioned
        self.path = path
        self.problems: list[Problem] = []

    def add(self, node: FieldNode, key: str, message: str) -> None:
        line = self.positioned.line_of((*node.pointer, key))
        self.problems.append(Problem(self.path, message, line, node.column))

    def check(self, node: FieldNode) -> None:
        data: Mapping[str, Any] = node.value
        self.name(node, data["name"])
        written: str = data["type"]
        kind = canonical_type(written)
        if kind not in KNOWN_TYPES:
            self.add(node, "type", f"unknown type {written!r}{_suggestion(written.upper())}")
        mode = data.get("mode")
        if isinstance(mode, str) and mode.upper() not in MODES:
            self.add(
                node, "mode", f"unknown mode {mode!r} (expected NULLABLE, REQUIRED or REPEATED)"
            )
        description = data.get("description")
        if isinstance(description, str) and len(description) > MAX_DESCRIPTION_LENGTH:
            self.add(
                node,
                "description",
                f"description is {len(description):,} characters long; BigQuery allows at "
                f"most {MAX_DESCRIPTION_LENGTH:,}",
            )
        tags = data.get("policyTags")
        names = tags.get("names") if isinstance(tags, dict) else None
        if isinstance(names, list) and len(names) > 1:
            self.add(node, "policyTags", "BigQuery allows at most one policy tag per column")
        if node.depth > 1 and "foreignTypeDefinition" in data:
            self.add(
                node,
                "foreignTypeDefinition",
                "foreignTypeDefinition is valid only on top-level columns",
            )
        if kind in KNOWN_TYPES:
            self.typed(node, data, written.upper(), kind)

    def name(self, node: FieldNode, name: str) -> None:
        if not name:
            self.add(node, "name", "column name is empty")
            return
        if len(name) > MAX_NAME_LENGTH:
            self.add(
                node,
                "name",
                f"column name is {len(name)} characters long; BigQuery allows at most "
                f"{MAX_NAME_LENGTH}",
            )
        if not _STRICT_NAME_RE.fullmatch(name):
            if unicodedata.category(name[0]).startswith("N"):
                self.add(node, "name", f"column name {name!r} must not start with a digit")
            bad = sorted({c for c in name if not _flexible_char(c)})
            if bad:
                shown = ", ".join(_show_char(c) for c in bad)
                message = f"column name {name!r} contains characters BigQuery does not allow"
                self.add(node, "name", f"{message}: {shown}")
        upper = name.upper()
        for prefix in RESERVED_PREFIXES:
            if upper.startswith(prefix):
                self.add(node, "name", f"column name {name!r} uses the reserved prefix {prefix}")
                break

    def typed(self, node: FieldNode, data: Mapping[str, Any], shown: str, kind: str) -> None:
        """The rules that depend on a known type."""
        sub = data.get("fields")
        if kind == "STRUCT":
            if sub is None or sub == []:
                self.add(node, "type", f"{shown} column has no sub-fields")
        elif isinstance(sub, list):
            self.add(node, "fields", f"{shown} column cannot have sub-fields (only RECORD/STRUCT)")

        if "maxLength" in data:
            length = _int64(data["maxLength"])
            if kind not in ("STRING", "BYTES"):
                self.add(
                    node, "maxLength", f"maxLength applies only to STRING and BYTES, not {shown}"
                )
            elif length is not None and length < 1:
                self.add(node, "maxLength", f"maxLength must be at least 1, got {length}")

        if "precision" in data or "scale" in data:
            if kind in _DECIMAL_BOUNDS:
                self.decimal(node, data, kind)
            else:
                key = "precision" if "precision" in data else "scale"
                self.add(node, key, f"{key} applies only to NUMERIC and BIGNUMERIC, not {shown}")

        if "roundingMode" in data and kind not in _DECIMAL_BOUNDS:
            self.add(
                node,
                "roundingMode",
                f"roundingMode applies only to NUMERIC and BIGNUMERIC, not {shown}",
            )

        if "collation" in data:
            collation = data["collation"]
            if kind != "STRING":
                self.add(node, "collation", f"collation applies only to STRING, not {shown}")
            elif isinstance(collation, str) and collation not in COLLATIONS:
                self.add(
                    node, "collation", f"unsupported collation {collation!r} (use 'und:ci' or '')"
                )

        self.range(node, data, shown, kind)

        if kind == "FOREIGN" and "foreignTypeDefinition" not in data:
            self.add(node, "type", "FOREIGN column needs a foreignTypeDefinition")

    def decimal(self, node: FieldNode, data: Mapping[str, Any], kind: str) -> None:
        max_scale, extra = _DECIMAL_BOUNDS[kind]
        if "precision" not in data:
            self.add(node, "scale", "scale requires precision")
            return
        precision = _int64(data["precision"])
        scale = _int64(data["scale"]) if "scale" in data else 0
        if precision is None or scale is None:
            return  # not a number: the JSON Schema reported it
        if not 0 <= scale <= max_scale:
            self.add(node, "scale", f"{kind} scale must be between 0 and {max_scale}, got {scale}")
            return
        low, high = max(1, scale), scale + extra
        if not low <= precision <= high:
            self.add(
                node,
                "precision",
                f"{kind} precision must be between {low} and {high} for scale {scale}, "
                f"got {precision}",
            )

    def range(self, node: FieldNode, data: Mapping[str, Any], shown: str, kind: str) -> None:
        element = data.get("rangeElementType")
        if kind != "RANGE":
            if element is not None:
                self.add(
                    node, "rangeElementType", f"rangeElementType applies only to RANGE, not {shown}"
                )
            return
        wanted = ", ".join(RANGE_ELEMENT_TYPES[:-1]) + f" or {RANGE_ELEMENT_TYPES[-1]}"
        if element is None:
            self.add(node, "type", f"RANGE column needs rangeElementType {wanted}")
            return
        inner = element.get("type") if isinstance(element, dict) else None
        if isinstance(inner, str) and inner.upper() not in RANGE_ELEMENT_TYPES:
            self.add(node, "rangeElementType", f"rangeElementType must be {wanted}, got {inner!r}")


def _int64(value: Any) -> int | None:
    """An int64 as JSON or as the REST API's digit string; None if it is neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT64_RE.fullmatch(value):
        return int(value)
    return None


def _flexible_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LMN" or category in _FLEXIBLE_CATEGORIES or char in _FLEXIBLE_EXTRA


def _show_char(char: str) -> str:
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"


def _suggestion(upper: str) -> str:
    close = difflib.get_close_matches(upper, _SPELLINGS, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""
