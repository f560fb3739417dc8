"""Wake-ups for followed files: the one source every consumer uses.

Events are only hints (a burst of appends may arrive as one event, and
inotify misses writes on NFS, EFS and SMB): whoever wakes up reads everything
new with :class:`telemetry.TelemetryTail`.

:class:`WakeHub` watches each directory once (watchfiles, not recursive),
however many of its files are followed, and wakes the subscribers of the
files that changed. Where the kernel refuses a watcher (no inotify instance
left: 128 per user by default, shared by every program; some containers and
kernels) or ``poll`` is asked for, the files are polled instead: one loop
for every polled file, one ``stat`` each per round, and only the files whose
``stat`` changed are woken. The fall-back is said once
(:attr:`WakeHub.fallback`, and the ``on_fallback`` hooks), never raised.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

Wake = Callable[[], None]

#: How often the shared poll loop stats every polled file.
POLL_EVERY = 0.25


@dataclass(eq=False)
class _Sub:
    path: str
    wake: Wake
    poll: bool


@dataclass(eq=False)
class _Dir:
    stop: threading.Event = field(default_factory=threading.Event)
    subs: list[_Sub] = field(default_factory=list)
    thread: threading.Thread | None = None


class WakeHub:
    """One watcher per directory and one poll loop for all, shared by every follower.

    :meth:`subscribe` a file with a callback; it is called (from a hub
    thread) whenever the file may have changed. Callbacks run one at a
    time per directory: keep them short or let them hand work on.
    """

    def __init__(self, poll_every: float = POLL_EVERY) -> None:
        self._lock = threading.Lock()
        self._dirs: dict[str, _Dir] = {}
        self._polled: list[_Sub] = []
        self._seen: dict[str, tuple[int, ...] | None] = {}  # each polled file's last stat
        self._poll_every = poll_every
        self._poll_thread: threading.Thread | None = None
        self._poll_stop = threading.Event()
        #: Why files are polled although watching was asked for (``None``: they are not).
        self.fallback: str | None = None
        #: Called once, with the reason, when the hub first falls back to polling.
        self.on_fallback: list[Callable[[str], None]] = []

    def subscribe(self, path: Path | str, wake: Wake, *, poll: bool = False) -> Callable[[], None]:
        """Call ``wake`` whenever ``path`` may have changed; returns the unsubscribe call.

        ``poll`` forces the stat loop for this file (network mounts). ``wake``
        is also called once as soon as the file is watched or polled, so a
        change between the caller's last read and the start of the watch is
        never missed.
        """
        target = os.path.abspath(path)
        sub = _Sub(target, wake, poll)
        with self._lock:
            polled = poll or self.fallback is not None
            if polled:
                self._add_polled(sub)
            else:
                directory = os.path.dirname(target)
                entry = self._dirs.get(directory)
                if entry is None:
                    entry = self._dirs[directory] = _Dir()
                    entry.thread = threading.Thread(
                        target=self._watch,
                        args=(directory, entry),
                        name=f"watch {directory}",
                        daemon=True,
                    )
                    entry.subs.append(sub)
                    entry.thread.start()
                else:
                    entry.subs.append(sub)
        if polled:
            _call(wake)
        return lambda: self._unsubscribe(sub)

    def _unsubscribe(self, sub: _Sub) -> None:
        with self._lock:
            if sub in self._polled:
                self._polled.remove(sub)
                return
            directory = os.path.dirname(sub.path)
            entry = self._dirs.get(directory)
            if entry is not None and sub in entry.subs:
                entry.subs.remove(sub)
                if not entry.subs:
                    entry.stop.set()
                    del self._dirs[directory]

    # -- watching ------------------------------------------------------------

    def _watch(self, directory: str, entry: _Dir) -> None:
        from watchfiles import watch

        first = True
        try:
            for changes in watch(
                directory,
                watch_filter=None,
                recursive=False,
                stop_event=entry.stop,
                debounce=50,
                step=20,
                rust_timeout=1000,
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                if entry.stop.is_set():
                    return
                changed = {os.path.abspath(p) for _, p in changes}
                with self._lock:
                    # The first time: the watch is up, so what came before it is read now.
                    subs = [s for s in entry.subs if first or s.path in changed]
                first = False
                for sub in subs:
                    _call(sub.wake)
        except Exception as exc:  # the kernel refused a watcher: poll instead
            if entry.stop.is_set():
                return
            refused = os.path.isdir(directory)  # else it is gone: poll it till it is back
            reason = f"cannot watch {directory} ({exc}); polling with stat instead"
            self._fall_back(directory, entry, reason if refused else None)

    def _fall_back(self, directory: str, entry: _Dir, reason: str | None) -> None:
        with self._lock:
            first = reason is not None and self.fallback is None
            if first:
                self.fallback = reason
            subs = list(entry.subs)
            if self._dirs.get(directory) is entry:
                del self._dirs[directory]
            for sub in subs:
                self._add_polled(sub)
        if first:
            assert reason is not None
            for hook in list(self.on_fallback):
                _call(partial(hook, reason))
        for sub in subs:
            _call(sub.wake)  # whatever happened meanwhile is read now

    # -- polling -------------------------------------------------------------

    def _add_polled(self, sub: _Sub) -> None:
        """Add ``sub`` to the poll loop (the caller holds the lock)."""
        self._polled.append(sub)
        if sub.path not in self._seen:
            self._seen[sub.path] = _stat(sub.path)
        if self._poll_thread is None:
            self._poll_thread = threading.Thread(target=self._poll, name="poll", daemon=True)
            self._poll_thread.start()

    def _poll(self) -> None:
        while not self._poll_stop.wait(self._poll_every):
            with self._lock:
                subs = list(self._polled)
            stats = {sub.path: _stat(sub.path) for sub in subs}
            with self._lock:
                changed = {p for p, key in stats.items() if self._seen.get(p, key) != key}
                self._seen = stats
            for sub in subs:
                if sub.path in changed:
                    _call(sub.wake)


def _stat(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _call(wake: Callable[[], None]) -> None:
    """Run a callback; a failing one must not stop the hub (its owner reports it)."""
    with contextlib.suppress(Exception):
        wake()


_hub: WakeHub | None = None
_hub_lock = threading.Lock()


def hub() -> WakeHub:
    """The process's one :class:`WakeHub`."""
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = WakeHub()
        return _hub


def wakeups(
    path: Path, stop: threading.Event, *, poll: bool = False, interval: float = 1.0
) -> Iterator[None]:
    """Yield whenever the file at ``path`` may have changed, until ``stop`` is set.

    Yields at least every ``interval`` seconds too (a tick for figures that
    age, and a safety net). Built on the process's :func:`hub`: a replaced or
    re-created file keeps reporting, and a refused watcher falls back to
    polling without a word to the caller (see :attr:`WakeHub.fallback`).
    """
    woken = threading.Event()
    unsubscribe = hub().subscribe(path, woken.set, poll=poll)
    try:
        while not stop.is_set():
            deadline = time.monotonic() + interval
            while not (woken.is_set() or stop.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                woken.wait(min(left, 0.1))  # stop is seen within a tenth of a second
            if stop.is_set():
                return
            woken.clear()
            yield None
    finally:
        unsubscribe()
