"""Wait, in a Pilot session, until the monitor has applied rows or reached a state."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot

from tui.monitor import MonitorApp


async def wait_until(
    pilot: Pilot[None], predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.02
) -> bool:
    """Pause until ``predicate()`` holds (or ``timeout`` seconds pass); return it."""
    for _ in range(max(1, int(timeout / step))):
        if predicate():
            return True
        await pilot.pause(step)
    return predicate()


async def wait_for_rows(
    pilot: Pilot[None], app: MonitorApp, rows: int, timeout: float = 5.0
) -> None:
    """Pause until ``app.state.rows == rows`` (or ``timeout`` seconds), then refresh the view."""
    await wait_until(pilot, lambda: app.state.rows == rows, timeout)
    await pilot.pause()
    app.refresh_view()
