"""A corpus of hostile names and free text, for every place a string reaches the auditor.

Each entry is a `Hostile(key, text)`; the key is a short ASCII word so a test can say which
string broke it. `CORPUS` is everything; the narrower tuples below are the subsets that a
particular kind of name can legally hold, following BigQuery's naming rules
(/work/shared/reference/gcp-facts.md and the BigQuery docs):

- dataset ids: letters, digits, underscore only (nothing hostile fits);
- table ids: Unicode letters, marks, numbers, connectors (underscore), dashes and spaces, up
  to 1,024 UTF-8 bytes (`TABLE_IDS`);
- column names (flexible names): almost anything but the characters below, up to 300
  characters (`COLUMN_NAMES`);
- descriptions, label values, view SQL, waiver reasons, messages: any text (`CORPUS`).

The secret-looking strings of the demo estate are not here: these are about rendering and
quoting, not detection.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

ESC = "\x1b"
BEL = "\x07"
CYRILLIC_A = "\u0430"  # looks like Latin 'a'
RLO = "\u202e"  # right-to-left override
ZWSP = "\u200b"  # zero-width space


@dataclass(frozen=True)
class Hostile:
    key: str
    text: str


CORPUS: tuple[Hostile, ...] = (
    Hostile("single_quote", "o'brien's table"),
    Hostile("double_quote", 'say "hi"'),
    Hostile("backtick", "evil`name"),
    Hostile("backtick_escape", "a`; DROP TABLE x; --`b"),
    Hostile("sql_injection", "x; DROP TABLE x; --"),
    Hostile("comment_close", "*/ SELECT 1 /*"),
    Hostile("backslash", "back\\slash\\`"),
    Hostile("newline", "line1\nCRITICAL FAIL forged line"),
    Hostile("trailing_newline", "customers\n"),  # `$` in a regex matches before it
    Hostile("carriage_return", "visible\rhidden"),
    Hostile("nul", "nul\x00byte"),
    Hostile("c0_controls", "c0" + "".join(chr(c) for c in range(1, 32) if c not in (9, 10, 13))),
    Hostile("c1_controls", "c1\x85\x9b31m\x9d0;t\x9c"),
    Hostile("ansi_color", f"{ESC}[31mred{ESC}[0m"),
    Hostile("ansi_clear", f"{ESC}[2J{ESC}[Hcleared"),
    Hostile("osc8_link", f"{ESC}]8;;https://evil.example/{ESC}\\click{ESC}]8;;{ESC}\\"),
    Hostile("osc_title", f"{ESC}]0;pwned title{BEL}"),
    Hostile("script_tag", "<script>alert(1)</script>"),
    Hostile("img_onerror", '"><img src=x onerror=alert(1)>'),
    Hostile("javascript_url", "javascript:alert(document.domain)"),
    Hostile("template", "{{ 7*7 }}{% raw %}${7*7}"),
    Hostile("rich_markup", "[bold red]markup[/] [link=https://evil.example]x[/link]"),
    Hostile("confusable", f"cust{CYRILLIC_A}mers"),
    Hostile("bidi_override", f"customers{RLO}txt.exe"),
    Hostile("bidi_isolates", "a\u2066b\u2067c\u2068d\u2069e\u202a\u202b\u202c\u202d"),
    Hostile("zero_width", f"cus{ZWSP}tomers\u200c\u200d\u2060\ufeff"),
    Hostile("line_separator", "para\u2028graph\u2029end"),
    Hostile("long", "n" * 300),
    Hostile("emoji", "tenant \U0001f600\U0001f4a3 data"),
    Hostile("lone_surrogate", "half \ud83d pair"),  # JSON and YAML escapes can make one
    Hostile("non_ascii_letters", "données_größe_日本語"),
)

BY_KEY = {h.key: h.text for h in CORPUS}

# Characters that must never reach a terminal raw (each is shown as an escape instead).
TERMINAL_UNSAFE = frozenset(
    [chr(c) for c in range(0, 32)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + list("\u061c\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u2060\ufeff")
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + [chr(c) for c in range(0xD800, 0xE000)]  # lone surrogates: no output can encode them
)

# Letters of other scripts that must stay readable (never escaped).
READABLE = ("données_größe_日本語", f"cust{CYRILLIC_A}mers", "\U0001f600")


def table_id_ok(text: str) -> bool:
    """BigQuery's table id rule: letters, marks, numbers, connectors, dashes, spaces."""
    allowed = ("L", "M", "N", "Pc", "Pd", "Zs")
    return 0 < len(text.encode("utf-8", "surrogatepass")) <= 1024 and all(
        unicodedata.category(c).startswith(allowed) for c in text
    )


# Hostile strings that are legal table ids (the local engine can create them).
TABLE_IDS: tuple[str, ...] = (
    f"cust{CYRILLIC_A}mers_copy",
    "données größe-日本語",
    "t" * 300,
    "spaced name - with dashes",
)
