"""YAML with line numbers: safe loading into plain JSON-like values, and errors that point at lines.

Only JSON's data model comes out (mappings with string keys, lists, strings, numbers,
booleans, null); dates stay the strings they were written as. Every other tag, duplicate
keys, merge keys, oversized files and alias bombs are rejected with the file and line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import validator_for

from auditor import limits
from auditor.errors import InputError

Pointer = tuple[str | int, ...]

MAX_BYTES = limits.MAX_YAML_BYTES
MAX_NODES = limits.MAX_YAML_NODES
MAX_DEPTH = limits.MAX_YAML_DEPTH

_TAG_PREFIX = "tag:yaml.org,2002:"
_SEQ = _TAG_PREFIX + "seq"
_MAP = _TAG_PREFIX + "map"
_MERGE = _TAG_PREFIX + "merge"
_TIMESTAMP = _TAG_PREFIX + "timestamp"
_PLAIN_SCALARS = frozenset(_TAG_PREFIX + t for t in ("null", "bool", "int", "float", "str"))


@dataclass(frozen=True)
class Positioned:
    """A loaded document and the 1-based line of every key, list item and value in it.

    A mapping entry's pointer maps to the line of its key; a list item's to the line where
    the item starts; `()` to the line where the document starts.
    """

    path: str
    value: Any
    lines: Mapping[Pointer, int]

    def line_of(self, pointer: Sequence[str | int]) -> int:
        """Line of `pointer`, or of its nearest ancestor that has one."""
        current = tuple(pointer)
        while current:
            line = self.lines.get(current)
            if line is not None:
                return line
            current = current[:-1]
        return self.lines.get((), 1)

    def at(self, pointer: Sequence[str | int]) -> Any:
        """The value at `pointer` (KeyError/IndexError/TypeError if it is not there)."""
        value = self.value
        for part in pointer:
            value = value[part]
        return value


def read_yaml(path: Path) -> Positioned:
    """Read and load a YAML file; InputError (with the line where known) if that fails."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(name, _too_big(size))
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except IsADirectoryError:
        raise InputError(name, "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(name, f"not UTF-8 text (byte offset {exc.start})", line) from None
    return load_yaml(text, name)


def load_yaml(text: str, path: str) -> Positioned:
    """Load one YAML document from `text`; `path` names it in errors."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_BYTES:
        raise InputError(path, _too_big(size))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise InputError(path, _syntax_message(exc), _mark_line(exc.problem_mark)) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise InputError(path, f"invalid YAML: {_reader_problem(exc)}", line) from None
    except yaml.YAMLError as exc:
        raise InputError(path, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise InputError(path, "invalid YAML: nesting is too deep") from None
    lines: dict[Pointer, int] = {}
    if root is None:
        lines[()] = 1
        return Positioned(path, None, lines)
    converter = _Converter(path, lines)
    value = converter.convert(root, (), frozenset())
    return Positioned(path, value, lines)


def _too_big(size: int) -> str:
    return f"file is {size} bytes; the limit is {MAX_BYTES} bytes (1 MiB)"


def _mark_line(mark: yaml.Mark | None) -> int | None:
    return mark.line + 1 if mark is not None else None


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "syntax error"
    if exc.context:
        return f"invalid YAML: {problem} ({exc.context})"
    return f"invalid YAML: {problem}"


def _reader_problem(exc: yaml.reader.ReaderError) -> str:
    character = exc.character
    code = character if isinstance(character, int) else ord(character)
    return f"unacceptable character #x{code:04x}: {exc.reason}"


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _pair_surrogates(text: str) -> str:
    """PyYAML turns the escapes "\\ud83d\\ude00" into two lone surrogates, which no output
    can encode; JSON reads them as the one character they spell. Do the same."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_TAG_PREFIX) :] if tag.startswith(_TAG_PREFIX) else tag


class _Converter:
    """Turns a composed node graph into plain values, recording lines and bounding size."""

    def __init__(self, path: str, lines: dict[Pointer, int]) -> None:
        self.path = path
        self.lines = lines
        self.nodes = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, message: str, node: yaml.Node) -> InputError:
        return InputError(self.path, message, node.start_mark.line + 1)

    def convert(self, node: yaml.Node, pointer: Pointer, active: frozenset[int]) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(
                f"document too large: more than {MAX_NODES} nodes once aliases are expanded",
                node,
            )
        if len(pointer) > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels", node)
        self.lines.setdefault(pointer, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in active:
            raise self.fail("recursive alias: a node contains itself", node)
        inner = active | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self.fail(f"unsupported tag '{_tag_name(node.tag)}'", node)
            return [self.convert(item, (*pointer, i), inner) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self.fail(f"unsupported tag '{_tag_name(node.tag)}'", node)
            return self.mapping(node, pointer, inner)
        raise self.fail(f"unsupported YAML node {type(node).__name__}", node)

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _TIMESTAMP:
            return node.value  # keep dates as written: "2026-01-01", not a date object
        if node.tag not in _PLAIN_SCALARS:
            raise self.fail(f"unsupported tag '{_tag_name(node.tag)}'", node)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.fail(f"invalid value: {exc}", node) from None
        except ValueError as exc:  # e.g. an integer longer than Python's int digit limit
            raise self.fail(f"invalid value: {exc}", node) from None
        if not isinstance(value, str):
            return value
        value = _pair_surrogates(value)
        if lone := _LONE_SURROGATE.search(value):  # no output could encode it
            raise self.fail(f"string holds an unpaired surrogate \\u{ord(lone.group()):04x}", node)
        return value

    def mapping(
        self, node: yaml.MappingNode, pointer: Pointer, active: frozenset[int]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            self.nodes += 1
            if key_node.tag == _MERGE:
                raise self.fail("merge keys ('<<') are not supported", key_node)
            key = self.key(key_node)
            line = key_node.start_mark.line + 1
            if key in first_line:
                message = f"duplicate key '{key}' (first at line {first_line[key]})"
                raise self.fail(message, key_node)
            first_line[key] = line
            self.lines[(*pointer, key)] = line
            result[key] = self.convert(value_node, (*pointer, key), active)
        return result

    def key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail("mapping keys must be strings, not lists or mappings", node)
        value = self.scalar(node)
        if not isinstance(value, str):
            message = f"mapping key {node.value!r} is read as {describe_value(value)}"
            raise self.fail(f"{message}; quote it to make it a string", node)
        return value


# --- JSON Schema validation with lines ----------------------------------------------------


@dataclass(frozen=True, order=True)
class SchemaProblem:
    line: int
    message: str


def schema_problems(
    doc: Positioned, schema: Mapping[str, Any], at: Sequence[str | int] = ()
) -> list[SchemaProblem]:
    """Validate the value at pointer `at` against `schema`; problems sorted by line.

    Each message starts with the dotted path of the offending value, except unknown and
    missing keys, which name the key.
    """
    base = tuple(at)
    cls = validator_for(schema, default=Draft202012Validator)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    problems: set[SchemaProblem] = set()
    for error in validator.iter_errors(doc.at(base)):
        problems.update(_problems(doc, base + tuple(error.absolute_path), error))
    return sorted(problems)


def dotted(pointer: Sequence[str | int]) -> str:
    """`("scope", "datasets", 0)` -> `scope.datasets[0]`; the root is `(top level)`."""
    text = ""
    for part in pointer:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _problems(doc: Positioned, pointer: Pointer, error: ValidationError) -> Iterable[SchemaProblem]:
    where = dotted(pointer)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    rule_value: Any = error.validator_value
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        for key in error.instance:
            if key in known or any(re.search(p, key) for p in patterns):
                continue
            yield SchemaProblem(doc.line_of((*pointer, key)), _unknown_key(key, known, pointer))
        return
    if error.validator == "required" and isinstance(error.instance, dict):
        prefix = f"{where}: " if pointer else ""
        misspelt = _misspelt(error.instance, schema)
        for key in rule_value:
            if key not in error.instance and key not in misspelt:
                yield SchemaProblem(doc.line_of(pointer), f"{prefix}missing required key '{key}'")
        return
    if error.validator == "type":
        names = [rule_value] if isinstance(rule_value, str) else list(rule_value)
        message = f"{where}: expected {' or '.join(_TYPE_NAMES.get(n, n) for n in names)}, "
        message += f"got {describe_value(error.instance)}"
        if "string" in names and isinstance(error.instance, int | float):
            message += "; quote it to make it a string"
        yield SchemaProblem(doc.line_of(pointer), message)
        return
    if error.validator == "enum" and isinstance(rule_value, list):
        options = [str(o) for o in rule_value]
        message = f"{where}: {error.instance!r} is not one of: {', '.join(options)}"
        yield SchemaProblem(doc.line_of(pointer), message + _suggest(error.instance, options))
        return
    yield SchemaProblem(doc.line_of(pointer), f"{where}: {error.message}")


_TYPE_NAMES = {
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}


def describe_value(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _misspelt(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> set[str]:
    """Known keys that an unknown key of `instance` looks like a typo of.

    Their absence is already reported as "unknown key 'x' (did you mean ...)".
    """
    if schema.get("additionalProperties") is not False:
        return set()
    known = list(schema.get("properties", {}))
    return {close for key in instance if key not in known for close in _close(key, known)}


def _close(word: str, options: list[str]) -> list[str]:
    return difflib.get_close_matches(word, options, n=1, cutoff=0.6)


def _unknown_key(key: str, known: list[str], pointer: Pointer) -> str:
    where = f" in {dotted(pointer)}" if pointer else ""
    hint = _suggest(key, known)
    if not hint:
        hint = f" (allowed: {', '.join(sorted(known))})" if known else " (no keys are allowed)"
    return f"unknown key '{key}'{where}{hint}"


def _suggest(word: Any, options: list[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = _close(word, options)
    return f" (did you mean '{close[0]}'?)" if close else ""
