"""A strict JSON parser that also says on which line every value and object key starts.

The standard library's json module gives values but no positions, and a problem in a table
template is only useful when it names the line. This parser is iterative (an explicit
stack, never Python recursion), so hostile nesting ends in a clean InputError, and it
enforces a depth and a size limit before doing any real work.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from json import JSONDecodeError
from json import decoder as _decoder
from typing import Any

from auditor import limits
from auditor.errors import InputError

# The C string scanner behind json.loads; typeshed leaves it out, json.decoder exports it.
_scanstring: Callable[[str, int, bool], tuple[str, int]] = _decoder.scanstring  # type: ignore[attr-defined]

Pointer = tuple[str | int, ...]

DEFAULT_MAX_DEPTH = limits.MAX_JSON_DEPTH
DEFAULT_MAX_BYTES = limits.MAX_JSON_BYTES

_WS_RE = re.compile(r"[ \t\n\r]*")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
# Counted the way editors and sqldocs count them: \r\n, \r and \n each end a line.
_LINE_BREAK_RE = re.compile(r"\r\n?|\n")
_LITERALS: tuple[tuple[str, Any], ...] = (("true", True), ("false", False), ("null", None))
_NON_JSON_WORDS = ("NaN", "Infinity", "-Infinity")


@dataclass(frozen=True)
class Positioned:
    """A parsed JSON document and the 1-based line of each value, keyed by JSON pointer.

    An object member's pointer maps to the line of its key (where a reader looks for it),
    any other value's pointer to the line where the value starts. The root is ().
    """

    value: Any
    lines: Mapping[Pointer, int] = field(default_factory=dict)

    def line_of(self, pointer: Pointer) -> int | None:
        """Line of pointer, or of its nearest ancestor that has one; None if none has."""
        for end in range(len(pointer), -1, -1):
            line = self.lines.get(pointer[:end])
            if line is not None:
                return line
        return None


@dataclass
class _Frame:
    """An open array or object: the container being filled and where it sits."""

    pointer: Pointer
    container: list[Any] | dict[str, Any]
    key: str = ""  # the member being read, for objects


class _Parser:
    def __init__(self, text: str, path: str, max_depth: int) -> None:
        self.text = text
        self.path = path
        self.max_depth = max_depth
        self.breaks = [m.end() for m in _LINE_BREAK_RE.finditer(text)]
        self.lines: dict[Pointer, int] = {}

    def line_at(self, offset: int) -> int:
        return bisect.bisect_right(self.breaks, offset) + 1

    def fail(self, message: str, offset: int) -> InputError:
        return InputError(self.path, message, self.line_at(min(offset, len(self.text))))

    def skip_ws(self, pos: int) -> int:
        if pos < len(self.text) and self.text[pos] not in " \t\n\r":
            return pos  # the common case, without a regex call
        match = _WS_RE.match(self.text, pos)
        return match.end() if match else pos

    def parse(self) -> Any:
        text = self.text
        stack: list[_Frame] = []
        pos = self.skip_ws(1 if text.startswith("\ufeff") else 0)  # RFC 8259 lets us skip a BOM
        if pos >= len(text):
            raise self.fail("no JSON value (the document is empty)", pos)
        pointer: Pointer = ()
        while True:
            # Here pos should be at the start of a value whose pointer is `pointer`.
            if pos >= len(text):
                raise self.fail("unexpected end of input; expected a value", pos)
            self.lines.setdefault(pointer, self.line_at(pos))
            char = text[pos]
            value: Any
            if char in "[{":
                if len(stack) >= self.max_depth:
                    raise self.fail(f"nesting deeper than {self.max_depth} levels", pos)
                closer = "]" if char == "[" else "}"
                frame = _Frame(pointer, [] if char == "[" else {})
                after = self.skip_ws(pos + 1)
                if after < len(text) and text[after] == closer:
                    value, pos = frame.container, after + 1
                else:
                    stack.append(frame)
                    if char == "[":
                        pos, pointer = after, (*pointer, 0)
                    else:
                        pos, pointer = self.member_key(frame, after, first=True)
                    continue
            else:
                value, pos = self.scalar(pos)

            # A value is complete: attach it, then close every container that ends here.
            while True:
                if not stack:
                    end = self.skip_ws(pos)
                    if end < len(text):
                        raise self.fail("unexpected data after the JSON value", end)
                    return value
                frame = stack[-1]
                pos = self.skip_ws(pos)
                char = text[pos] if pos < len(text) else ""
                if isinstance(frame.container, list):
                    frame.container.append(value)
                    if char == ",":
                        pos = self.skip_ws(pos + 1)
                        if pos < len(text) and text[pos] == "]":
                            raise self.fail("trailing comma before ']'", pos)
                        pointer = (*frame.pointer, len(frame.container))
                        break
                    if char != "]":
                        raise self.expected("',' or ']' after array element", pos)
                else:
                    frame.container[frame.key] = value
                    if char == ",":
                        pos, pointer = self.member_key(frame, self.skip_ws(pos + 1), first=False)
                        break
                    if char != "}":
                        raise self.expected("',' or '}' after object member", pos)
                stack.pop()
                value, pos = frame.container, pos + 1

    def member_key(self, frame: _Frame, pos: int, *, first: bool) -> tuple[int, Pointer]:
        """Read `"key" :` at pos; return where the member's value starts and its pointer."""
        text = self.text
        if pos >= len(text) or text[pos] != '"':
            if not first and pos < len(text) and text[pos] == "}":
                raise self.fail("trailing comma before '}'", pos)
            wanted = "a string key in double quotes" + (" or '}'" if first else "")
            raise self.expected(wanted, pos)
        key, end = self.string(pos)
        assert isinstance(frame.container, dict)
        if key in frame.container:
            # Parsers disagree on which duplicate wins, so the file means different things
            # to different tools (e.g. a second "policyTags" silently replacing the first).
            raise self.fail(f"duplicate key {key!r} in object", pos)
        frame.key = key
        pointer = (*frame.pointer, key)
        self.lines[pointer] = self.line_at(pos)
        end = self.skip_ws(end)
        if end >= len(text) or text[end] != ":":
            raise self.expected("':' after object key", end)
        return self.skip_ws(end + 1), pointer

    def scalar(self, pos: int) -> tuple[Any, int]:
        text = self.text
        char = text[pos]
        if char == '"':
            return self.string(pos)
        for word, literal in _LITERALS:
            if text.startswith(word, pos):
                return literal, pos + len(word)
        for word in _NON_JSON_WORDS:
            if text.startswith(word, pos):
                raise self.fail(f"{word} is not valid JSON", pos)
        match = _NUMBER_RE.match(text, pos)
        if match is None:
            raise self.expected("a value", pos)
        return self.number(match, pos), match.end()

    def number(self, match: re.Match[str], pos: int) -> int | float:
        token = match.group()
        if match.group(1) is None and match.group(2) is None:
            try:
                return int(token)
            except ValueError:  # longer than Python's int digit limit
                raise self.fail("integer has too many digits", pos) from None
        value = float(token)
        if value in (float("inf"), float("-inf")):
            raise self.fail("number is too large", pos)
        return value

    def string(self, pos: int) -> tuple[str, int]:
        try:
            return _scanstring(self.text, pos + 1, True)
        except JSONDecodeError as exc:
            raise self.fail(_string_message(exc, self.text), exc.pos) from None

    def expected(self, what: str, pos: int) -> InputError:
        if pos >= len(self.text):
            return self.fail(f"unexpected end of input; expected {what}", pos)
        return self.fail(f"expected {what}, found {_shown(self.text[pos])}", pos)


def _string_message(exc: JSONDecodeError, text: str) -> str:
    if exc.msg.startswith("Unterminated string"):
        return "unterminated string"
    if exc.msg.startswith("Invalid control character"):
        char = text[exc.pos] if exc.pos < len(text) else ""
        if char in "\r\n":
            return "unterminated string (line break inside a string)"
        return f"control character {_shown(char)} inside a string must be escaped"
    if exc.msg.startswith("Invalid \\uXXXX"):
        return "invalid \\u escape in string (needs 4 hex digits)"
    if exc.msg.startswith("Invalid \\escape"):
        return "invalid escape in string"
    return exc.msg  # pragma: no cover - scanstring raises only the messages above


def _shown(char: str) -> str:
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"


def parse_json(
    text: str,
    path: str,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Positioned:
    """Parse strict JSON (RFC 8259) and record where each value is.

    Raises InputError(path, message, line) for anything that is not JSON, for nesting
    deeper than max_depth arrays/objects, for text over max_bytes UTF-8 bytes, and for an
    object with the same key twice.
    """
    # Cheap test first: each character is at least one byte.
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InputError(path, f"file is larger than {limits.size_text(max_bytes)}; not read")
    parser = _Parser(text, path, max_depth)
    value = parser.parse()
    return Positioned(value, parser.lines)


def load_json_value(text: str, path: str, *, max_depth: int, max_bytes: int) -> Any:
    """Strict JSON through the standard library's C parser, for large machine-written files
    (saved reports) where parse_json's line numbers are not worth its speed (about 2 MB/s).

    Raises InputError(path, message) for text nested deeper than max_depth, over max_bytes,
    holding NaN or Infinity, or an integer too long to convert; JSONDecodeError (with its
    line) for other syntax errors, worded by the caller. Duplicate keys: the last one wins.
    """
    if _utf8_size(text, max_bytes) > max_bytes:
        raise InputError(path, f"file is larger than {limits.size_text(max_bytes)}; not read")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except JSONDecodeError:  # a ValueError too: left to the caller, who words it
        raise
    except RecursionError:  # the C parser stops near Python's recursion limit
        raise InputError(path, f"nesting deeper than {max_depth} levels") from None
    except ValueError as exc:  # an integer longer than Python's int digit limit, or NaN
        raise InputError(path, f"invalid JSON: {exc}") from None
    if _depth_exceeds(value, max_depth):
        raise InputError(path, f"nesting deeper than {max_depth} levels")
    return value


def _utf8_size(text: str, limit: int) -> int:
    """UTF-8 size of text; an ASCII text (a saved report) is not copied to count it."""
    if len(text) > limit or text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _refuse_constant(word: str) -> Any:
    raise ValueError(f"{word} is not valid JSON")


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether arrays/objects nest deeper than max_depth in value (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        if depth + 1 > max_depth:
            return True
        stack.extend((child, depth + 1) for child in item)
    return False
