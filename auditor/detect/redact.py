"""Evidence for a found secret that is safe to print: a short redacted prefix and a hash.

A secret value never leaves the auditor. Reports show which detector fired, where, a few
leading characters (enough to tell an `AIza` key from a `ghp_` token, never enough to use)
and a fingerprint, so the same leak is recognised across runs, tables and reports.

- `redact` keeps at most `keep` leading characters and at most a fifth of the value, so a
  short secret shows fewer (an 8-character password shows 1, a 4-character one none).
  The rest is replaced by a marker that depends only on the length.
- `fingerprint_secret` is the first 16 hex digits of the SHA-256 of the value, without a
  salt: the same leaked key gives the same fingerprint in every run and every table, which
  is what baselines and "new/resolved" history need. Trade-off, accepted: for a
  low-entropy secret (a human password) an unsalted hash lets someone holding the report
  test guesses offline. Tokens and keys are far beyond guessing.
"""

from __future__ import annotations

import hashlib

__all__ = ["FINGERPRINT_HEX_DIGITS", "MAX_SHOWN_FRACTION", "fingerprint_secret", "redact"]

FINGERPRINT_HEX_DIGITS = 16
MAX_SHOWN_FRACTION = 5  # show at most len(value) // 5 characters
_ELLIPSIS = "\u2026"


def redact(value: str, keep: int = 4) -> str:
    """`value` reduced to a short prefix and its length, e.g. "AIza…[redacted 35 chars]".

    Shows `min(keep, len(value) // 5)` leading characters (none when `keep` <= 0).

    >>> redact("correct-horse-battery-staple")
    'corr…[redacted 24 chars]'
    >>> redact("hunter22")
    'h…[redacted 7 chars]'
    """
    shown = max(0, min(keep, len(value) // MAX_SHOWN_FRACTION))
    hidden = len(value) - shown
    unit = "char" if hidden == 1 else "chars"
    return f"{value[:shown]}{_ELLIPSIS}[redacted {hidden} {unit}]"


def fingerprint_secret(value: str) -> str:
    """Salt-free SHA-256 of `value` (UTF-8), first 16 hex digits: stable across runs."""
    digest = hashlib.sha256(value.encode("utf-8", errors="surrogatepass")).hexdigest()
    return digest[:FINGERPRINT_HEX_DIGITS]
