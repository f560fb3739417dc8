"""``backfill-monitor follow``: JSON lines for every change, resets, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import telemetry.live
import tui.follow
from telemetry import HistoricalTelemetry, TailUpdate, TelemetryTail
from telemetry.store import encode_row, row_values
from tui.cli import main


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


def _follow_one_day(
    tmp_path: Path, stderr: int | None = None
) -> tuple[Path, HistoricalTelemetry, subprocess.Popen[str]]:
    """A file with one day, and ``follow --jsonl`` on it."""
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    argv = [sys.executable, "-m", "tui.cli", "follow", str(path), "--jsonl", "--interval", "0.2"]
    return path, store, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True)


def test_follow_prints_state_then_changes_then_reset(tmp_path: Path) -> None:
    path, store, proc = _follow_one_day(tmp_path)
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


def test_changes_only_prints_rows_appended_while_the_initial_state_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    for i in range(6):  # a few MiB: the initial read takes several reads of 1 MiB
        rows = [
            encode_row(
                row_values(
                    {
                        "chunk_date_utc": f"{2000 + i}-01-{d:02d}",
                        "status": "UPLOADED",
                        "error_message": "x" * 20_000,
                    }
                )
            )
            for d in range(1, 29)
        ]
        if i == 0:
            store.append_row({"chunk_date_utc": "1999-01-01", "status": "UPLOADED"})
        with open(path, "ab") as fh:
            fh.write(b"".join(rows))
    reads = 0
    real_read_new = TelemetryTail.read_new

    def read_new(self: TelemetryTail, max_bytes: int | None = None, **kw: Any) -> TailUpdate:
        nonlocal reads
        update = real_read_new(self, max_bytes, **kw)
        reads += 1
        if reads == 1:  # the orchestrator appends while the initial state is read
            store.append_row({"chunk_date_utc": "2030-01-01", "status": "FAILED"})
        return update

    def two_wakeups(*args: object, **kwargs: object) -> Iterator[None]:
        yield None
        yield None

    monkeypatch.setattr(TelemetryTail, "read_new", read_new)
    monkeypatch.setattr(telemetry.live, "CATCH_UP_BYTES", 1 << 20)
    monkeypatch.setattr(tui.follow, "wakeups", two_wakeups)
    result = CliRunner().invoke(main, ["follow", str(path), "--jsonl", "--changes-only"])
    assert result.exit_code == 0, result.output
    assert reads > 2  # the initial state took more than one read
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(line["date"], line["status"]) for line in lines] == [("2030-01-01", "FAILED")]


def test_follow_says_when_the_writer_goes_quiet_and_when_it_resumes(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    store.append_row(
        {"chunk_date_utc": "2020-01-01", "status": "UPLOADED", "started_at_utc": old.isoformat()}
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "follow",
            str(path),
            "--changes-only",
            "--interval",
            "0.2s",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        quiet = _read_until(proc, lambda lines: lines[-1].get("event") == "quiet")
        assert quiet[-1]["last_row_at"] == old.isoformat()
        assert 3500 < quiet[-1]["since_seconds"] < 3700
        # The spell goes on for many checks (0.2 s each): it is not said again.
        time.sleep(1.5)  # not waiting for a result: letting checks happen
        now = datetime.now(timezone.utc).isoformat()
        store.append_row(
            {"chunk_date_utc": "2020-01-02", "status": "UPLOADED", "started_at_utc": now}
        )
        resumed = _read_until(proc, lambda lines: lines[-1].get("event") == "resumed")
        assert resumed[-1] == {"event": "resumed", "last_row_at": now}
        assert not [line for line in resumed if line.get("event") == "quiet"]  # one per spell
        assert {"date": "2020-01-02"}.items() <= next(
            line for line in resumed if "date" in line
        ).items()
    finally:
        proc.terminate()
        proc.wait(5)


def test_a_file_gone_says_nothing_of_the_writer_until_a_row_comes(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    HistoricalTelemetry(path).append_row(
        {"chunk_date_utc": "2020-01-01", "status": "UPLOADED", "started_at_utc": old.isoformat()}
    )
    argv = [sys.executable, "-m", "tui.cli", "follow", str(path), "--changes-only"]
    proc = subprocess.Popen([*argv, "--interval", "0.2s"], stdout=subprocess.PIPE, text=True)
    try:
        _read_until(proc, lambda lines: lines[-1].get("event") == "quiet")
        path.unlink()
        _read_until(proc, lambda lines: lines[-1].get("event") == "reset")
        # No rows: nothing says the writer is back (no "resumed" without a row).
        now = datetime.now(timezone.utc).isoformat()
        HistoricalTelemetry(path).append_row(
            {"chunk_date_utc": "2020-01-02", "status": "FAILED", "started_at_utc": now}
        )
        lines = _read_until(proc, lambda lines: lines[-1].get("event") == "resumed")
        said = [line for line in lines if line.get("event") in ("quiet", "resumed")]
        assert said == [{"event": "resumed", "last_row_at": now}]
    finally:
        proc.terminate()
        proc.wait(5)


def test_a_file_that_stops_being_telemetry_is_followed_on_and_said_once(tmp_path: Path) -> None:
    path, _, proc = _follow_one_day(tmp_path, stderr=subprocess.PIPE)
    try:
        assert [line["date"] for line in _read_lines(proc, 1)] == ["2020-01-01"]
        path.write_text("name,age\nbob,3\n")
        lines = _read_until(proc, lambda seen: any(x.get("event") == "not_telemetry" for x in seen))
        assert [x["event"] for x in lines if "event" in x][-1] == "not_telemetry"
        path.unlink()
        HistoricalTelemetry(path).append_row({"chunk_date_utc": "2021-06-01", "status": "FAILED"})
        lines = _read_until(proc, lambda seen: any(x.get("date") == "2021-06-01" for x in seen))
        assert {"event": "telemetry"} in lines
        assert lines[-1]["date"] == "2021-06-01" and lines[-1]["status"] == "FAILED"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert proc.returncode != 2  # still running when ended: it never gave up
    assert err.count("not a telemetry file") == 1 and "Traceback" not in err


def test_one_line_per_changed_day_per_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row({"chunk_date_utc": "2020-01-01", "status": "FAILED"})
    batch = [
        ("2020-01-01", "DOWNLOAD_PENDING"),
        ("2020-01-01", "DOWNLOADED"),
        ("2020-01-01", "UPLOADED"),
        ("2020-01-02", "DOWNLOAD_PENDING"),
        ("2020-01-02", "FAILED"),
    ]

    def one_batch(*args: object, **kwargs: object) -> Iterator[None]:
        with open(path, "ab") as fh:  # five rows of two days in one write: one batch
            fh.write(
                b"".join(
                    encode_row(row_values({"chunk_date_utc": day, "status": status}))
                    for day, status in batch
                )
            )
        yield None

    monkeypatch.setattr(tui.follow, "wakeups", one_batch)
    result = CliRunner().invoke(main, ["follow", str(path), "--jsonl", "--changes-only"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    # Each day once, at its latest status, with what it was before the batch.
    assert sorted((x["date"], x["status"], x["previous"]) for x in lines) == [
        ("2020-01-01", "UPLOADED", "FAILED"),
        ("2020-01-02", "FAILED", None),
    ]


def test_an_unreadable_file_is_said_once_and_followed_on_with_no_row_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    real_pread = os.pread
    broken = [False]

    def pread(fd: int, size: int, offset: int) -> bytes:
        if broken[0]:
            raise OSError(errno.EIO, "Input/output error")
        return real_pread(fd, size, offset)

    def wakeups(*args: object, **kwargs: object) -> Iterator[None]:
        store.append_row({"chunk_date_utc": "2020-01-02", "status": "FAILED"})
        broken[0] = True  # then reading fails
        yield None
        yield None  # still failing: said once only
        broken[0] = False
        yield None

    monkeypatch.setattr(os, "pread", pread)
    monkeypatch.setattr(tui.follow, "wakeups", wakeups)
    result = CliRunner().invoke(main, ["follow", str(path), "--jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["date"] == "2020-01-01"
    assert lines[1] == {"event": "unreadable", "error": "cannot read it: Input/output error"}
    assert lines[2] == {"event": "telemetry"}
    assert (lines[3]["date"], lines[3]["status"]) == ("2020-01-02", "FAILED")
    assert len(lines) == 4
    assert result.stderr.count("cannot read it: Input/output error") == 1
