"""A headless Chromium driven over the DevTools protocol, for the ``serve`` tests.

Debian's ``chromium`` runs with a fresh profile and no network of its own.
Before the page loads, a script records every byte the page's websocket
receives (the terminal stream the monitor draws), so a test can read what the
browser shows, as text, whichever renderer (WebGL, canvas) draws it; and
what the page would open in a new window (a download) is noted instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Flags that keep a headless Chromium off the network and quiet (as root: no sandbox).
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
]

_RECORD_SCREEN = """
(() => {
  const Native = window.WebSocket;
  const decoder = new TextDecoder();
  window.__screen = "";
  window.__opened = [];  // what the page opens (a download) is noted, for the test to fetch
  window.open = (url) => { window.__opened.push(new URL(url, location.href).href); return null; };
  window.WebSocket = function (url, protocols) {
    const socket = new Native(url, protocols);
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") {
        window.__screen += decoder.decode(event.data, {stream: true});
        if (window.__screen.length > 4000000) window.__screen = window.__screen.slice(-2000000);
      }
    });
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
})();
"""

# CSI and OSC escape sequences, and the other escapes a terminal stream holds.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def plain(stream: str) -> str:
    """The text of a terminal stream, escape sequences removed."""
    return _ESCAPES.sub("", stream)


class Browser:
    """One headless Chromium with one page, driven by DevTools commands."""

    def __init__(self, proc: subprocess.Popen[bytes], profile: str, page_ws: str) -> None:
        self.proc = proc
        self.profile = profile
        self._page_ws = page_ws
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._next_id = 0
        self.requests: list[str] = []  # every URL the page asked for

    @classmethod
    async def start(cls, width: int = 1280, height: int = 800) -> Browser:
        """Start Chromium on a blank page and connect to it."""
        assert CHROMIUM is not None
        profile = tempfile.mkdtemp(prefix="bm-chromium-")
        proc = subprocess.Popen(
            [
                CHROMIUM,
                *_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("chromium did not open its DevTools port")
            await asyncio.sleep(0.05)
        port = port_file.read_text().split()[0]
        page_ws = ""
        while not page_ws:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            page_ws = pages[0]["webSocketDebuggerUrl"] if pages else ""
            if not page_ws:
                await asyncio.sleep(0.05)
        browser = cls(proc, profile, page_ws)
        browser._session = aiohttp.ClientSession()
        browser._ws = await browser._session.ws_connect(page_ws, max_msg_size=0)
        await browser.send("Network.enable")
        await browser.send("Page.enable")
        await browser.send("Page.addScriptToEvaluateOnNewDocument", source=_RECORD_SCREEN)
        return browser

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events meanwhile are noted)."""
        assert self._ws is not None
        self._next_id += 1
        mine = self._next_id
        await self._ws.send_json({"id": mine, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self._ws.receive(), 30)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"DevTools connection ended: {message.type}")
            data = json.loads(message.data)
            if data.get("method") == "Network.requestWillBeSent":
                self.requests.append(data["params"]["request"]["url"])
            if data.get("id") == mine:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                result: dict[str, Any] = data.get("result", {})
                return result

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def screen(self, since: int = 0) -> str:
        """What the page's terminal has received (from the ``since``-th character of
        the stream, a :meth:`mark`), as plain text."""
        return plain(await self.evaluate(f"(window.__screen || '').slice({since})") or "")

    async def mark(self) -> int:
        """Where the terminal's stream stands now, for :meth:`wait_for_screen`."""
        return int(await self.evaluate("(window.__screen || '').length"))

    async def wait_for_screen(self, text: str, timeout: float = 30, since: int = 0) -> bool:
        """Wait until the terminal has received ``text`` (after ``since``); return whether
        it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in await self.screen(since):
                return True
            await asyncio.sleep(0.1)
        return False

    async def press(self, key: str) -> None:
        """Type one printable key into the page, as a keyboard does."""
        for kind in ("keyDown", "keyUp"):
            params: dict[str, Any] = {"type": kind, "key": key}
            if kind == "keyDown":
                params["text"] = key
            await self.send("Input.dispatchKeyEvent", **params)

    async def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1
            )

    async def screenshot(self, target: Path) -> None:
        import base64

        shot = await self.send("Page.captureScreenshot", format="png")
        target.write_bytes(base64.b64decode(shot["data"]))

    def kill(self) -> None:
        """Kill Chromium at once (SIGKILL to its process group), as a crash would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        self.kill()
        shutil.rmtree(self.profile, ignore_errors=True)
