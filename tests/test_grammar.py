"""One command-line grammar: durations, dates and ranges mean the same to every
command; output formats are whole documents; a closed pipe is not an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from telemetry import HistoricalTelemetry
from telemetry.store import encode_row, row_values
from tui.cli import main
from tui.options import parse_duration

ROOT = Path(__file__).resolve().parent.parent

DURATION_OPTIONS = [
    ("latest", "--stale-after", ["--plan"]),
    ("summary", "--stale-after", []),
    ("follow", "--interval", []),
    ("follow", "--stale-after", []),
    ("watch", "--stale-after", []),
    ("metrics", "--interval", ["--textfile", "{dir}/m.prom"]),
    ("metrics", "--stale-after", ["--textfile", "{dir}/m.prom"]),
]
RANGE_OPTIONS = [
    ("latest", "--from", "--to"),
    ("summary", "--start", "--end"),
    ("watch", "--start", "--end"),
    ("metrics", "--start", "--end"),
]


def _file(tmp_path: Path, days: int = 3) -> Path:
    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    if days > 1:
        with open(path, "ab") as fh:
            fh.write(
                b"".join(
                    encode_row(
                        row_values(
                            {
                                "chunk_date_utc": str(date(2020, 1, 2) + timedelta(i)),
                                "status": "FAILED",
                                "error_type": "HTTPError",
                            }
                        )
                    )
                    for i in range(days - 1)
                )
            )
    return path


def _one_error_line(result: object) -> str:
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    lines = result.output.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def test_durations_are_units_or_plain_seconds() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("1d") == timedelta(days=1)
    assert parse_duration("30") == timedelta(seconds=30)
    assert parse_duration("0.5") == timedelta(seconds=0.5)
    for bad in ("soon", "-5m", "5 minutes", "", "1h30m"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


@pytest.mark.parametrize(("command", "option", "extra"), DURATION_OPTIONS)
def test_every_duration_option_speaks_one_grammar(
    tmp_path: Path, command: str, option: str, extra: list[str]
) -> None:
    path = _file(tmp_path)
    args = [command, str(path), *(a.format(dir=tmp_path) for a in extra), option]
    line = _one_error_line(CliRunner().invoke(main, [*args, "soon"]))
    assert "not a duration: 'soon' (e.g. 90s, 15m, 2h, 1d, or seconds)" in line


def test_latest_plan_takes_a_duration(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    started = (datetime.now(timezone.utc) - timedelta(minutes=20)).isoformat()
    row = {"chunk_date_utc": "2020-01-01", "status": "DOWNLOAD_PENDING"}
    HistoricalTelemetry(path).append_row(row | {"started_at_utc": started})
    plan = ["latest", str(path), "--plan", "--format", "json", "--stale-after"]
    stalled = json.loads(CliRunner().invoke(main, [*plan, "15m"]).output)
    assert stalled["stalled"] == ["2020-01-01"]
    in_flight = json.loads(CliRunner().invoke(main, [*plan, "1h"]).output)
    assert in_flight["in_flight"] == ["2020-01-01"]
    seconds = json.loads(CliRunner().invoke(main, [*plan, "3600"]).output)
    assert seconds == in_flight


@pytest.mark.parametrize(("command", "first", "last"), RANGE_OPTIONS)
def test_every_date_option_is_checked_the_same_way(
    tmp_path: Path, command: str, first: str, last: str
) -> None:
    path = _file(tmp_path)
    extra = ["--textfile", str(tmp_path / "m.prom")] if command == "metrics" else []
    bad_day = _one_error_line(
        CliRunner().invoke(main, [command, str(path), *extra, first, "2020-1-1"])
    )
    assert "not a date: '2020-1-1' (use YYYY-MM-DD)" in bad_day
    backwards = [command, str(path), *extra, first, "2020-01-01", last, "2019-01-01"]
    line = _one_error_line(CliRunner().invoke(main, backwards))
    assert line == f"Error: {last} 2019-01-01 is before {first} 2020-01-01"


def test_plan_table_prints_one_range_per_line(tmp_path: Path) -> None:
    store = HistoricalTelemetry(tmp_path / "t.csv")
    for day in range(1, 29, 2):  # every other day uploaded: 14 separate gaps
        store.append_row({"chunk_date_utc": f"2020-02-{day:02d}", "status": "UPLOADED"})
    out = CliRunner().invoke(main, ["latest", str(store.path), "--plan", "--to", "2020-02-28"])
    lines = out.output.splitlines()
    at = lines.index("download: 14 days")
    assert lines[at + 1 : at + 15] == [f"  2020-02-{d:02d}" for d in range(2, 30, 2)]
    assert max(map(len, lines)) < 120


def test_summary_says_when_the_writer_went_quiet_and_can_fail_on_it(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    old = datetime.now(timezone.utc) - timedelta(hours=3)
    HistoricalTelemetry(path).append_row(
        {"chunk_date_utc": "2020-01-01", "status": "UPLOADED", "started_at_utc": old.isoformat()}
    )
    result = CliRunner().invoke(main, ["summary", str(path), "--json", "--fail-on", "quiet"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert result.stderr.strip() == "backfill-monitor summary: --fail-on tripped: quiet"
    assert data["quiet"] is True and data["last_row_at"] == old.isoformat()
    assert 3 * 3600 - 60 < data["last_row_age_seconds"] < 3 * 3600 + 60
    text = CliRunner().invoke(main, ["summary", str(path)]).output
    assert "writer QUIET" in text and "3 h" in text
    fresh = tmp_path / "fresh.csv"
    now = datetime.now(timezone.utc).isoformat()
    HistoricalTelemetry(fresh).append_row(
        {"chunk_date_utc": "2020-01-01", "status": "UPLOADED", "started_at_utc": now}
    )
    live = CliRunner().invoke(main, ["summary", str(fresh), "--json", "--fail-on", "quiet"])
    assert live.exit_code == 0 and json.loads(live.output)["quiet"] is False


def test_output_cut_short_by_head_exits_0_quietly(tmp_path: Path) -> None:
    path = _file(tmp_path, days=6000)  # far more than a pipe holds
    for args in (["latest", str(path)], ["latest", str(path), "--format", "jsonl"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        assert proc.stdout is not None and proc.stdout.readline()
        proc.stdout.close()  # head has read enough
        _, err = proc.communicate(timeout=30)
        assert (proc.returncode, err) == (0, b"")


def test_the_program_flushes_all_its_output_and_its_exit_code(tmp_path: Path) -> None:
    """``run`` ends the process without freeing the state: every byte written, the code kept."""
    path = _file(tmp_path, days=6000)
    for args in (["latest", str(path), "--format", "csv"], ["summary", str(path), "--json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "tui.cli", *args, "--no-cache"],
            capture_output=True,
            cwd=ROOT,
            timeout=60,
        )
        assert (proc.returncode, proc.stderr) == (0, b"")
        expected = CliRunner().invoke(main, [*args, "--no-cache"]).output
        if args[0] == "summary":  # the age of the last row moves on between the two
            drop = ("last_row_age_seconds", "now")
            got, want = json.loads(proc.stdout), json.loads(expected)
            assert {k: v for k, v in got.items() if k not in drop} == {
                k: v for k, v in want.items() if k not in drop
            }
        else:
            assert proc.stdout.decode() == expected and len(expected) > 6000 * 40
    bad = subprocess.run(
        [sys.executable, "-m", "tui.cli", "summary", str(tmp_path / "missing.csv")],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stderr.decode().count("\n") == 1


def test_the_program_flushes_what_a_command_wrote_before_it_exited() -> None:
    """Written without a flush, then a non-zero exit: ``run`` still delivers it all."""
    script = (
        "import sys; from tui import cli\n"
        "def command():\n"
        "    sys.stdout.write('x' * 5000)\n"
        "    sys.exit(3)\n"
        "cli.main = command\n"
        "cli.run()\n"
    )
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, cwd=ROOT, timeout=60, env=buffered
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, b"x" * 5000, b"")
