"""A failure belongs to the phase that failed: one rule (``phase_of``) in every view."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from telemetry import BackfillState, HistoricalTelemetry, TelemetryTail, phase_of, resume_plan
from telemetry.schema import SCHEMA
from tests.test_metrics import _follower, _scrape, _value
from tui.cli import main
from tui.widgets.feed import feed_line

PROCESS_DAY = date(2020, 1, 2)
DOWNLOAD_DAY = date(2020, 1, 3)
UPLOAD_DAY = date(2020, 1, 4)


def _write(path: Path) -> None:
    store = HistoricalTelemetry(path)
    at = "2020-02-01T00:00:0{}+00:00"
    # Downloaded, then the conversion failed (the recorder carries the columns).
    store.append_row(
        {
            "chunk_date_utc": "2020-01-02",
            "status": "PROCESS_PENDING",
            "started_at_utc": at.format(1),
            "csv_path": "a.csv",
            "download_seconds": "3",
        }
    )
    store.append_row(
        {
            "chunk_date_utc": "2020-01-02",
            "status": "FAILED",
            "started_at_utc": at.format(1),
            "csv_path": "a.csv",
            "download_seconds": "3",
            "process_seconds": "2",
            "error_type": "ValueError",
        }
    )
    store.append_row(
        {
            "chunk_date_utc": "2020-01-03",
            "status": "FAILED",
            "started_at_utc": at.format(2),
            "error_type": "HTTPError",
        }
    )
    store.append_row(
        {
            "chunk_date_utc": "2020-01-04",
            "status": "FAILED",
            "started_at_utc": at.format(3),
            "csv_path": "b.csv",
            "cdf_path": "b.cdf",
            "error_type": "ClientError",
        }
    )


def test_every_view_names_the_phase_a_day_failed_in(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _write(path)
    state = BackfillState.from_path(path)
    expected = {PROCESS_DAY: "process", DOWNLOAD_DAY: "download", UPLOAD_DAY: "upload"}
    # The resume plan's rule...
    plan = resume_plan(HistoricalTelemetry(path).load_state(), PROCESS_DAY, UPLOAD_DAY)
    assert {
        day: p for p in ("download", "process", "upload") for day in getattr(plan, p)
    } == expected
    # ...is the state's, the figures' and the failures view's.
    assert {day: state.phase_of(day) for day in state.days} == expected
    counts = state.phase_counts()
    assert {p: counts[p]["FAILED"] for p in counts} == {"download": 1, "process": 1, "upload": 1}
    assert {g.error_type: g.phase_text for g in state.failures()} == {
        "ValueError": "process",
        "HTTPError": "download",
        "ClientError": "upload",
    }
    # The live feed.
    for day, phase in expected.items():
        values = state.latest_values(day)
        assert values is not None and phase_of(values) == phase
        assert f" {phase} " in feed_line(values).plain
    # latest --format json and the table.
    rows = json.loads(CliRunner().invoke(main, ["latest", str(path), "--format", "json"]).output)
    assert {r["chunk_date_utc"]: r["phase"] for r in rows} == {
        str(d): p for d, p in expected.items()
    }
    assert set(rows[0]) == {*SCHEMA, "phase"}
    table = CliRunner().invoke(main, ["latest", str(path)]).output.splitlines()
    assert table[1].split()[:3] == ["2020-01-02", "FAILED", "process"]
    # The exporter.
    follower = _follower(path)
    follower.catch_up()
    text = _scrape([follower])
    for phase in ("download", "process", "upload"):
        assert _value(text, "backfill_phase_chunks", phase=phase) == 1


def test_a_retried_failure_leaves_its_phase(tmp_path: Path) -> None:
    """The live fold takes a failed day's phase out when the day is retried."""
    path = tmp_path / "t.csv"
    _write(path)
    state = BackfillState.from_path(path)
    HistoricalTelemetry(path).append_row(
        {
            "chunk_date_utc": "2020-01-02",
            "status": "UPLOADED",
            "started_at_utc": "2020-02-01T00:00:09+00:00",
        }
    )

    tail = TelemetryTail(path)
    update = tail.read_new()
    fresh = BackfillState()
    fresh.apply(update.records[:4])
    fresh.apply(update.records[4:])
    assert {p: fresh.phase_counts()[p]["FAILED"] for p in ("download", "process", "upload")} == {
        "download": 1,
        "process": 0,
        "upload": 1,
    }
    assert state.phase_counts()["process"]["FAILED"] == 1


def _sensors(text: str) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        sample.labels["sensor_id"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "sensor_id" in sample.labels
    }


def test_a_files_labels_change_only_when_it_is_reset(tmp_path: Path) -> None:
    """Rows without a sensor, or naming another, do not relabel the file's series."""
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    row = {"chunk_date_utc": "2020-01-01", "status": "UPLOADED", "sensor_id": "S1"}
    store.append_row(row)
    follower = _follower(path)
    follower.catch_up()
    assert _sensors(_scrape([follower])) == {"S1"}
    store.append_row({"chunk_date_utc": "2020-01-02", "status": "FAILED"})
    store.append_row({**row, "chunk_date_utc": "2020-01-03", "sensor_id": "S2"})
    follower.catch_up()
    assert follower.state.rows == 3
    assert _sensors(_scrape([follower])) == {"S1"}
    path.unlink()  # replaced: a new file, its own labels
    HistoricalTelemetry(path).append_row({**row, "sensor_id": "S3"})
    follower.catch_up()
    assert follower.state.rows == 1
    assert _sensors(_scrape([follower])) == {"S3"}
