"""Wait, in a Pilot session, until the monitor has applied rows or reached a state."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot

from tui.monitor import MonitorApp


async def wait_until(
    pilot: Pilot[None], predicate: Callable[[], bool], tries: int = 50, step: float = 0.1
) -> bool:
    """Pause until ``predicate()`` holds (or ``tries`` x ``step`` seconds); return it."""
    for _ in range(tries):
        if predicate():
            return True
        await pilot.pause(step)
    return predicate()


async def wait_for_rows(pilot: Pilot[None], app: MonitorApp, rows: int, tries: int = 50) -> None:
    """Pause until ``app.state.rows == rows`` (or ``tries`` x 0.1 s), then refresh the view."""
    await wait_until(pilot, lambda: app.state.rows == rows, tries)
    await pilot.pause()
    app.refresh_view()
