"""``backfill-monitor serve``: the monitor in a browser, safe to leave running.

textual-serve does the protocol: its browser client (``textual.js``, xterm.js),
its :class:`~textual_serve.app_service.AppService` that speaks to one app
process over pipes, and its download manager for files the app delivers.
This module adds what a server left running needs:

* **a token** on every request (the page, its assets, the websocket and the
  downloads): from the URL once (``?token=...``), then from a cookie scoped to
  this port; a websocket from another origin is refused too;
* **a bound on sessions** (one monitor process each);
* **sessions that end**: when the browser goes away (the websocket closes,
  or stops answering pings) the monitor is asked to quit, then terminated,
  then killed; SIGTERM or SIGINT to the server ends every session first;
* **no request leaves the machine**: the page loads its font from the server.

Each session runs ``backfill-monitor watch`` with the served driver
(:mod:`tui.served`), so ``o``, ``w`` and ``e`` send their text to the
browser as a download.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import os
import signal
import socket
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

#: Seconds a session's monitor has to quit when asked (it takes milliseconds).
QUIT_GRACE_S = 1.0
#: Seconds a browser has to answer the close of its websocket.
CLOSE_WAIT_S = 1.0
#: Seconds it has to end after SIGTERM (a served monitor ends at once), before SIGKILL.
TERM_GRACE_S = 1.0

_STATIC = Path(textual_serve.__file__).parent / "static"


class Session(AppService):
    """One browser tab: one monitor process, ended for sure when the tab goes."""

    def __init__(self, argv: list[str], number: int, heartbeat: float, **kwargs: Any) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv
        self.number = number
        self.heartbeat = heartbeat
        self.browser_gone = False

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width, height)
        env["TEXTUAL_DRIVER"] = "tui.served:ServedDriver"
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
        # exec, not a shell (no quoting of paths); its own process group, so
        # that ending the session ends whatever the monitor started (a pager).
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width, height),
            start_new_session=True,
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def on_data(self, payload: bytes) -> None:
        # Once the browser is gone, keep reading the monitor's output (and drop
        # it): a monitor blocked on a full pipe could not hear "quit".
        if not self.browser_gone:
            try:
                await asyncio.wait_for(self.remote_write_bytes(payload), self.heartbeat * 2)
            except (ConnectionError, RuntimeError, asyncio.TimeoutError):
                self.browser_gone = True

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def stop(self) -> None:
        """End the monitor: ask it to quit, then SIGTERM, then SIGKILL; always reap it."""
        self.browser_gone = True
        process = self._process
        if process is None:
            return
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        if process.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send_meta({"type": "quit"}), 1)
            for grace, sig in ((QUIT_GRACE_S, signal.SIGTERM), (TERM_GRACE_S, signal.SIGKILL)):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(process.wait(), grace)
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
            await process.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # anything it left in its group
        if self._task is not None:
            task, self._task = self._task, None
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, QUIT_GRACE_S)


class MonitorServer:
    """Serves ``argv`` (a ``watch`` command line) to browsers that hold ``token``."""

    def __init__(
        self,
        argv: list[str],
        *,
        token: str,
        max_sessions: int,
        heartbeat: float,
        title: str,
        log: Callable[[str], None],
    ) -> None:
        """``heartbeat``: seconds between pings to each browser; one that has not
        answered within half of it is gone, and its session ends."""
        self.argv = argv
        self.heartbeat = heartbeat
        self.token = token
        self.max_sessions = max_sessions
        self.title = title
        self.log = log
        self.sessions: dict[int, Session] = {}
        self._opened = 0
        self._downloads = DownloadManager()
        self._cookie = "backfill_monitor_token"
        self._stopping = False

    # -- the token ------------------------------------------------------------

    def _holds_token(self, request: web.Request) -> bool:
        given = request.query.get("token") or request.cookies.get(self._cookie) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self._holds_token(request):
            raise web.HTTPForbidden(
                text="backfill-monitor serve: this page needs its token: open the URL "
                "that serve printed (…/?token=…)\n"
            )
        response: web.StreamResponse = await handler(request)
        if "token" in request.query and not response.prepared:
            response.set_cookie(
                self._cookie, self.token, httponly=True, samesite="Strict", path="/"
            )
        return response

    # -- the routes -----------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application: ``/``, ``/ws``, ``/download/{key}`` and ``/static``."""
        app = web.Application(middlewares=[self._guard])
        app.add_routes(
            [
                web.get("/", self.index),
                web.get("/ws", self.websocket),
                web.get("/download/{key}", self.download),
                web.static("/static", _STATIC),
            ]
        )
        return app

    def _full(self) -> bool:
        return len(self.sessions) >= self.max_sessions

    def _busy(self) -> web.HTTPServiceUnavailable:
        return web.HTTPServiceUnavailable(
            text=f"backfill-monitor serve: all {self.max_sessions} sessions are in use "
            "(--max-sessions): close a tab, then reload this page\n"
        )

    async def index(self, request: web.Request) -> web.Response:
        if self._full():
            raise self._busy()
        scheme = "wss" if request.secure else "ws"
        page = (
            resources.files("tui")
            .joinpath("serve.html")
            .read_text(encoding="utf-8")
            .replace("{{ title }}", html.escape(self.title))
            .replace("{{ websocket }}", html.escape(f"{scheme}://{request.host}/ws"))
            .replace("{{ font_size }}", str(_int(request.query.get("fontsize"), 16)))
        )
        return web.Response(text=page, content_type="text/html")

    async def download(self, request: web.Request) -> web.StreamResponse:
        """A file the monitor delivers (``o``, ``w``, ``e``), streamed to the browser."""
        key = request.match_info["key"]
        try:
            meta = await self._downloads.get_download_metadata(key)
        except KeyError:
            raise web.HTTPNotFound(text="no such download (it may have been taken)\n") from None
        response = web.StreamResponse()
        charset = f"; charset={meta.encoding}" if meta.encoding else ""
        response.headers["Content-Type"] = f"{meta.mime_type}{charset}"
        name = meta.file_name.replace('"', "")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        await response.prepare(request)
        async for chunk in self._downloads.download(key):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One session: a monitor process driven by this websocket until either ends."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            raise web.HTTPForbidden(text="backfill-monitor serve: websocket from another origin\n")
        if self._full() or self._stopping:
            raise self._busy()
        socket_ = web.WebSocketResponse(heartbeat=self.heartbeat, timeout=CLOSE_WAIT_S)
        await socket_.prepare(request)
        self._opened += 1
        session = Session(
            self.argv,
            self._opened,
            self.heartbeat,
            write_bytes=socket_.send_bytes,
            write_str=socket_.send_str,
            close=socket_.close,
            download_manager=self._downloads,
        )
        self.sessions[session.number] = session
        why = "the browser went away"
        try:
            width = _int(request.query.get("width"), 80)
            await session.start(width, _int(request.query.get("height"), 24))
            self.log(
                f"session {session.number} opened (pid {session.pid}; "
                f"{len(self.sessions)} of {self.max_sessions} in use)"
            )
            ended = asyncio.ensure_future(self._relay(socket_, session))
            assert session._task is not None
            done, _ = await asyncio.wait(
                [ended, session._task], return_when=asyncio.FIRST_COMPLETED
            )
            if self._stopping:
                why = "the server is stopping"
            elif session._task in done:
                why = "the monitor exited"
            ended.cancel()
        except asyncio.CancelledError:
            why = "the server is stopping"
        finally:
            await session.stop()
            del self.sessions[session.number]
            with contextlib.suppress(Exception):
                await socket_.close()
            self.log(f"session {session.number} ended: {why}")
        return socket_

    async def _relay(self, socket_: web.WebSocketResponse, session: Session) -> None:
        """The browser's keys, size, focus and pings, to the monitor."""
        async for message in socket_:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                kind, data = message.json()
            except (ValueError, TypeError):
                continue
            if kind == "stdin" and isinstance(data, str):
                await session.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await session.set_terminal_size(
                    _int(data.get("width"), 80), _int(data.get("height"), 24)
                )
            elif kind == "ping":
                await socket_.send_json(["pong", data])
            elif kind == "blur":
                await session.blur()
            elif kind == "focus":
                await session.focus()

    async def stop_sessions(self) -> None:
        """End every session (each within a few seconds), refusing new ones."""
        self._stopping = True
        await asyncio.gather(*(s.stop() for s in list(self.sessions.values())))


def _int(value: object, default: int) -> int:
    try:
        return max(1, int(str(value)))
    except ValueError:
        return default


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (IPv4 or IPv6; port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=64)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve_until_stopped(
    server: MonitorServer, listener: socket.socket, ready: Callable[[], None]
) -> None:
    """Serve on ``listener`` until SIGTERM or SIGINT, then end every session and return.

    ``ready`` is called once requests are served and the signals are handled.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(server.make_app(), handle_signals=False, access_log=None)
    await runner.setup()
    await web.SockSite(runner, listener, shutdown_timeout=QUIT_GRACE_S).start()
    ready()
    await stop.wait()
    server.log("stopping: ending every session")
    await server.stop_sessions()
    await runner.cleanup()


def watch_argv(watch_args: list[str]) -> list[str]:
    """The command line of one session: this Python running ``backfill-monitor watch``."""
    return [sys.executable, "-m", "tui.cli", "watch", *watch_args]
