"""``backfill-monitor summary``: figures as JSON and --fail-on exit codes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from telemetry import HistoricalTelemetry
from tui.cli import main
from tui.spans import days_between


def test_summary_json_and_fail_on(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    store.append_row({"chunk_date_utc": "2020-01-03", "status": "FAILED", "error_type": "Timeout"})
    runner = CliRunner()
    result = runner.invoke(main, ["summary", str(path), "--json", "--fail-on", "malformed"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["total_days"] == 3 and data["missing"] == 1 and data["failed"] == 1
    assert data["failures"][0]["error_type"] == "Timeout"
    assert runner.invoke(main, ["summary", str(path), "--fail-on", "failed"]).exit_code == 1
    bad = runner.invoke(main, ["summary", str(path), "--fail-on", "sad"])
    assert bad.exit_code == 2


def test_summary_text_says_scattered_days_are_between_not_a_range(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    for day in ("2019-04-07", "2019-05-01", "2021-09-29"):
        store.append_row({"chunk_date_utc": day, "status": "FAILED", "error_type": "HTTPError"})
    for day in ("2020-01-01", "2020-01-02"):
        store.append_row({"chunk_date_utc": day, "status": "FAILED", "error_type": "Timeout"})
    out = CliRunner().invoke(main, ["summary", str(path)]).output
    assert "  HTTPError: 3 days between 2019-04-07 and 2021-09-29\n" in out
    assert "  Timeout: 2 days, 2020-01-01..2020-01-02\n" in out


def test_counts_in_words() -> None:
    assert days_between(1, date(2020, 1, 5), date(2020, 1, 5)) == "1 day, 2020-01-05"
    assert days_between(1_234, date(2020, 1, 1), date(2023, 5, 18)) == (
        "1,234 days, 2020-01-01..2023-05-18"
    )
    assert days_between(9, date(2019, 4, 7), date(2021, 9, 29)) == (
        "9 days between 2019-04-07 and 2021-09-29"
    )


def test_summary_names_the_sensor_and_descriptor_the_metrics_label_it_by(tmp_path: Path) -> None:
    """The last row in the file that names either, as the monitor's header and the
    metrics' labels: a backfill going backwards is named by its last row written."""
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    for day, sensor in (("2020-01-09", "S-OLD"), ("2020-01-01", "S-NEW"), ("2020-01-02", "")):
        store.append_row(
            {
                "chunk_date_utc": day,
                "status": "UPLOADED",
                "sensor_id": sensor,
                "descriptor": "EO" if sensor else "",
            }
        )
    data = json.loads(CliRunner().invoke(main, ["summary", str(path), "--json"]).output)
    assert (data["sensor_id"], data["descriptor"]) == ("S-NEW", "EO")
    text = CliRunner().invoke(main, ["summary", str(path)]).output
    assert text.startswith("S-NEW / EO: 3 of 9 days done")
    empty = tmp_path / "e.csv"
    HistoricalTelemetry(empty).append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    assert CliRunner().invoke(main, ["summary", str(empty)]).output.startswith("1 of 1 days")
