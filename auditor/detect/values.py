"""Does a VALUE contain a credential? The detector catalog and its Python compilation.

The catalog (`catalog.yaml` beside this file) is data: one entry per kind of secret, with
an RE2 pattern, prefilter keywords, optional Python-only refinements, the matching DLP
infoType, a severity and labelled examples. It is compiled three ways: here, by Python's
`re`; to BigQuery `REGEXP_CONTAINS` (the scan runs where the data is); and to DLP custom
infoTypes. So every pattern must mean the same in RE2 and in Python, which
`re2_problems` checks conservatively when the catalog loads: no lookarounds,
backreferences, possessive or atomic groups, no `\\z`/`\\Z`, `{n,m}` only up to 1000 (RE2's
limit), global flags only as a leading `(?i)`, and no repeated group that contains a
repeat (the shape that makes Python's backtracking engine explode; RE2 is linear
anyway). Python compiles with `re.ASCII`, so `\\b`, `\\s`, `\\w` and `\\d` mean what they
mean in RE2.

How a value is scanned (`scan_value`):
1. Only the first `max_chars` characters are read: bounded work per value.
2. A detector runs only if one of its keywords occurs (case-insensitively): each match of
   a pattern contains one, so this loses nothing and skips most regexes on most values.
3. Each match's secret is capture group 1 if the pattern has one (the value after
   `password=`, the key inside a URL), else the whole match.
4. Python-only refinements can then reject it: `min_entropy` (Shannon bits per character
   of the secret, which drops `AKIAXXXXXXXXXXXXXXXX`-style placeholders) and the
   `validate` kinds in `VALIDATORS`.
5. Catalog order is precedence: a secret overlapping one already claimed by an earlier
   detector is dropped, so `"api_key": "AIza..."` is a Google API key, not a generic
   assignment, and a JWT in a Bearer header is a JWT. A span an earlier detector matched
   and then rejected (a placeholder, a bad checksum, a JWT that does not decode) stays
   claimed too: the detector that knows the format has the last word on it.

A `Match` carries the detector id and offsets only. Turn it into printable evidence with
`evidence()`: the detector id, a redacted prefix and a salt-free fingerprint, never the
value.

Known limits, by design: a secret with no recognisable shape and no telling name is not
found (a bare 40-character AWS secret key, a bare password); generic assignments need
letters AND digits (`password=correcthorse` reads like prose) and skip values that start
with `$` or `/` (variable references, crypt hashes, paths); a secret cut by `max_chars`
is missed.

Examples in the catalog and rows of the labelled corpus may contain `EXAMPLE_SPLIT`
(`{{}}`) inside token-shaped literals so that repository secret scanners do not flag
them; `join_example` removes it, and the catalog loader does so for examples.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import warnings
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.detect.names import COMMON_VETOES, HASH_WORDS, TOKEN_VETOES, split_words
from auditor.detect.redact import fingerprint_secret, redact
from auditor.errors import InputError
from auditor.io.yamlpos import Positioned, dotted, load_yaml, read_yaml, schema_problems
from auditor.model import Severity

__all__ = [
    "CATALOG_PATH",
    "DEFAULT_MAX_CHARS",
    "EXAMPLE_SPLIT",
    "MAX_REPEAT",
    "VALIDATORS",
    "Detector",
    "Evidence",
    "Match",
    "catalog",
    "evidence",
    "fingerprint_secret",
    "join_example",
    "load_catalog",
    "parse_catalog",
    "re2_problems",
    "redact",
    "redact_secrets",
    "scan_value",
    "shannon_entropy",
]

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
DEFAULT_MAX_CHARS = 65536
EXAMPLE_SPLIT = "{{}}"
MAX_REPEAT = 1000  # RE2 rejects {n,m} counts above 1000


@dataclass(frozen=True)
class Detector:
    """One kind of credential value. See catalog.yaml for what each field means."""

    id: str
    name: str
    description: str
    pattern: str  # RE2 syntax; Python-compatible
    dlp_info_type: str | None
    keywords: tuple[str, ...]  # lower case; every match contains at least one
    min_entropy: float | None
    validate: tuple[str, ...]  # names in VALIDATORS, Python only
    severity: Severity
    positive_examples: tuple[str, ...]
    negative_examples: tuple[str, ...]
    secret_group: int  # 1 if the pattern has a capturing group (the secret), else 0
    regex: re.Pattern[str] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Match:
    """Where a detector found a secret in a value: offsets only, never the value."""

    detector_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Evidence:
    """What may be shown about a found secret."""

    detector_id: str
    redacted: str  # e.g. "AIza…[redacted 35 chars]"
    fingerprint: str  # salt-free sha256 prefix: the same leak matches across runs


def join_example(text: str) -> str:
    """An example or corpus value with its scanner-evading splits removed."""
    return text.replace(EXAMPLE_SPLIT, "")


# ---------------------------------------------------------------------------------------
# Python-only refinements. Each takes the secret and the regex match (whose `.string` is
# the scanned text) and says whether to keep it. They only ever reject.
# ---------------------------------------------------------------------------------------

Validator = Callable[[str, re.Match[str]], bool]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9]")

# Whole values that stand in for a secret rather than being one.
_PLACEHOLDER_WORDS = _words(
    "password passwd pass pwd secret token apikey api_key key changeme change_me changeit"
    " example sample dummy placeholder redacted masked hidden removed omitted filtered"
    " none null nil undefined empty true false todo tbd test default"
)
# Parts of values that mark them as placeholders or masks.
_PLACEHOLDER_PARTS = (
    "example", "placeholder", "redacted", "changeme", "change_me", "replace_me",
    "replaceme", "your_", "your-", "yourpassword", "yoursecret", "yourtoken", "yourkey",
    "dummy", "xxxx", "****", "...", "####", "\u2022\u2022", "\u2026",
)  # fmt: skip
# Values that point at a secret (a secret manager, an environment variable, a file).
_REFERENCE_PREFIXES = (
    "projects/", "organizations/", "folders/", "gs://", "s3://", "sm://", "gcpsm://",
    "secretmanager", "arn:", "vault:", "kms:", "keyvault:", "@microsoft.keyvault",
    "http://", "https://", "file:", "env:", "/", "./", "../", "~/", "$", "#{",
    "enc[", "!vault",
)  # fmt: skip
_REFERENCE_PARTS = ("/secrets/", "/cryptokeys/", "/keyrings/")


def _not_placeholder(secret: str, match: re.Match[str]) -> bool:
    lowered = secret.lower()
    return not (
        lowered in _PLACEHOLDER_WORDS
        or len(set(secret)) == 1
        or any(part in lowered for part in _PLACEHOLDER_PARTS)
        or lowered.startswith(_REFERENCE_PREFIXES)
        or any(part in lowered for part in _REFERENCE_PARTS)
    )


def _letters_and_digits(secret: str, match: re.Match[str]) -> bool:
    # Random keys and real passwords nearly always mix both; words and prose do not.
    return bool(_LETTER.search(secret)) and bool(_DIGIT.search(secret))


# Signed-URL "credential scope" parameters hold a public id/date/region, not a secret.
_PUBLIC_CREDENTIAL_KEYS = frozenset({"x-goog-credential", "x-amz-credential"})
_KEY_CHAR = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_KEY_RE = re.compile(r"[A-Za-z0-9_.-]+")
_MAX_KEY_CHARS = 100


def _assigned_key(match: re.Match[str]) -> str:
    """The whole key name a `key = value` match assigns to (`next_page_token`).

    The pattern starts at the secret word; the name may go on to the left.
    """
    text, start = match.string, match.start()
    left = start
    while left > 0 and start - left < _MAX_KEY_CHARS and text[left - 1] in _KEY_CHAR:
        left -= 1
    key = _KEY_RE.match(text, left)
    return key.group() if key else ""


def _credential_key(secret: str, match: re.Match[str]) -> bool:
    # The pattern already ends the key at the secret word, so `api_key_id` never matches;
    # what is left are words before it that make it a non-secret (names.py's lists):
    # `password_hash`-like prefixes (`hashed_password`, `public_key`) and cursors and
    # counters called tokens (`next_page_token`, `max_token`).
    key = _assigned_key(match).rsplit(".", 1)[-1]
    words = set(split_words(key))
    # A hash assigned to `hashed_password` is not the password (names.py counts hash
    # COLUMNS as credential material; here only plaintext values are looked for).
    if words & (COMMON_VETOES | HASH_WORDS) or key.lower() in _PUBLIC_CREDENTIAL_KEYS:
        return False
    return not ("token" in words and words & TOKEN_VETOES)


def _b64_json(segment: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw)
    except (ValueError, binascii.Error, RecursionError):  # JSON and UTF-8 errors included
        return None


def _jwt(secret: str, match: re.Match[str]) -> bool:
    header, payload, _signature = secret.split(".", 2)
    decoded = _b64_json(header)
    return isinstance(decoded, dict) and "alg" in decoded and isinstance(_b64_json(payload), dict)


def _basic_auth(secret: str, match: re.Match[str]) -> bool:
    try:
        decoded = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
        text = decoded.decode("utf-8")
    except (ValueError, binascii.Error):
        return False
    user, colon, password = text.partition(":")
    if not colon or not text.isprintable():
        return False
    credential = password or user  # API keys travel as "key:" with an empty password
    return bool(credential) and _not_placeholder(credential, match)


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_VALUE = {c: i for i, c in enumerate(_BASE62)}
_CHECKSUMMED_BODY = 36  # 30 random characters and a 6-character checksum


def _crc32_checksum(secret: str, match: re.Match[str]) -> bool:
    """GitHub's token format (also npm's): after the `xxx_` prefix, 30 random base62
    characters and the CRC32 of them in 6 base62 digits. Longer tokens (some ghu_/ghs_)
    carry no such checksum and are kept."""
    body = secret.partition("_")[2]
    if len(body) != _CHECKSUMMED_BODY:
        return True
    value = 0
    for char in body[-6:]:
        value = value * 62 + _BASE62_VALUE.get(char, 0)
    return value == binascii.crc32(body[:-6].encode("ascii"))


VALIDATORS: Mapping[str, Validator] = {
    "not-placeholder": _not_placeholder,
    "letters-and-digits": _letters_and_digits,
    "credential-key": _credential_key,
    "jwt": _jwt,
    "basic-auth": _basic_auth,
    "crc32-checksum": _crc32_checksum,
}


def shannon_entropy(text: str) -> float:
    """Shannon entropy in bits per character (0.0 for "")."""
    if not text:
        return 0.0
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in Counter(text).values())


def _accepts(detector: Detector, secret: str, match: re.Match[str]) -> bool:
    if detector.min_entropy is not None and shannon_entropy(secret) < detector.min_entropy:
        return False
    return all(VALIDATORS[name](secret, match) for name in detector.validate)


# ---------------------------------------------------------------------------------------
# Scanning
# ---------------------------------------------------------------------------------------


def scan_value(
    text: str,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    detectors: Sequence[Detector] | None = None,
) -> list[Match]:
    """Secrets found in the first `max_chars` characters of `text`, in text order.

    Overlapping findings are resolved by catalog order (the earlier detector keeps its
    span). Work is bounded by `max_chars`: the patterns avoid nested repeats and their
    counted repeats are short, so each regex is close to linear in the scanned length.
    `detectors` defaults to the shipped catalog (benchmarks pass another to compare).
    """
    if max_chars < 0:
        raise ValueError(f"max_chars must be >= 0, got {max_chars}")
    text = text[:max_chars]
    if not text:
        return []
    lowered = text.lower()
    chosen = catalog() if detectors is None else tuple(detectors)
    keywords, wanted = _keyword_index(chosen)
    present = frozenset(k for k in keywords if k in lowered)  # each keyword looked for once
    starts: list[int] = []  # claimed spans, disjoint, sorted by start
    ends: list[int] = []
    found: list[Match] = []
    for detector, needs in zip(chosen, wanted, strict=True):
        if needs and needs.isdisjoint(present):
            continue
        group = detector.secret_group
        for match in detector.regex.finditer(text):
            start, end = match.span(group)
            if start >= end:
                continue
            index = bisect_left(starts, start)
            if (index < len(starts) and starts[index] < end) or (index and ends[index - 1] > start):
                continue  # overlaps a span an earlier detector claimed
            starts.insert(index, start)
            ends.insert(index, end)
            if _accepts(detector, match.group(group), match):
                found.append(Match(detector.id, start, end))
            # A rejected span stays claimed: a GitHub-shaped token with a bad checksum is a
            # fixture, not a generic `token=` secret for a later detector to report.
    found.sort(key=lambda m: (m.start, m.end))
    return found


_KEYWORD_INDEXES: dict[
    int, tuple[tuple[Detector, ...], tuple[str, ...], tuple[frozenset[str], ...]]
] = {}


def _keyword_index(
    detectors: tuple[Detector, ...],
) -> tuple[tuple[str, ...], tuple[frozenset[str], ...]]:
    """Every distinct keyword of `detectors`, and each detector's keywords as a set:
    checking each keyword once per value is what keeps a large catalog fast."""
    cached = _KEYWORD_INDEXES.get(id(detectors))
    if cached is None or cached[0] is not detectors:
        keywords = tuple(dict.fromkeys(k for d in detectors for k in d.keywords))
        cached = (detectors, keywords, tuple(frozenset(d.keywords) for d in detectors))
        _KEYWORD_INDEXES[id(detectors)] = cached
    return cached[1], cached[2]


def evidence(text: str, match: Match) -> Evidence:
    """Printable evidence for `match` in `text` (the value scan_value was given)."""
    secret = text[match.start : match.end]
    return Evidence(match.detector_id, redact(secret), fingerprint_secret(secret))


def redact_secrets(text: str) -> str:
    """`text` with every secret the catalog finds in it (anywhere, not only in the first
    `DEFAULT_MAX_CHARS`) replaced by its redacted form: for free text that is shown or
    stored (descriptions, view SQL, messages), which must not carry a value on."""
    for match in reversed(scan_value(text, max_chars=len(text))):
        text = text[: match.start] + redact(text[match.start : match.end]) + text[match.end :]
    return text


# ---------------------------------------------------------------------------------------
# RE2 compatibility (conservative: rejects some patterns RE2 would accept)
# ---------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------

_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_CATALOG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["detectors"],
    "properties": {
        "detectors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "id",
                    "name",
                    "description",
                    "pattern",
                    "keywords",
                    "min_entropy",
                    "validate",
                    "dlp_info_type",
                    "severity",
                    "examples",
                ],
                "properties": {
                    "id": {"type": "string", "pattern": _ID},
                    "name": {"type": "string", "minLength": 1},
                    "description": {"type": "string", "minLength": 1},
                    "pattern": {"type": "string", "minLength": 1},
                    "keywords": {
                        "type": "array",
                        "items": {"type": "string", "minLength": 2, "pattern": "^[^A-Z]+$"},
                    },
                    "min_entropy": {"type": ["number", "null"], "minimum": 0, "maximum": 8},
                    "validate": {
                        "type": "array",
                        "uniqueItems": True,
                        "items": {"enum": sorted(VALIDATORS)},
                    },
                    "dlp_info_type": {"type": ["string", "null"], "pattern": "^[A-Z][A-Z0-9_]*$"},
                    "severity": {"enum": [s.value for s in Severity]},
                    "examples": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["positive", "negative"],
                        "properties": {
                            "positive": {**_STRINGS, "minItems": 2},
                            "negative": {**_STRINGS, "minItems": 2},
                        },
                    },
                },
            },
        }
    },
}


@lru_cache(maxsize=1)
def catalog() -> tuple[Detector, ...]:
    """The shipped catalog, loaded and validated once."""
    return load_catalog(CATALOG_PATH)


def load_catalog(path: Path) -> tuple[Detector, ...]:
    """Read and validate a catalog file; InputError naming the file and line if invalid."""
    return _build(read_yaml(path))


def parse_catalog(text: str, path: str = "<catalog>") -> tuple[Detector, ...]:
    """Validate catalog YAML text; `path` names it in errors."""
    return _build(load_yaml(text, path))


def _build(doc: Positioned) -> tuple[Detector, ...]:
    problems = [(p.line, p.message) for p in schema_problems(doc, _CATALOG_SCHEMA)]
    if not problems:
        problems = _semantic_problems(doc)
    if problems:
        problems.sort()
        line, message = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise InputError(doc.path, message + more, line)
    return tuple(_detector(entry) for entry in doc.value["detectors"])


def _semantic_problems(doc: Positioned) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(doc.value["detectors"]):
        where = ("detectors", index)
        detector_id = entry["id"]
        if detector_id in seen:
            line = doc.line_of((*where, "id"))
            problems.append(
                (line, f"duplicate detector id '{detector_id}' (first at line {seen[detector_id]})")
            )
        seen.setdefault(detector_id, doc.line_of((*where, "id")))
        pointer = (*where, "pattern")
        for problem in re2_problems(entry["pattern"]):
            problems.append((doc.line_of(pointer), f"{dotted(pointer)} ({detector_id}): {problem}"))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # FutureWarning on ambiguous sets, etc.
                re.compile(entry["pattern"], re.ASCII)
        except (re.error, FutureWarning, DeprecationWarning) as exc:
            problems.append((doc.line_of(pointer), f"{dotted(pointer)} ({detector_id}): {exc}"))
    return problems


def _detector(entry: Mapping[str, Any]) -> Detector:
    regex = re.compile(entry["pattern"], re.ASCII)
    examples: Mapping[str, Sequence[str]] = entry["examples"]
    return Detector(
        id=entry["id"],
        name=entry["name"],
        description=entry["description"],
        pattern=entry["pattern"],
        dlp_info_type=entry["dlp_info_type"],
        keywords=tuple(entry["keywords"]),
        min_entropy=None if entry["min_entropy"] is None else float(entry["min_entropy"]),
        validate=tuple(entry["validate"]),
        severity=Severity(entry["severity"]),
        positive_examples=tuple(join_example(e) for e in examples["positive"]),
        negative_examples=tuple(join_example(e) for e in examples["negative"]),
        secret_group=min(regex.groups, 1),
        regex=regex,
    )
