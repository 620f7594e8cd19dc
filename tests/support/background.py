"""The lifecycle the tests' local HTTP servers share (recorded APIs, the Cloud Asset
stand-in, the fault and latency proxies, the transport tests' recorder): serve on a free
loopback port in a daemon thread, stop by shutting down and joining, use as a with-block. A
subclass says how its server is built (`_make_server`)."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class QuietServer(ThreadingHTTPServer):
    """A server whose clients may hang up, or whose connections are reset on purpose: neither
    is worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class BackgroundServer:
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _make_server(self) -> ThreadingHTTPServer:
        """The server, bound to ("127.0.0.1", 0)."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the {type(self).__name__} is not running")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> Self:
        server = self._make_server()
        server.daemon_threads = True
        self._server = server
        # A short poll interval: stop() waits for it, and tests start many servers.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
