"""Words for JSON values in error messages: 'an array', 'string "x"', did-you-mean hints."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

_JSON_TYPES = (
    (bool, "boolean"),  # before int: a bool is an int in Python
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)
_ARTICLES = {"array": "an array", "object": "an object", "integer": "an integer", "null": "null"}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in _JSON_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def with_article(json_type_name: str) -> str:
    return _ARTICLES.get(json_type_name, f"a {json_type_name}")


def did_you_mean(key: str, known: Sequence[str], *, ignore_case: bool = False) -> str:
    """' (did you mean 'x'?)' for the closest known word, or ''."""
    by_form = {(k.lower() if ignore_case else k): k for k in known}
    probe = key.lower() if ignore_case else key
    close = difflib.get_close_matches(probe, list(by_form), n=1, cutoff=0.6)
    return f" (did you mean {by_form[close[0]]!r}?)" if close else ""
