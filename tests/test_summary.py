"""``backfill-monitor summary``: figures as JSON and --fail-on exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from telemetry import HistoricalTelemetry
from tui.cli import main


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
