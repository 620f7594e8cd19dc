"""A JSON Schema subset compiled into plain Python checks, for saved reports at size.

jsonschema walks every value through generic machinery: 100,000 findings took about 11 s,
most of `auditor report`. The report schema uses a small subset of draft 2020-12, so it is
compiled once into closures that answer the same question (does this value conform?) in
about a tenth of the time. Any keyword outside the subset is refused when compiling, so a
schema change cannot silently weaken the check; tests compare the two validators on mutated
reports. On a failure the caller asks jsonschema for its wording (slow only for bad input).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator

Check = Callable[[Any], bool]
_NUMBER = (int, float)  # tuples: `int | float` would build a union object per call
_CONTAINER = (dict, list)

# Keywords that only describe; they never change the answer.
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "$comment", "examples"})
_HANDLED = frozenset(
    {
        "type", "enum", "const", "pattern", "minLength", "minimum", "required", "properties",
        "additionalProperties", "items", "$ref", "format", "$defs", "oneOf", "anyOf", "allOf",
    }
)  # fmt: skip


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this compiler does not implement."""


def _is_type(name: str) -> Check:
    checks: dict[str, Check] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
        "number": lambda v: isinstance(v, _NUMBER) and not isinstance(v, bool),
        # Draft 2020-12: 1.0 is an integer; a boolean never is.
        "integer": lambda v: (
            isinstance(v, int) and not isinstance(v, bool)
        ) or (isinstance(v, float) and v.is_integer()),
    }
    if name not in checks:
        raise UnsupportedSchema(f"type {name!r}")
    return checks[name]


def _equal(a: Any, b: Any) -> bool:
    """jsonschema's equality: booleans are not numbers, containers compare deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, _CONTAINER) or isinstance(b, _CONTAINER):
        return False
    return bool(a == b)


def _plain_string(schema: Any) -> bool:
    return isinstance(schema, Mapping) and set(schema) - _ANNOTATIONS == {"type"} and (
        schema["type"] == "string"
    )


def _enum(options: list[Any]) -> Check:
    if options and all(isinstance(o, str) for o in options):
        strings = frozenset(options)  # the common case: a set lookup
        return lambda v: isinstance(v, str) and v in strings
    return lambda v: any(_equal(v, o) for o in options)


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    return lambda v: all(c(v) for c in checks)


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}
        self.pending: set[str] = set()
        self.formats = Draft202012Validator.FORMAT_CHECKER

    def ref(self, pointer: str) -> Check:
        if not pointer.startswith("#/"):
            raise UnsupportedSchema(f"$ref {pointer!r} (only local refs)")
        if pointer in self.refs:
            return self.refs[pointer]
        if pointer in self.pending:  # a recursive schema: look the check up when called
            refs = self.refs
            return lambda v: refs[pointer](v)
        self.pending.add(pointer)
        node: Any = self.root
        for part in pointer[2:].split("/"):
            node = node[part]
        self.refs[pointer] = check = self.compile(node)
        self.pending.discard(pointer)
        return check

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, Mapping):
            raise UnsupportedSchema(f"schema {schema!r}")
        unknown = set(schema) - _HANDLED - _ANNOTATIONS
        if unknown:
            raise UnsupportedSchema(f"keyword(s) {', '.join(sorted(unknown))}")
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        names = schema.get("type", [])
        names = names if isinstance(names, list) else [names]
        # The common shapes get one fused closure: the type test, then its own constraints.
        typed = len(names) == 1 and names[0] in ("string", "object")
        if names and not typed:
            types = [_is_type(n) for n in names]
            checks.append(types[0] if len(types) == 1 else lambda v: any(t(v) for t in types))
        if "enum" in schema:
            checks.append(_enum(list(schema["enum"])))
        if "const" in schema:
            const = schema["const"]
            checks.append(lambda v: _equal(v, const))
        strings = self._strings(schema)
        if names == ["string"]:
            rest = _all(strings)
            checks.append(lambda v: isinstance(v, str) and rest(v))
        elif strings:
            rest = _all(strings)
            checks.append(lambda v: not isinstance(v, str) or rest(v))
        if "minimum" in schema:
            low = schema["minimum"]
            checks.append(
                lambda v: not isinstance(v, _NUMBER) or isinstance(v, bool) or v >= low
            )
        members = self._members(schema)
        if names == ["object"]:
            checks.append(lambda v: isinstance(v, dict) and members(v))
        else:
            checks.append(lambda v: not isinstance(v, dict) or members(v))
        if "oneOf" in schema:  # exactly one
            ones = [self.compile(sub) for sub in schema["oneOf"]]
            checks.append(lambda v: sum(1 for c in ones if c(v)) == 1)
        if "anyOf" in schema:
            anys = [self.compile(sub) for sub in schema["anyOf"]]
            checks.append(lambda v: any(c(v) for c in anys))
        if "allOf" in schema:
            checks.append(_all([self.compile(sub) for sub in schema["allOf"]]))
        if "items" in schema:
            item = self.compile(schema["items"])
            checks.append(lambda v: not isinstance(v, list) or all(map(item, v)))
        return _all(checks)

    def _strings(self, schema: Mapping[str, Any]) -> list[Check]:
        """Checks of a value already known to be a string."""
        out: list[Check] = []
        if "pattern" in schema:
            search = re.compile(schema["pattern"]).search  # jsonschema searches, not matches
            out.append(lambda v: search(v) is not None)
        if "minLength" in schema:
            n = schema["minLength"]
            out.append(lambda v: len(v) >= n)
        if "format" in schema:
            fmt, formats = schema["format"], self.formats
            out.append(lambda v: formats.conforms(v, fmt))
        return out

    def _members(self, schema: Mapping[str, Any]) -> Check:
        """The check of a value already known to be an object: required keys, then each
        member against its property schema or additionalProperties."""
        required = frozenset(schema.get("required", ()))
        props = {k: self.compile(s) for k, s in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        other = None if extra is False else self.compile(extra)
        if not props and extra is True:
            return lambda v: required <= v.keys()

        # A member whose schema only says "a string" is tested inline (most of a finding).
        plain = frozenset(k for k, s in schema.get("properties", {}).items() if _plain_string(s))

        def members(v: dict[str, Any]) -> bool:
            if not required <= v.keys():
                return False
            get = props.get
            for key, value in v.items():
                if key in plain:
                    if not isinstance(value, str):
                        return False
                    continue
                check = get(key, other)
                if check is None or not check(value):
                    return False
            return True

        return members


def compile_schema(schema: Mapping[str, Any], pointer: str = "#") -> Check:
    """A function that says whether a value conforms to `schema`, or to the part of it at
    `pointer` (e.g. "#/$defs/finding"). Only the subset in _HANDLED is understood."""
    compiler = _Compiler(schema)
    return compiler.compile(schema) if pointer == "#" else compiler.ref(pointer)


__all__ = ["Check", "UnsupportedSchema", "compile_schema"]
