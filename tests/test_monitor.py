"""The live monitor: shows the state of a file and rows appended while it runs."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from telemetry import HistoricalTelemetry
from tests.monitor_wait import wait_for_rows
from tui.monitor import MonitorApp


async def test_monitor_shows_counts_and_rows_appended_while_running(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    store.append_row({"chunk_date_utc": "2020-01-02", "status": "FAILED"})
    app = MonitorApp(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_rows(pilot, app, 2)
        summary = str(app.query_one("#summary", Static).render())
        assert "1 failed" in summary and "of 2 days" in summary
        store.append_row({"chunk_date_utc": "2020-01-03", "status": "FAILED"})
        await wait_for_rows(pilot, app, 3)
        summary = str(app.query_one("#summary", Static).render())
        assert "2 failed" in summary and "of 3 days" in summary
        calendar = str(app.query_one("#calendar", Static).render())
        assert "2020-01" in calendar and "✗" in calendar
        await pilot.press("q")
    assert not app.is_running


async def test_monitor_shows_a_banner_for_a_file_that_is_not_telemetry(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("name,age\nbob,3\n")
    app = MonitorApp(path)
    async with app.run_test() as pilot:
        banner = app.query_one("#banner", Static)
        for _ in range(40):
            await pilot.pause(0.1)
            if banner.display:
                break
        assert "not a telemetry file" in str(banner.render())
