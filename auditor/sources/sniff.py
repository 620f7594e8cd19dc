"""Is this JSON a BigQuery table schema? Discovery asks it of files nobody named as templates.

A folder called `schemas/` also holds JSON Schema documents, configs, test cases and other
systems' schemas (Firestore, Avro). Those are skipped with a reason; a file that looks like a
BigQuery field list is a template, and its mistakes are reported like any template's. The
judgement is on shape and vocabulary, never on the file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any

from auditor.io.jsonwords import json_type, with_article
from auditor.model import canonical_type
from auditor.sources import bqschema

# Field types of other schema languages (Firestore, Avro, JSON Schema, Spark), written as those
# systems write them. BigQuery users write types in capitals, and a capitalised near miss
# ("ARRAY", "STRNG") is a mistake in a BigQuery schema, not another language.
_FOREIGN_TYPES = frozenset(
    {
        "number", "map", "array", "object", "geopoint", "reference", "null", "any", "long",
        "double", "int", "list", "dict", "enum", "fixed", "uuid", "varchar", "text", "char",
    }
)  # fmt: skip
# Text that only a BigQuery field list holds: "type": "STRING", "mode": "REPEATED", "fields": [.
_SCHEMA_TEXT_RE = re.compile(
    r'"type"\s*:\s*"(?:STRING|BYTES|INTEGER|INT64|FLOAT|FLOAT64|NUMERIC|BIGNUMERIC|BOOLEAN|BOOL|'
    r'TIMESTAMP|DATE|TIME|DATETIME|GEOGRAPHY|INTERVAL|JSON|RECORD|STRUCT|RANGE)"'
    r'|"mode"\s*:\s*"(?:NULLABLE|REQUIRED|REPEATED)"'
    r'|"fields"\s*:\s*\['
)
_SHOWN_KEYS = 5


class Claim(StrEnum):
    """How firmly a file is an input: named by a template glob (judged whatever it holds), in
    a tenant/customers scope (a field list there is a template even with odd types, and
    broken JSON there is a broken template: the onboarding engine loads the folder), or only
    found by discovery (judged by shape and vocabulary)."""

    NAMED = "named"
    SCOPED = "scoped"
    FOUND = "found"


_MAX_VISITED = 2_000  # bounds the search for a field list embedded in a bigger document


def looks_like_schema_text(text: str) -> bool:
    """For a file that is not valid JSON: does its text carry BigQuery field syntax?"""
    return _SCHEMA_TEXT_RE.search(text) is not None


def not_a_table_schema(value: Any, claim: Claim = Claim.FOUND) -> str | None:
    """None when `value` has a template form (an array of fields, {"fields": [...]}, or a
    table resource with "schema": {"fields": [...]}) whose fields read as BigQuery's (for a
    SCOPED file: any fields with a name and type); otherwise why it is not a BigQuery table
    schema."""
    vocabulary = claim is Claim.FOUND
    if isinstance(value, list):
        return _field_list_reason(value, "a JSON array", vocabulary)
    if not isinstance(value, dict):
        return f"{with_article(json_type(value))}, not a table schema"
    if "$schema" in value:
        return 'declares "$schema": a JSON Schema document (or a file checked by one)'
    if value.get("type") == "object" and isinstance(value.get("properties"), dict):
        return 'a JSON Schema document ("type": "object" with "properties")'
    if "fields" in value:
        fields = value["fields"]
        if not isinstance(fields, list):
            return f"'fields' is {with_article(json_type(fields))}, not a list of fields"
        avro = value.get("type") == "record"
        what = "an Avro record" if avro else "its 'fields' list"
        reason = _field_list_reason(fields, what, vocabulary)
        return reason or ("an Avro record schema" if avro else None)
    schema = value.get("schema")
    if isinstance(schema, dict) and isinstance(schema.get("fields"), list):
        return _field_list_reason(schema["fields"], "its 'schema.fields' list", vocabulary)
    keys = _keys(value)
    hint = _embedded_hint(value)
    return f'a JSON object with keys {keys} and no "fields" or "schema"{hint}'


def _field_list_reason(items: Sequence[Any], what: str, vocabulary: bool) -> str | None:
    if not items:
        return f"{what} is empty: no columns to check"
    if not any(isinstance(i, dict) and "name" in i and "type" in i for i in items):
        described = _describe_items(items)
        return f"{what} holds {described}, not fields with a name and type{_embedded_hint(items)}"
    if not vocabulary:
        return None
    written = [
        node.value["type"]
        for node in bqschema.walk_nodes(items, ())
        if node.usable and isinstance(node.value.get("type"), str)
    ]
    foreign = sorted({t for t in written if t in _FOREIGN_TYPES})
    known = sum(1 for t in written if canonical_type(t) in bqschema.KNOWN_TYPES)
    if foreign or known * 2 < len(written):
        others = foreign or sorted(
            {t for t in written if canonical_type(t) not in bqschema.KNOWN_TYPES}
        )
        shown = ", ".join(repr(t) for t in others[:4])
        return f"field types {shown} are not BigQuery types: a schema of another system"
    return None


def _describe_items(items: Sequence[Any]) -> str:
    first = next((i for i in items if isinstance(i, dict)), None)
    if first is None:
        kinds = sorted({json_type(i) for i in items})
        return " and ".join(f"{k}s" for k in kinds)
    return f"objects with keys {_keys(first)}"


def _keys(value: Mapping[str, Any]) -> str:
    keys = list(value)
    shown = ", ".join(keys[:_SHOWN_KEYS])
    return shown + (", ..." if len(keys) > _SHOWN_KEYS else "") if keys else "(none)"


def _embedded_hint(value: Any) -> str:
    """Where a document embeds a field list (a pipeline config, a list of table
    definitions), say so: the file is skipped, but a person may want to configure it."""
    for path in _field_lists(value):
        return f"; it embeds a field list at {path}"
    return ""


def _field_lists(value: Any) -> Iterator[str]:
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    visited = 0
    while stack and visited < _MAX_VISITED:
        path, node, depth = stack.pop()
        visited += 1
        if isinstance(node, dict):
            fields = node.get("fields")
            if path and isinstance(fields, list) and fields and _named_and_typed(fields):
                yield f"{path}.fields"
                return
            if depth < 4:
                for key in reversed(list(node)):
                    stack.append((f"{path}.{key}" if path else str(key), node[key], depth + 1))
        elif isinstance(node, list) and depth < 4:
            for index in reversed(range(min(len(node), 50))):
                stack.append((f"{path}[{index}]", node[index], depth + 1))


def _named_and_typed(items: Sequence[Any]) -> bool:
    return all(isinstance(i, dict) and "name" in i and "type" in i for i in items)
