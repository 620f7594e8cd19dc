"""Load BigQuery JSON table templates into TableSchema objects, with line numbers.

A template is one of three forms: a JSON array of fields (what `bq show --schema`
prints), an object with "fields", or a table resource with "schema": {"fields": [...]}.
Every mistake becomes a Problem naming file, line and column; nothing here raises on a bad
file. A field that is not a field at all (not an object, no string name or type) is
reported and left out, and the rest of the table is still built so the other checks see
its valid columns.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from auditor.errors import InputError
from auditor.io.files import (
    Unreadable,
    UnreadableFile,
    read_text_bounded,
    relative,
)
from auditor.io.jsonpos import DEFAULT_MAX_BYTES, Pointer, Positioned, parse_json
from auditor.io.jsonwords import did_you_mean, json_type, with_article
from auditor.model import Field, Location, Origin, Problem, TableSchema
from auditor.resources import format_schema
from auditor.sources import bqschema, sniff
from auditor.sources.bqschema import FieldNode
from auditor.sources.sniff import Claim

FIELD_SCHEMA = "bigquery-table-schema"

_FORMS_HINT = (
    'expected a JSON array of fields, an object with "fields", or a table resource with '
    '"schema": {"fields": [...]}'
)


class TemplateForm(StrEnum):
    ARRAY = "array"
    FIELDS_OBJECT = "fields"
    TABLE_RESOURCE = "table"


@dataclass(frozen=True)
class TemplateLoad:
    path: str  # relative to root, posix
    table: TableSchema | None  # None when the file cannot be used at all
    form: TemplateForm | None
    problems: tuple[Problem, ...]
    # Why a discovered file that nobody named as a template is not one (then no table and
    # no problems); None for a template.
    skipped: str | None = None


# ---------------------------------------------------------------------------- public API


def parse_template(text: str, rel_path: str, *, claim: Claim = Claim.NAMED) -> TemplateLoad:
    """Read one template's text. Never raises on bad input.

    `claim` (auditor.sources.sniff.Claim): a file a template glob names is judged as a
    template whatever it holds. Any other file is first asked whether it is a BigQuery table
    schema at all: when not, the load is `skipped` with the reason. Broken JSON is a broken
    template when the file is in a tenant/customers scope or its text carries BigQuery field
    syntax.
    """
    try:
        doc = parse_json(text, rel_path)
    except InputError as exc:
        if claim is Claim.FOUND and not sniff.looks_like_schema_text(text):
            at = f" at line {exc.line}" if exc.line else ""
            why = f"not valid JSON ({exc.detail}{at}) and nothing in it looks like a field"
            return TemplateLoad(rel_path, None, None, (), why)
        failure = Problem(rel_path, exc.detail, exc.line, unread=True)
        return TemplateLoad(rel_path, None, None, (failure,))
    if claim is not Claim.NAMED and (other := sniff.not_a_table_schema(doc.value, claim)):
        return TemplateLoad(rel_path, None, None, (), other)

    form, pointer, reason = _locate_fields(doc)
    if reason is not None:
        unusable = Problem(rel_path, reason, doc.line_of(pointer), unread=True)
        return TemplateLoad(rel_path, None, form, (unusable,))
    items: list[Any] = _at(doc.value, pointer)

    problems = _structure_problems(items, pointer, doc, rel_path)
    problems += bqschema.check_fields(items, pointer, doc, rel_path)
    problems.sort(key=lambda p: p.line or 0)  # stable: same-line problems keep their order
    table = TableSchema(
        name=PurePosixPath(rel_path).stem,
        fields=_build_fields(items, pointer, doc),
        origin=Origin.TEMPLATE,
        location=Location(rel_path, doc.line_of(pointer)),
    )
    return TemplateLoad(rel_path, table, form, tuple(problems))


def load_template(path: Path, root: Path, *, claim: Claim = Claim.NAMED) -> TemplateLoad:
    """Read and parse one template file; an unreadable file is a Problem, never an exception.

    A file only discovery found (Claim.FOUND) that is not UTF-8 text or is over the size
    limit is skipped with the reason; any other read failure is a Problem (a coverage gap).
    """
    rel_path = relative(path, root)
    try:
        text = read_text_bounded(path, DEFAULT_MAX_BYTES)
    except UnreadableFile as exc:
        if claim is Claim.FOUND and exc.kind is not Unreadable.FAILED:
            return TemplateLoad(rel_path, None, None, (), exc.message)
        problem = Problem(rel_path, exc.message, exc.line, unread=True)
        return TemplateLoad(rel_path, None, None, (problem,))
    return parse_template(text, rel_path, claim=claim)


# ---------------------------------------------------------------------------- the three forms


def _locate_fields(doc: Positioned) -> tuple[TemplateForm | None, Pointer, str | None]:
    """Which form the document has, where its field list is, or why it has none."""
    value = doc.value
    if isinstance(value, list):
        return TemplateForm.ARRAY, (), None
    if not isinstance(value, dict):
        return None, (), f"{_FORMS_HINT}; got {with_article(json_type(value))}"
    if "fields" in value:
        fields = value["fields"]
        if isinstance(fields, list):
            return TemplateForm.FIELDS_OBJECT, ("fields",), None
        got = with_article(json_type(fields))
        return TemplateForm.FIELDS_OBJECT, ("fields",), f"'fields' must be an array, got {got}"
    if "schema" in value:
        schema = value["schema"]
        if not isinstance(schema, dict):
            got = with_article(json_type(schema))
            message = f"'schema' must be an object with a 'fields' array, got {got}"
            return TemplateForm.TABLE_RESOURCE, ("schema",), message
        if "fields" not in schema:
            return TemplateForm.TABLE_RESOURCE, ("schema",), "'schema' has no 'fields' array"
        if not isinstance(schema["fields"], list):
            got = with_article(json_type(schema["fields"]))
            message = f"'schema.fields' must be an array, got {got}"
            return TemplateForm.TABLE_RESOURCE, ("schema", "fields"), message
        return TemplateForm.TABLE_RESOURCE, ("schema", "fields"), None
    return None, (), f'{_FORMS_HINT}; got an object without "fields" or "schema"'


def _at(value: Any, pointer: Pointer) -> Any:
    for part in pointer:
        value = value[part]
    return value


# ---------------------------------------------------------------------------- building


def _build_fields(items: Sequence[Any], pointer: Pointer, doc: Positioned) -> tuple[Field, ...]:
    # Recursion is bounded: parse_json caps nesting at 200, so at most 100 field levels.
    fields: list[Field] = []
    for index, item in enumerate(items):
        if not bqschema.is_usable(item):
            continue  # reported by _structure_problems
        here = (*pointer, index)
        sub = item.get("fields")
        children = _build_fields(sub, (*here, "fields"), doc) if isinstance(sub, list) else ()
        mode = item.get("mode")
        description = item.get("description")
        fields.append(
            Field(
                name=item["name"],
                type=item["type"],
                mode=mode.upper() if isinstance(mode, str) else "NULLABLE",
                description=description if isinstance(description, str) else None,
                fields=children,
                policy_tags=_policy_tags(item.get("policyTags")),
                line=doc.line_of((*here, "name")),
            )
        )
    return tuple(fields)


def _policy_tags(tags: Any) -> tuple[str, ...]:
    names = tags.get("names") if isinstance(tags, dict) else None
    if not isinstance(names, list):
        return ()
    return tuple(name for name in names if isinstance(name, str))


# ---------------------------------------------------------------------------- structure


@lru_cache(maxsize=1)
def _field_validator() -> Draft202012Validator:
    """A validator for ONE field object, read from the shipped JSON Schema on first use.

    The shipped schema is recursive (sub-fields are fields). Here sub-field items are
    accepted as they are, because walk_nodes visits and validates each of them itself:
    jsonschema recursion on deep nesting could otherwise exhaust the Python stack.
    """
    with format_schema(FIELD_SCHEMA).open(encoding="utf-8") as handle:
        schema = json.load(handle)
    defs = copy.deepcopy(schema["$defs"])
    defs["field"]["properties"]["fields"]["items"] = True
    # The field definition is the root, not a $ref to it: one lookup less per field.
    shallow = {**defs["field"], "$schema": schema["$schema"], "$defs": defs}
    Draft202012Validator.check_schema(shallow)
    return Draft202012Validator(shallow)


def _structure_problems(
    items: Sequence[Any], pointer: Pointer, doc: Positioned, path: str
) -> list[Problem]:
    validator = _field_validator()
    problems: list[Problem] = []
    for node in bqschema.walk_nodes(items, pointer):
        if _plainly_valid(node.value):
            continue  # the schema accepts it without a doubt; validating is most of the time
        column = node.column
        for error in validator.iter_errors(node.value):
            for where, message, skips in _explain(error, node):
                line = doc.line_of(where)
                problems.append(Problem(path, message, line, column, unread=skips))
    return problems


_PLAIN_STRING_KEYS = frozenset({"name", "type", "mode", "description"})


def _plainly_valid(value: Any) -> bool:
    """A field of only string name/type/mode/description and a `fields` array: a subset of
    what the field schema accepts (tests check it against the validator)."""
    if not isinstance(value, dict) or "name" not in value or "type" not in value:
        return False
    for key, item in value.items():
        if key == "fields":
            if not isinstance(item, list):
                return False
        elif key not in _PLAIN_STRING_KEYS or not isinstance(item, str):
            return False
    return True


def _explain(error: ValidationError, node: FieldNode) -> Iterator[tuple[Pointer, str, bool]]:
    """Readable messages for one jsonschema error: (pointer it is about, message, whether
    the mistake makes the field unusable, so that it is skipped and its contents unchecked).
    """
    rel = tuple(error.absolute_path)
    here: Pointer = (*node.pointer, *rel)
    what = _key_name(rel)
    # Without a name the column cannot identify the field, so the message does.
    which = "" if node.named else f"field at index {node.index}: "
    # Said only of what makes the field unusable: its own type, name or type.
    skips = rel in ((), ("name",), ("type",))
    skipped = "; the field is skipped" if skips else ""
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    expected: Any = error.validator_value
    instance = error.instance
    got = _shown(instance)
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        inside = f" in {what}" if rel else ""
        for key in instance:
            if key not in known:
                message = f"unknown key {key!r}{inside}{did_you_mean(key, known, ignore_case=True)}"
                yield (*here, key), which + message, False
    elif error.validator == "required" and isinstance(instance, dict):
        inside = f" in {what}" if rel else ""
        for key in expected:
            if key not in instance:
                yield here, f"{which}missing required key {key!r}{inside}{skipped}", skips
    elif error.validator == "type":
        wanted = (
            " or ".join(map(with_article, expected))
            if isinstance(expected, list)
            else with_article(expected)
        )
        if not rel:
            yield here, f"field at index {node.index} must be {wanted}, got {got}{skipped}", skips
        else:
            yield here, f"{which}{what} must be {wanted}, got {got}{skipped}", skips
    elif error.validator == "enum":
        allowed = ", ".join(map(str, expected))
        yield here, f"{which}{what} must be one of {allowed}, got {got}", False
    elif error.validator in ("anyOf", "oneOf") and "title" in schema:
        yield here, f"{which}{what} must be {schema['title']}, got {got}", False
    else:  # pragma: no cover - the schema uses only the keywords above
        yield here, f"{which}{what}: {error.message}", False


def _key_name(rel: Pointer) -> str:
    """How to name the value at rel inside a field: 'maxLength', 'policyTags.names[0]'."""
    text = ""
    for part in rel:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return repr(text) if text else "field"


def _shown(value: Any) -> str:
    """A JSON value for a message: scalars shown (shortened), containers only named."""
    kind = json_type(value)
    if isinstance(value, (list, dict)) or value is None:
        return with_article(kind)
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"
