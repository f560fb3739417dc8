"""Regenerate the SVG screenshots from the real app on a generated backfill.

python -m screenshots.make

Writes main.svg (the main screen on a failed day), wide.svg (the same at
200 columns, the live feed and the trends beside the calendar), colour-mode.svg
(availability %), detail.svg (every attempt of that day), failures.svg
(failed days by error type) and search.svg (a search, folded to the months
with hits). The clock is frozen a few seconds after the
newest row, so the header reads the same on every run.

Where Debian's ``chromium`` is installed, browser.png too: ``serve`` on a
running demo backfill, as headless Chromium shows it (live, so it differs
from run to run).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.bench.generate import generate
from tests.browser import CHROMIUM, Browser
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


async def browser() -> None:
    """browser.png: the monitor served to Chromium, on a demo backfill half-way through."""
    from tests.test_serve import Serve
    from tui.simulate import DEMO_END, DEMO_START

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.csv"
        demo = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "demo", "--no-tui", "--out", str(path)],
            stderr=subprocess.DEVNULL,
        )
        time.sleep(12)  # the simulated backfill a good way in
        serve = Serve(
            path, "--start", str(DEMO_START), "--end", str(DEMO_END), "--stale-after", "30s"
        )
        chromium = await Browser.start(1400, 820)
        try:
            await chromium.navigate(serve.url)
            await chromium.wait_for_screen("in flight")
            await chromium.click(86, 200)  # a failed day; focus: the footer shows the keys
            await asyncio.sleep(3)  # the side panel's charts drawn
            await chromium.screenshot(HERE / "browser.png")
        finally:
            await chromium.close()
            serve.stop()
            demo.terminate()
            demo.wait()


if __name__ == "__main__":
    asyncio.run(main())
    if CHROMIUM is None:
        print("no chromium: browser.png not remade", file=sys.stderr)
    else:
        asyncio.run(browser())
