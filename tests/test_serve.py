"""``backfill-monitor serve``: the token, bounded sessions that always end, downloads, and a
real browser (Debian's headless Chromium, driven over the DevTools protocol)."""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.bench.generate import generate
from tests.browser import CHROMIUM, Browser
from tests.polling import wait

ROWS = 400


class Serve:
    """A running ``backfill-monitor serve``: its URL, port, token and stderr lines."""

    def __init__(self, path: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "serve", str(path), "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        threading.Thread(target=self._read_stderr, daemon=True).start()
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        self.url = self.proc.stdout.readline().strip() if ready else ""
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", self.url)
        assert match, f"no URL printed: {self.url!r} {self.log}"
        self.port, self.token = int(match[1]), match[2]
        self.base = f"http://127.0.0.1:{self.port}"

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))

    def session_pids(self, opened: int = 1) -> list[int]:
        """The monitor processes of the sessions opened so far, from serve's log, once it
        has logged ``opened`` of them (its log line may come after the monitor drew)."""

        def pids() -> list[int]:
            return [int(m[1]) for line in self.log if (m := re.search(r"\(pid (\d+)", line))]

        wait(lambda: len(pids()) >= opened, 10)
        return pids()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def telemetry(tmp_path: Path) -> Path:
    return generate(tmp_path / "telemetry.csv", ROWS, seed=3)


@pytest.fixture
def serve(telemetry: Path) -> Iterator[Serve]:
    server = Serve(telemetry)
    yield server
    server.stop()


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, waiting to be reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def children(pid: int) -> list[int]:
    """Every live process whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_every_request_without_the_token_is_refused(serve: Serve) -> None:
    for path in ("/", "/ws", "/static/js/textual.js", "/download/anything"):
        assert status(serve.base + path) == 403, path
        assert status(f"{serve.base}{path}?token=not-{serve.token}") == 403, path
    with urllib.request.urlopen(serve.url, timeout=10) as response:
        page = response.read().decode()
        cookie = response.headers["Set-Cookie"]
    assert "telemetry.csv" in page
    assert serve.token in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # The page asks for nothing beyond this server: every address in it is local.
    assert not re.findall(r"""(?:src|href)=["'](?!/|data:|#)""", page)
    assert "googleapis" not in page and f"ws://127.0.0.1:{serve.port}/ws" in page
    request = urllib.request.Request(
        serve.base + "/static/js/textual.js", headers={"Cookie": cookie.split(";")[0]}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200  # the cookie stands for the token


async def _open(session: aiohttp.ClientSession, serve: Serve) -> aiohttp.ClientWebSocketResponse:
    return await session.ws_connect(f"ws://127.0.0.1:{serve.port}/ws?token={serve.token}")


async def _first_bytes(ws: aiohttp.ClientWebSocketResponse) -> bytes:
    """Wait until the monitor has drawn something on this session."""
    while True:
        message = await asyncio.wait_for(ws.receive(), 30)
        if message.type == aiohttp.WSMsgType.BINARY and len(message.data) > 100:
            return bytes(message.data)
        assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message


# A browser of our own in a process: it connects, says "drawn" once the monitor has
# drawn, then only answers pings, until it is stopped or killed.
_CLIENT = """
import asyncio, sys, aiohttp
from tests.test_serve import _first_bytes
async def main():
    async with aiohttp.ClientSession() as client:
        ws = await client.ws_connect(sys.argv[1])
        await _first_bytes(ws)
        print("drawn", flush=True)
        async for _ in ws:
            pass
asyncio.run(main())
"""


def _client(serve: Serve) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, f"ws://127.0.0.1:{serve.port}/ws?token={serve.token}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    assert ready and proc.stdout.readline() == "drawn\n"
    return proc


async def test_sessions_are_bounded_and_each_ends_with_its_connection(telemetry: Path) -> None:
    serve = Serve(telemetry, "--max-sessions", "1")
    try:
        browser = _client(serve)
        [pid] = serve.session_pids()
        assert alive(pid)
        async with aiohttp.ClientSession() as client:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await _open(client, serve)
            assert refused.value.status == 503
            assert status(serve.url) == 503
            # Another origin's page cannot drive a session with the user's cookie.
            with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
                await client.ws_connect(
                    f"ws://127.0.0.1:{serve.port}/ws?token={serve.token}",
                    headers={"Origin": "http://evil.example"},
                )
            assert foreign.value.status == 403
        browser.kill()  # no close frame: the kernel closes its connection
        browser.wait()
        assert wait(lambda: not alive(pid), 15), "the session's monitor outlived its socket"
        assert wait(lambda: any("session 1 ended" in line for line in serve.log), 5)
        assert status(serve.url) == 200  # the slot is free again
    finally:
        serve.stop()
    assert serve.proc.returncode == 0


def test_a_browser_that_stops_answering_loses_its_session(telemetry: Path) -> None:
    serve = Serve(telemetry, "--heartbeat", "0.5")
    browser = _client(serve)
    try:
        [pid] = serve.session_pids()
        browser.send_signal(signal.SIGSTOP)  # its connection stays open, but silent
        assert wait(lambda: not alive(pid), 20), "a silent browser kept its monitor"
        assert wait(lambda: any("session 1 ended" in line for line in serve.log), 10)
    finally:
        browser.kill()
        browser.wait()
        serve.stop()


async def test_sigterm_ends_the_server_and_every_session(serve: Serve) -> None:
    async with aiohttp.ClientSession() as client:
        sockets = await asyncio.gather(_open(client, serve), _open(client, serve))
        await asyncio.gather(*(_first_bytes(ws) for ws in sockets))
        pids = serve.session_pids(2)
        assert len(pids) == 2 and all(alive(p) for p in pids)
        # One monitor hears nothing (stopped): neither "quit" nor SIGTERM can end it.
        os.kill(pids[0], signal.SIGSTOP)
        try:
            started = time.monotonic()
            serve.proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(serve.proc.wait, 20) == 0
            took = time.monotonic() - started
            assert not any(alive(p) for p in pids)
            assert took < 15, f"serve took {took:.1f} s to stop"
        finally:
            for pid in filter(alive, pids):  # left behind by a failure: not by the next run
                os.kill(pid, signal.SIGKILL)


def _served_monitor(path: Path, size: tuple[int, int]) -> subprocess.Popen[bytes]:
    """A monitor with the served driver, as serve starts it, its prelude read."""
    env = dict(
        os.environ,
        TEXTUAL_DRIVER="tui.served:ServedDriver",
        COLUMNS=str(size[0]),
        ROWS=str(size[1]),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "watch", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    line = b""
    while line != b"__GANGLION__\n" and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        line = proc.stdout.readline() if ready else b""
    assert line == b"__GANGLION__\n"
    return proc


def test_a_served_monitor_ends_when_its_server_goes(telemetry: Path) -> None:
    proc = _served_monitor(telemetry, (80, 24))
    assert proc.stdin is not None
    proc.stdin.close()  # the server died: its end of the pipe closes
    assert proc.wait(15) == 0


def test_a_served_monitor_stuck_on_a_full_pipe_ends_on_sigterm(telemetry: Path) -> None:
    # Nobody reads its output: the first frame of a big screen fills the pipe and
    # the app blocks in a write, where its event loop cannot hear a signal.
    proc = _served_monitor(telemetry, (400, 200))
    assert wait(lambda: _blocked_in_write(proc.pid), 20), "the monitor never filled its pipe"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == -signal.SIGTERM


def _blocked_in_write(pid: int) -> bool:
    try:
        return "pipe_write" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


def test_a_token_from_the_environment_and_a_warning_beyond_loopback(telemetry: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "serve", str(telemetry), "--listen", "0.0.0.0:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, BACKFILL_MONITOR_TOKEN="from-the-env"),
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 30)
        assert ready and "beyond loopback" in proc.stderr.readline()
        url = proc.stdout.readline().strip()
        assert url.endswith("/?token=from-the-env") and "0.0.0.0" not in url
    finally:
        proc.terminate()
        assert proc.wait(20) == 0


def test_bad_listen_and_missing_files_are_one_line(tmp_path: Path) -> None:
    for args, said in (
        (["--listen", "nowhere"], "--listen: not HOST:PORT"),
        (["--max-sessions", "0"], "--max-sessions"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "tui.cli", "serve", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2
        assert said in done.stderr and len(done.stderr.strip().splitlines()) == 1


async def _download(browser: Browser, serve: Serve, k: int) -> str:
    """The text of the ``k``-th download the page asked for (fetched as the page would)."""
    opened = ""
    deadline = time.monotonic() + 20
    while not opened and time.monotonic() < deadline:
        opened = await browser.evaluate(f"window.__opened[{k}] || ''")
        await asyncio.sleep(0.05)
    assert opened.startswith(f"{serve.base}/download/"), opened
    cookie = f"backfill_monitor_token={serve.token}"
    request = urllib.request.Request(opened, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=20) as response:
        assert "attachment" in response.headers["Content-Disposition"]
        return str(response.read().decode())


def _plan_lines(path: Path) -> list[str]:
    """``latest --plan``'s days, as the export writes them: ``PHASE DAY`` lines."""
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "latest", str(path), "--plan"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines, phase = [], ""
    for line in done.stdout.splitlines()[1:]:
        if line.startswith("  "):
            lines.append(f"{phase} {line.strip()}")
        else:
            phase = line.split(":")[0]
    assert lines, done.stdout
    return lines


needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@needs_chromium
async def test_in_a_browser_the_monitor_runs_downloads_and_ends_with_the_browser(
    serve: Serve, telemetry: Path
) -> None:
    browser = await Browser.start()
    try:
        await browser.navigate(serve.url)
        assert await browser.wait_for_screen("telemetry.csv"), await browser.screen()
        assert await browser.wait_for_screen("done")
        await browser.click(400, 300)  # the page takes keys once clicked
        # e: the resume plan goes to the browser as a download, not to the server's disk.
        await browser.press("e")
        assert await browser.wait_for_screen("downloads (telemetry.resume-plan.txt)")
        plan = await _download(browser, serve, 0)
        assert plan.splitlines() == _plan_lines(telemetry)  # what `latest --plan` says
        # o (no pager in a browser) and, in the day's detail, w: the day's rows.
        await browser.press("o")
        paged = await _download(browser, serve, 1)
        day = paged.split()[0]
        assert str(telemetry) in paged.splitlines()[0] and "── row 1, try" in paged
        mark = await browser.mark()
        await browser.press("\r")
        assert await browser.wait_for_screen("w Write file", since=mark)
        for _ in range(20):  # until the day's rows are read (else: "still reading")
            mark = await browser.mark()
            await browser.press("w")
            if await browser.wait_for_screen("downloads (", timeout=1, since=mark):
                break
        report = await _download(browser, serve, 2)
        assert report.split()[0] == day and "── row 1, try" in report
        assert sorted(p.name for p in telemetry.parent.iterdir()) == ["telemetry.csv"]
        mark = await browser.mark()
        await browser.press("\x1b")  # back to the calendar
        assert await browser.wait_for_screen("f Failures", since=mark)
        # Another key: the help screen opens.
        await browser.press("?")
        assert await browser.wait_for_screen("Keys"), (await browser.screen())[-2000:]
        # Every request the page made went to this server.
        local = (serve.base, "data:")
        assert browser.requests and all(u.startswith(local) for u in browser.requests)
        [pid] = serve.session_pids()
        browser.kill()
        assert wait(lambda: not alive(pid), 20), "the monitor outlived its browser"
        assert not children(serve.proc.pid)
        before = cpu_seconds(serve.proc.pid)
        await asyncio.sleep(1.0)
        assert cpu_seconds(serve.proc.pid) - before < 0.3, "serve burns CPU with no session"
    finally:
        await browser.close()
