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
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from auditor.errors import InputError
from auditor.model import Field, Location, Origin, Problem, TableSchema
from auditor.resources import format_schema
from auditor.sources import bqschema
from auditor.sources.bqschema import FieldNode
from auditor.sources.files import UnreadableFile, read_text_bounded, relative, walk_files
from auditor.sources.jsonpos import DEFAULT_MAX_BYTES, Pointer, Positioned, parse_json
from auditor.sources.jsonwords import did_you_mean, json_type, with_article

DEFAULT_TEMPLATE_GLOBS = ("*templates/*.json", "*schemas/*.json")
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


# ---------------------------------------------------------------------------- public API


def parse_template(text: str, rel_path: str) -> TemplateLoad:
    """Read one template's text. Never raises on bad input."""
    try:
        doc = parse_json(text, rel_path)
    except InputError as exc:
        failure = Problem(rel_path, exc.detail, exc.line, unread=True)
        return TemplateLoad(rel_path, None, None, (failure,))

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


def load_template(path: Path, root: Path) -> TemplateLoad:
    """Read and parse one template file; an unreadable file is a Problem, never an exception."""
    rel_path = relative(path, root)
    try:
        text = read_text_bounded(path, DEFAULT_MAX_BYTES)
    except UnreadableFile as exc:
        problem = Problem(rel_path, exc.message, exc.line, unread=True)
        return TemplateLoad(rel_path, None, None, (problem,))
    return parse_template(text, rel_path)


def discover_templates(root: Path, globs: Sequence[str] = DEFAULT_TEMPLATE_GLOBS) -> list[Path]:
    """Files under root whose root-relative posix path matches one of globs (fnmatch), sorted.

    Hidden and tooling folders and JSON Schemas (*.schema.json) are skipped. Raises InputError
    when root or a folder under it cannot be listed.
    """
    return walk_files(
        root,
        lambda rel: not rel.endswith(".schema.json") and any(fnmatchcase(rel, g) for g in globs),
    )


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
        column = node.column
        for error in validator.iter_errors(node.value):
            for where, message, skips in _explain(error, node):
                line = doc.line_of(where)
                problems.append(Problem(path, message, line, column, unread=skips))
    return problems


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
