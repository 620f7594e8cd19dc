"""How a failed Google API call reads in a coverage gap or an error message.

`describe` gives the status and a short message, one line of at most MAX_REASON characters:
"403 Forbidden: Access Denied: ...", "malformed answer: ...", "timeout (ReadTimeout: ...)",
"connection error (ConnectionError: ...)". Where the answer may quote data (calls that read
table contents), `ServerText.WITHHELD` keeps only the status and the error's reason keyword.
A `scrub` (e.g. the detector catalog's redaction, which this layer cannot import) is applied
before the cut, which could otherwise hide part of a secret from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import Enum
from http import HTTPStatus

from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions

# No type stubs for protobuf among the allowed packages; only ParseError is used.
from google.protobuf import json_format  # type: ignore[import-untyped]
from requests.exceptions import InvalidJSONError

from auditor.gcp.retry import MalformedAnswer, is_not_json

__all__ = ["MAX_REASON", "ServerText", "describe", "server_message", "shorten", "status_line"]

MAX_REASON = 300
# The client prefixes the server's message with the request ("GET https://...: ").
_URL_PREFIX_RE = re.compile(r"^[A-Z]+ \S+: ")
_KEYWORD_RE = re.compile(r"[A-Za-z]{1,64}")  # an error reason such as accessDenied

Scrub = Callable[[str], str]


class ServerText(Enum):
    """Whether a reason may hold the server's free text."""

    SHOWN = "shown"
    WITHHELD = "withheld"  # the answer may quote table data: status and keyword only


def status_line(exc: api_exceptions.GoogleAPICallError) -> str:
    """The status code and its phrase, e.g. "403 Forbidden"."""
    try:
        phrase = HTTPStatus(int(exc.code or 0)).phrase
    except ValueError:
        phrase = "HTTP error"
    return f"{exc.code} {phrase}"


def server_message(exc: api_exceptions.GoogleAPICallError) -> str:
    """The server's message without the request the client put in front of it."""
    return _URL_PREFIX_RE.sub("", str(exc.message or "")).strip()


def describe(
    error: BaseException,
    timeout: float | None = None,
    *,
    server_text: ServerText = ServerText.SHOWN,
    scrub: Scrub | None = None,
    transport_kind: bool = True,
) -> str:
    """Status and a short message for a failed call, fit for a CoverageGap reason.

    transport_kind=False words a lost connection or transport timeout as its exception
    alone ("ReadTimeout: ..."), the form the IAM source's gap reasons have always had.
    """
    return shorten(_text(error, timeout, server_text, transport_kind), scrub)


def shorten(text: str, scrub: Scrub | None = None) -> str:
    """One line of at most MAX_REASON characters, scrubbed first."""
    line = " ".join((scrub(text) if scrub is not None else text).split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


def _text(
    error: BaseException, timeout: float | None, server_text: ServerText, transport_kind: bool
) -> str:
    if isinstance(error, api_exceptions.GoogleAPICallError) and error.code is not None:
        errors = error.errors or []
        first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
        status = status_line(error)
        if server_text is ServerText.WITHHELD:
            keyword = str(first.get("reason", ""))
            shown = f" ({keyword})" if _KEYWORD_RE.fullmatch(keyword) else ""
            return f"{status}{shown}; message withheld: it may quote table data"
        message = server_message(error)
        if not message and first:
            message = str(first.get("message", ""))
        return f"{status}: {message or 'no message'}"
    if isinstance(error, MalformedAnswer):
        return f"malformed answer: {error}"
    if isinstance(error, json_format.ParseError):
        if is_not_json(error):  # the decoder's message names a position, never the text
            return f"malformed answer: not JSON ({error.__cause__})"
        if server_text is ServerText.WITHHELD:
            return "malformed answer: not of the documented shape (parser message withheld)"
        return f"malformed answer: {error}"
    if isinstance(error, InvalidJSONError):  # an OSError too: not a connection error
        return f"malformed answer: not JSON ({type(error).__name__}: {error})"
    if isinstance(error, api_exceptions.RetryError):
        return f"retries given up: {error.message}"
    if isinstance(error, TimeoutError):  # a wait deadline of ours, not the transport
        return f"timeout after {timeout:g} s" if timeout else "timeout"
    name = type(error).__name__
    if isinstance(error, OSError | auth_exceptions.GoogleAuthError) and not transport_kind:
        return f"{name}: {error}"
    if isinstance(error, OSError | auth_exceptions.TransportError):
        kind = "timeout" if "Timeout" in name else "connection error"
        return f"{kind} ({name}: {error})"
    if isinstance(error, auth_exceptions.GoogleAuthError):  # credentials refused or unusable
        return f"credentials error ({name}: {error})"
    return f"unexpected {type(error).__name__}: {error}"
