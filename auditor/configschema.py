"""The shape of the project config, checked against schemas/formats/config.schema.json.

One JSON Schema says which tables and keys exist and what type each value has, for
`auditor.toml` and for `[tool.auditor]` in `pyproject.toml` alike. Its first violation
becomes a ConfigError naming the file and the line (TOML keeps no positions, so the line is
found in the text: the key's line, else its table header's).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from auditor.errors import InputError
from auditor.io.jsonwords import did_you_mean
from auditor.resources import format_schema

SCHEMA_NAME = "config"

_HEADER = re.compile(r"^\s*\[(?!\[)\s*([^\]]+?)\s*\]\s*(?:#.*)?$")


class ConfigError(InputError):
    """The configuration file is unreadable or invalid."""


@lru_cache(maxsize=1)
def config_schema() -> Mapping[str, Any]:
    schema: dict[str, Any] = json.loads(format_schema(SCHEMA_NAME).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


def sections() -> list[str]:
    return list(config_schema()["properties"])


def check_shape(data: Mapping[str, Any], text: str, source: str, prefix: str = "") -> None:
    """Raise ConfigError for the first place (in file order) where `data` breaks the schema.
    `prefix`: where the tables sit in the file ("tool.auditor." in a pyproject.toml)."""
    validator = Draft202012Validator(config_schema())
    errors = list(validator.iter_errors(data))
    if not errors:
        return
    located = [(_explain(e, data, prefix), e) for e in errors]
    lines = [(line_of(text, prefix, *_section_key(e)), message) for message, e in located]
    line, message = min(lines, key=lambda item: (item[0] is None, item[0] or 0))
    raise ConfigError(source, message, line)


def _section_key(error: ValidationError) -> tuple[str | None, str | None]:
    path = list(error.absolute_path)
    section = str(path[0]) if path else None
    key = str(path[1]) if len(path) > 1 else None
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = _unknown(error)
        if section is None:
            return (extra[0] if extra else None), None
        return section, (extra[0] if extra else None)
    return section, key


def _explain(error: ValidationError, data: Mapping[str, Any], prefix: str) -> str:
    path = list(error.absolute_path)
    schema = config_schema()
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = _unknown(error)
        if not path:
            known = sections()
            return (
                f"unknown section [{prefix}{extra[0]}]{did_you_mean(extra[0], known)}; "
                f"known: {', '.join(f'[{prefix}{s}]' for s in known)}"
            )
        section = str(path[0])
        known = list(schema["properties"][section]["properties"])
        return (
            f"unknown key {extra[0]!r} in [{prefix}{section}]{did_you_mean(extra[0], known)}; "
            f"known: {', '.join(known)}"
        )
    section = str(path[0]) if path else ""
    if len(path) == 1:
        return f"{section} must be a [{prefix}{section}] table"
    key = str(path[1])
    value = data[section][key]
    expected = _title(schema["properties"][section]["properties"][key], schema)
    shown = repr(value) if error.validator == "enum" and isinstance(value, str) else _show(value)
    return f"[{prefix}{section}] {key}: expected {expected}, not {shown}"


def _unknown(error: ValidationError) -> list[str]:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    allowed = set(schema.get("properties", {}))
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    return [str(k) for k in instance if k not in allowed]


def _title(node: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        node = schema["$defs"][ref.removeprefix("#/$defs/")]
    return str(node.get("title", "a valid value"))


def line_of(text: str, prefix: str, section: str | None, key: str | None) -> int | None:
    """1-based line of `key =` in table [prefix+section] (or of that table's header when key
    is None). Also finds `section.key =` under [prefix] and top-level dotted keys. None when
    it is written some other way."""
    if section is None:
        return None
    table = f"{prefix}{section}"
    parent = prefix.rstrip(".")
    current = ""
    header_line: int | None = None
    key_re = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=") if key else None
    dotted_re = re.compile(
        rf"^\s*{re.escape(section)}\s*\.\s*[\"']?{re.escape(key or '')}[\"']?\s*="
        if key
        else rf"^\s*{re.escape(section)}\s*[.=]"
    )
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            current = re.sub(r"[\s\"']", "", header.group(1))
            if current == table and header_line is None:
                header_line = number
                if key is None:
                    return number
            continue
        if current == table and key_re is not None and key_re.match(line):
            return number
        if current == parent and dotted_re.match(line):
            return number
    return header_line


def _show(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)  # fmt: skip
    return kind
