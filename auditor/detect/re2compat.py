"""Does a pattern mean the same in RE2 and in Python's `re`, without backtracking badly?

The catalog's patterns run in three engines (Python, BigQuery's RE2, DLP's RE2), so
`re2_problems` refuses, conservatively, what RE2 and Python read differently or what makes
Python's backtracking engine explode: lookarounds, backreferences, possessive or atomic
groups, `\\z`/`\\Z`, `{n,m}` above 1000 (RE2's limit), global flags other than a leading
`(?i)`, more than one capturing group, and a repeated group that contains a repeat (RE2 is
linear anyway). A few RE2-valid constructs are refused too. Apart from the loader: a pure
function of one pattern, with its own small parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_REPEAT = 1000  # RE2 rejects {n,m} counts above 1000

_ESCAPES = frozenset("sSdDwWbBAnrtfv")  # letter escapes both engines read the same way
_CLASS_ESCAPES = frozenset("sSdDwWnrtfv")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_REPEAT = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_FLAGS = re.compile(r"\(\?([ims]+)([):])")


@dataclass
class _Frame:
    has_repeat: bool = False  # some quantifier inside this group (nested included)


def _escape_problem(pattern: str, i: int, allowed: frozenset[str]) -> tuple[str | None, int]:
    """Problem with the escape at `i` (a backslash), and the index after it."""
    if i + 1 >= len(pattern):
        return "trailing backslash", i + 1
    char = pattern[i + 1]
    if char == "x":
        if _HEX2.fullmatch(pattern, i + 2, i + 4):
            return None, i + 4
        return "\\x needs exactly two hex digits", i + 2
    if char.isdigit():
        return f"backreference or octal escape '\\{char}'", i + 2
    if char.isalpha() and char not in allowed:
        return f"escape '\\{char}' is not read the same by RE2 and Python", i + 2
    return None, i + 2


def _class_problems(pattern: str, i: int) -> tuple[list[str], int]:
    """Problems inside the character class starting at `i` ('['), and the index after it."""
    problems: list[str] = []
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1  # a leading ']' is a literal
    while j < len(pattern) and pattern[j] != "]":
        char = pattern[j]
        if char == "\\":
            problem, j = _escape_problem(pattern, j, _CLASS_ESCAPES)
            if problem:
                problems.append(problem)
            continue
        if char == "[":
            problems.append("'[' inside a character class (nested set or POSIX class)")
        if pattern.startswith(("&&", "~~", "||", "--"), j):
            problems.append(f"'{pattern[j : j + 2]}' inside a character class (set operation)")
        j += 1
    if j >= len(pattern):
        problems.append("unterminated character class")
    return problems, j + 1


def re2_problems(pattern: str) -> list[str]:
    """Why `pattern` might not mean the same in RE2 and Python, or might backtrack badly.

    Empty when it is safe. Conservative: a few RE2-valid constructs are refused too.
    """
    problems: list[str] = []
    frames = [_Frame()]
    captures = 0
    # What a quantifier would repeat: None (nothing), "atom", "repeat", or a closed group.
    last: str | _Frame | None = None
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            problem, i = _escape_problem(pattern, i, _ESCAPES)
            if problem:
                problems.append(problem)
            last = "atom"
        elif char == "[":
            class_problems, i = _class_problems(pattern, i)
            problems.extend(class_problems)
            last = "atom"
        elif char == "(":
            flags = _FLAGS.match(pattern, i)
            if flags and flags.group(2) == ")":
                if i != 0:
                    problems.append("inline flags are only allowed at the very start")
                i, last = flags.end(), None
                continue
            if flags:
                i = flags.end()
            elif pattern.startswith("(?:", i):
                i += 3
            elif pattern.startswith("(?P<", i):
                captures += 1
                close = pattern.find(">", i)
                i = close + 1 if close > 0 else len(pattern)
            elif pattern.startswith("(?", i):
                construct = pattern[i : i + 4]
                problems.append(
                    f"unsupported group '{construct}...' (lookaround, atomic group,"
                    " backreference, conditional or comment)"
                )
                i += 2
            else:
                captures += 1
                i += 1
            frames.append(_Frame())
            last = None
            continue
        elif char == ")":
            if len(frames) == 1:
                problems.append("unbalanced ')'")
                i += 1
                continue
            closed = frames.pop()
            frames[-1].has_repeat |= closed.has_repeat
            last = closed
            i += 1
        elif char in "*+?{":
            low, high, i = _quantifier(pattern, i, problems)
            if last is None or last == "repeat":
                problems.append(f"quantifier at offset {i} has nothing (or a repeat) to repeat")
            elif isinstance(last, _Frame) and last.has_repeat and (high is None or high > 1):
                problems.append(
                    "a repeated group contains a repeat (exponential backtracking in Python)"
                )
            if low > MAX_REPEAT or (high is not None and high > MAX_REPEAT):
                problems.append(f"repeat count above {MAX_REPEAT} (RE2 refuses it)")
            if i < len(pattern) and pattern[i] == "?":
                i += 1  # lazy: fine in both
            elif i < len(pattern) and pattern[i] == "+":
                problems.append("possessive quantifier")
                i += 1
            frames[-1].has_repeat = True
            last = "repeat"
        else:
            last = None if char == "|" else "atom"
            i += 1
    if len(frames) > 1:
        problems.append("unbalanced '('")
    if captures > 1:
        problems.append(f"{captures} capturing groups; at most one (the secret) is allowed")
    return problems


def _quantifier(pattern: str, i: int, problems: list[str]) -> tuple[int, int | None, int]:
    """(min, max or None, index after) of the quantifier at `i`."""
    char = pattern[i]
    if char == "*":
        return 0, None, i + 1
    if char == "+":
        return 1, None, i + 1
    if char == "?":
        return 0, 1, i + 1
    repeat = _REPEAT.match(pattern, i)
    if repeat is None:
        problems.append("'{' that is not a {n}, {n,} or {n,m} repeat (escape it)")
        return 0, 0, i + 1
    low = int(repeat.group(1))
    if repeat.group(2) is None:
        return low, low, repeat.end()
    high = int(repeat.group(3)) if repeat.group(3) else None
    if high is not None and high < low:
        problems.append(f"repeat {repeat.group()} has max < min")
    return low, high, repeat.end()
