"""The /metrics endpoint under many scrapers, idle sockets and clients that go away."""

from __future__ import annotations

import socket
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from telemetry import HistoricalTelemetry
from tui.exporter import MetricsServer
from tui.metrics import BackfillCollector, FileFollower


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MetricsServer]:
    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    follower = FileFollower(path, stale_after=timedelta(minutes=15))
    follower.catch_up()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BackfillCollector(lambda: [follower]))
    served = MetricsServer("127.0.0.1", 0, registry, workers=4, idle_timeout=1.0)
    served.start()
    yield served
    served.close()


def _get(port: int, path: str = "/metrics", method: str = "GET") -> tuple[int, bytes, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def test_metrics_answer_get_and_head_and_nothing_else(server: MetricsServer) -> None:
    status, body, headers = _get(server.port)
    assert status == 200 and b"backfill_rows_total" in body
    assert headers["Content-Type"].startswith("text/plain")
    status, head_body, head_headers = _get(server.port, method="HEAD")
    assert status == 200 and head_body == b""
    assert int(head_headers["Content-Length"]) == len(body)
    for other in ("/", "/metricsx", "/favicon.ico", "/metrics/../etc"):
        status, body, _ = _get(server.port, other)
        assert status == 404 and b"/metrics" in body, other
    status, _, _ = _get(server.port, "/metrics?name[]=x")  # a query is still /metrics
    assert status == 200


def test_fifty_scrapers_at_once_all_get_the_metrics(server: MetricsServer) -> None:
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda _: _get(server.port)[0], range(50)))
    assert answers == [200] * 50


def _threads() -> int:
    return sum(t.name.startswith("metrics") for t in threading.enumerate())


def test_idle_connections_use_no_thread_and_are_closed_after_the_timeout(
    server: MetricsServer,
) -> None:
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(300)]
    try:
        assert _get(server.port)[0] == 200  # served while 300 sockets sit idle
        assert _threads() <= 1 + 4  # the accept thread and the pool, not one per socket
        for conn in idle:
            conn.settimeout(10)
        assert all(conn.recv(1) == b"" for conn in idle)  # closed by the server
    finally:
        for conn in idle:
            conn.close()


def test_clients_that_go_away_print_nothing_and_harm_nothing(
    server: MetricsServer, capfd: pytest.CaptureFixture[str]
) -> None:
    for partial in (b"", b"GET /met", b"GET /metrics HTTP/1.1\r\nHost: x\r\n"):
        conn = socket.create_connection(("127.0.0.1", server.port))
        conn.sendall(partial)
        # Closed with a reset (SO_LINGER 0), as a killed scraper's kernel does.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    assert _get(server.port)[0] == 200
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and err == ""
