"""Wake-ups for a followed file: watchfiles events plus a fallback tick.

Events are only hints (a burst of appends may arrive as one event, and
inotify misses writes on NFS, EFS and SMB): whoever wakes up reads everything
new with :class:`telemetry.TelemetryTail`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path


def wakeups(
    path: Path, stop: threading.Event, *, poll: bool = False, interval: float = 1.0
) -> Iterator[None]:
    """Yield whenever the file at ``path`` may have changed, until ``stop`` is set.

    Watches the parent directory (not recursive, filtered to ``path``, so a
    replaced or re-created file keeps reporting), and yields at least every
    ``interval`` seconds. ``poll`` forces stat polling for network mounts.
    """
    from watchfiles import watch

    target = str(path.resolve())

    def only_target(_change: object, changed: str) -> bool:
        return changed == target

    parent = path.resolve().parent
    for _changes in watch(
        parent,
        watch_filter=only_target,
        recursive=False,
        stop_event=stop,
        yield_on_timeout=True,
        rust_timeout=max(1, int(interval * 1000)),
        debounce=50,
        step=20,
        force_polling=poll or None,
        poll_delay_ms=max(50, int(interval * 250)),
        raise_interrupt=False,
    ):
        if stop.is_set():
            return
        yield None
