"""``backfill-monitor check``: exit 0 clean, 1 with malformed rows, 2 for bad input."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from telemetry import SCHEMA, HistoricalTelemetry
from tui.cli import main


def test_check_reports_malformed_rows_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    runner = CliRunner()
    clean = runner.invoke(main, ["check", str(path)])
    assert clean.exit_code == 0 and "clean" in clean.output
    with open(path, "a") as fh:
        fh.write("x,2020-01-02,,,BOGUS" + "," * (len(SCHEMA) - 5) + "\r\n")
        fh.write("too,few\r\n")
    dirty = runner.invoke(main, ["check", str(path)])
    assert dirty.exit_code == 1
    assert f"{path}:3: unknown status 'BOGUS'" in dirty.output
    assert f"{path}:4: expected {len(SCHEMA)} fields, found 2" in dirty.output


def test_check_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["check", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert missing.output.strip().splitlines() == [
        f"Error: {tmp_path / 'nope.csv'}: no such telemetry file"
    ]
    other = tmp_path / "other.csv"
    other.write_text("name,age\nbob,3\n")
    result = runner.invoke(main, ["check", str(other)])
    assert result.exit_code == 2
    assert "not a telemetry file" in result.output


def test_check_says_an_older_file_is_the_older_format_and_how_to_upgrade(tmp_path: Path) -> None:
    from telemetry import SCHEMA

    path = tmp_path / "old.csv"
    path.write_text(",".join(SCHEMA[:18]) + "\r\n" + "r,2020-01-01,,,UPLOADED" + "," * 13 + "\r\n")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0
    assert f"the older format (18 of {len(SCHEMA)} columns)" in result.stdout
    assert f"backfill-monitor upgrade {path}" in result.stdout
    new = tmp_path / "new.csv"
    new.write_text(",".join(SCHEMA) + "\r\n")
    assert "older format" not in CliRunner().invoke(main, ["check", str(new)]).stdout
