"""GoogleSQL as INFORMATION_SCHEMA prints it: column types (`ARRAY<STRUCT<a INT64>>`) and
option values (`"text"`, `[STRUCT("k", "v")]`). Strict parsers: anything unexpected raises
Malformed, and nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from auditor.gcp.retry import MalformedAnswer
from auditor.model import canonical_type


class Malformed(MalformedAnswer):
    """An answer that does not have the shape it must have."""


# --------------------------------------------------------------------------- type strings


@dataclass(frozen=True)
class Member:
    name: str
    type: ParsedType
    not_null: bool = False


@dataclass(frozen=True)
class ParsedType:
    """A GoogleSQL type as INFORMATION_SCHEMA spells it, e.g. ARRAY<STRUCT<a INT64>>."""

    name: str  # canonical standard SQL name: INT64, STRUCT, RANGE ...
    repeated: bool = False
    members: tuple[Member, ...] = ()


SCALAR_TYPES = frozenset(
    {
        "STRING", "BYTES", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "DATE", "TIME",
        "DATETIME", "GEOGRAPHY", "NUMERIC", "BIGNUMERIC", "JSON", "INTERVAL",
    }
)  # fmt: skip
_RANGE_ELEMENTS = frozenset({"DATE", "DATETIME", "TIMESTAMP"})
_TYPE_TOKEN_RE = re.compile(
    r"\s*(?:(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<quoted>`(?:[^`\\]|\\.)+`)"
    r"|(?P<number>[0-9]+)|(?P<punct>[<>(),]))"
)
MAX_TYPE_DEPTH = 16  # BigQuery allows 15 levels of nesting


def parse_type(text: str) -> ParsedType:
    """Parse an INFORMATION_SCHEMA data_type. Raises Malformed on anything unexpected."""
    tokens = list(_type_tokens(text))
    parser = _TypeParser(tokens)
    parsed = parser.type(0)
    if parser.pos != len(tokens):
        raise Malformed(f"unexpected {tokens[parser.pos][1]!r} in {text!r}")
    return parsed


def _type_tokens(text: str) -> Iterator[tuple[str, str]]:
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TYPE_TOKEN_RE.match(text, pos)
        if match is None:
            raise Malformed(f"unexpected character at {pos} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        if kind == "quoted":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        yield kind, value
        pos = match.end()


class _TypeParser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, kind: str, value: str | None = None) -> str:
        token = self._peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            want = value or kind
            raise Malformed(f"expected {want}, found {token[1] if token else 'end'!r}")
        self.pos += 1
        return token[1]

    def _is(self, kind: str, value: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == kind and token[1].upper() == value

    def type(self, depth: int) -> ParsedType:
        if depth > MAX_TYPE_DEPTH:
            raise Malformed("type nested too deeply")
        name = self._take("ident").upper()
        if name == "ARRAY":
            self._take("punct", "<")
            element = self.type(depth + 1)
            self._take("punct", ">")
            if element.repeated:
                raise Malformed("ARRAY of ARRAY")
            return ParsedType(element.name, True, element.members)
        if name == "STRUCT":
            self._take("punct", "<")
            members = [self._member(depth)]
            while self._is("punct", ","):
                self.pos += 1
                members.append(self._member(depth))
            self._take("punct", ">")
            return ParsedType("STRUCT", False, tuple(members))
        if name == "RANGE":
            self._take("punct", "<")
            bound = self._take("ident").upper()
            self._take("punct", ">")
            if bound not in _RANGE_ELEMENTS:
                raise Malformed(f"RANGE of {bound}")
            return ParsedType("RANGE")
        canonical = canonical_type(name)
        if canonical not in SCALAR_TYPES:
            raise Malformed(f"unknown type {name}")
        if self._is("punct", "("):  # STRING(10), NUMERIC(10, 2): parameters are not kept
            self.pos += 1
            self._take("number")
            while self._is("punct", ","):
                self.pos += 1
                self._take("number")
            self._take("punct", ")")
        return ParsedType(canonical)

    def _member(self, depth: int) -> Member:
        token = self._peek()
        if token is None or token[0] not in ("ident", "quoted"):
            raise Malformed("expected a field name")
        self.pos += 1
        member_type = self.type(depth + 1)
        not_null = False
        if self._is("ident", "NOT"):
            self.pos += 1
            if not self._is("ident", "NULL"):
                raise Malformed("NOT without NULL")
            self.pos += 1
            not_null = True
        return Member(token[1], member_type, not_null)


# --------------------------------------------------------------------------- option values

_LITERAL_TOKEN_RE = re.compile(
    r"\s*(?:(?P<string>\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*')"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[\[\](),]))",
    re.DOTALL,
)
_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "?": "?", '"': '"', "'": "'", "`": "`",
}  # fmt: skip
_ESCAPE_RE = re.compile(
    r"\\(?:(?P<simple>[abfnrtv\\?\"'`])|(?P<octal>[0-7]{3})|[xX](?P<hex>[0-9a-fA-F]{2})"
    r"|u(?P<u4>[0-9a-fA-F]{4})|U(?P<u8>[0-9a-fA-F]{8})|(?P<bad>.))",
    re.DOTALL,
)


def unquote_string(literal: str) -> str:
    """The value of a GoogleSQL quoted string literal ("..." or '...'); Malformed if bad."""
    if len(literal) < 2 or literal[0] not in "\"'" or literal[-1] != literal[0]:
        raise Malformed(f"not a string literal: {literal[:40]!r}")

    def replace(match: re.Match[str]) -> str:
        if match.group("simple") is not None:
            return _SIMPLE_ESCAPES[match.group("simple")]
        if match.group("octal") is not None:
            return chr(int(match.group("octal"), 8))
        for group in ("hex", "u4", "u8"):
            if match.group(group) is not None:
                code = int(match.group(group), 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise Malformed("invalid code point in a string literal")
                return chr(code)
        raise Malformed(f"unknown escape {match.group(0)!r} in a string literal")

    return _ESCAPE_RE.sub(replace, literal[1:-1])


def parse_literal(text: str) -> Any:
    """A GoogleSQL literal as option_value prints it: a string, NULL, [..] or STRUCT(..).

    Returns str, None, list or tuple (a STRUCT). Malformed on anything else.
    """
    tokens: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _LITERAL_TOKEN_RE.match(stripped, pos)
        if match is None:
            raise Malformed(f"unexpected character at {pos} in an option value")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    value, end = _literal(tokens, 0, 0)
    if end != len(tokens):
        raise Malformed("trailing text after an option value")
    return value


def _literal(tokens: list[tuple[str, str]], pos: int, depth: int) -> tuple[Any, int]:
    if depth > 4 or pos >= len(tokens):
        raise Malformed("option value too deep or cut short")
    kind, value = tokens[pos]
    if kind == "string":
        return unquote_string(value), pos + 1
    if kind == "ident" and value.upper() == "NULL":
        return None, pos + 1
    if (kind, value) == ("punct", "[") or (kind == "ident" and value.upper() == "STRUCT"):
        is_struct = kind == "ident"
        if is_struct:
            pos += 1
            if pos >= len(tokens) or tokens[pos] != ("punct", "("):
                raise Malformed("STRUCT without (")
        close = ")" if is_struct else "]"
        items: list[Any] = []
        pos += 1
        if pos < len(tokens) and tokens[pos] == ("punct", close):
            return (tuple(items) if is_struct else items), pos + 1
        while True:
            item, pos = _literal(tokens, pos, depth + 1)
            items.append(item)
            if pos < len(tokens) and tokens[pos] == ("punct", ","):
                pos += 1
                continue
            if pos < len(tokens) and tokens[pos] == ("punct", close):
                return (tuple(items) if is_struct else items), pos + 1
            raise Malformed(f"expected , or {close} in an option value")
    raise Malformed(f"unexpected {value!r} in an option value")


def string_option(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed("option value is not text")
    parsed = parse_literal(value)
    if parsed is None or parsed == "":
        return None
    if not isinstance(parsed, str):
        raise Malformed("option value is not a string")
    return parsed


def labels_option(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, str):
        raise Malformed("labels option is not text")
    parsed = parse_literal(value)
    if parsed is None:
        return {}
    if not isinstance(parsed, list):
        raise Malformed("labels option is not an array")
    labels: dict[str, str] = {}
    for item in parsed:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise Malformed("a label is not a STRUCT of two strings")
        key, label = item
        if not isinstance(key, str) or not isinstance(label, str) or key in labels:
            raise Malformed("a label is not a STRUCT of two strings")
        labels[key] = label
    return labels
