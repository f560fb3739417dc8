"""Waiting for a condition (never for a fixed sleep), and reading a page, for the
tests that wait on a process, a server or a file watcher."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable


def wait(predicate: Callable[[], object], timeout: float = 20.0) -> object:
    """``predicate()`` once it is truthy, polling every 50 ms; its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def get_text(url: str) -> str | None:
    """The body of ``url`` as text, or ``None`` when it cannot be fetched (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None
