"""Figures an operator acts on: no ETA from a dead writer, a guessed range said so."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from telemetry import BackfillState, HistoricalTelemetry
from tui.cli import main

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


def _writer_every_20s(path: Path, days: int = 60) -> datetime:
    """A writer that finished one day every 20 s; returns its last row's time."""
    store = HistoricalTelemetry(path)
    for k in range(days):
        at = (T0 + timedelta(seconds=20 * k)).isoformat()
        day = (date(2020, 1, 1) + timedelta(days=k)).isoformat()
        store.append_row(
            {
                "chunk_date_utc": day,
                "status": "UPLOADED",
                "started_at_utc": at,
                "finished_at_utc": at,
            }
        )
    return T0 + timedelta(seconds=20 * (days - 1))


def test_a_writer_quiet_by_its_own_cadence_has_no_eta(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    last = _writer_every_20s(path)
    state = BackfillState.from_path(path, expected_end=date(2020, 12, 31))
    # One minute after its last row it is live: a rate and an ETA.
    going = state.progress(now=last + timedelta(minutes=1))
    assert not state.liveness(last + timedelta(minutes=1)).quiet
    assert going.days_per_hour and going.eta is not None
    # Eight minutes of nothing (far under --stale-after's 15): quiet, no ETA anywhere.
    later = last + timedelta(minutes=8)
    assert state.liveness(later).quiet
    assert state.progress(now=later).eta is None
    # The two-minute floor: 100 s of nothing is 5x its gap, not quiet yet...
    assert not state.liveness(last + timedelta(seconds=100)).quiet
    # ...and 10x its gap (200 s) is past the floor: quiet.
    assert state.liveness(last + timedelta(seconds=201)).quiet


def test_summary_says_when_the_range_is_inferred(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _writer_every_20s(path, days=3)
    guessed = CliRunner().invoke(main, ["summary", str(path), "--json"])
    assert json.loads(guessed.stdout)["range_inferred"] is True
    text = CliRunner().invoke(main, ["summary", str(path)]).stdout
    assert "range 2020-01-01..2020-01-03 inferred from the file" in text
    assert "ETA: " in text
    given = ["--start", "2020-01-01", "--end", "2020-12-31"]
    told = CliRunner().invoke(main, ["summary", str(path), "--json", *given])
    data = json.loads(told.stdout)
    assert data["range_inferred"] is False and data["total_days"] == 366
    assert "inferred" not in CliRunner().invoke(main, ["summary", str(path), *given]).stdout
    only_start = CliRunner().invoke(main, ["summary", str(path), "--json", "--start", "2020-01-01"])
    assert json.loads(only_start.stdout)["range_inferred"] is True


def test_the_monitor_and_the_metrics_say_when_the_range_is_inferred(tmp_path: Path) -> None:
    from tests.test_metrics import _scrape, _value
    from tui.metrics import FileFollower
    from tui.widgets.summary import rate_markup

    path = tmp_path / "t.csv"
    last = _writer_every_20s(path)
    state = BackfillState.from_path(path)
    assert "(range inferred)" in rate_markup(state, last)
    told = BackfillState.from_path(
        path, expected_start=date(2020, 1, 1), expected_end=date(2020, 2, 1)
    )
    assert "inferred" not in rate_markup(told, last)
    for options, flag in (({}, 1.0), ({"start": date(2020, 1, 1), "end": date(2020, 2, 1)}, 0.0)):
        follower = FileFollower(path, stale_after=timedelta(minutes=15), **options)
        follower.catch_up()
        assert _value(_scrape([follower], last), "backfill_range_inferred") == flag


def test_live_is_shown_only_while_a_writer_is_at_work(tmp_path: Path) -> None:
    from tui.widgets.summary import head_markup

    path = tmp_path / "t.csv"
    last = _writer_every_20s(path)
    state = BackfillState.from_path(path)
    # LIVE and quiet are never shown together.
    quiet = state.liveness(last + timedelta(minutes=8))
    assert quiet.quiet
    head = head_markup("t.csv", "", quiet, paused=False)
    assert "LIVE" not in head and "writer quiet" in head
    assert "LIVE" in head_markup("t.csv", "", state.liveness(last), paused=False)
    # Nor is LIVE shown where nothing says a writer is at work: no rows yet
    # (a truncated file, one that is not telemetry), or no file at all.
    empty = BackfillState().liveness(last)
    assert "LIVE" not in head_markup("t.csv", "", empty, paused=False)
    gone = head_markup("t.csv", "", state.liveness(last), paused=False, exists=False)
    assert "LIVE" not in gone and "waiting for the file" in gone


def test_a_day_stalls_only_past_stale_after_not_at_it(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    at = T0.isoformat()
    HistoricalTelemetry(path).append_row(
        {"chunk_date_utc": "2020-01-01", "status": "DOWNLOAD_PENDING", "started_at_utc": at}
    )
    state = BackfillState.from_path(path, stale_after=timedelta(minutes=15))
    assert state.stalled(T0 + timedelta(minutes=15)) == []
    assert state.stalled(T0 + timedelta(minutes=15, seconds=1)) == [date(2020, 1, 1)]


def test_the_eta_is_the_days_left_at_the_recent_rate(tmp_path: Path) -> None:
    """Seven days finished 6 minutes apart: 6 finishes in 0.6 h, 10 days/h; 24 left, 2.4 h."""
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    for k in range(7):
        at = (T0 + timedelta(minutes=6 * k)).isoformat()
        day = date(2020, 1, 1 + k).isoformat()
        store.append_row(
            {
                "chunk_date_utc": day,
                "status": "UPLOADED",
                "started_at_utc": at,
                "finished_at_utc": at,
            }
        )
    state = BackfillState.from_path(
        path, expected_start=date(2020, 1, 1), expected_end=date(2020, 1, 31)
    )
    progress = state.progress(now=T0 + timedelta(minutes=36))
    assert (progress.total, progress.done, progress.missing) == (31, 7, 24)
    assert progress.days_per_hour is not None
    assert abs(progress.days_per_hour - 10.0) < 1e-9
    assert progress.eta is not None
    assert abs(progress.eta.total_seconds() - 2.4 * 3600) < 1e-6


def test_search_finds_a_day_by_its_run_id_and_nothing_else_by_it() -> None:
    from telemetry import SCHEMA
    from tui.widgets.pane import search_matches

    values = dict.fromkeys(SCHEMA, "")
    values.update(run_id="RUN-7F3A", status="UPLOADED", sensor_id="S1")
    row = list(values.values())
    day = date(2020, 1, 5)
    assert search_matches("run-7f3a", day, row)  # the needle comes lower case
    assert search_matches("7f3", day, row)
    assert not search_matches("run-0000", day, row)
    assert search_matches("2020-01-05", day, row) and search_matches("uploaded", day, row)


def test_the_metrics_promise_no_eta_while_the_writer_is_quiet(tmp_path: Path) -> None:
    from tests.test_metrics import _samples, _scrape
    from tui.metrics import FileFollower

    path = tmp_path / "t.csv"
    last = _writer_every_20s(path)
    follower = FileFollower(path, stale_after=timedelta(minutes=15), end=date(2020, 12, 31))
    follower.catch_up()
    going = _samples(_scrape([follower], last + timedelta(minutes=1)))
    assert going[("backfill_writer_quiet", ())] == 0
    assert going[("backfill_eta_seconds", ())] > 0
    # Eight minutes of nothing: the rate over the last hour is still above zero,
    # but the writer is quiet by its own cadence, so no ETA is exported.
    quiet = _samples(_scrape([follower], last + timedelta(minutes=8)))
    assert quiet[("backfill_writer_quiet", ())] == 1
    assert quiet[("backfill_chunks_finished_per_second", ())] > 0
    assert ("backfill_eta_seconds", ()) not in quiet


def _read_one_step_then_wait(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The monitor reads its file in small steps, and after the first one waits for the
    returned event before it reads on."""
    from tui.widgets import pane as pane_module

    monkeypatch.setattr(pane_module, "BULK_BYTES", 4096)  # the file takes a few steps
    gate = threading.Event()
    real_catch_up = pane_module.MonitorPane._catch_up
    held = [True]

    def one_step_then_wait(self: pane_module.MonitorPane) -> bool:
        if held[0]:  # the first wake-up: one step, then the reading stops a while
            held[0] = False
            self.app.call_from_thread(self.take_step)
            gate.wait(10)
        return real_catch_up(self)

    monkeypatch.setattr(pane_module.MonitorPane, "_catch_up", one_step_then_wait)
    return gate


async def test_the_monitor_shows_no_figures_from_part_of_a_file_while_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts of a half-read file are no figures to act on: while the file is read
    through the summary says so, the calendar fills in, and the figures come once
    it is read."""
    from tests.monitor_wait import wait_until
    from tests.test_monitor import backfill, make_app, text

    path, rows = backfill(tmp_path)
    gate = _read_one_step_then_wait(monkeypatch)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.pane
        assert await wait_until(pilot, lambda: pane.state.rows > 0)
        pane.refresh_figures()
        await pilot.pause()
        part = pane.state.rows
        assert 0 < part < rows and not pane.loaded
        assert f"reading the file: {part:,} rows so far" in text(app, "#summary")
        assert "failed" not in text(app, "#summary")
        assert "days/h" not in text(app, "#rate") and "once it is read" in text(app, "#rate")
        # The newest row read so far says nothing of the writer: no LIVE, no quiet.
        head = text(app, "#head")
        assert "reading the file" in head and "LIVE" not in head and "quiet" not in head
        assert pane.query_one("#loading").display
        assert pane.calendar.drawn_glyph(pane.calendar.cursor) is not None  # filling in
        gate.set()
        assert await wait_until(pilot, lambda: pane.loaded)
        pane.refresh_figures()
        await pilot.pause()
        assert "reading the file" not in text(app, "#summary") + text(app, "#head")
        assert "failed" in text(app, "#summary")


async def test_pausing_while_the_file_is_read_holds_none_of_it_and_resuming_reads_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pause during the first read stops reading (a paused 1M-row load once held the
    whole file decoded: 1.5 GB); the resume reads on at once, with no change to wait for."""
    from tests.monitor_wait import wait_until
    from tests.test_monitor import backfill, make_app, text
    from tui.widgets import pane as pane_module

    path, rows = backfill(tmp_path)
    gate = _read_one_step_then_wait(monkeypatch)
    real_take_step = pane_module.MonitorPane.take_step
    asked = [0]

    def counted(self: pane_module.MonitorPane) -> bool:
        asked[0] += 1
        return real_take_step(self)

    def no_wakeups(path: Path, stop: threading.Event, **options: object):  # type: ignore[no-untyped-def]
        stop.wait()  # the file never changes: only the resume can read on
        yield from ()

    monkeypatch.setattr(pane_module.MonitorPane, "take_step", counted)
    monkeypatch.setattr(pane_module, "wakeups", no_wakeups)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.pane
        assert await wait_until(pilot, lambda: pane.state.rows > 0)
        part = pane.state.rows
        await pilot.press("p")
        gate.set()  # the worker asks for the next step: paused, nothing is read
        assert await wait_until(pilot, lambda: asked[0] >= 2)
        await pilot.pause()
        assert pane.state.rows == part and not pane.loaded and not pane._waiting
        assert "PAUSED" in text(app, "#head")
        await pilot.press("p")  # no change to the file: the resume reads on by itself
        assert await wait_until(pilot, lambda: pane.loaded)
        assert pane.state.rows == rows
