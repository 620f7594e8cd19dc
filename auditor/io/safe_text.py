"""Input-derived text made safe for a terminal or a plain log line.

Names, labels, descriptions, principals, paths and messages come from the estate, the
platform repo or a snapshot file: anyone who can name a table can put an ESC sequence, a
BEL, a carriage return or a right-to-left override in it. Printed raw, those recolour or
retitle the terminal, overwrite earlier lines, or make `customers` read as something else.

`terminal_text` shows every such character as a visible escape (`\\x1b`, `\\u202e`), so the
reader sees that it is there and nothing obeys it; ordinary letters of any script stay as
they are. Surrogates (possible in JSON input) are escaped too: no stream can encode them.
"""

from __future__ import annotations

import re

__all__ = ["terminal_lines", "terminal_text", "visible"]

# C0 controls (tab too: it can hide text in columns), DEL, C1 controls (CSI, OSC ...),
# the soft hyphen, bidi marks, embeddings, overrides and isolates, zero-width and invisible
# formatting characters, line/paragraph separators, lone surrogates and the BOM.
_INVISIBLE = (
    "\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069"
    "\ud800-\udfff\ufeff\ufff9-\ufffb"
)
_UNSAFE = re.compile(f"[\x00-\x1f{_INVISIBLE}]")
_UNSAFE_KEEPING_NEWLINES = re.compile(f"[\x00-\x09\x0b-\x1f{_INVISIBLE}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(value: str) -> str:
    """`value` on one line, every control or invisible character shown as an escape."""
    return _UNSAFE.sub(_escape, value)


def terminal_lines(value: str) -> str:
    """Like `terminal_text` but newlines kept: for text whose lines are our own layout."""
    return _UNSAFE_KEEPING_NEWLINES.sub(_escape, value)


# What the HTML page and its CSV show as \uXXXX: control (but tab and newline), bidi,
# zero-width and line-separator characters, lone surrogates and the BOM. report.js has the
# same set.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\u2028\u2029"
    "\ud800-\udfff\ufeff]"
)


def visible(value: str) -> str:
    """The string with control, bidi, zero-width and line-separator characters as \\uXXXX."""
    return _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
