"""The one wake-up source: one watcher per directory, one poll loop, and a
fall-back to polling, said once, when the kernel has no inotify instance left."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from telemetry import HistoricalTelemetry
from tests.polling import get_text, wait
from tui.follow import WakeHub

ROOT = Path(__file__).resolve().parent.parent


def _row(day: str) -> dict[str, str]:
    return {"chunk_date_utc": day, "status": "UPLOADED"}


def _files(directory: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = directory / f"f{i:03d}.csv"
        HistoricalTelemetry(path).append_row(_row("2020-01-01"))
        paths.append(path)
    return paths


def _subscribe_all(hub: WakeHub, paths: list[Path], poll: bool) -> tuple[Counter[str], list]:
    woken: Counter[str] = Counter()
    lock = threading.Lock()

    def waker(name: str) -> Callable[[], None]:
        def wake() -> None:
            with lock:
                woken[name] += 1

        return wake

    return woken, [hub.subscribe(p, waker(_key(p)), poll=poll) for p in paths]


def _key(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _threads(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


def test_one_watcher_per_directory_wakes_only_the_file_that_changed(tmp_path: Path) -> None:
    hub = WakeHub()
    paths = _files(tmp_path, 20)
    before = len(_threads(f"watch {tmp_path}"))
    woken, unsubscribe = _subscribe_all(hub, paths, poll=False)
    try:
        assert len(_threads(f"watch {tmp_path}")) == before + 1
        # Once the watch is up every file is woken once (what came before it is read).
        assert wait(lambda: len(woken) == 20)
        woken.clear()
        HistoricalTelemetry(paths[7]).append_row(_row("2020-01-02"))
        assert wait(lambda: woken[_key(paths[7])] >= 1)
        assert set(woken) == {_key(paths[7])}
        assert hub.fallback is None
    finally:
        for stop in unsubscribe:
            stop()


def test_one_poll_loop_for_every_file_wakes_only_those_whose_stat_changed(
    tmp_path: Path,
) -> None:
    hub = WakeHub(poll_every=0.05)
    paths = _files(tmp_path, 300)
    woken, unsubscribe = _subscribe_all(hub, paths, poll=True)
    try:
        assert sum(name == "poll" for name in _threads("poll")) >= 1
        assert len(woken) == 300  # each once, at once: what came before is read
        woken.clear()
        HistoricalTelemetry(paths[42]).append_row(_row("2020-01-02"))
        assert wait(lambda: woken[_key(paths[42])] >= 1)
        time.sleep(0.2)  # a few more rounds: nothing else changed
        assert set(woken) == {_key(paths[42])}
        assert not _threads(f"watch {tmp_path}")
    finally:
        for stop in unsubscribe:
            stop()


_HOLDER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
held = []
while len(held) < 100000 and (fd := libc.inotify_init1(os.O_CLOEXEC)) >= 0:
    held.append(fd)
print(len(held), ctypes.get_errno(), flush=True)
sys.stdin.read()  # hold them until the test closes our stdin
"""

# The limit of inotify instances is per user: when we are root the processes
# under test run as a user of their own (keeping root's right to read any
# file, to reach this interpreter), so no other test of the suite running
# meanwhile is refused a watcher.
_CAPS = "+dac_override,+dac_read_search"
_CHANGES = ("--jsonl", "--changes-only")
_SETPRIV = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
_AS_TEST_USER = (
    [*_SETPRIV, f"--inh-caps={_CAPS}", f"--ambient-caps={_CAPS}", "--"] if os.geteuid() == 0 else []
)


@contextlib.contextmanager
def _every_inotify_instance_taken() -> Iterator[None]:
    """Hold every inotify instance the test user may have, in a process of that user."""
    holder = subprocess.Popen(
        [*_AS_TEST_USER, sys.executable, "-c", _HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        _count, code = map(int, holder.stdout.readline().split())
        assert code in (errno.EMFILE, errno.ENFILE, errno.ENOMEM), os.strerror(code)
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=20)


def test_a_refused_watcher_makes_the_hub_poll_and_say_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchfiles

    def refused(*args: object, **kwargs: object) -> Iterator[set[object]]:
        raise OSError(errno.EMFILE, "Too many open files (os error 24)")
        yield set()  # a generator, as watchfiles.watch is

    monkeypatch.setattr(watchfiles, "watch", refused)
    hub = WakeHub(poll_every=0.05)
    told: list[str] = []
    hub.on_fallback.append(told.append)
    paths = _files(tmp_path, 3)
    other = tmp_path / "other"
    other.mkdir()
    paths += _files(other, 2)
    woken, unsubscribe = _subscribe_all(hub, paths, poll=False)
    try:
        assert wait(lambda: hub.fallback is not None and len(woken) == 5)
        woken.clear()
        for path in (paths[1], paths[4]):
            HistoricalTelemetry(path).append_row(_row("2020-01-02"))
        changed = {_key(paths[1]), _key(paths[4])}
        assert wait(lambda: all(woken[k] >= 1 for k in changed))
        assert set(woken) == changed
        assert len(told) == 1 and "polling with stat instead" in told[0]
    finally:
        for stop in unsubscribe:
            stop()


def test_follow_and_metrics_go_on_with_every_inotify_instance_taken() -> None:
    with tempfile.TemporaryDirectory() as name:
        Path(name).chmod(0o755)  # readable by the test user (click checks with access())
        _follow_and_metrics_without_inotify(Path(name))


def _follow_and_metrics_without_inotify(directory: Path) -> None:
    path = directory / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row(_row("2020-01-01"))
    with socket_port() as port, _every_inotify_instance_taken():
        follow = subprocess.Popen(
            [*_AS_TEST_USER, sys.executable, "-m", "tui.cli", "follow", str(path), *_CHANGES],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        listen = ("--listen", f"127.0.0.1:{port}")
        metrics = subprocess.Popen(
            [*_AS_TEST_USER, sys.executable, "-m", "tui.cli", "metrics", str(directory), *listen],
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        said = ""
        try:
            url = f"http://{listen[1]}/metrics"
            assert wait(lambda: _rows_metric(url) == 1.0), get_text(url)
            # follow says it polls once it has taken the file's size: what is
            # appended after that is news to it (before, it was its initial state).
            said = _line_within(follow.stderr, 30)
            assert "polling with stat instead" in said, said
            store.append_row(_row("2020-01-05"))
            assert wait(lambda: _rows_metric(url) == 2.0)
            line = _line_within(follow.stdout, 30)  # the row appended after it started
            assert '"date": "2020-01-05"' in line
            page = get_text(url) or ""
            assert "backfill_watch_polling 1.0" in page
            assert 'backfill_up{descriptor="",file="' in page
        finally:
            for proc in (follow, metrics):
                proc.terminate()
            errors = [proc.communicate(timeout=20)[1] for proc in (follow, metrics)]
            errors[0] = said + errors[0]
    for stderr in errors:
        assert "Traceback" not in stderr
        assert stderr.count("polling with stat instead") == 1, stderr


def _line_within(stream: IO[str] | None, seconds: float) -> str:
    """The next line of a child's pipe, or "" if none comes within ``seconds``."""
    assert stream is not None
    ready, _, _ = select.select([stream], [], [], seconds)
    return stream.readline() if ready else ""


@contextlib.contextmanager
def socket_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    yield port


def _rows_metric(url: str) -> float | None:
    page = get_text(url)
    if page is None:
        return None
    for line in page.splitlines():
        if line.startswith("backfill_rows_total{"):
            return float(line.rsplit(" ", 1)[1])
    return None
