"""Recorded Google API answers, served over real HTTP on 127.0.0.1 for the real clients.

    with RecordedServer(DATA / "recorded" / "iam") as server:
        server.fail("POST", r"/organizations/\\d+:getIamPolicy$", 403)
        server.fail("GET", r"/v1/groups:lookup$", 429, times=2)     # then the recording
        server.answer("GET", r"/serviceAccounts$", text="<html>")   # a malformed answer
        collect_iam(P, endpoints=IamEndpoints.local(server.url), ...)

A recording is one JSON file anywhere under the folder (hand-written from the REST
reference of each API):

    {"request": {"method": "GET", "path": "/v3/projects/p", "query": {"view": "FULL"},
                 "body": {...}},
     "response": {"status": 200, "body": {...}}}

`path` is the raw request path, percent-escapes as the client sends them. `query` (optional)
names parameters that must be present with exactly these values; any others are ignored,
since the clients add their own (`$alt=json;enum-encoding=int`). `body` (optional) must
equal the request's JSON body. When several recordings match, the one naming the most query
parameters wins (so page 2, with its pageToken, beats page 1). A request no recording
matches gets Google's 404 error JSON. Two recordings for the same request are refused.

Overrides (`fail`, `answer`) come first: (method, regex searched in the path without the
query) -> status and body, for the first `times` matching requests or for all (None).
Every request is logged in `requests`. Standard library only, one thread per connection.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.background import BackgroundServer

from .faultproxy import google_error

_NO_BODY = object()


@dataclass(frozen=True)
class Recording:
    method: str
    path: str
    query: Mapping[str, str]
    body: Any  # _NO_BODY when the recording does not constrain the request body
    status: int
    answer: bytes
    source: str

    def matches(self, request: Seen) -> bool:
        if request.method != self.method or request.path != self.path:
            return False
        if any(request.query.get(k) != v for k, v in self.query.items()):
            return False
        return self.body is _NO_BODY or request.body == self.body


@dataclass
class Override:
    method: str
    path: re.Pattern[str]
    status: int
    answer: bytes
    times: int | None
    hits: int = 0

    def matches(self, request: Seen) -> bool:
        return (
            request.method == self.method
            and self.path.search(request.path) is not None
            and (self.times is None or self.hits < self.times)
        )


@dataclass(frozen=True)
class Seen:
    """A request as the server saw it: raw path, decoded query, parsed JSON body (or None)."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None


class RecordedServer(BackgroundServer):
    def __init__(self, folder: Path) -> None:
        self.recordings = load_recordings(folder)
        self.overrides: list[Override] = []
        self.requests: list[Seen] = []
        self.hold = 0.0  # seconds each answer waits before it is sent, as a remote API's would
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests being answered at once
        self._lock = threading.Lock()

    def _make_server(self) -> ThreadingHTTPServer:
        return ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"app": self}))

    # -- overrides

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        message: str | None = None,
        times: int | None = None,
    ) -> Override:
        """Answer matching requests with Google's error JSON for status."""
        body = google_error(status, message or f"recorded failure {status}")
        return self.answer(method, path, status=status, body=body, times=times)

    def answer(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        body: Any = None,
        text: str | None = None,
        times: int | None = None,
    ) -> Override:
        """Answer matching requests with status and a JSON body, or with raw text."""
        raw = text.encode("utf-8") if text is not None else json.dumps(body).encode("utf-8")
        override = Override(method, re.compile(path), status, raw, times)
        with self._lock:
            self.overrides.append(override)
        return override

    def reset(self) -> None:
        """Forget overrides and the request log."""
        with self._lock:
            self.overrides.clear()
            self.requests.clear()

    def count(self, method: str, path: str) -> int:
        """How many requests had this method and a path the regex `path` finds."""
        pattern = re.compile(path)
        with self._lock:
            return sum(1 for r in self.requests if r.method == method and pattern.search(r.path))

    # -- serving

    def respond(self, request: Seen) -> tuple[int, bytes]:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.hold)
            return self._answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, request: Seen) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(request)
            for override in self.overrides:
                if override.matches(request):
                    override.hits += 1
                    return override.status, override.answer
        found = [r for r in self.recordings if r.matches(request)]
        if not found:
            message = f"no recording for {request.method} {request.path}"
            return 404, json.dumps(google_error(404, message)).encode("utf-8")
        best = max(found, key=lambda r: len(r.query))
        return best.status, best.answer


class _Handler(BaseHTTPRequestHandler):
    app: RecordedServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms ACK wait)

    def handle_any(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        status, answer = self.app.respond(Seen(self.command, parts.path, query, body))
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is `RecordedServer.requests`."""


def load_recordings(folder: Path) -> list[Recording]:
    """Every recording under folder; ValueError naming the file for a bad or duplicate one."""
    recordings: list[Recording] = []
    keys: dict[str, str] = {}
    for path in sorted(folder.rglob("*.json")):
        name = path.relative_to(folder).as_posix()
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            request, response = doc["request"], doc["response"]
            recording = Recording(
                method=request["method"],
                path=request["path"],
                query={str(k): str(v) for k, v in request.get("query", {}).items()},
                body=request.get("body", _NO_BODY),
                status=int(response.get("status", 200)),
                answer=json.dumps(response.get("body", {})).encode("utf-8"),
                source=name,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{name}: not a recording ({type(exc).__name__}: {exc})") from None
        key = json.dumps(
            [
                recording.method,
                recording.path,
                sorted(recording.query.items()),
                doc["request"].get("body"),
            ]
        )
        if key in keys:
            raise ValueError(f"{name}: records the same request as {keys[key]}")
        keys[key] = name
        recordings.append(recording)
    if not recordings:
        raise ValueError(f"{folder}: no recordings")
    return recordings
