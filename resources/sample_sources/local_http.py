"""The loopback HTTP server plumbing shared by the offline sample sources (Alpha Vantage, RSS feeds)."""

from __future__ import annotations

import atexit
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: Any  # the LocalHttpServer the handler answers for

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out and hung up is part of the tests, not an error worth a traceback.
        return


class LocalHttpServer:
    """A ThreadingHTTPServer on 127.0.0.1:<free port> in a daemon thread; a context manager.

    Subclasses set ``handler`` (a BaseHTTPRequestHandler reaching the subclass as ``self.server.app``) and
    ``thread_name``.
    """

    handler: ClassVar[type[BaseHTTPRequestHandler]]
    thread_name: ClassVar[str] = "local-http"

    _httpd: QuietHTTPServer | None = None
    _thread: threading.Thread | None = None
    _shared: ClassVar[dict[type, LocalHttpServer]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls) -> Self:
        """The process-wide instance of this server over its default data, started on first use."""
        with LocalHttpServer._shared_lock:
            server = LocalHttpServer._shared.get(cls)
            if server is None:
                server = cls().start()
                atexit.register(server.stop)
                LocalHttpServer._shared[cls] = server
            return server  # type: ignore[return-value]

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = QuietHTTPServer(("127.0.0.1", 0), self.handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not running: call start() or use it as a context manager.")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"
