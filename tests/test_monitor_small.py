"""The monitor on a small terminal and at the end of a backfill: what an
operator needs first still shows at 80x24, and a finished backfill says so."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from textual.widgets import Footer, TabbedContent

from telemetry import HistoricalTelemetry
from tests.monitor_wait import wait_for_rows, wait_until
from tests.test_monitor import T0, backfill, make_app, row, text, write_rows
from tui.monitor import MonitorApp
from tui.simulate import DEMO_DAYS, DEMO_END, DEMO_START
from tui.spans import human_duration
from tui.widgets.feed import FEED_ROWS
from tui.widgets.pane import DURATION_BUCKETS, TREND_BARS
from tui.widgets.trend import DurationChart


def _footer_keys(app) -> str:  # type: ignore[no-untyped-def]
    footer = app.query_one(Footer)
    return " ".join(str(key.render()) for key in footer.children)


async def test_at_80x24_the_figures_wrap_and_the_footer_keeps_the_first_keys(
    tmp_path: Path,
) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(pilot, app, rows)
        await pilot.pause(0.3)
        summary = app.pane.query_one("#summary")
        assert "attempts" in text(app, "#summary") and summary.size.height >= 3
        assert "ETA" in text(app, "#rate")
        assert app.pane.query_one("#rate").size.height >= 2  # wrapped, not cut
        shown = _footer_keys(app)
        for key in ("Quit", "Help", "Failures", "Go to"):
            assert key in shown, shown
        # The footer draws what fits from the left: the first keys are what fit.
        footer = app.query_one(Footer)
        visible = [k for k in footer.children if k.region.right <= 80 and k.region.width]
        assert {str(k.render()).split()[-1] for k in visible[:5]} >= {"Quit", "Help"}


async def test_a_finished_backfill_says_complete_not_quiet(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    days = [date(2020, 1, 1) + timedelta(days=k) for k in range(10)]
    write_rows(path, [row(day, "UPLOADED", k) for k, day in enumerate(days)])
    app = make_app(path, start=days[0], end=days[-1], clock=lambda: T0 + timedelta(hours=3))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_rows(pilot, app, 10)
        head = text(app, "#head")
        assert "✓ complete, writer stopped 2 h 50 min ago" in head and "quiet" not in head
        assert "complete" in text(app, "#rate") and "0.0 days/h" in text(app, "#rate")


def test_the_demo_covers_its_whole_range() -> None:
    assert DEMO_START + timedelta(days=DEMO_DAYS - 1) == DEMO_END == date(2021, 12, 31)


async def test_tabs_switch_by_key_and_their_labels_carry_badges(tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    write_rows(first, [row(date(2020, 1, 1), "UPLOADED", 1)])
    second = tmp_path / "b.csv"
    write_rows(
        second,
        [row(date(2020, 1, k), "FAILED", k, error_type="Timeout") for k in (1, 2)]
        + [row(date(2020, 1, 3), "DOWNLOAD_PENDING", -60)],
    )
    app = MonitorApp([first, second], clock=lambda: T0 + timedelta(minutes=3))
    async with app.run_test(size=(120, 30)) as pilot:
        tabs = app.query_one(TabbedContent)
        await wait_until(pilot, lambda: all(p.state.rows for p in app.panes))
        await wait_until(pilot, lambda: "✗2" in str(tabs.get_tab("tab-1").label))
        assert str(tabs.get_tab("tab-1").label) == "b.csv ✗2 !1"
        assert str(tabs.get_tab("tab-0").label) == "a.csv"
        await pilot.press("right_square_bracket")
        assert tabs.active == "tab-1"
        await pilot.press("right_square_bracket")  # round the end
        assert tabs.active == "tab-0"
        await pilot.press("2")
        assert tabs.active == "tab-1"
        await pilot.press("left_square_bracket")
        assert tabs.active == "tab-0"
        await pilot.press("9")  # no ninth file: nothing happens
        assert tabs.active == "tab-0"


async def test_ctrl_c_quits_like_q(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_rows(pilot, app, rows)
        await pilot.press("ctrl+c")
        assert await wait_until(pilot, lambda: not app.is_running)


async def test_the_live_feed_follows_the_file_on_wide_screens_and_opens_a_day(
    tmp_path: Path,
) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for_rows(pilot, app, rows)
        feed = app.pane.feed
        side = app.pane.query_one("#side")
        assert side.display and feed.option_count == min(rows, FEED_ROWS)
        newest = date(2020, 3, 10)
        HistoricalTelemetry(path).append_row(
            row(newest, "FAILED", 500, error_type="HTTPError", download_seconds="4.0")
        )
        assert await wait_until(
            pilot, lambda: "2020-03-10" in str(feed.get_option_at_index(0).prompt)
        )
        first = str(feed.get_option_at_index(0).prompt)
        assert (
            "download" in first and "FAILED" in first and "4.0s" in first and "HTTPError" in first
        )
        feed.focus()
        feed.highlighted = 0
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "DayDetailScreen")
        assert app.screen.day == newest  # type: ignore[attr-defined]
    narrow = make_app(path)
    async with narrow.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, narrow, rows + 1)
        assert not narrow.pane.query_one("#side").display  # the calendar keeps the width


async def test_the_trend_shows_days_finished_over_the_run(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    # Ten days finished in the last hour before the clock, two in the hour before.
    rows = [row(date(2020, 1, k), "UPLOADED", 60 + k * 5) for k in range(1, 11)]
    rows += [row(date(2020, 2, k), "UPLOADED", k * 20) for k in (1, 2)]
    write_rows(path, rows)
    now = T0 + timedelta(minutes=120)
    app = make_app(path, clock=lambda: now)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for_rows(pilot, app, 12)
        app.refresh_view()
        await pilot.pause()
        trend = app.pane.query_one("#trend")
        buckets = min(max(trend.content_size.width, 12), TREND_BARS)
        width, counts = app.state.finished_over_run(buckets, now)
        assert list(trend.data) == counts and sum(counts) == 12
        # Ten finished in the last hour, two in the hour before, none since.
        hour = round(timedelta(hours=1) / width)
        assert sum(counts[-hour:]) == 10 and sum(counts[-2 * hour : -hour]) == 2
        label = text(app, "#trend-label")
        assert f"days finished per {human_duration(width)} over the run" in label


async def test_the_duration_chart_draws_the_trend_and_follows_new_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = [
        row(date(2020, 1, k), "UPLOADED", k * 10, download_seconds=str(k), upload_seconds="3")
        for k in range(1, 21)
    ]
    rows.append(row(date(2020, 1, 25), "FAILED", 100, error_type="HTTPError"))
    write_rows(path, rows)
    app = make_app(path)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for_rows(pilot, app, len(rows))
        chart = app.pane.query_one(DurationChart)
        assert await wait_until(pilot, lambda: chart.trend is not None and chart.trend.days)
        assert chart.trend == app.state.duration_trend(DURATION_BUCKETS)
        label = text(app, "#durations-label")
        assert "p50" in label and "1 failed" in label and "dl" in label
        drawn = chart.render()
        assert "✗" in str(drawn)  # the failure is marked
        app.pane.durations_every = 0.0
        HistoricalTelemetry(path).append_row(
            row(date(2020, 2, 1), "UPLOADED", 400, download_seconds="500")
        )
        assert await wait_until(
            pilot, lambda: chart.trend is not None and sum(chart.trend.days) == 22, timeout=10
        )
        assert max(v for v in chart.trend.p95["download"] if v is not None) == 500.0
