"""Wait, in a Pilot session, until the monitor has applied a number of rows."""

from __future__ import annotations

from textual.pilot import Pilot

from tui.monitor import MonitorApp


async def wait_for_rows(pilot: Pilot[None], app: MonitorApp, rows: int, tries: int = 50) -> None:
    """Pause until ``app.state.rows == rows`` (or ``tries`` x 0.1 s), then refresh the view."""
    for _ in range(tries):
        await pilot.pause(0.1)
        if app.state.rows == rows:
            break
    app.refresh_view()
