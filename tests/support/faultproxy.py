"""A small HTTP reverse proxy that injects faults in front of a real endpoint.

    with FaultProxy(engine.endpoint) as proxy:
        proxy.fail("GET", r"/datasets/secret$", 403, google_error(403, "Access Denied"))
        proxy.fail("GET", r"/tables/t1$", 503, google_error(503, "busy"), times=2)
        proxy.reset("POST", r":getIamPolicy$")
        client = make_client(project, proxy.url)

Rules are `(method, path regex) -> (status, JSON body)` or `-> reset` (the connection is
closed with a TCP reset, no answer), applied to the first `times` matching requests or to
all of them (times=None). The regex is searched in the request path without its query
string. The first rule that matches and still has uses wins; anything else is forwarded
unchanged. Every request is logged (`log`, `requests`, `count()`), and each rule counts its
`hits`. Listens on 127.0.0.1 on a random port; standard library only (http.server and
http.client), one thread per connection.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

RESET = "reset"
_HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailers", "transfer-encoding", "upgrade", "host", "content-length",
    }
)  # fmt: skip
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
    503: "UNAVAILABLE",
}  # fmt: skip


def google_error(code: int, message: str, reason: str | None = None) -> dict[str, Any]:
    """An error body shaped like Google's JSON APIs answer."""
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "status": _STATUS_NAMES.get(code, "UNKNOWN"),
    }
    if reason is not None:
        error["errors"] = [{"message": message, "domain": "global", "reason": reason}]
    return {"error": error}


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    action: tuple[int, Any] | str  # (status, JSON body) or RESET
    times: int | None  # None: every matching request
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            method == self.method
            and self.path.search(path) is not None
            and (self.times is None or self.hits < self.times)
        )


class FaultProxy:
    """Forwards to `upstream` (http://host:port) except where a rule says otherwise."""

    def __init__(self, upstream: str, timeout: float = 120.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.timeout = timeout
        self.rules: list[Rule] = []
        self.log: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- rules

    def fail(
        self, method: str, path: str, status: int, body: Any = None, times: int | None = None
    ) -> Rule:
        """Answer matching requests with `status` and a JSON body (default: a Google error)."""
        payload = body if body is not None else google_error(status, f"injected {status}")
        return self._add(Rule(method.upper(), re.compile(path), (status, payload), times))

    def reset(self, method: str, path: str, times: int | None = None) -> Rule:
        """Close matching requests' connections with a TCP reset, without an answer."""
        return self._add(Rule(method.upper(), re.compile(path), RESET, times))

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def _take(self, method: str, path: str) -> Rule | None:
        with self._lock:
            self.log.append((method, path))
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    return rule
        return None

    # -- counters

    @property
    def requests(self) -> int:
        with self._lock:
            return len(self.log)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests seen with this method and a path matching this regex (None: any)."""
        pattern = re.compile(path) if path is not None else None
        with self._lock:
            return sum(
                1
                for m, p in self.log
                if (method is None or m == method.upper())
                and (pattern is None or pattern.search(p) is not None)
            )

    # -- lifecycle

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="faultproxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection we reset on purpose (or a client gone) is not worth a traceback."""


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the proxy keeps its own log."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        rule = self.owner._take(self.command, path)
        if rule is None:
            self._forward(body)
        elif isinstance(rule.action, tuple):
            status, payload = rule.action
            self._answer(status, json.dumps(payload).encode(), "application/json; charset=UTF-8")
        else:
            self._reset()

    def _forward(self, body: bytes) -> None:
        owner = self.owner
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        connection = http.client.HTTPConnection(
            owner.upstream_host, owner.upstream_port, timeout=owner.timeout
        )
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            answer_headers = [
                (k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP
            ]
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            error = google_error(502, f"fault proxy: upstream failed: {exc}")
            self._answer(502, json.dumps(error).encode(), "application/json")
            return
        finally:
            connection.close()
        self.send_response(status)
        for key, value in answer_headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the socket was reset on purpose
            super().finish()
