"""The monitor's secondary screens, driven with Pilot on a real telemetry file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Static, TextArea

from telemetry import BackfillState, HistoricalTelemetry, TelemetryTail
from telemetry.records import read_batches
from tui.screens import DayDetailScreen, FailuresScreen, HelpScreen, MalformedScreen
from tui.screens.failures import format_runs

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "orchestrator.py", line 210, in download_day\n'
    "    rows = client.query(window)\n"
    '  File "udl/client.py", line 88, in query\n'
    "    raise TimeoutError(f'read timed out after {timeout}s')\n"
    "TimeoutError: read timed out after 300s"
)
HTTP_503 = (
    "HTTPError: 503 Service Unavailable for url https://unifieddatalibrary.com/udl/eoobservation"
)


def _instant(day: date, minutes: int) -> str:
    """A fixed timestamp: backfill day N starts at hour N of 2021-03-01 UTC, plus ``minutes``."""
    moment = datetime(2021, 3, 1, tzinfo=timezone.utc) + timedelta(
        hours=(day - date(2020, 1, 1)).days, minutes=minutes
    )
    return moment.isoformat(timespec="microseconds")


def _row(day: date, status: str, started: str, finished: str = "", **extra: str) -> dict[str, str]:
    row = {
        "run_id": "run-1",
        "chunk_date_utc": day.isoformat(),
        "window_start_utc": f"{day.isoformat()}T00:00:00+00:00",
        "window_end_utc": f"{(day + timedelta(days=1)).isoformat()}T00:00:00+00:00",
        "status": status,
        "sensor_id": "SENSOR-7",
        "descriptor": "EO",
        "output_format": "csv",
        "started_at_utc": started,
        "finished_at_utc": finished,
    }
    row.update(extra)
    return row


def _uploaded(day: date, minutes: int) -> list[dict[str, str]]:
    """One successful attempt: pending, downloaded, processed, uploaded (one started_at)."""
    start = _instant(day, minutes)
    done = {
        "records_downloaded": "1440",
        "expected_records": "1440",
        "availability_pct": "100.0",
        "download_seconds": "12.5",
        "csv_size_mb": "3.2",
        "csv_path": f"/data/csv/{day.isoformat()}.csv",
    }
    processed = {**done, "process_seconds": "4.0", "cdf_size_mb": "1.1"}
    processed["cdf_path"] = f"/data/cdf/{day.isoformat()}.cdf"
    uploaded = {**processed, "upload_seconds": "2.0", "s3_bucket": "udl-archive"}
    uploaded["s3_key"] = f"eo/{day.isoformat()}.cdf"
    return [
        _row(day, "DOWNLOAD_PENDING", start),
        _row(day, "DOWNLOADED", start, _instant(day, minutes + 1), **done),
        _row(day, "PROCESSED", start, _instant(day, minutes + 2), **processed),
        _row(day, "UPLOADED", start, _instant(day, minutes + 3), **uploaded),
    ]


def _failed(day: date, minutes: int, error_type: str, message: str) -> list[dict[str, str]]:
    start = _instant(day, minutes)
    return [
        _row(day, "DOWNLOAD_PENDING", start),
        _row(
            day,
            "FAILED",
            start,
            _instant(day, minutes + 5),
            download_seconds="300.0",
            error_type=error_type,
            error_message=message,
        ),
    ]


#: The day with three attempts: HTTP 503, then a timeout traceback, then success.
RETRIED_DAY = date(2020, 1, 2)
SKIPPED_DAY = date(2020, 1, 6)
TIMEOUT_DAYS = [date(2020, 1, 3), date(2020, 1, 4), date(2020, 1, 5), date(2020, 1, 8)]
HTTP_DAY = date(2020, 1, 7)
#: When HTTP_DAY failed, as the failures view shows a failure days old.
HTTP_FAILED_AT = "2021-03-01 06:05"


def write_backfill(path: Path) -> Path:
    """Write the fixed backfill every screen test reads (deterministic timestamps)."""
    telemetry = HistoricalTelemetry(path)
    rows: list[dict[str, str]] = []
    rows += _uploaded(date(2020, 1, 1), 0)
    rows += _failed(RETRIED_DAY, 0, "HTTPError", HTTP_503)
    rows += _failed(RETRIED_DAY, 10, "TimeoutError", TRACEBACK)
    rows += _uploaded(RETRIED_DAY, 20)
    for day in TIMEOUT_DAYS:
        rows += _failed(day, 0, "TimeoutError", TRACEBACK)
    rows.append(
        _row(
            SKIPPED_DAY,
            "SKIPPED_NO_DATA",
            _instant(SKIPPED_DAY, 0),
            _instant(SKIPPED_DAY, 1),
            records_downloaded="0",
            expected_records="1440",
            availability_pct="0.0",
            download_seconds="1.5",
        )
    )
    rows += _failed(HTTP_DAY, 0, "HTTPError", HTTP_503)
    # A day that failed once and then succeeded is not a failed day.
    rows += _failed(date(2020, 1, 9), 0, "TimeoutError", TRACEBACK)
    rows += _uploaded(date(2020, 1, 9), 10)
    for row in rows:
        telemetry.append_row(row)
    return path


class ScreenHost(App[None]):
    """A bare app that pushes one screen over an empty main screen."""

    TITLE = "backfill-monitor"

    def __init__(self, make_screen: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make_screen = make_screen

    def compose(self) -> ComposeResult:
        yield Static("main screen", id="host")

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and their results reach the screen."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def table_rows(table: DataTable[Any]) -> list[list[str]]:
    """Every row of ``table`` as plain strings."""
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.fixture
def backfill(tmp_path: Path) -> tuple[BackfillState, Path]:
    path = write_backfill(tmp_path / "telemetry.csv")
    return BackfillState.from_path(path), path


# -- day detail ---------------------------------------------------------------------


async def test_day_detail_lists_every_attempt_in_file_order(
    backfill: tuple[BackfillState, Path],
) -> None:
    state, path = backfill
    app = ScreenHost(lambda: DayDetailScreen(state, path, RETRIED_DAY))
    async with app.run_test(size=(180, 48)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DayDetailScreen)
        rows = table_rows(screen.query_one("#attempts", DataTable))
        statuses = [row[2] for row in rows]
        assert statuses == [
            "DOWNLOAD_PENDING",
            "FAILED",
            "DOWNLOAD_PENDING",
            "FAILED",
            "DOWNLOAD_PENDING",
            "DOWNLOADED",
            "PROCESSED",
            "UPLOADED",
        ]
        assert [row[1] for row in rows] == ["1", "1", "2", "2", "3", "3", "3", "3"]
        assert [row[0] for row in rows] == [str(n) for n in range(1, 9)]
        offsets = [int(row[-1]) for row in rows]
        with path.open("rb") as fh:
            records = [r for batch in read_batches(fh) for r in batch.records]
        assert offsets == [r.offset for r in records if r.day == RETRIED_DAY]
        uploaded = rows[-1]
        assert uploaded[3] == "2021-03-01 01:20:00"  # started
        assert uploaded[4] == "2021-03-01 01:23:00"  # finished
        assert uploaded[5:13] == ["12.5", "4.0", "2.0", "1440", "1440", "100.0", "3.2", "1.1"]
        assert uploaded[14:17] == [
            "/data/csv/2020-01-02.csv",
            "/data/cdf/2020-01-02.cdf",
            "s3://udl-archive/eo/2020-01-02.cdf",
        ]
        assert rows[1][13] == "HTTPError" and rows[3][13] == "TimeoutError"
        title = str(screen.query_one("#detail-title", Static).render())
        assert "latest UPLOADED" in title and "3 attempts" in title
        assert screen.warning is None


async def test_day_detail_cursor_shows_and_copies_each_message(
    backfill: tuple[BackfillState, Path],
) -> None:
    state, path = backfill
    app = ScreenHost(lambda: DayDetailScreen(state, path, RETRIED_DAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DayDetailScreen)
        area = screen.query_one("#message", TextArea)
        # Opens on the latest row, which has no message.
        assert screen.selected is not None and screen.selected.values[4] == "UPLOADED"
        assert area.text == "(no error message on this attempt)"
        await pilot.press("up", "up", "up", "up")  # second attempt's FAILED row
        assert area.text == TRACEBACK
        assert area.document.line_count == 6
        await pilot.press("y")
        assert app.clipboard == TRACEBACK
        await pilot.press("up", "up")  # first attempt's FAILED row
        assert area.text == HTTP_503
        await pilot.press("y")
        assert app.clipboard == HTTP_503
        await pilot.press("escape")
        assert not isinstance(app.screen, DayDetailScreen)
        assert app.query_one("#host", Static)


async def test_day_detail_y_says_what_it_did_and_w_o_write_the_day(
    backfill: tuple[BackfillState, Path],
) -> None:
    state, path = backfill
    app = ScreenHost(lambda: DayDetailScreen(state, path, RETRIED_DAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("up", "up", "up", "up", "y")  # the traceback
        said = " | ".join(n.message for n in app._notifications)
        assert f"Sent the error message ({len(TRACEBACK):,} characters)" in said
        assert "terminal's clipboard" in said and "w writes it to a file" in said
        await pilot.press("w")
        target = path.with_name(f"{path.stem}.{RETRIED_DAY}.txt")
        assert await wait_for(pilot, target.exists)
        report = target.read_text()
        assert report.startswith(f"{RETRIED_DAY}  latest UPLOADED  3 attempts, ")
        assert TRACEBACK.rstrip("\n") + "\n" in report and HTTP_503.rstrip("\n") in report
        assert report.count("── row ") == len(screen_records(app))
        target.unlink()
        await pilot.press("o")  # no terminal to page in (headless): the file instead
        assert await wait_for(pilot, target.exists)
        said = " | ".join(n.message for n in app._notifications)
        assert "no terminal to page in: wrote the day's" in said and str(target) in said


def screen_records(app: App[Any]) -> list[Any]:
    screen = app.screen
    assert isinstance(screen, DayDetailScreen)
    return screen.records


async def wait_for(pilot: Pilot[Any], done: Callable[[], bool]) -> bool:
    for _ in range(200):
        if done():
            return True
        await pilot.pause(0.02)
    return done()


async def test_day_detail_says_when_the_file_changed_under_it(
    backfill: tuple[BackfillState, Path],
) -> None:
    state, path = backfill
    path.write_bytes(path.read_bytes()[:200])  # truncated behind the state's back
    app = ScreenHost(lambda: DayDetailScreen(state, path, RETRIED_DAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DayDetailScreen)
        assert screen.warning is not None and "changed under this view" in screen.warning
        assert "0 of 8 rows" in screen.warning
        assert screen.query_one("#detail-warning").display
        path.unlink()
        await pilot.press("r")
        await settle(pilot)
        assert screen.warning is not None and "could not read" in screen.warning


def _follow(path: Path) -> tuple[BackfillState, TelemetryTail]:
    """A state fed by a tail, as the live monitor keeps it."""
    tail = TelemetryTail(path)
    state = BackfillState()
    _catch_up(state, tail)
    return state, tail


def _catch_up(state: BackfillState, tail: TelemetryTail) -> None:
    update = tail.read_new()
    state.apply(update.records, update.malformed)
    # Like the monitor's panes, the state is not told the file's header.


def _append(path: Path, rows: list[dict[str, str]]) -> None:
    telemetry = HistoricalTelemetry(path)
    for row in rows:
        telemetry.append_row(row)


async def test_day_detail_follows_a_new_attempt_of_its_day(tmp_path: Path) -> None:
    path = write_backfill(tmp_path / "telemetry.csv")
    state, tail = _follow(path)
    app = ScreenHost(lambda: DayDetailScreen(state, path, HTTP_DAY))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DayDetailScreen)
        assert [r.values[4] for r in screen.records] == ["DOWNLOAD_PENDING", "FAILED"]
        _append(path, _uploaded(HTTP_DAY, 30))
        _catch_up(state, tail)
        await pilot.pause(1.3)
        await settle(pilot)
        rows = table_rows(screen.query_one("#attempts", DataTable))
        assert [row[2] for row in rows][-1] == "UPLOADED" and len(rows) == 6
        assert [row[1] for row in rows] == ["1", "1", "2", "2", "2", "2"]
        assert screen.selected is not None and screen.selected.values[4] == "UPLOADED"
        assert "latest UPLOADED" in str(screen.query_one("#detail-title", Static).render())


async def test_day_detail_popped_before_its_rows_arrive(
    backfill: tuple[BackfillState, Path],
) -> None:
    state, path = backfill
    app = ScreenHost(lambda: DayDetailScreen(state, path, RETRIED_DAY))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, DayDetailScreen)
        assert app.return_code is None  # still running: the late rows were dropped


# -- failures -------------------------------------------------------------------------


def test_runs_render_as_ranges_and_truncate() -> None:
    d = date(2020, 1, 3)
    assert format_runs([(d, date(2020, 1, 9)), (date(2020, 2, 1),) * 2]) == (
        "2020-01-03..2020-01-09, 2020-02-01"
    )
    many = [(d + timedelta(days=3 * i),) * 2 for i in range(20)]
    text = format_runs(many, width=48)
    assert text.startswith("2020-01-03, 2020-01-06")
    assert text.endswith("more") and len(text) <= 48
    shown = text.count(",") - 1 + 1
    assert f"+{20 - shown} more" in text


async def test_failures_groups_counts_and_runs(backfill: tuple[BackfillState, Path]) -> None:
    state, path = backfill
    app = ScreenHost(lambda: FailuresScreen(state, path))
    async with app.run_test(size=(180, 48)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, FailuresScreen)
        groups = table_rows(screen.query_one("#groups", DataTable))
        # The writer is long gone (quiet): the biggest group first.
        assert [row[:7] for row in groups] == [
            [
                "TimeoutError",
                "download",
                "4",
                "2021-03-01 07:05",
                "2020-01-03",
                "2020-01-08",
                "2020-01-03..2020-01-05, 2020-01-08",
            ],
            ["HTTPError", "download", "1", HTTP_FAILED_AT] + ["2020-01-07"] * 3,
        ]
        assert groups[0][7] == "TimeoutError: read timed out after 300s"
        assert groups[1][7].startswith("HTTPError: 503 Service Unavailable")
        # Neither the retried day (now uploaded) nor the skipped day is a failure.
        days = table_rows(screen.query_one("#days", DataTable))
        assert [row[0] for row in days] == [d.isoformat() for d in TIMEOUT_DAYS]
        assert "5 failed days in 2 groups" in str(
            screen.query_one("#failures-title", Static).render()
        )
        await pilot.press("down")
        days = table_rows(screen.query_one("#days", DataTable))
        assert days == [["2020-01-07", "1", HTTP_FAILED_AT, HTTP_503[:79] + "…"]]


async def test_failures_of_a_live_backfill_come_most_recent_first(tmp_path: Path) -> None:
    path = write_backfill(tmp_path / "telemetry.csv")
    late = date(2020, 1, 20)  # a one-day group that failed a minute ago
    _append(path, _failed(late, 0, "SSLError", "SSLError: handshake failed"))
    state = BackfillState.from_path(path)
    now = datetime.fromisoformat(_instant(late, 6))
    app = ScreenHost(lambda: FailuresScreen(state, path, clock=lambda: now))
    async with app.run_test(size=(180, 48)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, FailuresScreen) and screen.recent_first  # the writer is live
        groups = table_rows(screen.query_one("#groups", DataTable))
        assert [(row[0], row[3]) for row in groups] == [
            ("SSLError", "1 min ago"),
            ("TimeoutError", "12 h 1 min ago"),
            ("HTTPError", "13 h 1 min ago"),
        ]
        days = table_rows(screen.query_one("#days", DataTable))
        assert days[0][:3] == ["2020-01-20", "1", "1 min ago"]  # each day's last failure
        await pilot.press("O")  # by size instead
        groups = table_rows(screen.query_one("#groups", DataTable))
        assert [row[0] for row in groups] == ["TimeoutError", "HTTPError", "SSLError"]
        assert "biggest first" in str(screen.query_one("#failures-title", Static).render())


async def test_failures_enter_opens_the_day(backfill: tuple[BackfillState, Path]) -> None:
    state, path = backfill
    app = ScreenHost(lambda: FailuresScreen(state, path))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # into the TimeoutError group's days
        assert app.focused is not None and app.focused.id == "days"
        await pilot.press("down", "enter")  # 2020-01-04
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DayDetailScreen)
        assert detail.day == date(2020, 1, 4)
        assert [r.values[4] for r in detail.records] == ["DOWNLOAD_PENDING", "FAILED"]
        assert detail.query_one("#message", TextArea).text == TRACEBACK
        await pilot.press("escape")
        assert isinstance(app.screen, FailuresScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, FailuresScreen)


async def test_failures_follow_the_live_state(tmp_path: Path) -> None:
    path = write_backfill(tmp_path / "telemetry.csv")
    state, tail = _follow(path)
    app = ScreenHost(lambda: FailuresScreen(state, path))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, FailuresScreen)
        assert [g.error_type for g in screen.groups] == ["TimeoutError", "HTTPError"]
        # The HTTP day is retried and succeeds; a new day times out.
        _append(path, _uploaded(HTTP_DAY, 30))
        _append(path, _failed(date(2020, 1, 10), 0, "TimeoutError", TRACEBACK))
        _catch_up(state, tail)
        await pilot.pause(1.3)
        groups = table_rows(screen.query_one("#groups", DataTable))
        assert [row[:7] for row in groups] == [
            [
                "TimeoutError",
                "download",
                "5",
                "2021-03-01 09:05",
                "2020-01-03",
                "2020-01-10",
                "2020-01-03..2020-01-05, 2020-01-08, 2020-01-10",
            ],
        ]


async def test_failures_empty_state(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    telemetry = HistoricalTelemetry(path)
    for row in _uploaded(date(2020, 1, 1), 0):
        telemetry.append_row(row)
    state = BackfillState.from_path(path)
    app = ScreenHost(lambda: FailuresScreen(state, path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.has_class("-empty")
        empty = screen.query_one("#failures-empty", Static)
        assert empty.display and str(empty.render()) == "no failed days"
        assert not screen.query_one("#groups", DataTable).display


# -- malformed and help -------------------------------------------------------------


async def test_malformed_lists_line_numbers_and_reasons(tmp_path: Path) -> None:
    path = write_backfill(tmp_path / "telemetry.csv")
    lines_before = path.read_bytes().count(b"\n")
    offset = path.stat().st_size
    with open(path, "ab") as fh:
        fh.write(b"this is not,a telemetry row\r\n")
    HistoricalTelemetry(path).append_row(_row(date(2020, 1, 10), "DOWNLOAD_PENDING", "x"))
    state = BackfillState.from_path(path)
    assert len(state.malformed) == 1
    app = ScreenHost(lambda: MalformedScreen(state, path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        rows = table_rows(app.screen.query_one("#malformed", DataTable))
        assert len(rows) == 1
        line, reason, byte_offset = rows[0]
        assert int(line) == lines_before + 1
        assert reason == state.malformed[0].reason and reason
        assert int(byte_offset) == offset
        assert "1 malformed row" in str(app.screen.query_one("#malformed-title", Static).render())
        raw = app.screen.query_one("#raw", Static)  # the record as it is in the file
        assert await wait_for(pilot, lambda: "not,a telemetry" in str(raw.render()))
        assert str(raw.render()) == "this is not,a telemetry row\\r\\n"
        await pilot.press("escape")
        assert not isinstance(app.screen, MalformedScreen)


async def test_malformed_empty_state(backfill: tuple[BackfillState, Path]) -> None:
    state, path = backfill
    app = ScreenHost(lambda: MalformedScreen(state, path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert str(app.screen.query_one("#malformed-empty", Static).render()) == (
            "no malformed rows"
        )


async def test_help_lists_the_keys_and_legend() -> None:
    app = ScreenHost(HelpScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        keys = str(app.screen.query_one("#help-keys", Static).render())
        for key, meaning in [
            ("PgUp / PgDn", "month"),
            ("g", "go to a day or a month"),
            ("n / N", "failed day"),
            ("t", "live feed"),
            ("*", "every attempt"),
            ("s", "filter by status"),
            ("c", "colour by status"),
            ("e", "export"),
            ("Enter", "day detail"),
            ("f", "failures"),
            ("m", "malformed"),
            ("p", "pause"),
            ("q", "quit"),
        ]:
            assert any(
                line.startswith(key + " ") and meaning in line for line in keys.splitlines()
            ), key
        assert "h l" in keys and "k j" in keys and "Home / End" in keys
        legend = str(app.screen.query_one("#help-legend", Static).render())
        assert "✗  failed" in legend and "·  missing" in legend and "!  stalled" in legend
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)
        app.push_screen(HelpScreen([("#", "#FFFFFF", "custom glyph")]))
        await pilot.pause()
        legend = str(app.screen.query_one("#help-legend", Static).render())
        assert "#  custom glyph" in legend and "failed" not in legend
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


# -- wired into the monitor -----------------------------------------------------------


async def test_monitor_keys_open_every_screen(tmp_path: Path) -> None:
    from tui.monitor import MonitorApp

    path = write_backfill(tmp_path / "telemetry.csv")
    rows = BackfillState.from_path(path).rows
    app = MonitorApp(path, poll=True)

    async def until(predicate: Callable[[], bool]) -> None:
        for _ in range(50):
            if predicate():
                return
            await pilot.pause(0.1)
        raise AssertionError("timed out")

    async with app.run_test(size=(120, 36)) as pilot:
        await until(lambda: app.state.rows == rows)
        day = app.pane.calendar.cursor
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, DayDetailScreen) and bool(app.screen.records))
        detail = app.screen
        assert isinstance(detail, DayDetailScreen) and detail.day == day
        assert len(detail.records) == app.state.row_count(day) and detail.warning is None
        await pilot.press("escape", "f")
        await until(lambda: isinstance(app.screen, FailuresScreen))
        await pilot.press("enter", "down", "enter")
        await until(lambda: isinstance(app.screen, DayDetailScreen) and bool(app.screen.records))
        assert app.screen.day == TIMEOUT_DAYS[1]  # type: ignore[attr-defined]
        await pilot.press("escape", "escape", "m")
        await until(lambda: isinstance(app.screen, MalformedScreen))
        await pilot.press("escape", "question_mark")
        await until(lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("question_mark")
        await until(lambda: not isinstance(app.screen, HelpScreen))


async def test_day_detail_opens_a_long_traceback_at_its_exception_line(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.csv"
    frames = "".join(f'  File "lib{k}.py", line {k}, in call\n    step_{k}()\n' for k in range(40))
    message = f"Traceback (most recent call last):\n{frames}ConnectionResetError: peer reset"
    day = date(2020, 1, 3)
    _append(path, _failed(day, 0, "ConnectionResetError", message))
    state = BackfillState.from_path(path)
    app = ScreenHost(lambda: DayDetailScreen(state, path, day))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        area = app.screen.query_one("#message", TextArea)
        assert await wait_for(pilot, lambda: area.scroll_y == area.max_scroll_y > 0)
        shown = "\n".join(
            "".join(seg.text for seg in area.render_line(y)) for y in range(area.size.height)
        )
        assert "ConnectionResetError: peer reset" in shown  # on screen, not below it
        assert "Traceback (most recent call last)" not in shown


@settings(max_examples=200, deadline=None)
@given(
    before=st.binary(max_size=60),
    line=st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=40),
    after=st.binary(max_size=60),
)
def test_raw_text_is_the_record_up_to_its_line_end(
    tmp_path_factory: pytest.TempPathFactory, before: bytes, line: str, after: bytes
) -> None:
    from tui.screens.malformed import raw_text

    path = tmp_path_factory.mktemp("raw") / "t.csv"
    path.write_bytes(before + line.encode() + b"\n" + after)
    if line.isprintable():  # printable text shows as it is, then its newline escaped
        assert raw_text(path, len(before), limit=200) == line + "\\n"


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), offset=st.integers(0, 300), limit=st.integers(1, 64))
def test_raw_text_shows_any_bytes_printably_and_bounded(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, offset: int, limit: int
) -> None:
    from tui.screens.malformed import raw_text

    path = tmp_path_factory.mktemp("raw") / "t.csv"
    path.write_bytes(data)
    shown = raw_text(path, offset, limit)
    assert all(c.isprintable() or c == " " for c in shown)
    assert len(shown) <= 4 * limit + 1  # each byte escaped at most as \\xNN, and the …


async def test_day_detail_writes_nothing_while_its_rows_are_still_read(
    backfill: tuple[BackfillState, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``w`` (or ``o``) before the day's rows are read would write "no rows of this day
    could be read": it says the rows are still being read instead, and writes nothing."""
    import threading

    state, path = backfill
    release = threading.Event()
    real = BackfillState.history

    def slow(self: BackfillState, *args: Any) -> Any:
        release.wait(10)
        return real(self, *args)

    monkeypatch.setattr(BackfillState, "history", slow)
    app = ScreenHost(lambda: DayDetailScreen(state, path, RETRIED_DAY))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("w")
        await pilot.pause(0.1)
        assert any("still reading" in n.message for n in app._notifications)
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
        release.set()
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert any(p.name.endswith(f"{RETRIED_DAY}.txt") for p in path.parent.iterdir())
