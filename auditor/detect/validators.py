"""Python-only refinements of a detector's match: checks a regex cannot make.

Each validator takes the secret and the regex match (whose `.string` is the scanned text)
and says whether to keep it; they only ever reject: placeholders and references to a secret
manager, words without digits, keys whose name says they hold no secret (`hashed_password`,
`next_page_token`), JWTs that do not decode, Basic credentials that are not `user:password`,
GitHub-format tokens with a bad CRC32 checksum. `shannon_entropy` backs `min_entropy`. The
catalog names them by key in VALIDATORS; the SQL and DLP compilations cannot run them and
accept a few more false positives. Apart from the scanner so each can be read and tested
on its own.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from auditor.detect.vocabulary import COMMON_VETOES, HASH_WORDS, TOKEN_VETOES, split_words

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
