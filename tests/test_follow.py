"""``backfill-monitor follow``: JSON lines for every change, resets, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from telemetry import HistoricalTelemetry


def _read_lines(proc: subprocess.Popen[str], count: int, timeout: float = 10.0) -> list[dict]:
    lines = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while len(lines) < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            lines.append(json.loads(line))
    return lines


def _read_until(proc: subprocess.Popen[str], done, timeout: float = 10.0) -> list[dict]:
    """Read lines until ``done(lines so far)``: one batch's lines come in any order."""
    lines: list[dict] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            lines.append(json.loads(line))
            if done(lines):
                break
    return lines


def test_follow_prints_state_then_changes_then_reset(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "follow", str(path), "--jsonl", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = _read_lines(proc, 1)
        assert first == [
            {
                "date": "2020-01-01",
                "status": "UPLOADED",
                "previous": None,
                "run_id": "",
                "started_at_utc": "",
                "error_type": "",
                "error_message": "",
            }
        ]
        store.append_row({"chunk_date_utc": "2020-01-02", "status": "DOWNLOAD_PENDING"})
        for i in range(200):  # a burst: every row is reported
            store.append_row({"chunk_date_utc": f"2021-01-{1 + i % 28:02d}", "status": "FAILED"})
        store.append_row(
            {"chunk_date_utc": "2020-01-02", "status": "FAILED", "error_message": "a\nb"}
        )

        def all_seen(lines: list[dict]) -> bool:
            by_day = {line["date"]: line for line in lines}
            burst = {d for d in by_day if d.startswith("2021-01")}
            return by_day.get("2020-01-02", {}).get("error_message") == "a\nb" and len(burst) == 28

        lines = _read_until(proc, all_seen)
        by_day = {line["date"]: line for line in lines}
        assert by_day["2020-01-02"]["status"] == "FAILED"
        assert by_day["2020-01-02"]["error_message"] == "a\nb"
        assert len([d for d in by_day if d.startswith("2021-01")]) == 28
        other = tmp_path / "new.csv"
        HistoricalTelemetry(other).append_row(
            {"chunk_date_utc": "2030-01-01", "status": "UPLOADED"}
        )
        os.replace(other, path)
        lines = _read_until(proc, lambda lines: "event" in lines[-1])
        assert lines[-1] == {"event": "reset", "reason": "replaced"}
        assert _read_lines(proc, 1)[0]["date"] == "2030-01-01"
    finally:
        proc.terminate()
        proc.wait(5)


def test_follow_in_a_missing_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "follow", str(tmp_path / "nope" / "t.csv"), "--jsonl"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"Error: no such directory: {tmp_path / 'nope'}"]
