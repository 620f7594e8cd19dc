"""Check a parsed snapshot document before anything is built from it.

The version is checked first (an unknown one may change the schema's other rules), then the
document is validated against the shipped JSON Schema (schemas/formats/snapshot.schema.json),
then created_at is checked to be a real time. Each problem names the JSON path of the
offending value and its line; jsonschema's errors are reworded (unknown keys with a
did-you-mean, missing keys, wrong types shown by kind, never by a whole value).

Field lists nest (RECORD columns), so a schema validation that followed them would recurse
once per level inside jsonschema. Instead the document is validated with field lists taken
as they are, and each field object is validated on its own while an explicit stack walks
them. The nesting is bounded twice over: MAX_JSON_DEPTH when parsing, and dump_snapshot
refuses an inventory whose file could not be read back. Apart from the reader, which only
builds the model from a document these checks passed.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from auditor.errors import InputError
from auditor.io.jsonpos import Pointer, Positioned
from auditor.io.jsonwords import did_you_mean, json_type, with_article
from auditor.resources import format_schema
from auditor.sources.snapshot.format import SCHEMA_NAME, SNAPSHOT_VERSION

_TABLE_LISTS = ("templates", "sql_tables", "live_tables")
_FIELD_HOLDERS = ("tableSchema", "table", "field")  # schema $defs with a `fields` list


@dataclass(frozen=True)
class SchemaProblem:
    """One schema problem: the line of the offending value and a message naming its path."""

    line: int
    message: str


def check_version(doc: Positioned, path: str) -> None:
    """Refuse an unknown version before the schema, whose other rules it may change."""
    value = doc.value
    if not isinstance(value, dict) or "snapshot_version" not in value:
        return  # the schema says what is wrong
    version = value["snapshot_version"]
    if type(version) is not int or version != SNAPSHOT_VERSION:
        raise InputError(
            path,
            f"unsupported snapshot_version {_shown(version)}; this auditor reads"
            f" snapshot_version {SNAPSHOT_VERSION} (take a new snapshot with this version)",
            doc.line_of(("snapshot_version",)),
        )


def check_created_at(doc: Positioned, path: str) -> datetime:
    """The schema checks the shape of created_at; this checks that it is a real time."""
    value = doc.value["created_at"]
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        line = doc.line_of(("created_at",))
        raise InputError(path, f"created_at: {value!r} is not a valid time", line) from None


@lru_cache(maxsize=1)
def _validators() -> tuple[Draft202012Validator, Draft202012Validator]:
    """(document validator, field validator), from the shipped schema on first use.

    In both, the items of every field list are accepted as they are: schema_problems walks
    the field lists itself and validates each field with the field validator.
    """
    with format_schema(SCHEMA_NAME).open(encoding="utf-8") as handle:
        schema = json.load(handle)
    defs = copy.deepcopy(schema["$defs"])
    for name in _FIELD_HOLDERS:
        defs[name]["properties"]["fields"]["items"] = True
    dialect = schema["$schema"]
    shallow = {k: v for k, v in schema.items() if k != "$id"} | {"$defs": defs}
    field = {**defs["field"], "$schema": dialect, "$defs": defs}
    Draft202012Validator.check_schema(shallow)
    Draft202012Validator.check_schema(field)
    return Draft202012Validator(shallow), Draft202012Validator(field)


def schema_problems(doc: Positioned) -> list[SchemaProblem]:
    """Every schema problem once (jsonschema reports each missing key with the whole list of
    required keys), in the order found."""
    document, field = _validators()
    found: dict[SchemaProblem, None] = {}
    for error in document.iter_errors(doc.value):
        found.update(dict.fromkeys(_explain(error, tuple(error.absolute_path), doc)))
    for pointer, item in _field_nodes(doc.value):
        for error in field.iter_errors(item):
            found.update(dict.fromkeys(_explain(error, (*pointer, *error.absolute_path), doc)))
    return list(found)


def _field_nodes(value: Any) -> Iterator[tuple[Pointer, Any]]:
    """(pointer, item) of every item of every field list, at any depth, whatever it is."""
    inventory = value.get("inventory") if isinstance(value, dict) else None
    if not isinstance(inventory, dict):
        return
    stack: list[tuple[Pointer, list[Any]]] = []
    for key in _TABLE_LISTS:
        tables = inventory.get(key)
        for index, table in enumerate(tables if isinstance(tables, list) else ()):
            if isinstance(table, dict) and isinstance(table.get("fields"), list):
                stack.append((("inventory", key, index, "fields"), table["fields"]))
    while stack:
        pointer, items = stack.pop()
        for index, item in enumerate(items):
            here = (*pointer, index)
            yield here, item
            if isinstance(item, dict) and isinstance(item.get("fields"), list):
                stack.append(((*here, "fields"), item["fields"]))


def _explain(error: ValidationError, pointer: Pointer, doc: Positioned) -> Iterator[SchemaProblem]:
    where = _dotted(pointer)
    line = doc.line_of(pointer) or 1
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    expected: Any = error.validator_value
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        for key in instance:
            if key not in known:
                message = f"{where}: unknown key {key!r}{did_you_mean(key, known)}"
                yield SchemaProblem(doc.line_of((*pointer, key)) or line, message)
    elif error.validator == "required" and isinstance(instance, dict):
        misspelt = _misspelt(instance, schema)
        for key in expected:
            if key not in instance and key not in misspelt:
                yield SchemaProblem(line, f"{where}: missing required key {key!r}")
    elif error.validator == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(with_article(name) for name in names)
        yield SchemaProblem(line, f"{where}: expected {wanted}, got {_shown(instance)}")
    elif error.validator == "enum":
        allowed = ", ".join(map(str, expected))
        yield SchemaProblem(line, f"{where}: expected one of {allowed}, got {_shown(instance)}")
    elif error.validator == "const":
        yield SchemaProblem(line, f"{where}: expected {_shown(expected)}, got {_shown(instance)}")
    elif error.validator == "pattern":
        wanted = schema.get("title", f"a string matching {expected}")
        yield SchemaProblem(line, f"{where}: expected {wanted}, got {_shown(instance)}")
    else:  # pragma: no cover - the schema uses only the keywords above
        yield SchemaProblem(line, f"{where}: {error.message}")


def _dotted(pointer: Sequence[str | int]) -> str:
    """("inventory", "datasets", 0, "access") -> inventory.datasets[0].access."""
    text = ""
    for part in pointer:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _misspelt(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> set[str]:
    """Known keys that an unknown key of instance seems to misspell: already reported."""
    known = list(schema.get("properties", {}))
    unknown = [key for key in instance if key not in known]
    return {m for key in unknown for m in difflib.get_close_matches(key, known, n=1, cutoff=0.6)}


def _shown(value: Any) -> str:
    """A JSON value for a message: scalars shown (shortened), containers only named."""
    if isinstance(value, list | dict) or value is None:
        return with_article(json_type(value))
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{json_type(value)} {text}"
