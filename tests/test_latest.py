"""``backfill-monitor latest``: the resume state in every format, bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from telemetry import HistoricalTelemetry
from tui.cli import main


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    for day, status in [
        ("2020-01-01", "UPLOADED"),
        ("2020-01-03", "FAILED"),
        ("2020-01-04", "FAILED"),
        ("2020-01-05", "FAILED"),
        ("2020-01-07", "FAILED"),
        ("2020-01-07", "UPLOADED"),
    ]:
        store.append_row({"chunk_date_utc": day, "status": status})
    return path


def test_latest_ranges_of_failed_days_are_ready_to_paste(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["latest", str(_file(tmp_path)), "--status", "FAILED", "--format", "ranges"]
    )
    assert result.exit_code == 0
    assert result.output == "2020-01-03..2020-01-05\n"


def test_latest_json_and_date_filters(tmp_path: Path) -> None:
    args = ["latest", str(_file(tmp_path)), "--from", "2020-01-04", "--format", "json"]
    result = CliRunner().invoke(main, args)
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["chunk_date_utc"], r["status"]) for r in rows] == [
        ("2020-01-04", "FAILED"),
        ("2020-01-05", "FAILED"),
        ("2020-01-07", "UPLOADED"),
    ]


def test_latest_bad_date_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["latest", str(_file(tmp_path)), "--from", "yesterday"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: --from: 'yesterday' is not a date (YYYY-MM-DD)"
    ]
