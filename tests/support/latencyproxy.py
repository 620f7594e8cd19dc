"""A forwarding HTTP proxy that makes every call take as long as a real Google API's.

    with LatencyProxy(engine.endpoint, latency=0.08, jitter=0.02, seed=1) as proxy:
        client = make_client(project, proxy.url)
        ...
        proxy.requests, proxy.delayed_seconds

Every request is held `latency` seconds (plus a uniform draw in [-jitter, +jitter], never
below zero, from random.Random(seed)) before it is forwarded; the answer is passed back
unchanged. Local engines answer in a millisecond or two, Google's APIs in tens to hundreds
of milliseconds: behind this proxy a collector's concurrency and call count show as they
would. Connections are kept alive on both sides (one upstream connection per client
connection), so the proxy adds no TCP handshakes of its own. Listens on 127.0.0.1 on a
random port; standard library only, one thread per connection (like tests/support/faultproxy).
"""

from __future__ import annotations

import contextlib
import http.client
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.support.background import BackgroundServer, QuietServer

DEFAULT_LATENCY = 0.080  # seconds: a typical Google API round trip
_HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailers", "transfer-encoding", "upgrade", "host", "content-length",
    }
)  # fmt: skip


class LatencyProxy(BackgroundServer):
    """Forwards to `upstream` (http://host:port), each request held `latency` ± `jitter`."""

    def __init__(
        self,
        upstream: str,
        latency: float = DEFAULT_LATENCY,
        jitter: float = 0.0,
        seed: int = 0,
        timeout: float = 600.0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        if latency < 0 or jitter < 0:
            raise ValueError("latency and jitter must not be negative")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.latency = latency
        self.jitter = jitter
        self.timeout = timeout
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.requests = 0
        self.delayed_seconds = 0.0  # the sum of every hold

    def delay(self) -> float:
        """The hold for one request (counted)."""
        with self._lock:
            draw = self._random.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
            hold = max(0.0, self.latency + draw)
            self.requests += 1
            self.delayed_seconds += hold
            return hold

    def _make_server(self) -> ThreadingHTTPServer:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        server = QuietServer(("127.0.0.1", 0), Handler)
        server.request_queue_size = 512  # hundreds of clients may connect at once
        return server


class _Handler(BaseHTTPRequestHandler):
    owner: LatencyProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    _upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

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

    def _connection(self) -> http.client.HTTPConnection:
        if self._upstream is None:
            owner = self.owner
            self._upstream = http.client.HTTPConnection(
                owner.upstream_host, owner.upstream_port, timeout=owner.timeout
            )
        return self._upstream

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        time.sleep(self.owner.delay())
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed
            connection = self._connection()
            try:
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException):
                connection.close()
                self._upstream = None
                if attempt == 2:
                    self.send_error(502, "latency proxy: upstream failed")
                    return
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        if self._upstream is not None:
            self._upstream.close()
