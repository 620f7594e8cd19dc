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

Seeded random faults (chaos), and explicit rules of any fault kind:

    proxy.stall_seconds = 5                      # longer than the client's timeout
    proxy.chaos(0.2, seed=7)                     # 20 % of all requests get a random fault
    proxy.chaos(0.5, seed=1, kinds=("reset",), method="GET", path=r"/tables/")
    proxy.inject("GET", r"/datasets/d1$", "malformed")
    proxy.faulted   # [(method, path, kind), ...] every fault injected, in order
    proxy.history   # [Exchange(method, path, query, fault), ...] every request, in order

Fault kinds (FAULT_KINDS): "429", "500", "503" answer a Google error body; "timeout" holds
the request unanswered for `stall_seconds` (never forwarding it), then closes; "reset" closes
with a TCP reset; "truncated" forwards the request, then declares the full Content-Length
and closes after half the body; "malformed" answers 200 with invalid JSON (not forwarded).
Explicit rules (fail, reset, inject) take precedence over chaos; of several chaos rules the
first whose method/path matches decides. A matching request is faulted with probability
`rate`, drawn from random.Random(seed) under the proxy's lock, so one request order gives
one fault sequence. `faulted` lists explicit answers (kind: the status code) and chaos alike.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import re
import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self
from urllib.parse import urlsplit

from tests.support.background import BackgroundServer, QuietServer

RESET = "reset"
TIMEOUT = "timeout"
TRUNCATED = "truncated"
MALFORMED = "malformed"
FAULT_KINDS = ("429", "500", "503", TIMEOUT, RESET, TRUNCATED, MALFORMED)
_STATUS_KINDS = {"429": (429, "rateLimitExceeded"), "500": (500, "backendError"),
                 "503": (503, "backendError")}  # fmt: skip
MALFORMED_BODY = b'{"kind": "bigquery#injected", "items": [{"id": '  # cut off: not JSON
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


class Exchange(NamedTuple):
    """One request the proxy saw, and the fault it got (None: forwarded unchanged)."""

    method: str
    path: str
    query: str  # the raw query string, "" when none
    fault: str | None


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    action: tuple[int, Any] | str  # (status, JSON body) or a fault kind (RESET, TIMEOUT, ...)
    times: int | None  # None: every matching request
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            method == self.method
            and self.path.search(path) is not None
            and (self.times is None or self.hits < self.times)
        )


@dataclass
class ChaosRule:
    """Faults matching requests at random: probability `rate`, kind drawn from `kinds`."""

    rate: float
    seed: int
    kinds: tuple[str, ...]
    method: str | None  # None: any method
    path: re.Pattern[str] | None  # None: any path
    rng: random.Random = field(repr=False)
    seen: int = 0  # matching requests
    hits: int = 0  # of them faulted

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or method == self.method) and (
            self.path is None or self.path.search(path) is not None
        )

    def draw(self) -> str | None:
        """The fault for one matching request, or None. Callers hold the proxy's lock."""
        self.seen += 1
        if self.rng.random() >= self.rate:
            return None
        self.hits += 1
        return self.rng.choice(self.kinds)


class FaultProxy(BackgroundServer):
    """Forwards to `upstream` (http://host:port) except where a rule says otherwise."""

    def __init__(self, upstream: str, timeout: float = 120.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.timeout = timeout
        self.rules: list[Rule] = []
        self.chaos_rules: list[ChaosRule] = []
        self.log: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self._history: list[Exchange] = []
        self.stall_seconds = 30.0  # how long a "timeout" fault holds its request
        self._stopping = threading.Event()  # releases stalled requests on stop()
        self._lock = threading.Lock()

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

    def inject(self, method: str, path: str, kind: str, times: int | None = None) -> Rule:
        """Give matching requests the fault `kind` (one of FAULT_KINDS)."""
        _check_kinds((kind,))
        action: tuple[int, Any] | str = kind
        if kind in _STATUS_KINDS:
            action = (_STATUS_KINDS[kind][0], _kind_error(kind))
        return self._add(Rule(method.upper(), re.compile(path), action, times))

    def chaos(
        self,
        rate: float,
        seed: int,
        kinds: Sequence[str] = FAULT_KINDS,
        method: str | None = None,
        path: str | None = None,
    ) -> ChaosRule:
        """Fault each matching request with probability `rate`, reproducibly from `seed`."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {rate!r}")
        chosen = tuple(kinds)
        if not chosen:
            raise ValueError("kinds must name at least one fault kind")
        _check_kinds(chosen)
        rule = ChaosRule(
            rate=rate,
            seed=seed,
            kinds=chosen,
            method=method.upper() if method is not None else None,
            path=re.compile(path) if path is not None else None,
            rng=random.Random(seed),
        )
        with self._lock:
            self.chaos_rules.append(rule)
        return rule

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def _take(self, method: str, path: str, query: str = "") -> tuple[int, Any] | str | None:
        """The action for one request (explicit rules first, then chaos), logged."""
        with self._lock:
            self.log.append((method, path))
            action = self._explicit(method, path)
            if action is None:
                action = self._chaotic(method, path)
            kind = None
            if action is not None:
                kind = str(action[0]) if isinstance(action, tuple) else action
            self._history.append(Exchange(method, path, query, kind))
            return action

    def _explicit(self, method: str, path: str) -> tuple[int, Any] | str | None:
        for rule in self.rules:
            if rule.matches(method, path):
                rule.hits += 1
                return rule.action
        return None

    def _chaotic(self, method: str, path: str) -> tuple[int, Any] | str | None:
        for rule in self.chaos_rules:
            if rule.matches(method, path):
                kind = rule.draw()
                if kind is None:
                    return None
                if kind in _STATUS_KINDS:
                    return (_STATUS_KINDS[kind][0], _kind_error(kind))
                return kind
        return None

    # -- counters

    @property
    def faulted(self) -> list[tuple[str, str, str]]:
        """(method, path, kind) of every fault injected (explicit or chaos), in order."""
        with self._lock:
            return [(e.method, e.path, e.fault) for e in self._history if e.fault is not None]

    @property
    def history(self) -> list[Exchange]:
        """Every request with its query string and the fault it got, in order."""
        with self._lock:
            return list(self._history)

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

    def _make_server(self) -> ThreadingHTTPServer:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        return QuietServer(("127.0.0.1", 0), Handler)

    def start(self) -> Self:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        self._stopping.set()
        super().stop()


def _check_kinds(kinds: Sequence[str]) -> None:
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"unknown fault kind {unknown[0]!r}; known: {', '.join(FAULT_KINDS)}")


def _kind_error(kind: str) -> dict[str, Any]:
    status, reason = _STATUS_KINDS[kind]
    return google_error(status, f"injected {status}", reason)


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms ACK wait)

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
        target = urlsplit(self.path)
        action = self.owner._take(self.command, target.path, target.query)
        if action is None:
            self._forward(body)
        elif isinstance(action, tuple):
            status, payload = action
            self._answer(status, json.dumps(payload).encode(), "application/json; charset=UTF-8")
        elif action == TIMEOUT:
            self._stall()
        elif action == TRUNCATED:
            self._forward(body, truncate=True)
        elif action == MALFORMED:
            self._answer(200, MALFORMED_BODY, "application/json; charset=UTF-8")
        else:
            self._reset()

    def _forward(self, body: bytes, truncate: bool = False) -> None:
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
        if truncate:
            # Declare the whole body (at least 2 bytes), send half of it, then hang up.
            self.send_header("Content-Length", str(max(len(data), 2)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._hang_up()
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stall(self) -> None:
        """Answer nothing for stall_seconds (or until the proxy stops), then close."""
        self.owner._stopping.wait(self.owner.stall_seconds)
        self._hang_up()

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the socket was reset on purpose
            super().finish()
