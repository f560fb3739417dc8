"""The calendar widget: month lines drawn on demand, cached, and redrawn only where days changed."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from textual.app import App, ComposeResult

from telemetry import SCHEMA, BackfillState, HistoricalTelemetry, RowGaps, TelemetryTail
from tests.test_monitor import row, write_rows
from tui.spans import plural
from tui.widgets.calendar import (
    ATTEMPTS_SCALE,
    AVAILABILITY_SCALE,
    LABEL_WIDTH,
    CalendarView,
    availability,
    duration_scale,
    legend,
    month_length,
    month_ordinal,
    month_start,
)
from tui.widgets.pane import ruler
from tui.widgets.summary import human_duration, last_line

START = date(2000, 1, 1)
YEARS = 25


class CalendarApp(App[None]):
    """Hosts one calendar over a state fed from a tail, as the monitor does."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.tail = TelemetryTail(path)
        self.state = BackfillState()
        self.state.apply(self.tail.read_new().records)

    def compose(self) -> ComposeResult:
        yield CalendarView(self.state)

    def feed(self) -> set[date]:
        """Apply what was appended and tell the calendar, as the monitor's pane does."""
        changed = self.state.apply(self.tail.read_new().records)
        self.query_one(CalendarView).days_changed(changed)
        return changed


def long_backfill(tmp_path: Path) -> tuple[Path, date]:
    """One uploaded row per day for 25 years, every 10th day failed."""
    days = (date(START.year + YEARS, 1, 1) - START).days
    rows = []
    for n in range(days):
        day = START + timedelta(days=n)
        rows.append(row(day, "FAILED" if n % 10 == 9 else "UPLOADED", n))
    path = tmp_path / "long.csv"
    write_rows(path, rows)
    return path, START + timedelta(days=days - 1)


def test_month_ordinals_round_trip() -> None:
    for day in (date(2000, 1, 31), date(2020, 2, 29), date(2024, 12, 1)):
        ordinal = month_ordinal(day)
        assert month_start(ordinal) == day.replace(day=1)
        assert month_ordinal(month_start(ordinal + 1)) == ordinal + 1
    assert month_length(month_ordinal(date(2020, 2, 1))) == 29
    assert month_length(month_ordinal(date(2021, 2, 1))) == 28


@given(st.floats(min_value=0, max_value=150, allow_nan=False))
def test_availability_bins_are_ordered_and_bounded(value: float) -> None:
    low = AVAILABILITY_SCALE.bin(value)
    assert 0 <= low <= 4
    assert AVAILABILITY_SCALE.bin(value + 25) >= low


def test_availability_prefers_the_column_then_records_over_expected() -> None:
    values = [""] * len(SCHEMA)
    assert availability(values) is None
    values[SCHEMA.index("records_downloaded")] = "250"
    values[SCHEMA.index("expected_records")] = "1000"
    assert availability(values) == 25.0
    values[SCHEMA.index("availability_pct")] = "99.5"
    assert availability(values) == 99.5
    assert ATTEMPTS_SCALE.bin(1) == 0 and ATTEMPTS_SCALE.bin(9) == 4


def test_duration_scale_without_downloads_still_has_five_bins() -> None:
    scale = duration_scale(BackfillState())
    assert len(scale.labels) == 5 and scale.labels[-1].startswith("≥")


def _downloads(tmp_path: Path, seconds: list[float]) -> BackfillState:
    path = tmp_path / "d.csv"
    store = HistoricalTelemetry(path)
    for k, value in enumerate(seconds):
        day = date(2020, 1, 1) + timedelta(days=k)
        store.append_row(
            {"chunk_date_utc": str(day), "status": "DOWNLOADED", "download_seconds": str(value)}
        )
    return BackfillState.from_path(path)


def test_duration_bins_of_alike_durations_still_tell_days_apart(tmp_path: Path) -> None:
    values = [12.1, 12.1, 12.1, 12.1, 12.2, 12.2, 12.3, 12.3, 12.3, 12.3]
    scale = duration_scale(_downloads(tmp_path, values))
    assert len(set(scale.labels)) == 5, scale.labels  # not five times "<12s"
    assert len({scale.bin(v) for v in values}) >= 3  # the days spread over the ramp
    same = duration_scale(_downloads(tmp_path / "same", [300.0] * 6))
    assert len(set(same.labels)) == 5 and same.bin(300.0) == 2  # the middle bin
    # Spread-out durations keep their percentile bins and short labels.
    spread = duration_scale(
        _downloads(tmp_path / "spread", [1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
    )
    assert spread.labels == ("<2.0s", "<8.0s", "<32s", "<128s", "≥128s")


def test_plural_counts_with_thousands_separators() -> None:
    assert plural(1, "day") == "1 day"
    assert plural(0, "day") == "0 days"
    assert plural(1234, "row") == "1,234 rows"
    assert plural(2, "match", "matches") == "2 matches"


def test_words_of_the_summary() -> None:
    assert human_duration(timedelta(seconds=4)) == "4 s"
    assert human_duration(timedelta(minutes=3, seconds=5)) == "3 min 5 s"
    assert human_duration(timedelta(days=3, hours=4)) == "3 d 4 h"
    assert last_line("Traceback:\n  File x\nHTTPError: 503\n\n") == "HTTPError: 503"
    assert ruler().startswith(" " * LABEL_WIDTH + "1       5")
    assert RowGaps().median() is None


async def test_only_visible_month_lines_are_rendered(tmp_path: Path) -> None:
    path, last = long_backfill(tmp_path)
    app = CalendarApp(path)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        calendar = app.query_one(CalendarView)
        assert calendar.month_count == YEARS * 12
        assert len(calendar._lines) <= calendar.size.height  # 300 months, one screen drawn
        assert calendar.cursor == last  # starts on the newest day, scrolled to it
        assert calendar.render_line(calendar.size.height - 1).text.startswith("2024-12")


async def test_an_appended_row_redraws_only_its_month_line(tmp_path: Path) -> None:
    path, last = long_backfill(tmp_path)
    app = CalendarApp(path)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        calendar = app.query_one(CalendarView)
        before = dict(calendar._lines)
        nov = month_ordinal(date(2024, 11, 1)) - month_ordinal(START)
        assert calendar.render_month(nov).text[LABEL_WIDTH + 2 * 2] == "■"
        before = dict(calendar._lines)
        HistoricalTelemetry(path).append_row(row(date(2024, 11, 3), "FAILED", 10**6))
        assert app.feed() == {date(2024, 11, 3)}
        assert nov not in calendar._lines  # invalidated...
        for line, strip in before.items():
            if line != nov:
                assert calendar._lines[line] is strip  # ...and no other line
        await pilot.pause()
        assert calendar.render_month(nov).text[LABEL_WIDTH + 2 * 2] == "✗"
        assert calendar.cursor == last


async def test_range_grows_and_the_cursor_follows_the_newest_day(tmp_path: Path) -> None:
    path, last = long_backfill(tmp_path)
    app = CalendarApp(path)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        calendar = app.query_one(CalendarView)
        new = last + timedelta(days=40)
        HistoricalTelemetry(path).append_row(row(new, "DOWNLOAD_PENDING", 10**6))
        app.feed()
        await pilot.pause()
        assert calendar.month_count == YEARS * 12 + 2
        assert calendar.cursor == new
        lines = [calendar.render_line(y).text for y in range(calendar.size.height)]
        assert lines[-1].startswith("2025-02 ") and "…" in lines[-1]
        assert lines[-2].startswith("2025-01 · · ·")  # days never attempted show as missing


async def test_home_end_scroll_the_cursor_into_view_and_clicks_map_to_days(
    tmp_path: Path,
) -> None:
    path, last = long_backfill(tmp_path)
    app = CalendarApp(path)
    async with app.run_test(size=(80, 20)) as pilot:
        calendar = app.query_one(CalendarView)
        calendar.focus()
        await pilot.press("home")
        await pilot.pause()
        assert calendar.cursor == START and calendar.scroll_y == 0
        assert calendar.render_line(0).text.startswith("2000-01 ")
        assert calendar.day_at(LABEL_WIDTH + 2 * 4, 1) == date(2000, 2, 5)
        assert calendar.day_at(LABEL_WIDTH + 2 * 30, 1) is None  # no Feb 31st
        assert calendar.day_at(2, 1) is None  # the label
        await pilot.press("end")
        await pilot.pause()
        assert calendar.cursor == last and calendar.scroll_y > 250
        await pilot.click(CalendarView, offset=(LABEL_WIDTH + 2 * 14, calendar.size.height - 1))
        assert calendar.cursor == date(2024, 12, 15)


async def test_stalled_days_and_value_modes(tmp_path: Path) -> None:
    path, _ = long_backfill(tmp_path)
    app = CalendarApp(path)
    async with app.run_test(size=(80, 20)) as pilot:
        calendar = app.query_one(CalendarView)
        await pilot.pause()
        dec = month_ordinal(date(2024, 12, 1)) - month_ordinal(START)
        calendar.set_stalled({date(2024, 12, 1)})
        assert calendar.render_month(dec).text[LABEL_WIDTH] == "!"
        assert ("!", "#CC79A7", "stalled") in legend(calendar)
        assert calendar.cycle_mode() == "availability"
        cell = list(calendar.render_month(dec))[1]  # after the month label
        assert cell.text.startswith("■") and cell.style and cell.style.color
        assert cell.style.color.name == "#7f7f7f"  # no availability: status glyph, grey
        assert calendar.cycle_mode() == "duration"
        assert calendar.cycle_mode() == "attempts"
        assert calendar.render_month(dec).text[LABEL_WIDTH] == "▁"
        assert [entry[2] for entry in legend(calendar)][:2] == ["1", "2"]
