"""How a Google API error reads in a coverage-gap reason: its status and the server's message."""

from __future__ import annotations

import re
from http import HTTPStatus

from google.api_core import exceptions as api_exceptions

__all__ = ["server_message", "status_line"]

# The client prefixes the server's message with the request ("GET https://...: ").
_URL_PREFIX_RE = re.compile(r"^[A-Z]+ \S+: ")


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
