"""``backfill-monitor metrics``: the engine's figures as Prometheus metrics, served
over HTTP and written as a node_exporter textfile; bad input in one line."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from telemetry import HistoricalTelemetry
from tests.polling import get_text, wait
from tui.cli import main
from tui.metrics import BackfillCollector, FileFollower

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def _at(minutes: float) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat()


def _backfill(path: Path) -> HistoricalTelemetry:
    """Five days: 2 uploaded, 2 failed (two error types, one retried), 1 stalled."""
    store = HistoricalTelemetry(path)
    rows = [
        ("2020-01-01", "UPLOADED", "", -50),
        ("2020-01-02", "FAILED", "HTTPError", -40),
        ("2020-01-02", "FAILED", "Timeout", -30),
        ("2020-01-03", "UPLOADED", "", -20),
        ("2020-01-05", "DOWNLOAD_PENDING", "", -60),
        ("2020-01-06", "FAILED", "HTTPError", -10),
    ]
    for day, status, error, minute in rows:
        store.append_row(
            {
                "chunk_date_utc": day,
                "status": status,
                "error_type": error,
                "sensor_id": "S7",
                "descriptor": "EO",
                "started_at_utc": _at(minute),
                "finished_at_utc": "" if status.endswith("PENDING") else _at(minute + 1),
            }
        )
    return store


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels without file/sensor/descriptor): value}``."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(
                sorted(
                    (k, v)
                    for k, v in sample.labels.items()
                    if k not in ("file", "sensor_id", "descriptor")
                )
            )
            out[(sample.name, labels)] = sample.value
    return out


def _value(text: str | None, name: str, **labels: str) -> float | None:
    """The value of the one sample ``name`` whose labels include ``labels``."""
    for family in text_string_to_metric_families(text or ""):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return None


def _scrape(followers: list[FileFollower], now: datetime = NOW) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BackfillCollector(lambda: followers, clock=lambda: now))
    return generate_latest(registry).decode()


def _follower(path: Path) -> FileFollower:
    return FileFollower(path, stale_after=timedelta(minutes=15))


def test_the_figures_of_a_backfill_as_metrics(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _backfill(path)
    follower = _follower(path)
    follower.catch_up()
    text = _scrape([follower])
    samples = _samples(text)
    assert samples[("backfill_up", ())] == 1
    assert samples[("backfill_chunks", (("status", "UPLOADED"),))] == 2
    assert samples[("backfill_chunks", (("status", "FAILED"),))] == 2
    assert samples[("backfill_chunks", (("status", "DOWNLOAD_PENDING"),))] == 1
    assert samples[("backfill_chunks", (("status", "PROCESSED"),))] == 0
    assert samples[("backfill_phase_chunks", (("phase", "download"),))] == 3
    assert samples[("backfill_phase_chunks", (("phase", "upload"),))] == 2
    assert samples[("backfill_expected_chunks", ())] == 6  # 2020-01-01..06
    assert samples[("backfill_missing_chunks", ())] == 1  # 01-04
    assert samples[("backfill_failed_chunks", (("error_type", "HTTPError"),))] == 1
    assert samples[("backfill_failed_chunks", (("error_type", "Timeout"),))] == 1
    assert samples[("backfill_stalled_chunks", ())] == 1
    assert samples[("backfill_attempts_total", ())] == 6
    assert samples[("backfill_retries_total", ())] == 1
    assert samples[("backfill_rows_total", ())] == 6
    assert samples[("backfill_malformed_rows_total", ())] == 0
    assert samples[("backfill_file_resets_total", ())] == 0
    assert (
        samples[("backfill_last_row_timestamp_seconds", ())]
        == (NOW - timedelta(minutes=9)).timestamp()
    )
    assert samples[("backfill_writer_quiet", ())] == 0
    assert samples[("backfill_eta_seconds", ())] > 0  # live: an ETA
    assert samples[("backfill_progress_ratio", ())] == pytest.approx(2 / 6)
    rate = samples[("backfill_chunks_finished_per_second", ())]
    # Finishes 49 and 19 minutes ago: one day finished in the 49 minutes since the
    # first, measured up to now (a backfill that stopped falls to 0).
    assert rate * 3600 == pytest.approx(60 / 49)
    # Every series names its file and where the data came from.
    assert f'file="{path}"' in text and 'sensor_id="S7"' in text and 'descriptor="EO"' in text
    # Hours later nothing has moved: the writer is quiet (after ten of its usual
    # ten-minute gaps) and no ETA is promised.
    assert samples[("backfill_writer_quiet_after_seconds", ())] == 6000
    later = _samples(_scrape([follower], NOW + timedelta(hours=2)))
    assert later[("backfill_writer_quiet", ())] == 1
    assert ("backfill_eta_seconds", ()) not in later


def test_resets_and_files_that_are_not_telemetry(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _backfill(path)
    follower = _follower(path)
    follower.catch_up()
    other = tmp_path / "o.csv"
    HistoricalTelemetry(other).append_row({"chunk_date_utc": "2021-01-01", "status": "UPLOADED"})
    os.replace(other, path)
    follower.catch_up()
    samples = _samples(_scrape([follower]))
    assert samples[("backfill_file_resets_total", ())] == 1
    assert samples[("backfill_rows_total", ())] == 1
    path.write_text("name,age\nbob,3\n")
    follower.catch_up()
    assert follower.error is not None and "not a telemetry file" in follower.error
    samples = _samples(_scrape([follower]))
    assert samples[("backfill_up", ())] == 0
    assert ("backfill_rows_total", ()) not in samples


# -- the command ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _exporter(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "metrics", *args, "--interval", "0.2s"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_a_directory_is_served_live_and_a_bad_file_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = _backfill(data / "a.csv")
    (data / "bad.csv").write_bytes(b"\x00\x01\x02 binary\n")
    port = _free_port()
    proc = _exporter(str(data), "--listen", f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        text = wait(lambda: get_text(url))
        assert isinstance(text, str)
        assert _value(text, "backfill_up", file=str(data / "bad.csv")) == 0
        a = str(data / "a.csv")
        assert _value(text, "backfill_up", file=a, sensor_id="S7", descriptor="EO") == 1
        assert _value(text, "backfill_rows_total", file=a) == 6
        store.append_row({"chunk_date_utc": "2020-01-04", "status": "UPLOADED"})
        assert wait(
            lambda: _value(get_text(url), "backfill_chunks", file=a, status="UPLOADED") == 3
        )
        new = str(data / "new.csv")
        HistoricalTelemetry(new).append_row({"chunk_date_utc": "2020-01-01", "status": "FAILED"})
        assert wait(
            lambda: _value(get_text(url), "backfill_chunks", file=new, status="FAILED") == 1
        )
        if shutil.which("promtool"):
            check = subprocess.run(
                ["promtool", "check", "metrics"],
                input=get_text(url),
                capture_output=True,
                text=True,
            )
            assert check.returncode == 0, check.stdout + check.stderr
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"{data / 'bad.csv'}: binary data, not a telemetry file (exported as down)" in err


def test_the_textfile_is_replaced_atomically_at_each_change(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = _backfill(path)
    prom = tmp_path / "out" / "backfill.prom"
    prom.parent.mkdir()
    proc = _exporter(str(path), "--textfile", str(prom))
    try:
        assert wait(lambda: prom.exists() and "backfill_rows_total" in prom.read_text())
        store.append_row({"chunk_date_utc": "2020-01-04", "status": "UPLOADED"})
        assert wait(lambda: _value(prom.read_text(), "backfill_rows_total") == 7)
        assert [p.name for p in prom.parent.iterdir()] == ["backfill.prom"]  # no temporary left
    finally:
        proc.terminate()
        proc.wait(10)


def _one_error_line(args: list[str]) -> str:
    result = CliRunner().invoke(main, ["metrics", *args])
    assert result.exit_code != 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _backfill(path)
    assert "no such directory" in _one_error_line([str(tmp_path / "nope" / "t.csv")])
    assert "no such telemetry file" in _one_error_line([str(tmp_path / "missing.csv")])
    assert "not HOST:PORT" in _one_error_line([str(path), "--listen", "localhost"])
    assert "not HOST:PORT" in _one_error_line([str(path), "--listen", "127.0.0.1:99999"])
    assert "--listen no-such-host.invalid:9464" in _one_error_line(
        [str(path), "--listen", "no-such-host.invalid:9464"]
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _one_error_line([str(path), "--listen", f"127.0.0.1:{port}"])
        assert "Address already in use" in line
    line = _one_error_line([str(path), "--textfile", str(tmp_path / "no-dir" / "m.prom")])
    assert "--textfile" in line and "No such file or directory" in line


def test_the_labels_name_the_last_row_in_the_file_that_names_a_sensor(tmp_path: Path) -> None:
    """Backfilling backwards: the last row written names the source, not the newest day's.
    The same from a saved state, whose rows after it name none."""
    from telemetry.snapshot import StateCache

    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    for day, sensor, descriptor in (
        ("2020-01-09", "S-OLD", "EO"),
        ("2020-01-01", "S-NEW", "EO"),
        ("2020-01-02", "", ""),
    ):
        store.append_row(
            {
                "chunk_date_utc": day,
                "status": "UPLOADED",
                "sensor_id": sensor,
                "descriptor": descriptor,
            }
        )
    cache = StateCache(tmp_path / "cache")
    for reopened in (False, True):  # read cold (and saved), then reopened
        follower = FileFollower(path, stale_after=timedelta(minutes=15), cache=cache)
        follower.catch_up()
        assert (follower._live.reopened_from > 0) == reopened
        assert follower.source == ("S-NEW", "EO")
        assert _value(_scrape([follower]), "backfill_up", sensor_id="S-NEW", descriptor="EO") == 1
        assert wait(lambda: cache.prefix(path) is not None, 10)  # saved in a thread
