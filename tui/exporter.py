"""The HTTP endpoint of ``backfill-monitor metrics``: ``/metrics`` and nothing else.

``prometheus_client.start_http_server`` keeps a listen backlog of 5 (twenty
scrapers at once wait a second or more), starts a thread per connection
(350 idle sockets made 361 threads) and prints a traceback for every client
that goes away. :class:`MetricsServer` serves the same exposition
(``prometheus_client``'s encoders, text or OpenMetrics as the scraper asks):

* a real listen backlog;
* one thread waits on every idle connection (a selector); a connection is
  handed to a bounded pool of workers only once its request has arrived,
  and closed if none arrives within the idle timeout;
* a client that goes away costs nothing and prints nothing;
* ``GET`` and ``HEAD`` of ``/metrics`` answer; any other path is a 404.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

#: Connections accepted but not yet sending a request, at most.
MAX_IDLE = 1024


class _Handler(BaseHTTPRequestHandler):
    server_version = "backfill-monitor"
    sys_version = ""
    server: Any  # the MetricsServer (not a socketserver)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        if urlsplit(self.path).path != "/metrics":
            payload = b"Not found: the metrics are at /metrics\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        else:
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            payload = encoder(self.server.registry)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # a scrape every few seconds is not news


class MetricsServer:
    """Serves ``registry`` at ``http://HOST:PORT/metrics`` from threads of its own.

    At most ``workers`` requests are answered at once; a connection that
    sends no complete request within ``idle_timeout`` seconds is closed.
    Raises ``OSError`` (or ``socket.gaierror``) when the address cannot be
    listened on.
    """

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        *,
        workers: int = 4,
        idle_timeout: float = 10.0,
        backlog: int = 512,
    ) -> None:
        self.registry = registry
        self.idle_timeout = idle_timeout
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self._listener = socket.create_server((host, port), family=family, backlog=backlog)
        self._listener.setblocking(False)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="metrics http")
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="metrics accept", daemon=True)

    @property
    def port(self) -> int:
        """The port listened on (useful when 0 was asked for)."""
        return int(self._listener.getsockname()[1])

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _serve(self) -> None:
        idle: dict[socket.socket, float] = {}  # connection -> when it is closed unasked
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(timeout=0.25):
                    if key.fileobj is self._listener:
                        self._accept(idle)
                    else:
                        conn = key.fileobj
                        assert isinstance(conn, socket.socket)
                        self._selector.unregister(conn)
                        del idle[conn]
                        self._pool.submit(self._answer, conn)
                now = time.monotonic()
                for conn in [c for c, deadline in idle.items() if deadline < now]:
                    self._drop(conn, idle)
        finally:
            for conn in list(idle):
                self._drop(conn, idle)
            self._selector.close()
            self._listener.close()

    def _accept(self, idle: dict[socket.socket, float]) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, a connection reset before accept
                return
            if len(idle) >= MAX_IDLE:  # the oldest idle connection makes room
                self._drop(next(iter(idle)), idle)
            idle[conn] = time.monotonic() + self.idle_timeout
            self._selector.register(conn, selectors.EVENT_READ, None)

    def _drop(self, conn: socket.socket, idle: dict[socket.socket, float]) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn)
        idle.pop(conn, None)
        conn.close()

    def _answer(self, conn: socket.socket) -> None:
        """Answer one request (in a worker); a client that goes away is no error."""
        try:
            conn.setblocking(True)
            conn.settimeout(self.idle_timeout)
            _Handler(conn, conn.getpeername(), self)  # type: ignore[arg-type]
        except (OSError, ValueError):
            pass  # reset, timed out, gone: nothing to tell
        finally:
            with contextlib.suppress(OSError):
                conn.close()
