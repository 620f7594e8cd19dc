"""The positioned JSON parser: values, line of every value and key, strictness, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import InputError
from auditor.io.jsonpos import Positioned, parse_json

DOC = """{
  "a": 1,
  "b": [
    true,
    {"c": null, "d": "x"}
  ],
  "e":
    -2.5e3
}"""


def test_values_and_lines_of_every_value_and_key() -> None:
    parsed = parse_json(DOC, "doc.json")
    assert parsed.value == json.loads(DOC)
    assert parsed.lines == {
        (): 1,
        ("a",): 2,
        ("b",): 3,
        ("b", 0): 4,
        ("b", 1): 5,
        ("b", 1, "c"): 5,
        ("b", 1, "d"): 5,
        ("e",): 7,  # a member is where its key is, even when the value is lines later
    }


def test_line_of_falls_back_to_the_nearest_ancestor() -> None:
    parsed = parse_json(DOC, "doc.json")
    assert parsed.line_of(("b", 1, "d")) == 5
    assert parsed.line_of(("b", 1, "missing", 3)) == 5
    assert parsed.line_of(("b", 7)) == 3
    assert parsed.line_of(("zzz",)) == 1
    assert Positioned(None, {}).line_of(("a",)) is None


@pytest.mark.parametrize(
    ("text", "value", "lines"),
    [
        ("[\r\n1,\r\n2]", [1, 2], {(): 1, (0,): 2, (1,): 3}),
        ("[\r1,\r2]", [1, 2], {(): 1, (0,): 2, (1,): 3}),
        ("\ufeff[\n1]", [1], {(): 1, (0,): 2}),
    ],
)
def test_crlf_cr_and_bom(
    text: str, value: list[int], lines: dict[tuple[str | int, ...], int]
) -> None:
    parsed = parse_json(text, "f.json")
    assert parsed.value == value
    assert parsed.lines == lines


def test_scalars_and_escapes() -> None:
    text = '["a\\"b\\u00e9\\n", 0, -0, 12, 1.5, 1E+2, true, false, null, "\\ud83d\\ude00"]'
    assert parse_json(text, "f").value == ['a"bé\n', 0, 0, 12, 1.5, 100.0, True, False, None, "😀"]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "no JSON value (the document is empty)", 1),
        ("  \n\n ", "no JSON value (the document is empty)", 3),
        ("[1,\n2,\n]", "trailing comma before ']'", 3),
        ('{"a": 1,\n}', "trailing comma before '}'", 2),
        ("[1\n2]", "expected ',' or ']' after array element, found '2'", 2),
        ('{"a": 1\n"b": 2}', "expected ',' or '}' after object member, found '\"'", 2),
        ('{"a"\n 1}', "expected ':' after object key, found '1'", 2),
        ("{a: 1}", "expected a string key in double quotes or '}', found 'a'", 1),
        ("{'a': 1}", "expected a string key in double quotes or '}', found \"'\"", 1),
        ('{"a": 1, 2: 3}', "expected a string key in double quotes, found '2'", 1),
        ('[\n"abc', "unterminated string", 2),
        ('["a\nb"]', "unterminated string (line break inside a string)", 1),
        ('["a\tb"]', "control character U+0009 inside a string must be escaped", 1),
        ('["\\x"]', "invalid escape in string", 1),
        ('["\\u12"]', "invalid \\u escape in string (needs 4 hex digits)", 1),
        ("[NaN]", "NaN is not valid JSON", 1),
        ("[Infinity]", "Infinity is not valid JSON", 1),
        ("[-Infinity]", "-Infinity is not valid JSON", 1),
        ("[1e999]", "number is too large", 1),
        ("[" + "9" * 5000 + "]", "integer has too many digits", 1),
        ("[01]", "expected ',' or ']' after array element, found '1'", 1),
        ("[+1]", "expected a value, found '+'", 1),
        ("[.5]", "expected a value, found '.'", 1),
        ("[tru]", "expected a value, found 't'", 1),
        ("[1]\n]", "unexpected data after the JSON value", 2),
        ("{} {}", "unexpected data after the JSON value", 1),
        ("[1,", "unexpected end of input; expected a value", 1),
        ('{"a":', "unexpected end of input; expected a value", 1),
        ("{\n", "unexpected end of input; expected a string key in double quotes or '}'", 2),
        ("[1", "unexpected end of input; expected ',' or ']' after array element", 1),
        ('{"a": 1, "a": 2}', "duplicate key 'a' in object", 1),
        ("[\x00]", "expected a value, found U+0000", 1),
    ],
)
def test_malformed_json_gives_a_precise_error(text: str, message: str, line: int) -> None:
    with pytest.raises(InputError) as caught:
        parse_json(text, "bad.json")
    assert (caught.value.path, caught.value.detail, caught.value.line) == (
        "bad.json",
        message,
        line,
    )
    assert str(caught.value) == f"bad.json:{line}: {message}"


def test_depth_limit_is_exact() -> None:
    assert parse_json("[" * 200 + "]" * 200, "f").value is not None
    with pytest.raises(InputError) as caught:
        parse_json("[" * 201 + "]" * 201, "f")
    assert (caught.value.detail, caught.value.line) == ("nesting deeper than 200 levels", 1)
    assert parse_json('{"a":' * 3 + "1" + "}" * 3, "f", max_depth=3).value == {"a": {"a": {"a": 1}}}
    with pytest.raises(InputError, match="nesting deeper than 2 levels"):
        parse_json("[[[]]]", "f", max_depth=2)


@pytest.mark.parametrize("opener", ["[", '{"a":', '[{"a":'])
def test_hostile_nesting_is_a_clean_error(opener: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_json(opener * 100_000, "deep.json")
    assert (caught.value.detail, caught.value.line) == ("nesting deeper than 200 levels", 1)


def test_depth_error_names_the_line_of_the_offending_bracket() -> None:
    with pytest.raises(InputError) as caught:
        parse_json("[\n" * 250, "deep.json")
    assert caught.value.line == 201


def test_size_limit_counts_utf8_bytes() -> None:
    assert parse_json('"' + "é" * 4 + '"', "f", max_bytes=10).value == "éééé"
    with pytest.raises(InputError) as caught:
        parse_json('"' + "é" * 5 + '"', "f", max_bytes=10)  # 7 characters, 12 bytes
    assert (caught.value.detail, caught.value.line) == (
        "file is larger than 10 bytes; not read",
        None,
    )
    with pytest.raises(InputError, match=r"^big\.json: file is larger than 10 MiB; not read$"):
        parse_json(" " * (10 * 1024 * 1024 + 1), "big.json")


# ------------------------------------------------------------------------------- properties

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=200, database=None)
@given(_json_values, st.sampled_from([None, 0, 2]))
def test_agrees_with_the_json_module(value: Any, indent: int | None) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    parsed = parse_json(text, "f.json")
    assert parsed.value == json.loads(text)
    assert parsed.lines[()] == 1
    assert all(1 <= line <= text.count("\n") + 1 for line in parsed.lines.values())


@settings(max_examples=200, database=None)
@given(st.text(alphabet=st.sampled_from('[]{}",:0123456789.eE+-truefalsn \n\\ux\t')) | st.text())
def test_any_text_parses_or_raises_input_error(text: str) -> None:
    try:
        parsed = parse_json(text, "f.json")
    except InputError as exc:
        assert exc.path == "f.json"
        assert exc.line is not None
        assert 1 <= exc.line <= max(1, text.count("\n") + text.count("\r") + 1)
    else:
        assert parsed.value == json.loads(text.removeprefix("\ufeff"))  # json rejects a BOM
