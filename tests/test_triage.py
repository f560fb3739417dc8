"""Triage in a few keys: search lands on a hit, every attempt can be searched, g takes a
month, the feed is reachable at any width, failed and skipped days keep their meaning."""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.style import Style

from telemetry import SCHEMA, HistoricalTelemetry, LiveFile
from tests.monitor_wait import wait_for_rows, wait_until
from tests.test_monitor import (
    FAILED_DAYS,
    SKIPPED_DAY,
    backfill,
    frozen,
    make_app,
    notes,
    row,
    text,
    type_keys,
    write_rows,
)
from tui.palette import STYLE
from tui.widgets.calendar import MODES
from tui.widgets.pane import MonitorPane

FAILURE_COLOUR = STYLE["FAILED"][1]


async def _search(pilot, app, key: str, typed: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(key)
    await type_keys(pilot, app, typed)
    await pilot.press("enter")


async def test_enter_puts_the_cursor_on_the_first_hit(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, app, rows)
        calendar = app.pane.calendar
        calendar.select_day(date(2020, 3, 1))  # after every hit: it still goes to the first
        await _search(pilot, app, "slash", "503")
        assert await wait_until(pilot, lambda: calendar.search == FAILED_DAYS)
        assert await wait_until(pilot, lambda: calendar.cursor == min(FAILED_DAYS))
        # A search with no hit says so, and leaves the cursor where it was.
        await _search(pilot, app, "slash", "no such text")
        assert await wait_until(pilot, lambda: "0 days match 'no such text'" in notes(app))
        assert calendar.cursor == min(FAILED_DAYS)
        await pilot.press("v")  # nothing to fold to: said
        assert await wait_until(pilot, lambda: "no day matches" in notes(app))


async def test_star_searches_every_attempt_not_only_the_latest(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    day, other = date(2020, 1, 2), date(2020, 1, 3)
    rows = [
        row(day, "FAILED", 1, error_type="SSLError", error_message="handshake failed"),
        row(day, "UPLOADED", 2),  # retried: its latest row no longer says it
        row(other, "UPLOADED", 3),
    ]
    count = write_rows(path, rows)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, app, count)
        calendar = app.pane.calendar
        await _search(pilot, app, "slash", "handshake")  # the latest rows: no hit
        assert await wait_until(pilot, lambda: "0 days match" in notes(app))
        assert calendar.search == frozenset()
        await _search(pilot, app, "asterisk", "handshake")  # every attempt: the retried day
        assert await wait_until(pilot, lambda: calendar.search == {day})
        assert "any attempt" in notes(app) or await wait_until(
            pilot, lambda: "any attempt" in notes(app)
        )
        # A row appended during the search joins it; a day once a hit stays one.
        store = HistoricalTelemetry(path)
        store.append_row(
            {"chunk_date_utc": str(other), "status": "FAILED", "error_message": "handshake failed"}
        )
        store.append_row({"chunk_date_utc": str(other), "status": "UPLOADED"})
        assert await wait_until(pilot, lambda: app.state.rows == count + 2)
        assert await wait_until(pilot, lambda: calendar.search == {day, other})


async def test_g_takes_a_month(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, app, rows)
        calendar = app.pane.calendar
        for typed, expected in (("2020-02", date(2020, 2, 1)), ("2020-01", date(2020, 1, 1))):
            await pilot.press("g")
            await type_keys(pilot, app, typed)
            await pilot.press("enter")
            assert calendar.cursor == expected, typed
        await pilot.press("g")
        await type_keys(pilot, app, "2031-05")
        await pilot.press("enter")
        assert "2031-05 is outside the calendar" in notes(app)
        assert calendar.cursor == date(2020, 1, 1)


async def test_t_shows_the_live_feed_on_a_narrow_terminal_and_x_its_failures(
    tmp_path: Path,
) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(pilot, app, rows)
        pane = app.pane
        side = pane.query_one("#side")
        assert not side.display  # narrow: the calendar only
        await pilot.press("t")
        assert await wait_until(pilot, lambda: side.display and pane.feed.region.height > 3)
        assert not pane.calendar.display or not pane.calendar.region.height
        assert pane.feed.has_focus  # arrows and Enter work on the attempts
        assert pane.feed.option_count == rows
        await pilot.press("x")
        assert pane.feed.failures_only
        assert pane.feed.option_count == 5  # the failed attempts (one day failed twice)
        await pilot.press("t")
        assert await wait_until(pilot, lambda: not side.display)
        assert pane.calendar.has_focus


async def test_the_feed_keeps_the_lines_asked_for_and_failures_apart(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    start = date(2020, 1, 1)
    rows = [row(start + timedelta(days=k), "UPLOADED", k) for k in range(300)]
    rows.insert(10, row(date(2019, 1, 1), "FAILED", 0, error_type="Old"))
    count = write_rows(path, rows)
    app = make_app(path, config=None)
    app.config = app.config.__class__(feed_lines=250)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for_rows(pilot, app, count)
        feed = app.pane.feed
        assert await wait_until(pilot, lambda: feed.option_count == 250)
        feed.show_failures_only(True)  # a failure older than the 250 lines is kept apart
        assert feed.option_count == 1


async def test_failed_days_never_look_like_values_and_skipped_never_like_failures(
    tmp_path: Path,
) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, app, rows)
        calendar = app.pane.calendar
        for mode in MODES:
            calendar.set_mode(mode)
            skipped = calendar.cell(SKIPPED_DAY)
            assert skipped[1] != FAILURE_COLOUR and skipped[0] != "✗", mode
            if mode in ("status", "availability", "duration"):
                for day in FAILED_DAYS:  # no download time or availability to show
                    assert calendar.cell(day) == STYLE["FAILED"], (mode, day)
        calendar.set_mode("duration")
        app.pane.refresh_legend()
        assert "✗ failed" in text(app, "#legend")
        assert Style.parse(FAILURE_COLOUR)  # a colour Rich reads


async def test_nothing_finished_draws_no_bars(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    count = write_rows(path, [row(date(2020, 1, 1), "DOWNLOAD_PENDING", 0)])
    app = make_app(path)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for_rows(pilot, app, count)
        pane = app.pane
        pane.refresh_figures()
        assert list(pane.query_one("#trend").data) == []  # type: ignore[attr-defined]
        assert "none yet" in text(app, "#trend-label")


async def test_a_stalled_day_is_not_also_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    count = write_rows(
        path,
        [row(date(2020, 1, 1), "UPLOADED", 0), row(date(2020, 1, 2), "DOWNLOAD_PENDING", 1)],
    )
    app = make_app(path, stale_after=timedelta(minutes=1))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, app, count)
        app.pane.refresh_figures()
        summary = text(app, "#summary")
        assert "0 in flight" in summary and "1 stalled" in summary, summary


async def test_the_loading_label_moves_with_the_load(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import tui.widgets.pane as pane_module

    path = tmp_path / "t.csv"
    start = date(2000, 1, 1)
    count = write_rows(
        path,
        [row(start + timedelta(days=k), "UPLOADED", k, csv_path="x" * 300) for k in range(4000)],
    )
    monkeypatch.setattr(pane_module, "BULK_BYTES", 64 << 10)  # many steps
    monkeypatch.setattr(pane_module, "FIGURES_EVERY", 0.05)
    real_read = LiveFile.read

    def slow_read(self, **kw):  # type: ignore[no-untyped-def]
        time.sleep(0.03)  # a slow disk: the load takes many redraw periods
        return real_read(self, **kw)

    monkeypatch.setattr(LiveFile, "read", slow_read)
    shown: list[str] = []
    real_put = MonitorPane._put

    def put(self, selector, markup, **kw):  # type: ignore[no-untyped-def]
        if selector == "#loading-label":
            shown.append(markup)
        real_put(self, selector, markup, **kw)

    monkeypatch.setattr(MonitorPane, "_put", put)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, app, count)
    percents = {label.split()[1] for label in shown}
    assert len(percents) >= 5, shown  # it moved step by step, not 1% then done


async def test_a_writer_already_quiet_at_the_start_is_no_news_but_its_warning_is_whole(
    tmp_path: Path,
) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path, clock=lambda: frozen(minutes_after_last=600))  # quiet for hours
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(pilot, app, rows)
        pane = app.pane
        pane.refresh_figures()
        await pilot.pause()
        head = text(app, "#head")
        assert "writer quiet" in head and "LIVE" not in head
        assert pane.query_one("#head").region.height >= 2  # wrapped at 80 columns, not cut
        assert "ago (usual <" in head
        assert "went quiet" not in notes(app)  # the state of things when it opened


_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12
)


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(_TEXT | st.text('ab",\n\r É-0', max_size=12), min_size=1, max_size=8),
    from_day=st.booleans(),
    pick=st.integers(0, 7),
    start=st.integers(0, 6),
    length=st.integers(1, 5),
    other=_TEXT,
)
def test_every_attempt_search_finds_what_decoding_every_row_finds(
    tmp_path_factory, messages, from_day, pick, start, length, other
) -> None:  # type: ignore[no-untyped-def]
    from tui.widgets.pane import matching_days, search_matches

    path = tmp_path_factory.mktemp("search") / "t.csv"
    store = HistoricalTelemetry(path)
    for k, message in enumerate(messages):
        day = str(date(2020, 1, 1) + timedelta(days=k % 3))
        store.append_row({"chunk_date_utc": day, "status": "FAILED", "error_message": message})
    source = "2020-01-03" if from_day else messages[pick % len(messages)]
    # A needle from a message (quotes, commas, newlines and case included), a day, or any text.
    needle = (source[start : start + length] or other).lower()
    if not needle:
        return
    reader = LiveFile(path)
    segments = []
    while True:
        step = reader.read()
        segments += step.segments
        assert not step.records  # a first read comes as segments: the path under test
        if step.caught_up:
            break
    pairs = [
        (day, segment.values(k)) for segment in segments for k, day in enumerate(segment.row_days())
    ]
    assert len(pairs) == len(messages)  # every row decoded, none rejected
    expected = [day for day, values in pairs if search_matches(needle, day, values)]
    assert list(matching_days(needle, segments)) == expected


def test_every_attempt_search_finds_a_day_written_in_another_iso_form(tmp_path: Path) -> None:
    from tui.widgets.pane import matching_days

    if sys.version_info < (3, 11):
        return  # date.fromisoformat reads only YYYY-MM-DD there: no other form to find
    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    with open(path, "a", encoding="utf-8", newline="") as fh:  # the same day, as 20200103
        fh.write("run," + "20200103,UPLOADED" + "," * (len(SCHEMA) - 3) + "\r\n")
    step = LiveFile(path).read()
    segments = step.segments
    assert sum(len(s.row_days()) for s in segments) == 2  # both rows read
    # The row's text says 20200103; the day it stands for is 2020-01-03.
    assert list(matching_days("2020-01-03", segments)) == [date(2020, 1, 3)]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(["UPLOADED", "FAILED", "DOWNLOAD_PENDING"]), min_size=2, max_size=80),
    st.integers(1, 30),
    st.integers(1, 6),
)
def test_the_feed_after_a_bulk_load_holds_the_newest_rows_and_failures(
    statuses: list[str], lines: int, per_step: int
) -> None:
    """NewestRows keeps only the segments holding the newest rows: what it gives is the
    newest ``lines`` rows (and failed rows) of every segment read, however they came."""
    import tempfile

    from tui.widgets.pane import NewestRows, _last_rows

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        first = date(2020, 1, 1)
        write_rows(path, [row(first + timedelta(k // 3), s, k) for k, s in enumerate(statuses)])
        reader = LiveFile(path, catch_up_bytes=1)  # a few rows per step: many segments
        every, newest = [], NewestRows(lines)
        while True:
            step = reader.read()
            for k in range(0, len(step.segments), per_step):
                newest.add(step.segments[k : k + per_step])
            every += step.segments
            if step.caught_up:
                break
    assert len(every) > 1 and sum(len(s.keeps) for s in every) == len(statuses)
    got_rows, got_failed = newest.take()
    assert got_rows == _last_rows(every, lines)
    assert got_failed == _last_rows(every, lines, failed=True)
    want_failed = min(lines, statuses.count("FAILED"))
    assert len(got_rows) == min(lines, len(statuses)) and len(got_failed) == want_failed
