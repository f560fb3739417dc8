"""The command line as a whole: --version, examples in every --help, bad input exits 2,
the resume plan, upgrade, and the demo's simulated orchestrator."""

from __future__ import annotations

import csv
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from telemetry import (
    LEGACY_SCHEMA,
    SCHEMA,
    VALID_STATUSES,
    BackfillState,
    HistoricalTelemetry,
    diagnose,
    resume_plan,
)
from tests.seed_reference import seed_load_state
from tui import __version__
from tui.cli import COMMANDS, main
from tui.simulate import OUTAGE_DAYS, STALL_DAY, simulate


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_version() -> None:
    result = _run("--version")
    assert result.exit_code == 0
    assert result.output == f"backfill-monitor, version {__version__}\n"


@pytest.mark.parametrize("command", ["", *sorted(COMMANDS)])
def test_every_help_has_examples(command: str) -> None:
    result = _run(*([command] if command else []), "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert "backfill-monitor" in result.output.split("Example", 1)[1]


def test_every_command_is_registered() -> None:
    assert sorted(COMMANDS) == [
        "check",
        "demo",
        "follow",
        "latest",
        "metrics",
        "serve",
        "summary",
        "upgrade",
        "watch",
    ]


# -- bad input: one line on stderr, exit code 2, no traceback -------------------------


def _missing(tmp: Path) -> Path:
    return tmp / "nope" / "t.csv"  # its directory is missing too: even follow refuses it


def _directory(tmp: Path) -> Path:
    (tmp / "dir.csv").mkdir()
    return tmp / "dir.csv"


def _binary(tmp: Path) -> Path:
    rng = random.Random(5)
    path = tmp / "garbage.csv"
    path.write_bytes(b"\x00" + bytes(rng.randrange(256) for _ in range(5000)))
    return path


def _utf16(tmp: Path) -> Path:
    # A telemetry file saved as UTF-16 by a spreadsheet: NULs everywhere.
    path = tmp / "utf16.csv"
    path.write_text(",".join(SCHEMA) + "\n", encoding="utf-16")
    return path


def _not_telemetry(tmp: Path) -> Path:
    path = tmp / "people.csv"
    path.write_text("name,age\nbob,3\n")
    return path


def _no_header_line(tmp: Path) -> Path:
    path = tmp / "blob.csv"
    path.write_text("just some text without a line end")
    return path


BAD_FILES: dict[str, Callable[[Path], Path]] = {
    "missing": _missing,
    "directory": _directory,
    "binary": _binary,
    "utf16": _utf16,
    "not-telemetry": _not_telemetry,
    "no-header-line": _no_header_line,
}

FILE_COMMANDS = ["check", "follow", "latest", "summary", "upgrade"]


def _assert_bad_input(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    return lines[0]


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_bad_file_is_one_line_and_exit_2(tmp_path: Path, command: str, kind: str) -> None:
    path = BAD_FILES[kind](tmp_path)
    line = _assert_bad_input(_run(command, str(path)))
    assert str(path) in line or str(path.parent) in line


@pytest.mark.parametrize(
    "args",
    [
        ["latest", "{file}", "--from", "yesterday"],
        ["latest", "{file}", "--to", "2020-02-30"],
        ["latest", "{file}", "--from", "2020-02-01", "--to", "2020-01-01"],
        ["latest", "{file}", "--format", "xml"],
        ["latest", "{file}", "--status", "DONE"],
        ["latest", "{file}", "--plan", "--status", "FAILED"],
        ["latest", "{file}", "--plan", "--stale-after", "-1"],
        ["summary", "{file}", "--start", "2020-13-01"],
        ["summary", "{file}", "--fail-on", "sad"],
        ["summary", "{file}", "--format", "json"],
        ["follow", "{file}", "--interval", "0"],
        ["demo", "--speed", "fast"],
        ["demo", "--speed", "0"],
        ["demo", "--no-tui", "--out", "{dir}"],
        ["demo", "--no-tui", "--out", "{other}"],
        ["check"],
        ["check", "{file}", "extra"],
        ["no-such-command"],
    ],
    ids=lambda args: " ".join(args),
)
def test_bad_option_is_one_line_and_exit_2(tmp_path: Path, args: list[str]) -> None:
    good = tmp_path / "t.csv"
    HistoricalTelemetry(good).append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    names = {"file": good, "dir": _directory(tmp_path), "other": _not_telemetry(tmp_path)}
    _assert_bad_input(_run(*(a.format(**names) for a in args)))


# -- an empty file is a valid, empty state --------------------------------------------


@pytest.mark.parametrize("content", [b"", b"run_id,chunk_da"], ids=["empty", "torn-header"])
def test_empty_file_is_an_empty_state(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    check = _run("check", str(path))
    if content:  # a crash while creating the file: empty, but check reports the torn header
        assert check.exit_code == 1 and "torn" in check.output
    else:
        assert check.exit_code == 0 and "clean" in check.output
    latest = _run("latest", str(path), "--format", "csv")
    assert latest.exit_code == 0 and latest.output == ",".join(SCHEMA) + "\n"
    summary = _run("summary", str(path), "--json", "--fail-on", "failed,stalled")
    assert summary.exit_code == 0 and json.loads(summary.output)["total_days"] == 0
    assert _run("upgrade", str(path)).exit_code == 0
    plan = _run("latest", str(path), "--plan", "--from", "2020-01-01", "--to", "2020-01-03")
    assert plan.exit_code == 0
    assert plan.output.splitlines()[1:3] == ["download: 3 days", "  2020-01-01..2020-01-03"]


# -- upgrade ----------------------------------------------------------------------------


def test_upgrade_rewrites_a_legacy_header_once(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(LEGACY_SCHEMA)
        writer.writerow(["r", "2020-01-01", "", "", "FAILED", *[""] * 9, "Boom", "a\nb", "", ""])
    first = _run("upgrade", str(path))
    assert first.exit_code == 0
    assert first.output == f"{path}: upgraded to the {len(SCHEMA)}-column header\n"
    with open(path, newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == list(SCHEMA) and len(table[1]) == len(SCHEMA)
    assert table[1][SCHEMA.index("error_message")] == "a\nb"
    again = _run("upgrade", str(path))
    assert again.exit_code == 0 and "already has" in again.output


# -- latest --plan ------------------------------------------------------------------------


def _plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    for day, status in [
        ("2020-01-01", "UPLOADED"),
        ("2020-01-02", "DOWNLOADED"),
        ("2020-01-03", "FAILED"),
        ("2020-01-05", "PROCESSED"),
    ]:
        store.append_row({"chunk_date_utc": day, "status": status})
    return path


def test_latest_plan_ranges_name_the_phase(tmp_path: Path) -> None:
    result = _run("latest", str(_plan_file(tmp_path)), "--plan", "--format", "ranges")
    assert result.exit_code == 0
    assert result.output == (
        "download 2020-01-03..2020-01-04\nprocess 2020-01-02\nupload 2020-01-05\n"
    )


def test_latest_plan_json_and_range_options(tmp_path: Path) -> None:
    args = ["--plan", "--format", "json", "--from", "2019-12-31", "--to", "2020-01-06"]
    result = _run("latest", str(_plan_file(tmp_path)), *args)
    data = json.loads(result.output)
    assert data["range"] == ["2019-12-31", "2020-01-06"]
    assert data["download"] == ["2019-12-31", "2020-01-03..2020-01-04", "2020-01-06"]
    assert (data["process"], data["upload"], data["done"]) == (
        ["2020-01-02"],
        ["2020-01-05"],
        ["2020-01-01"],
    )
    assert data["never_attempted"] == ["2019-12-31", "2020-01-04", "2020-01-06"]
    table = _run("latest", str(_plan_file(tmp_path)), "--plan")
    assert table.output.splitlines()[0].startswith("2020-01-01..2020-01-05: 4 days need work")


# -- demo ---------------------------------------------------------------------------------


def test_simulated_backfill_writes_every_behaviour_through_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    stop = threading.Event()
    writer = threading.Thread(
        target=simulate, args=(path, stop), kwargs={"speed": 1000, "seed": 0, "days": 150}
    )
    writer.start()
    writer.join(60)
    assert not writer.is_alive()
    assert diagnose(path) == []
    rows = list(HistoricalTelemetry(path).iter_rows())
    statuses = {r.status for r in rows}
    assert statuses == VALID_STATUSES - {"SKIPPED_NO_INPUT"}
    failed = [r for r in rows if r.status == "FAILED"]
    assert {"HTTPError", "ReadTimeout", "ConversionError"} <= {r.error_type for r in failed}
    assert any("503 Server Error" in r.error_message for r in failed)
    for r in failed:  # real exceptions: real multi-line tracebacks
        assert r.error_message.startswith("Traceback (most recent call last):\n")
        assert r.error_message.count("\n") >= 3
    partial = [
        r
        for r in rows
        if r.status == "DOWNLOADED" and int(r.records_downloaded) < int(r.expected_records)
    ]
    assert partial and all(float(r.availability_pct) < 100 for r in partial)
    state = BackfillState.from_path(path)
    assert state.retries > 0
    assert state.latest == HistoricalTelemetry(path).load_state() == seed_load_state(path)
    outage = [date(2019, 1, 1) + timedelta(days=n) for n in OUTAGE_DAYS]
    assert all(state.latest[d].error_type == "HTTPError" for d in outage)
    assert all(state.attempts(d) == 3 for d in outage)
    stall = date(2019, 1, 1) + timedelta(days=STALL_DAY)
    assert state.status_of(stall) == "UPLOAD_PENDING"
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert state.stalled(now=later) == [stall]
    plan = resume_plan(state, now=later)
    assert plan.stalled == [stall] and stall in plan.upload
    assert set(outage) <= set(plan.download)
    conversion = [d for d in plan.failed if state.latest[d].error_type == "ConversionError"]
    assert conversion and set(conversion) <= set(plan.process)


def test_simulation_stops_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    stop = threading.Event()
    writer = threading.Thread(target=simulate, args=(path, stop), kwargs={"speed": 1000})
    writer.start()
    time.sleep(1.0)
    stop.set()
    writer.join(10)
    assert not writer.is_alive()
    state = BackfillState.from_path(path)
    assert 0 < len(state.days) < 3 * 365 and state.malformed == []


def test_demo_without_tui_writes_until_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "demo", "--no-tui", "--out", str(path), "--speed", "50"],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not path.exists() or path.stat().st_size < 20_000):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert err == f"writing {path} (Ctrl-C stops)\nThe demo's telemetry is in {path}\n"
    check = _run("check", str(path))
    assert check.exit_code == 0, check.output
