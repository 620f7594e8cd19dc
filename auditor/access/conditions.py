"""IAM conditions (CEL) the access graph can decide: time bounds against a given instant.

`request.time < timestamp("...")` (an expiry) and `request.time > timestamp("...")` (a start),
combined with `&&`, `||` and parentheses, are evaluated against `now`. Anything else
(resource names, tags, API attributes, negation) is UNKNOWN: the path is kept and marked
conditional, never dropped. Without `now`, time bounds are UNKNOWN too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from auditor.model import Condition


class Truth(StrEnum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    truth: Truth
    reason: str


ALWAYS = Verdict(Truth.TRUE, "no condition")

_TS = r"timestamp\(\s*(?P<q>['\"])(?P<ts>[^'\"]+)(?P=q)\s*\)"
_TIME_LEFT = re.compile(rf"request\.time\s*(?P<op><=|<|>=|>)\s*{_TS}")
_TIME_RIGHT = re.compile(rf"{_TS}\s*(?P<op><=|<|>=|>)\s*request\.time")
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def evaluate(condition: Condition | None, now: datetime | None) -> Verdict:
    if condition is None:
        return ALWAYS
    return _expr(condition.expression.strip(), now)


def _expr(text: str, now: datetime | None) -> Verdict:
    text = _unwrap(text)
    if len(parts := _split(text, "||")) > 1:
        return _any([_expr(p, now) for p in parts])
    if len(parts := _split(text, "&&")) > 1:
        return _all([_expr(p, now) for p in parts])
    return _atom(text, now)


def _atom(text: str, now: datetime | None) -> Verdict:
    if text == "true":
        return Verdict(Truth.TRUE, "true")
    if text == "false":
        return Verdict(Truth.FALSE, "false")
    left, right = _TIME_LEFT.fullmatch(text), _TIME_RIGHT.fullmatch(text)
    match = left or right
    if match is None:
        return Verdict(Truth.UNKNOWN, f"not evaluated: {text}")
    op = match["op"] if left else _FLIP[match["op"]]
    try:
        bound = _parse_time(match["ts"])
    except ValueError:
        return Verdict(Truth.UNKNOWN, f"unreadable timestamp: {match['ts']}")
    if now is None:
        return Verdict(Truth.UNKNOWN, f"time-bound ({text}); no evaluation time given")
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    holds = {"<": now < bound, "<=": now <= bound, ">": now > bound, ">=": now >= bound}[op]
    if op in ("<", "<="):
        return (
            Verdict(Truth.TRUE, f"expires {match['ts']}")
            if holds
            else Verdict(Truth.FALSE, f"expired {match['ts']}")
        )
    # A start time still ahead: not active now, but it will be; kept as conditional.
    return (
        Verdict(Truth.TRUE, f"started {match['ts']}")
        if holds
        else Verdict(Truth.UNKNOWN, f"starts {match['ts']}")
    )


def _all(verdicts: list[Verdict]) -> Verdict:
    for v in verdicts:
        if v.truth is Truth.FALSE:
            return v
    unknown = [v.reason for v in verdicts if v.truth is Truth.UNKNOWN]
    if unknown:
        return Verdict(Truth.UNKNOWN, "; ".join(unknown))
    return Verdict(Truth.TRUE, "; ".join(v.reason for v in verdicts))


def _any(verdicts: list[Verdict]) -> Verdict:
    for v in verdicts:
        if v.truth is Truth.TRUE:
            return v
    unknown = [v.reason for v in verdicts if v.truth is Truth.UNKNOWN]
    if unknown:
        return Verdict(Truth.UNKNOWN, "; ".join(unknown))
    return Verdict(Truth.FALSE, "; ".join(v.reason for v in verdicts))


def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _unwrap(text: str) -> str:
    """Drop parentheses that enclose the whole expression."""
    while text.startswith("(") and text.endswith(")") and _closing(text) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _closing(text: str) -> int:
    """Where the parenthesis opening `text` closes; -1 when it does not."""
    depth = 0
    for i, ch, in_string in _scan(text):
        if in_string:
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split(text: str, op: str) -> list[str]:
    """Split on `op` where it stands outside parentheses and string literals."""
    parts: list[str] = []
    depth, last = 0, 0
    for i, ch, in_string in _scan(text):
        if in_string:
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(op, i) and i >= last:
            parts.append(text[last:i].strip())
            last = i + len(op)
    parts.append(text[last:].strip())
    return parts


def _scan(text: str) -> list[tuple[int, str, bool]]:
    """(index, char, inside a string literal) for each character; quotes count as inside."""
    out: list[tuple[int, str, bool]] = []
    quote: str | None = None
    escaped = False
    for i, ch in enumerate(text):
        if quote is not None:
            out.append((i, ch, True))
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append((i, ch, True))
        else:
            out.append((i, ch, False))
    return out
