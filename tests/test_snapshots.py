"""SVG snapshots of the monitor's screens on a fixed file (pytest-textual-snapshot).

Baselines live in ``tests/__snapshots__/test_snapshots/``; after a deliberate
change to a screen, regenerate them with
``python -m pytest tests/test_snapshots.py --snapshot-update`` and review the
SVGs. The file's timestamps are fixed, so the screens are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from telemetry import BackfillState
from tests.test_screens import RETRIED_DAY, ScreenHost, write_backfill
from tui.monitor import MonitorApp
from tui.screens import DayDetailScreen, FailuresScreen, HelpScreen, MalformedScreen

SIZE = (120, 36)
#: "Now" for the main screen: 90 s after the fixed file's last row.
FROZEN = datetime(2021, 3, 1, 8, 14, 30, tzinfo=timezone.utc)
SnapCompare = Callable[..., bool]


def _settled(*keys: str) -> Callable[[Pilot[Any]], Any]:
    """A ``run_before`` that lets workers finish and tables size their columns, then presses."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)
        await pilot.press(*keys)
        await pilot.pause(0.2)

    return run_before


def _backfill(tmp_path: Path, garbage: bool = False) -> tuple[BackfillState, Path]:
    path = write_backfill(tmp_path / "telemetry.csv")
    if garbage:
        with open(path, "ab") as fh:
            fh.write(b"not,a telemetry row\r\n")
    return BackfillState.from_path(path), path


def test_day_detail_snapshot(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """Three attempts of one day; the cursor on the timeout, its traceback below."""
    state, path = _backfill(tmp_path)
    app = ScreenHost(lambda: DayDetailScreen(state, path, RETRIED_DAY))
    assert snap_compare(app, terminal_size=SIZE, run_before=_settled("up", "up", "up", "up"))


def test_failures_snapshot(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """Two error types; the timeout group has a run of three days and one more."""
    state, path = _backfill(tmp_path)
    app = ScreenHost(lambda: FailuresScreen(state, path))
    assert snap_compare(app, terminal_size=SIZE, run_before=_settled())


def test_malformed_snapshot(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """One garbage line at the end of the file."""
    state, path = _backfill(tmp_path, garbage=True)
    app = ScreenHost(lambda: MalformedScreen(state, path))
    assert snap_compare(app, terminal_size=SIZE, run_before=_settled())


def test_help_snapshot(snap_compare: SnapCompare) -> None:
    """Keys and the glyph legend over the main screen."""
    app = ScreenHost(HelpScreen)
    assert snap_compare(app, terminal_size=SIZE, run_before=_settled())


@pytest.mark.parametrize(
    "size", [SIZE, (80, 24), (200, 60)], ids=["120x36", "80x24", "200x60-feed"]
)
def test_main_screen_snapshot(
    snap_compare: SnapCompare,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    size: tuple[int, int],
) -> None:
    """The monitor's main screen on the same file, with a frozen clock, small to wide."""
    write_backfill(tmp_path / "telemetry.csv")
    # A relative path: the header names the file, and tmp_path differs per run.
    monkeypatch.chdir(tmp_path)
    app = MonitorApp(Path("telemetry.csv"), poll=True, clock=lambda: FROZEN)
    rows = BackfillState.from_path(tmp_path / "telemetry.csv").rows

    async def loaded(pilot: Pilot[Any]) -> None:
        for _ in range(50):
            if app.state.rows == rows:
                break
            await pilot.pause(0.1)
        await pilot.pause(0.2)
        app.refresh_view()
        pane = app.pane
        shown = pane.query_one("#side").display
        for _ in range(50):  # the duration chart is computed by a worker, when shown
            if not shown or pane.durations_rows == pane.state.rows:
                break
            await pilot.pause(0.1)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=loaded)
