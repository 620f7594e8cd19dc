"""Canary secrets: unique per test run, in the shapes the detector catalog recognises, plus an
opaque random string; and a search for them (and their encoded forms) in any output.

    canaries = make_canaries()
    text = canaries.by_name["github"].text          # what gets planted
    leaks = find_canaries(canaries, {"report.json": report_text, ...})
    assert leaks == []

Every canary is built from `secrets` at run time, so none is spelled in the repository and a
hit can only come from the planted value. `needle` is the part that must never leave the
auditor (the secret itself: the key, the token, the password, the key material); `text` is
what is planted around it (a header, a URL, an assignment), shaped so that the catalog
detector `detector` finds it, or None for the opaque canary, which no detector can
recognise: it tests that values are never echoed at all.

The search looks for each needle and its middle third (a cut or partly redacted value) in
the plain text, in the text with line wraps, escapes and HTML/URL encoding undone, and for
the base64 (standard and URL-safe, at each of the three byte alignments), hex and URL- and
JSON-escaped forms of both.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import secrets
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, unquote_plus

ALNUM = string.ascii_letters + string.digits
UPPER_B32 = string.ascii_uppercase + "234567"
BASE64 = ALNUM + "+/"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Canary:
    name: str
    needle: str  # the secret: must never appear in any output, in any form
    text: str  # what is planted (the needle in its usual surroundings)
    detector: str | None  # the catalog detector that recognises `text`; None: opaque


@dataclass(frozen=True)
class Canaries:
    all: tuple[Canary, ...]

    @property
    def by_name(self) -> Mapping[str, Canary]:
        return {c.name: c for c in self.all}

    def text(self, name: str) -> str:
        return self.by_name[name].text


def _base62_crc32(body: str) -> str:
    crc = binascii.crc32(body.encode("ascii"))
    digits = ""
    while crc:
        crc, rest = divmod(crc, 62)
        digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[rest] + digits
    return digits.rjust(6, "0")


def make_canaries() -> Canaries:
    """Fresh canaries: the eight shapes of the brief, one random value each, and a
    lower-case token for a label value."""
    aws_id = "AKIA" + _random(UPPER_B32, 16)
    aws_secret = _random(BASE64, 40)
    github_body = _random(ALNUM, 30)  # and GitHub's CRC32 checksum, which detectors check
    github = "ghp_" + github_body + _base62_crc32(github_body)
    google = "AIza" + _random(ALNUM, 35)
    pem_body = [_random(BASE64, 64) for _ in range(3)]
    password = "Pw" + _random(ALNUM, 22)
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps({"sub": "svc-" + _random(ALNUM, 12), "iat": 1795000000}).encode())
    jwt = f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"
    hook = f"T{_random(UPPER_B32, 10)}/B{_random(UPPER_B32, 10)}/{_random(ALNUM, 24)}"
    opaque = _random(ALNUM, 40)
    label = _random(string.ascii_lowercase + string.digits, 40)  # what a label value allows
    pem = "\n".join(
        ["-----BEGIN PRIVATE KEY-----", *pem_body, "-----END PRIVATE KEY-----"]
    )  # fmt: skip
    return Canaries(
        (
            Canary("aws-key-id", aws_id, f"AWS_ACCESS_KEY_ID={aws_id}", "aws-access-key-id"),
            Canary(
                "aws-secret",
                aws_secret,
                f"aws_secret_access_key = {aws_secret}",
                "aws-secret-access-key",
            ),
            Canary("github", github, f"GITHUB_TOKEN={github}", "github-token"),
            Canary(
                "google-api-key",
                google,
                f"GET https://maps.googleapis.com/maps/api/geocode/json?key={google}",
                "google-api-key",
            ),
            Canary("pem", "".join(pem_body), pem, "pem-private-key"),
            Canary(
                "dsn",
                password,
                f"postgresql://etl_reader:{password}@10.20.0.5:5432/sales",
                "url-credentials",
            ),
            Canary("jwt", jwt, f"Authorization: Bearer {jwt}", "jwt"),
            Canary(
                "slack-webhook",
                hook,
                f"https://hooks.slack.com/services/{hook}",
                "slack-webhook",
            ),
            Canary("opaque", opaque, opaque, None),
            Canary("label", label, f"deploy_token={label}", "secret-assignment"),
        )
    )


# ---------------------------------------------------------------------------- the search


def _middle(needle: str) -> str:
    third = len(needle) // 3
    return needle[third : 2 * third + 1]


def _pieces(needle: str) -> tuple[str, ...]:
    """The needle and its middle third; for the PEM body each 64-character line too."""
    lines = tuple(needle[i : i + 64] for i in range(0, len(needle), 64)) if len(needle) > 64 else ()
    return (needle, _middle(needle), *lines)


def _base64_forms(piece: str) -> Iterator[str]:
    """The stable inner part of `piece`'s base64 at each of the three byte alignments."""
    raw = piece.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        # Characters that depend only on `raw`: skip the ones mixed with the padding bytes
        # and with whatever follows.
        start = (8 * shift + 5) // 6  # first character made of `raw` bits only
        end = 8 * (shift + len(raw)) // 6  # and past the last one
        inner = encoded[start:end]
        if len(inner) >= 8:
            yield inner
            yield inner.replace("+", "-").replace("/", "_")


def encoded_forms(needle: str) -> dict[str, str]:
    """form name -> text to look for."""
    forms: dict[str, str] = {}
    for n, piece in enumerate(_pieces(needle)):
        tag = ("whole", "middle")[n] if n < 2 else f"line{n - 1}"
        forms[f"{tag}"] = piece
        forms[f"{tag} hex"] = piece.encode().hex()
        forms[f"{tag} HEX"] = piece.encode().hex().upper()
        forms[f"{tag} url"] = quote(piece, safe="")
        forms[f"{tag} url+"] = quote_plus(piece)
        forms[f"{tag} json"] = json.dumps(piece)[1:-1]
        forms[f"{tag} json-ascii"] = json.dumps(piece, ensure_ascii=True)[1:-1]
        for k, b64 in enumerate(_base64_forms(piece)):
            forms[f"{tag} base64 #{k}"] = b64
    return forms


_ESCAPED_BREAK = re.compile(r"\\[nrt]|\s+")


def decoded_views(text: str) -> dict[str, str]:
    """`text` as written and with line wraps, escapes and encodings undone."""
    views = {"as written": text}
    views["no line wraps"] = _ESCAPED_BREAK.sub("", text)
    views["html-unescaped"] = _ESCAPED_BREAK.sub("", html.unescape(text))
    views["url-decoded"] = _ESCAPED_BREAK.sub("", unquote(text))
    views["url+-decoded"] = _ESCAPED_BREAK.sub("", unquote_plus(text))
    views["json-unescaped"] = _ESCAPED_BREAK.sub("", _json_unescape(text))
    return views


def _json_unescape(text: str) -> str:
    r"""\uXXXX, \/ and \" undone (the rest of a JSON string's escapes)."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return text.replace("\\/", "/").replace('\\"', '"').replace("\\\\", "\\")


def find_canaries(canaries: Canaries, outputs: Mapping[str, str]) -> list[str]:
    """One line per (output, canary) that shows: where, and in which views and forms."""
    forms = {c.name: encoded_forms(c.needle) for c in canaries.all}
    leaks = []
    for where, text in outputs.items():
        views = decoded_views(text)
        for name, named in forms.items():
            found = sorted(
                {f"{view}/{form}" for view, seen in views.items() for form, needle in named.items()
                 if needle in seen}
            )  # fmt: skip
            if found:
                leaks.append(f"{where}: canary {name} ({', '.join(found[:3])}...)")
    return leaks
