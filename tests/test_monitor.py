"""The live monitor's main screen, driven with Pilot on real telemetry files.

Every key of the main screen, rows appended and files replaced while it
runs, tabs, clicks: assertions are on what the app renders and on its state.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual import events
from textual.widgets import Input, Static, TabbedContent

from telemetry import SCHEMA, HistoricalTelemetry
from tests.monitor_wait import wait_for_rows, wait_until
from tui.cmd_latest import latest
from tui.cmd_monitor import watch
from tui.monitor import MonitorApp
from tui.widgets.calendar import LABEL_WIDTH, CalendarView
from tui.widgets.pane import MonitorPane

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
FAILED_DAYS = {date(2020, 1, 5), date(2020, 1, 19), date(2020, 1, 20), date(2020, 2, 10)}
MISSING_DAYS = {date(2020, 1, 10), date(2020, 1, 11), date(2020, 2, 15)}
SKIPPED_DAY = date(2020, 1, 15)
FIRST, LAST = date(2020, 1, 1), date(2020, 3, 5)  # LAST is still DOWNLOAD_PENDING
SIZE = (84, 30)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def row(day: date, status: str, minute: int, **extra: str) -> dict[str, str]:
    """One row of ``day`` started ``minute`` minutes after T0."""
    started = T0 + timedelta(minutes=minute)
    values = {
        "run_id": "run-1",
        "chunk_date_utc": day.isoformat(),
        "status": status,
        "sensor_id": "SENSOR-7",
        "descriptor": "EOObservation",
        "started_at_utc": _iso(started),
    }
    if not status.endswith("PENDING"):
        values["finished_at_utc"] = _iso(started + timedelta(seconds=30))
    values.update(extra)
    return values


def backfill_rows() -> list[dict[str, str]]:
    """Jan 1 .. Mar 5 2020: uploaded days, failures, a retry, a skip, gaps, one pending."""
    rows = []
    minute = 0
    day = FIRST
    while day <= LAST:
        minute += 1
        if day in MISSING_DAYS:
            pass
        elif day == LAST:
            rows.append(row(day, "DOWNLOAD_PENDING", minute))
        elif day in FAILED_DAYS:
            attempts = 2 if day == date(2020, 1, 20) else 1
            for n in range(attempts):
                rows.append(
                    row(
                        day,
                        "FAILED",
                        minute + n,
                        error_type="HTTPError",
                        error_message="Traceback...\nHTTPError: 503 Server Error",
                        download_seconds="4.0",
                    )
                )
        elif day == SKIPPED_DAY:
            rows.append(row(day, "SKIPPED_NO_DATA", minute, records_downloaded="0"))
        else:
            low = day.day % 2 == 0 and day.month == 2  # half availability on even Feb days
            rows.append(
                row(
                    day,
                    "UPLOADED",
                    minute,
                    records_downloaded="500" if low else "1000",
                    expected_records="1000",
                    download_seconds=str(day.day % 7 + 1),
                )
            )
        day += timedelta(days=1)
    return rows


def write_rows(path: Path, rows: Iterable[dict[str, str]]) -> int:
    """Write a telemetry file in one go (as ``append_row`` would, without the fsyncs)."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(SCHEMA)
        for values in rows:
            writer.writerow([values.get(name, "") for name in SCHEMA])
            n += 1
    return n


def frozen(minutes_after_last: float = 1.0) -> datetime:
    return T0 + timedelta(minutes=len(backfill_rows()) + 2 + minutes_after_last)


def make_app(path: Path, **options: object) -> MonitorApp:
    options.setdefault("clock", lambda: frozen())
    return MonitorApp(path, **options)  # type: ignore[arg-type]


def backfill(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "telemetry.csv"
    return path, write_rows(path, backfill_rows())


def text(app: MonitorApp, selector: str) -> str:
    """The plain text a Static of the pane on show renders."""
    return str(app.pane.query_one(selector, Static).render())


def calendar_lines(calendar: CalendarView) -> list[str]:
    """The calendar as rendered on screen, one string per visible line."""
    return [calendar.render_line(y).text for y in range(calendar.size.height)]


def month_line(calendar: CalendarView, month: str) -> str:
    return next(line for line in calendar_lines(calendar) if line.startswith(month))


async def type_keys(pilot, app: MonitorApp, typed: str) -> None:  # type: ignore[no-untyped-def]
    """Type ``typed`` as key events through the app, as a terminal would, then settle.

    Like ``pilot.press`` for each character, without waiting for idle between them.
    """
    for char in typed:
        app.post_message(events.Key(char, char))
    await pilot.pause()


def notes(app: MonitorApp) -> str:
    """The messages of the notifications on show."""
    return " | ".join(n.message for n in app._notifications)


async def started(pilot, app: MonitorApp, rows: int) -> CalendarView:  # type: ignore[no-untyped-def]
    await wait_for_rows(pilot, app, rows)
    return app.pane.calendar


# -- figures and live rows -------------------------------------------------------------


async def test_monitor_shows_counts_and_rows_appended_while_running(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    store.append_row({"chunk_date_utc": "2020-01-02", "status": "FAILED"})
    app = MonitorApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_rows(pilot, app, 2)
        summary = text(app, "#summary")
        assert "1 failed" in summary and "of 2 days" in summary
        store.append_row({"chunk_date_utc": "2020-01-03", "status": "FAILED"})
        await wait_for_rows(pilot, app, 3)
        summary = text(app, "#summary")
        assert "2 failed" in summary and "of 3 days" in summary
        line = month_line(app.pane.calendar, "2020-01")
        assert line.startswith("2020-01 ■ ✗ ✗")
        await pilot.press("q")
    assert not app.is_running


async def test_summary_counts_skipped_apart_and_warns_when_the_writer_goes_quiet(
    tmp_path: Path,
) -> None:
    path, rows = backfill(tmp_path)
    now = [frozen()]
    app = make_app(path, clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        summary = text(app, "#summary")
        assert "1 skipped" in summary
        assert f"{len(FAILED_DAYS)} failed" in summary
        assert f"{len(MISSING_DAYS)} missing" in summary
        assert "1 in flight" in summary
        assert "retries 1" in summary
        head = text(app, "#head")
        assert "telemetry.csv" in head and "SENSOR-7 / EOObservation" in head
        assert "LIVE" in head and "last row" in head and "quiet" not in head
        jan = month_line(calendar, "2020-01")
        assert jan.startswith("2020-01 ■ ■ ■ ■ ✗ ■ ■ ■ ■ · · ■ ■ ■ ~ ■ ■ ■ ✗ ✗ ■ ■ ■ ■ ■ ■ ■ ■ ■ ■")
        assert month_line(calendar, "2020-03")[8:18] == "■ ■ ■ ■ … "
        assert "done" in text(app, "#rate")
        now[0] = frozen(minutes_after_last=600)  # ten hours without a row
        app.refresh_view()
        head = text(app, "#head")
        assert "writer quiet" in head and "10 h" in head
        assert "1 stalled" in text(app, "#summary")  # the pending day, ten hours on
        assert month_line(calendar, "2020-03")[8 + 2 * 4] == "!"
        assert "stalled" in text(app, "#day")


async def test_expected_range_counts_days_never_attempted_as_missing(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path, start=date(2019, 12, 25), end=date(2020, 3, 10))
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        missing = 7 + len(MISSING_DAYS) + 5  # before the first row, gaps, after the last
        assert f"{missing} missing" in text(app, "#summary")
        assert "of 77 days" in text(app, "#summary")
        assert calendar.first_day == date(2019, 12, 25)
        assert calendar.cursor == LAST  # the newest day seen, not the end of the range
        assert month_line(calendar, "2019-12")[8 + 2 * 24 :].startswith("· · · · · · ·")


async def test_row_appended_while_running_redraws_its_cell(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        assert month_line(calendar, "2020-03")[16] == "…"
        HistoricalTelemetry(path).append_row(
            row(LAST, "FAILED", 500, error_type="Timeout", error_message="read timed out")
        )
        await wait_for_rows(pilot, app, rows + 1)
        assert month_line(calendar, "2020-03")[16] == "✗"
        day = text(app, "#day")
        assert "2020-03-05" in day and "FAILED" in day and "read timed out" in day


async def test_paused_monitor_applies_rows_only_when_resumed(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, rows)
        await pilot.press("p")
        assert "PAUSED" in text(app, "#head")
        HistoricalTelemetry(path).append_row(row(date(2020, 3, 6), "UPLOADED", 600))
        pane = app.pane
        assert await wait_until(pilot, lambda: bool(pane._waiting))
        assert app.state.rows == rows
        assert "1 row waiting" in text(app, "#head")
        await pilot.press("p")
        assert app.state.rows == rows + 1
        assert "LIVE" in text(app, "#head")
        assert app.state.status_of(date(2020, 3, 6)) == "UPLOADED"


async def test_file_replaced_under_the_monitor_shows_a_banner_and_reloads(
    tmp_path: Path,
) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        other = tmp_path / "new.csv"
        write_rows(other, [row(date(2021, 6, 1), "FAILED", 1), row(date(2021, 6, 2), "FAILED", 2)])
        os.replace(other, path)
        await wait_for_rows(pilot, app, 2)
        banner = app.pane.query_one("#banner", Static)
        assert banner.display and "replaced" in str(banner.render())
        assert app.state.days == [date(2021, 6, 1), date(2021, 6, 2)]
        assert calendar_lines(calendar)[0].startswith("2021-06 ✗ ✗")
        assert "2 failed" in text(app, "#summary")


async def test_monitor_shows_a_banner_for_a_file_that_is_not_telemetry(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("name,age\nbob,3\n")
    app = MonitorApp(path)
    async with app.run_test() as pilot:
        banner = app.pane.query_one("#banner", Static)
        assert await wait_until(pilot, lambda: bool(banner.display))
        assert "not a telemetry file" in str(banner.render())


async def test_missing_file_is_waited_for_then_followed(tmp_path: Path) -> None:
    path = tmp_path / "later.csv"
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_until(pilot, lambda: "appear" in text(app, "#summary"))
        assert "waiting for the file to appear" in text(app, "#head")
        HistoricalTelemetry(path).append_row(row(date(2020, 1, 1), "UPLOADED", 1))
        await wait_for_rows(pilot, app, 1)
        assert "1 done" in text(app, "#summary")


# -- keys -------------------------------------------------------------------------------


async def test_arrows_hjkl_and_page_keys_move_the_selected_day(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        assert calendar.cursor == LAST  # the cursor starts on the newest day
        # Left and right move a day; up and down a month line, the same day of month.
        steps = [
            ("h", date(2020, 3, 4)),
            ("up", date(2020, 2, 4)),
            ("k", date(2020, 1, 4)),
            ("j", date(2020, 2, 4)),
            ("down", date(2020, 3, 4)),
            ("l", LAST),
        ]
        for key, expected in steps:
            await pilot.press(key)
            assert calendar.cursor == expected, key
        await pilot.press("right")
        assert calendar.cursor == LAST  # clamped to the range
        await pilot.press("left")
        assert "2020-03-04 Wed" in text(app, "#day")
        cursor_line = month_line(calendar, "2020-03")
        assert cursor_line[8 + 2 * 3] == "■"
        await pilot.press("right")
        await pilot.press("up")
        await pilot.press("up")
        await pilot.press("up")
        assert calendar.cursor == FIRST  # clamped to the first day seen
        await pilot.press("down")
        assert calendar.cursor == date(2020, 2, 1)
        assert "2020-02-01" in text(app, "#day")
        await pilot.press("end")
        assert calendar.cursor == LAST
        await pilot.press("pageup")  # a screenful of months: back to the start
        assert calendar.cursor == FIRST
        await pilot.press("pagedown")
        assert calendar.cursor == LAST
        await pilot.press("home")
        assert calendar.cursor == FIRST


async def test_g_jumps_to_a_typed_date_and_refuses_bad_ones(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        await pilot.press("g")
        await type_keys(pilot, app, "2020-01-20")
        await pilot.press("enter")
        assert calendar.cursor == date(2020, 1, 20)
        day = text(app, "#day")
        assert "FAILED" in day and "2 attempts" in day and "503 Server Error" in day
        goto = app.pane.query_one("#goto", Input)
        for typed, complaint in (("2020-02-30", "not a date"), ("1999-01-01", "outside")):
            await pilot.press("g")
            goto.value = typed  # typing each key is covered above; this keeps the test fast
            await pilot.press("enter")
            assert calendar.cursor == date(2020, 1, 20)
            assert complaint in notes(app)
        await pilot.press("g", "x", "escape")
        assert not app.pane.query_one("#goto").display
        assert calendar.has_focus


async def test_n_and_shift_n_step_through_failed_days(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        await pilot.press("home")
        assert calendar.cursor == FIRST
        seen = []
        for _ in range(len(FAILED_DAYS)):
            await pilot.press("n")
            seen.append(calendar.cursor)
        assert seen == sorted(FAILED_DAYS)
        await pilot.press("n")  # past the last one: back to the first, and it says so
        await pilot.pause()
        assert calendar.cursor == min(FAILED_DAYS)
        assert "past the last failed day: back to the first" in notes(app)
        await pilot.press("N")  # and the other way round
        await pilot.pause()
        assert calendar.cursor == max(FAILED_DAYS)
        assert "past the first failed day: back to the last" in notes(app)
        await pilot.press("N")
        assert calendar.cursor == date(2020, 1, 20)


async def test_s_filters_by_status_and_dims_the_others(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        await pilot.press("s")
        assert calendar.status_filter == "failed"
        assert "only failed" in text(app, "#legend")
        jan = list(calendar.render_month(0))[1:]  # after the month label
        for segment in jan:
            dim = bool(segment.style and segment.style.dim)
            assert not ("✗" in segment.text and dim)  # failed days stand out
            assert not ("■" in segment.text and not dim)  # the others are dimmed
        assert any("✗" in s.text for s in jan)
        await pilot.press("s")
        assert calendar.status_filter == "stalled"
        await pilot.press("s", "s")
        assert calendar.status_filter == "missing"
        await pilot.press("home", "n")
        assert calendar.cursor == date(2020, 1, 10)  # n follows the filter when one is set
        for _ in range(3):
            await pilot.press("s")
        assert calendar.status_filter == "all"
        assert "only" not in text(app, "#legend")


async def test_c_cycles_colour_modes_with_a_scale_in_the_legend(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        await pilot.press("c")
        assert calendar.mode == "availability"
        legend = text(app, "#legend")
        assert "availability %" in legend and "≥80%" in legend and "<60%" in legend
        feb = month_line(calendar, "2020-02")
        assert feb[8:16] == "█ ▄ █ ▄ "  # Feb 2 and 4: half the expected records
        await pilot.press("c")
        assert calendar.mode == "duration" and "download time" in text(app, "#legend")
        await pilot.press("c")
        assert calendar.mode == "attempts" and "5+" in text(app, "#legend")
        jan = month_line(calendar, "2020-01")
        assert jan[8 + 2 * 19] == "▂" and jan[8] == "▁"  # Jan 20 took two attempts
        await pilot.press("c")
        assert calendar.mode == "status" and "uploaded" in text(app, "#legend")
        dark = next(iter(calendar.render_line(0))).style
        app.theme = "textual-light"  # themes restyle the cached month lines
        await pilot.pause()
        light = next(iter(calendar.render_line(0))).style
        assert dark and light and dark.bgcolor != light.bgcolor


async def test_e_exports_the_resume_plan_stalled_days_included(tmp_path: Path) -> None:
    """``e`` writes what a restart would redo: the set ``latest --plan`` prints."""
    path, rows = backfill(tmp_path)
    app = make_app(path, clock=lambda: frozen(minutes_after_last=60))  # LAST has stalled
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, rows)
        await pilot.press("e")
        target = tmp_path / "telemetry.resume-plan.txt"
        assert await wait_until(pilot, target.exists)
        exported = target.read_text()
        assert exported == (
            "download 2020-01-05\n"
            "download 2020-01-10..2020-01-11\n"
            "download 2020-01-19..2020-01-20\n"
            "download 2020-02-10\n"
            "download 2020-02-15\n"
            "download 2020-03-05\n"  # the stalled day
        )
        cli = CliRunner().invoke(
            latest, [str(path), "--plan", "--format", "ranges", "--stale-after", "15m"]
        )
        assert cli.exit_code == 0 and cli.output == exported
        assert "8 days to redo (4 failed, 1 stalled, 3 never attempted)" in notes(app)
        assert str(target) in notes(app)


async def test_e_where_the_directory_cannot_take_it_writes_to_the_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, rows = backfill(tmp_path)
    (tmp_path / "telemetry.resume-plan.txt").mkdir()  # the target cannot be replaced
    spare = tmp_path / "tmp"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, rows)
        await pilot.press("e")
        target = spare / "telemetry.resume-plan.txt"
        assert await wait_until(pilot, target.exists)
        assert target.read_text().startswith("download 2020-01-05\n")
        assert str(target) in notes(app)
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".telemetry")]


async def test_o_without_a_terminal_writes_the_selected_day_to_a_file(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        calendar.select_day(date(2020, 1, 20))  # failed twice
        await pilot.press("o")
        target = tmp_path / "telemetry.2020-01-20.txt"
        assert await wait_until(pilot, target.exists)
        report = target.read_text()
        assert report.startswith("2020-01-20  latest FAILED  2 attempts, 2 rows")
        assert report.count("── row ") == 2
        assert "no terminal to page in: wrote 2020-01-20's 2 rows to" in notes(app)


async def test_mouse_click_selects_a_day_and_a_second_click_opens_it(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        calendar.select_day(date(2020, 1, 1))  # January and February on screen
        await pilot.pause()
        lines = calendar_lines(calendar)
        january = next(y for y, line in enumerate(lines) if line.startswith("2020-01"))
        february = next(y for y, line in enumerate(lines) if line.startswith("2020-02"))
        await pilot.click(CalendarView, offset=(LABEL_WIDTH + 2 * 2, january))
        assert calendar.cursor == date(2020, 1, 3)
        await pilot.click(CalendarView, offset=(LABEL_WIDTH + 2 * 9, february))
        assert calendar.cursor == date(2020, 2, 10)
        assert "2020-02-10" in text(app, "#day")
        await pilot.click(CalendarView, offset=(LABEL_WIDTH + 2 * 9, february))
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "DayDetailScreen")


async def test_enter_f_m_question_mark_and_malformed_click_open_their_screens(
    tmp_path: Path,
) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, rows)
        for key, screen in (
            ("enter", "DayDetailScreen"),
            ("f", "FailuresScreen"),
            ("m", "MalformedScreen"),
            ("question_mark", "HelpScreen"),
        ):
            await pilot.press(key)
            assert await wait_until(pilot, lambda s=screen: type(app.screen).__name__ == s), key
            await pilot.press("escape")
            assert await wait_until(pilot, lambda: isinstance(app.screen.focused, CalendarView))
        await pilot.click("#malformed")  # the malformed count opens the list too
        assert await wait_until(pilot, lambda: type(app.screen).__name__ == "MalformedScreen")


async def test_command_palette_offers_the_main_screen_actions(tmp_path: Path) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        calendar = await started(pilot, app, rows)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for title in (
            "Go to date",
            "Search",
            "Next day",
            "Status filter",
            "Only matching months",
            "Open day in pager",
            "Colour mode",
        ):
            assert title in commands
        await commands["Colour mode"].callback()
        assert calendar.mode == "availability"
        await commands["Export resume plan"].callback()
        assert (tmp_path / "telemetry.resume-plan.txt").exists()


async def test_a_file_that_is_not_telemetry_is_not_the_first_tab_and_is_marked(
    tmp_path: Path,
) -> None:
    notes_csv, good = tmp_path / "a-notes.csv", tmp_path / "b.csv"
    notes_csv.write_text("name,age\nbob,3\n")
    write_rows(good, [row(date(2020, 1, 1), "UPLOADED", 1)])
    app = MonitorApp([notes_csv, good], clock=lambda: T0)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_until(pilot, lambda: app.pane.state.rows == 1)
        assert app.pane.path == good  # the first tab, on show, is the telemetry
        tabs = app.query_one(TabbedContent)
        assert await wait_until(pilot, lambda: "⚠" in str(tabs.get_tab("tab-1").label))
        assert str(tabs.get_tab("tab-1").label).startswith("a-notes.csv")
        assert "⚠" not in str(tabs.get_tab("tab-0").label)


async def test_two_files_open_as_two_tabs(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_rows(a, [row(date(2020, 1, 1), "UPLOADED", 1)])
    write_rows(b, [row(date(2021, 5, 1), "FAILED", 1), row(date(2021, 5, 2), "FAILED", 2)])
    app = MonitorApp([a, b], clock=lambda: T0)
    async with app.run_test(size=SIZE) as pilot:
        panes = app.query(MonitorPane)
        assert len(panes) == 2
        assert await wait_until(pilot, lambda: [p.state.rows for p in panes] == [1, 2])
        assert await wait_until(pilot, lambda: isinstance(app.focused, CalendarView))
        assert app.pane.path == a
        await pilot.click("#--content-tab-tab-1")
        assert await wait_until(pilot, lambda: app.query_one(TabbedContent).active == "tab-1")
        assert app.pane.path == b and app.state.rows == 2
        app.refresh_view()
        assert "2 failed" in text(app, "#summary")
        assert isinstance(app.focused, CalendarView)
        await pilot.press("c")
        assert app.pane.calendar.mode == "availability"
        assert panes[0].calendar.mode == "status"


def test_watch_rejects_bad_input_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    for args, message in (
        ([str(tmp_path / "nodir" / "t.csv")], "no such directory"),
        ([str(tmp_path)], "no telemetry files"),
        ([str(tmp_path / "t.csv"), "--start", "2020-02-31"], "not a date"),
        ([str(tmp_path / "t.csv"), "--stale-after", "soon"], "not a duration"),
        ([str(tmp_path / "t.csv"), "--start", "2020-02-01", "--end", "2020-01-01"], "before"),
    ):
        result = runner.invoke(watch, args)
        assert result.exit_code == 2, args
        assert message in result.output and "Traceback" not in result.output


async def test_the_quiet_writer_warning_reads_in_every_theme(tmp_path: Path) -> None:
    """Its text and background differ in light, dark and ANSI themes (not red on red)."""
    path, rows = backfill(tmp_path)
    app = make_app(path, clock=lambda: frozen(minutes_after_last=600))
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, rows)
        head = app.pane.query_one("#head", Static)
        for theme in ("ansi-light", "ansi-dark", "textual-light", "textual-dark", "nord"):
            app.theme = theme
            await pilot.pause()
            app.refresh_view()
            await pilot.pause()
            strip = head.render_line(0)
            quiet = [s for s in strip if "writer quiet" in s.text]
            assert quiet, theme
            style = quiet[0].style
            assert style is not None
            fg, bg = style.color, style.bgcolor
            if style.reverse:
                fg, bg = bg, fg
            assert fg is not None and bg is not None and fg != bg, (theme, style)
