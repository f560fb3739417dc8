"""Regenerate the SVG screenshots from the real app on a generated backfill.

python -m screenshots.make
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tests.bench.generate import generate
from tests.monitor_wait import wait_for_rows
from tui.monitor import MonitorApp

HERE = Path(__file__).resolve().parent


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = generate(Path(tmp) / "telemetry.csv", 6_000, seed=3)
        app = MonitorApp(path)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for_rows(pilot, app, 6_000)
            await pilot.pause(0.2)
            app.save_screenshot(str(HERE / "main.svg"))


if __name__ == "__main__":
    asyncio.run(main())
