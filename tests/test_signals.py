"""``watch`` in a real terminal (a pty) quits cleanly on SIGTERM and SIGHUP:
mouse tracking off and the cursor shown again, as after ``q``."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from telemetry import HistoricalTelemetry
from tui.monitor import SIGNAL_GRACE_S

MOUSE_ON, MOUSE_OFF = b"\x1b[?1000h", b"\x1b[?1000l"
CURSOR_SHOWN = b"\x1b[?25h"


def _read_until(fd: int, done, timeout: float = 20.0) -> bytes:  # type: ignore[no-untyped-def]
    """Read the terminal until ``done(output so far)`` or EOF (the process gone)."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(out):
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        out += chunk
    return out


def _watch_in_a_pty(path: Path, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    """``backfill-monitor watch path`` on a new pty (100x30); returns it and the pty's
    controlling side."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "watch", str(path)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30", **env},
        start_new_session=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    os.close(terminal)
    return proc, controller


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_watch_restores_the_terminal_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    proc, controller = _watch_in_a_pty(path)
    try:
        before = _read_until(controller, lambda out: MOUSE_ON in out and b"2020-01" in out)
        assert MOUSE_ON in before, before[-500:]
        proc.send_signal(sig)
        after = _read_until(controller, lambda out: False)  # to EOF: everything it wrote
        assert proc.wait(20) == 0
        assert MOUSE_OFF in after and CURSOR_SHOWN in after
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(controller)


def test_watch_ends_when_its_terminal_is_gone(tmp_path: Path) -> None:
    """A closed SSH session: the terminal hangs up, then SIGHUP. Textual's output
    thread dies on its first failed write; the monitor ends all the same."""
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    proc, controller = _watch_in_a_pty(path)
    try:
        _read_until(controller, lambda out: MOUSE_ON in out and b"2020-01" in out)
        os.close(controller)  # hung up: every write to the terminal fails from now on
        controller = -1
        # Rows keep coming, so the screen keeps changing: writes that go nowhere.
        for k in range(100):
            day = f"2020-{2 + k // 28:02d}-{1 + k % 28:02d}"
            store.append_row({"chunk_date_utc": day, "status": "FAILED"})
            time.sleep(0.01)  # not waiting for a result: spreading the writes out
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(SIGNAL_GRACE_S + 10) in (0, 128 + signal.SIGHUP)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if controller >= 0:
            os.close(controller)


def test_the_monitor_puts_the_signal_handlers_back_when_it_ends(tmp_path: Path) -> None:
    """After the app (a command's code may still run), SIGTERM acts as it did before."""
    from tui.monitor import MonitorApp

    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    app = MonitorApp(path)
    ours: dict[int, object] = {}

    async def pilot(pilot: object) -> None:
        app._exit_on_signals()  # as in a terminal (headless apps set none)
        ours.update({sig: signal.getsignal(sig) for sig in before})
        app.exit()

    app.run(headless=True, auto_pilot=pilot)  # type: ignore[arg-type]
    assert all(ours[sig] is not before[sig] for sig in before)
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_o_hands_the_terminal_to_the_pager_and_takes_it_back(tmp_path: Path) -> None:
    """``o`` runs ``$PAGER`` (a shell command) on the day's rows, then the monitor resumes."""
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row(
        {
            "chunk_date_utc": "2020-01-01",
            "status": "FAILED",
            "error_type": "HTTPError",
            "error_message": '503 Service Unavailable\nretry later, "please"',
        }
    )
    paged = tmp_path / "paged.txt"
    proc, controller = _watch_in_a_pty(path, PAGER=f"cat > '{paged}'")
    try:
        _read_until(controller, lambda out: MOUSE_ON in out and b"2020-01" in out)
        os.write(controller, b"o")
        # The app leaves the alternate screen for the pager, then comes back to it.
        back = _read_until(
            controller, lambda out: paged.exists() and b"\x1b[?1049h" in out and MOUSE_ON in out
        )
        text = paged.read_text()
        assert "2020-01-01  latest FAILED  1 attempt, 1 row" in text
        assert "error_type" in text and "HTTPError" in text
        assert '503 Service Unavailable\nretry later, "please"\n' in text
        assert MOUSE_ON in back
        os.write(controller, b"q")
        _read_until(controller, lambda out: False)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(controller)
