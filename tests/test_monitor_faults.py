"""The monitor when its file is deleted, replaced by something that is not
telemetry, and brought back: every reset starts from an empty state, clears
the banner it replaces and finishes loading."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from textual.widgets import Static, TabbedContent

import tui.widgets.pane
from telemetry import HistoricalTelemetry
from tests.monitor_wait import wait_for_rows, wait_until
from tests.test_monitor import (
    SIZE,
    backfill,
    calendar_lines,
    frozen,
    make_app,
    row,
    started,
    text,
    write_rows,
)
from tui.monitor import MonitorApp

NEW_DAYS = [date(2021, 6, 1), date(2021, 6, 2)]


def _banner(app: MonitorApp) -> str:
    banner = app.pane.query_one("#banner", Static)
    return str(banner.render()) if banner.display else ""


async def test_deleted_then_not_telemetry_then_telemetry_again_shows_only_the_new_file(
    tmp_path: Path,
) -> None:
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, rows)
        path.unlink()
        path.write_text("name,age\nbob,3\n")  # before the monitor has looked: one change
        assert await wait_until(pilot, lambda: "not a telemetry file" in _banner(app))
        pane = app.pane
        assert app.state.rows == 0 and app.state.days == []  # the old days are gone
        assert not pane.query_one("#loading").display  # no bar that never moves
        # Brought back in place (same inode) as a real telemetry file.
        staged = tmp_path / "staged.csv"
        write_rows(staged, [row(day, "FAILED", k) for k, day in enumerate(NEW_DAYS)])
        path.write_bytes(staged.read_bytes())
        await wait_for_rows(pilot, app, 2)
        assert app.state.days == NEW_DAYS
        assert "not a telemetry file" not in _banner(app)
        assert not pane.query_one("#loading").display
        assert "2 failed" in text(app, "#summary")
        assert calendar_lines(pane.calendar)[0].startswith("2021-06 ✗ ✗")


async def test_a_new_banner_is_not_cut_short_by_the_timer_of_the_one_it_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tui.widgets.pane, "BANNER_SECONDS", 0.1)
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, rows)
        pane = app.pane
        pane.show_banner("first")  # gone after 0.1 s...
        pane.show_banner("second", sticky=True)  # ...but this one stays
        seen: list[str] = []
        pane.set_timer(0.3, lambda: seen.append(_banner(app)))  # due after the first's
        assert await wait_until(pilot, lambda: bool(seen))
        assert seen == ["second"]


async def test_binary_data_is_called_binary_data(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" + bytes(range(256)) * 4)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_until(pilot, lambda: "binary data" in _banner(app))
        assert not app.pane.query_one("#loading").display


async def test_file_replaced_by_rename_after_an_error_reloads(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("name,age\nbob,3\n")
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_until(pilot, lambda: "not a telemetry file" in _banner(app))
        other = tmp_path / "other.csv"
        write_rows(other, [row(NEW_DAYS[0], "UPLOADED", 1)])
        os.replace(other, path)
        await wait_for_rows(pilot, app, 1)
        assert "not a telemetry file" not in _banner(app)
        assert app.state.days == NEW_DAYS[:1]


async def test_no_inotify_instance_left_shows_a_banner_once_and_the_monitor_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    from collections.abc import Iterator

    import watchfiles

    import tui.follow

    def refused(*args: object, **kwargs: object) -> Iterator[set[object]]:
        raise OSError(errno.EMFILE, "Too many open files (os error 24)")
        yield set()

    monkeypatch.setattr(watchfiles, "watch", refused)
    monkeypatch.setattr(tui.follow, "_hub", tui.follow.WakeHub(poll_every=0.05))
    path, rows = backfill(tmp_path)
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, rows)
        assert await wait_until(pilot, lambda: "polling with stat instead" in _banner(app))
        HistoricalTelemetry(path).append_row(row(NEW_DAYS[0], "FAILED", 0))
        await wait_for_rows(pilot, app, rows + 1)
        assert app.state.status_of(NEW_DAYS[0]) == "FAILED"


async def test_a_file_that_cannot_be_read_keeps_what_was_read_says_so_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    path, rows = backfill(tmp_path)
    other = tmp_path / "other.csv"
    write_rows(other, [row(date(2021, 1, 1), "UPLOADED", 1)])
    app = MonitorApp([path, other], clock=lambda: frozen())
    real_pread = os.pread
    inode = path.stat().st_ino
    broken = [False]

    def pread(fd: int, size: int, offset: int) -> bytes:
        if broken[0] and os.fstat(fd).st_ino == inode:
            raise OSError(errno.EIO, "Input/output error")
        return real_pread(fd, size, offset)

    monkeypatch.setattr(os, "pread", pread)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, rows)
        store = HistoricalTelemetry(path)
        store.append_row(row(date(2020, 3, 6), "FAILED", 600))
        broken[0] = True  # the disk fails before the monitor reads the new row
        assert await wait_until(pilot, lambda: "cannot read it" in _banner(app))
        assert "showing what was read" in _banner(app)
        assert app.state.rows == rows  # what was read stays on show
        tab = app.query_one(TabbedContent).get_tab("tab-0")
        assert await wait_until(pilot, lambda: "⚠ unreadable" in str(tab.label))
        broken[0] = False
        store.append_row(row(date(2020, 3, 7), "UPLOADED", 601))  # a change: read again
        await wait_for_rows(pilot, app, rows + 2)
        assert "cannot read" not in _banner(app)
        assert app.state.status_of(date(2020, 3, 6)) == "FAILED"
        assert await wait_until(pilot, lambda: "unreadable" not in str(tab.label))
