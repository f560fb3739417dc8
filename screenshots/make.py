"""Regenerate the SVG screenshots from the real app on a generated backfill.

python -m screenshots.make

Writes main.svg (the main screen on a failed day), wide.svg (the same at
200 columns, the live feed and the trends beside the calendar), colour-mode.svg
(availability %), detail.svg (every attempt of that day), failures.svg
(failed days by error type) and search.svg (a search, folded to the months
with hits). The clock is frozen a few seconds after the
newest row, so the header reads the same on every run.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.bench.generate import generate
from tests.monitor_wait import wait_for_rows, wait_until
from tui.monitor import MonitorApp

HERE = Path(__file__).resolve().parent
ROWS = 6_000
SIZE = (120, 40)
WIDE = (200, 50)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = generate(Path(tmp) / "telemetry.csv", ROWS, seed=3)
        app: MonitorApp

        def clock() -> datetime:
            last = app.state.last_row_at if app.is_running else None
            return (last or datetime(2026, 1, 1, tzinfo=timezone.utc)) + timedelta(seconds=4)

        app = MonitorApp(path, clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_rows(pilot, app, ROWS)
            app.sub_title = path.name  # not the temporary directory
            await pilot.press("N", "N")  # back to a failed day: its error shows below
            await pilot.pause(0.3)
            app.refresh_view()
            await pilot.pause(0.2)
            app.save_screenshot(str(HERE / "main.svg"))

            await pilot.press("c")
            await pilot.pause(0.2)
            app.save_screenshot(str(HERE / "colour-mode.svg"))
            await pilot.press("c", "c", "c")

            await pilot.press("enter")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "DayDetailScreen")
            await pilot.pause(0.5)
            app.save_screenshot(str(HERE / "detail.svg"))
            await pilot.press("escape")

            await pilot.press("f")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "FailuresScreen")
            await pilot.pause(0.5)
            app.save_screenshot(str(HERE / "failures.svg"))

        app = MonitorApp(path, clock=clock)
        async with app.run_test(size=WIDE) as pilot:
            await wait_for_rows(pilot, app, ROWS)
            app.sub_title = path.name
            await pilot.press("N", "N")
            pane = app.pane  # the duration chart of the whole file, from its worker
            await wait_until(pilot, lambda: pane.durations_rows == pane.state.rows)
            await pilot.pause(0.3)
            app.refresh_view()
            await pilot.pause(0.2)
            app.save_screenshot(str(HERE / "wide.svg"))

        app = MonitorApp(path, clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_rows(pilot, app, ROWS)
            app.sub_title = path.name
            await pilot.press("slash", *"ReadTimeout", "enter")
            calendar = app.pane.calendar
            await wait_until(pilot, lambda: bool(calendar.search))
            await pilot.press("v", "n")
            await pilot.pause(0.5)
            app.clear_notifications()
            await pilot.pause(0.2)
            app.save_screenshot(str(HERE / "search.svg"))


if __name__ == "__main__":
    asyncio.run(main())
