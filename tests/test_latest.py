"""``backfill-monitor latest``: the resume state in every format, bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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
    args = ["latest", str(_file(tmp_path)), "--from", "2020-01-04", "--format"]
    expected = [("2020-01-04", "FAILED"), ("2020-01-05", "FAILED"), ("2020-01-07", "UPLOADED")]
    document = json.loads(CliRunner().invoke(main, [*args, "json"]).output)  # one array
    assert [(r["chunk_date_utc"], r["status"]) for r in document] == expected
    lines = CliRunner().invoke(main, [*args, "jsonl"]).output.splitlines()
    rows = [json.loads(line) for line in lines]  # one object per line
    assert [(r["chunk_date_utc"], r["status"]) for r in rows] == expected
    table = CliRunner().invoke(main, [*args, "table"]).output.splitlines()
    assert table[0].split() == ["date", "status", "phase", "started_at_utc", "error_type"]
    assert [line.split()[:2] for line in table[1:]] == [list(e) for e in expected]


def test_latest_bad_date_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["latest", str(_file(tmp_path)), "--from", "yesterday"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: Invalid value for '--from': not a date: 'yesterday' (use YYYY-MM-DD)"
    ]


def test_json_written_a_slice_at_a_time_is_the_one_array_of_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui.cmd_latest

    path = _file(tmp_path)
    jsonl = CliRunner().invoke(main, ["latest", str(path), "--format", "jsonl"]).output
    rows = [json.loads(line) for line in jsonl.splitlines()]
    for size in (1, 2, 3, 5, 1000):  # slices that divide the rows, that do not, one only
        monkeypatch.setattr(tui.cmd_latest, "JSON_SLICE", size)
        output = CliRunner().invoke(main, ["latest", str(path), "--format", "json"]).output
        assert output == json.dumps(rows) + "\n"
    empty = tmp_path / "empty.csv"
    empty.touch()
    assert CliRunner().invoke(main, ["latest", str(empty), "--format", "json"]).output == "[]\n"


def test_every_format_prints_what_load_state_holds(tmp_path: Path) -> None:
    """latest folds as load_state() does and splits only the rows it prints: the rows it
    prints are load_state()'s, quotes, commas, newlines and retries included."""
    from telemetry import phase_of

    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    messages = ["", 'a "quoted", comma', "two\nlines", "x" * 300]
    for k in range(40):
        day = f"2020-02-{k % 20 + 1:02d}"  # each day twice: the latest row wins
        status = ["FAILED", "UPLOADED", "DOWNLOAD_PENDING", "PROCESSED"][k % 4]
        store.append_row(
            {"chunk_date_utc": day, "status": status, "error_message": messages[k % 4]}
        )
    state = store.load_state()
    rows = [
        {**state[d].to_dict(), "phase": phase_of(list(state[d].to_dict().values()))}
        for d in sorted(state)
    ]
    run = CliRunner().invoke
    assert json.loads(run(main, ["latest", str(path), "--format", "json"]).output) == rows
    jsonl = run(main, ["latest", str(path), "--format", "jsonl"]).output.splitlines()
    assert [json.loads(line) for line in jsonl] == rows
    failed = run(main, ["latest", str(path), "--status", "FAILED", "--format", "json"]).output
    assert json.loads(failed) == [r for r in rows if r["status"] == "FAILED"]
    assert len(rows) == 20 and 0 < len(json.loads(failed)) < 20
