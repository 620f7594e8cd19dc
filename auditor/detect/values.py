"""Does a VALUE contain a credential? Scanning a value with the detector catalog.

The detectors are data (`auditor.detect.catalog`, loaded from `catalog.yaml`); their
Python-only refinements are in `auditor.detect.validators`. This module is the scanner that
runs them, here in Python; the same catalog is also compiled to BigQuery SQL and DLP.

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
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from auditor.detect.catalog import Detector, catalog
from auditor.detect.redact import fingerprint_secret, redact
from auditor.detect.validators import VALIDATORS, shannon_entropy

__all__ = [
    "DEFAULT_MAX_CHARS",
    "Evidence",
    "Match",
    "evidence",
    "redact_secrets",
    "scan_value",
]

DEFAULT_MAX_CHARS = 65536


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
