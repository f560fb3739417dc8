"""Alerts (a toast and the bell) once per event, and the config file's defaults."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from telemetry import HistoricalTelemetry
from tests.monitor_wait import wait_for_rows, wait_until
from tests.test_monitor import T0, _iso, row, write_rows
from tui.cli import main
from tui.config import MonitorConfig, load_config
from tui.monitor import MonitorApp


def _recording(app: MonitorApp) -> tuple[list[str], list[int]]:
    """Record the app's toasts and bells (both are public methods of the app)."""
    toasts: list[str] = []
    bells: list[int] = []
    notify, bell = app.notify, app.bell

    def record_notify(message: str, **kwargs: object) -> None:
        toasts.append(message)
        notify(message, **kwargs)  # type: ignore[arg-type]

    def record_bell() -> None:
        bells.append(1)
        bell()

    app.notify = record_notify  # type: ignore[method-assign]
    app.bell = record_bell  # type: ignore[method-assign]
    return toasts, bells


async def test_each_stall_and_each_quiet_spell_alerts_once(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_rows(path, [row(date(2020, 1, d), "UPLOADED", d) for d in range(1, 6)])
    now = [T0 + timedelta(minutes=6)]
    app = MonitorApp(path, clock=lambda: now[0], stale_after=timedelta(minutes=15))
    async with app.run_test(size=(120, 30)) as pilot:
        toasts, bells = _recording(app)
        await wait_for_rows(pilot, app, 5)
        pane = app.pane
        pane.refresh_figures()
        assert toasts == [] and bells == []  # the file as it was: no news
        store = HistoricalTelemetry(path)
        store.append_row(
            {
                "chunk_date_utc": "2020-01-06",
                "status": "DOWNLOAD_PENDING",
                "started_at_utc": _iso(now[0]),
            }
        )
        await wait_for_rows(pilot, app, 6)
        now[0] += timedelta(minutes=15)
        store.append_row(  # the writer goes on with other days: not quiet
            {"chunk_date_utc": "2020-01-08", "status": "UPLOADED", "started_at_utc": _iso(now[0])}
        )
        await wait_for_rows(pilot, app, 7)
        now[0] += timedelta(minutes=1)  # the pending day is stale now
        pane.refresh_figures()
        pane.refresh_figures()  # again: the same stall, no new alert
        assert [t for t in toasts if "stalled" in t] == ["t.csv: 2020-01-06 stalled"]
        assert len(bells) == 1
        now[0] += timedelta(hours=1)  # nothing written for an hour: quiet
        pane.refresh_figures()
        pane.refresh_figures()
        assert [t for t in toasts if "quiet" in t] == ["t.csv: the writer went quiet"]
        assert len(bells) == 2
        store.append_row(
            {"chunk_date_utc": "2020-01-07", "status": "UPLOADED", "started_at_utc": _iso(now[0])}
        )
        await wait_for_rows(pilot, app, 8)
        pane.refresh_figures()  # resumed...
        now[0] += timedelta(hours=2)
        pane.refresh_figures()  # ...and quiet again: a second spell, a second alert
        assert len([t for t in toasts if "quiet" in t]) == 2


async def test_failed_days_alert_when_asked_and_the_bell_can_be_off(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_rows(path, [row(date(2020, 1, 1), "UPLOADED", 1)])
    config = MonitorConfig(alert_on=frozenset({"failed"}))
    app = MonitorApp(path, clock=lambda: T0 + timedelta(minutes=3), config=config, bell=False)
    async with app.run_test(size=(120, 30)) as pilot:
        toasts, bells = _recording(app)
        await wait_for_rows(pilot, app, 1)
        store = HistoricalTelemetry(path)
        for day in ("2020-01-02", "2020-01-03"):
            store.append_row(row(date.fromisoformat(day), "FAILED", 2))
        assert await wait_until(pilot, lambda: any("FAILED" in t for t in toasts))
        await wait_for_rows(pilot, app, 3)
        failed = [t for t in toasts if "FAILED" in t]
        assert sum(t.count("2020-01-0") for t in failed) == 2  # each day once
        assert bells == []


def test_the_config_file_sets_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text(
        "[monitor]\ntheme = textual-light\nstale_after = 30m\ncolour_mode = availability\n"
        "bell = no\nalert_on = stalled, failed\nfeed_lines = 1000\n"
        "start = 2020-01-01\nend = 2024-12-31\n"
    )
    config = load_config(path)
    assert config == MonitorConfig(
        "textual-light",
        timedelta(minutes=30),
        "availability",
        False,
        frozenset({"stalled", "failed"}),
        1000,
        date(2020, 1, 1),
        date(2024, 12, 31),
    )
    assert load_config(tmp_path / "missing.ini") == MonitorConfig()
    for text, message in (
        ("[monitor]\nbel = no\n", "unknown key(s) bel"),
        ("[monitor]\nstale_after = soon\n", "not a duration"),
        ("[monitor]\ncolour_mode = rainbow\n", "colour_mode 'rainbow'"),
        ("[monitor]\nalert_on = fire\n", "alert_on: fire"),
        ("not ini", "not a config file"),
        ("[monitor]\nfeed_lines = 0\n", "feed_lines: 0 is not between 1 and 2,000"),
        ("[monitor]\nfeed_lines = many\n", "feed_lines: 'many' is not a whole number"),
        ("[monitor]\nstart = June\n", "start: 'June' is not a date"),
        ("[monitor]\nstart = 2021-01-01\nend = 2020-01-01\n", "start 2021-01-01 is after end"),
    ):
        path.write_text(text)
        with pytest.raises(ValueError, match=re.escape(message)):
            load_config(path)


def test_watch_names_its_config_file_and_refuses_a_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = tmp_path / "backfill-monitor" / "config.ini"
    config.parent.mkdir()
    config.write_text("[monitor]\nbell = maybe\n")
    telemetry = tmp_path / "t.csv"
    HistoricalTelemetry(telemetry).append_row(
        {"chunk_date_utc": "2020-01-01", "status": "UPLOADED"}
    )
    result = CliRunner().invoke(main, ["watch", str(telemetry)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {config}"), lines
    shown = CliRunner().invoke(main, ["watch", "--help"]).output
    assert f"Config file: {config}" in re.sub(r"\n\s+", "", shown)  # (a long path wraps)
