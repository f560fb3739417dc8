"""The attempt recorder: a PENDING row on entry, the outcome on exit, errors re-raised."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from telemetry import HistoricalTelemetry, diagnose, record_attempt
from tests.seed_reference import seed_load_state

DAY = date(2020, 1, 5)


def _rows(path: Path) -> list[dict[str, str]]:
    return [r.to_dict() for r in HistoricalTelemetry(path).iter_rows()]


def test_success_writes_pending_then_outcome_sharing_started_at(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with record_attempt(path, DAY, "download", run_id="run-1", sensor_id="S7") as dl:
        pending = _rows(path)
        assert [r["status"] for r in pending] == ["DOWNLOAD_PENDING"]
        dl.records_downloaded = 120
        dl.expected_records = 200
        dl.csv_path = "/data/a.csv"
        time.sleep(0.02)
    rows = _rows(path)
    assert [r["status"] for r in rows] == ["DOWNLOAD_PENDING", "DOWNLOADED"]
    first, last = rows
    assert first["started_at_utc"] == last["started_at_utc"] == dl.started_at_utc
    assert first["finished_at_utc"] == "" and last["finished_at_utc"] > last["started_at_utc"]
    assert (first["run_id"], first["sensor_id"], first["chunk_date_utc"]) == (
        "run-1",
        "S7",
        "2020-01-05",
    )
    assert first["records_downloaded"] == ""  # set in the block: outcome only
    assert (last["records_downloaded"], last["expected_records"]) == ("120", "200")
    assert last["csv_path"] == "/data/a.csv"
    assert float(last["download_seconds"]) >= 0.02
    assert dl.status == "DOWNLOADED" and dl.row is not None and dl.row.csv_path == "/data/a.csv"
    assert dl.seconds is not None and dl.seconds >= 0.02
    # The outcome is the day's latest row for both readers.
    assert HistoricalTelemetry(path).load_state()[DAY].status == "DOWNLOADED"
    assert seed_load_state(path)[DAY].status == "DOWNLOADED"


def test_exception_writes_failed_with_type_and_traceback_then_reraises(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"

    def fetch() -> None:
        raise TimeoutError("read timed out (read timeout=120)")

    with pytest.raises(TimeoutError), record_attempt(path, DAY, "download") as dl:
        dl.records_downloaded = 7
        fetch()
    rows = _rows(path)
    assert [r["status"] for r in rows] == ["DOWNLOAD_PENDING", "FAILED"]
    failed = rows[-1]
    assert failed["error_type"] == "TimeoutError"
    message = failed["error_message"]
    assert message.startswith("Traceback (most recent call last):\n")
    assert "in fetch" in message and message.endswith("read timed out (read timeout=120)")
    assert failed["records_downloaded"] == "7" and failed["download_seconds"] != ""
    assert diagnose(path) == []
    assert HistoricalTelemetry(path).load_state()[DAY].error_type == "TimeoutError"


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_interrupt_and_exit_are_recorded_as_failed_and_propagate(
    tmp_path: Path, exc_type: type[BaseException]
) -> None:
    path = tmp_path / "t.csv"
    with pytest.raises(exc_type), record_attempt(path, DAY, "upload"):
        raise exc_type()
    last = _rows(path)[-1]
    assert (last["status"], last["error_type"]) == ("FAILED", exc_type.__name__)
    assert last["upload_seconds"] != ""


def test_skip_and_handled_failure_choose_the_outcome(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with record_attempt(path, "2020-01-01", "download") as dl:
        dl.records_downloaded = 0
        dl.skip()
    with record_attempt(path, "2020-01-02", "process") as pr:
        pr.skip()
    with record_attempt(path, "2020-01-03", "download") as dl3:
        dl3.fail("HTTPError", "503 Server Error: Service Unavailable")
    state = HistoricalTelemetry(path).load_state()
    assert state[date(2020, 1, 1)].status == "SKIPPED_NO_DATA"
    assert state[date(2020, 1, 2)].status == "SKIPPED_NO_INPUT"
    third = state[date(2020, 1, 3)]
    assert (third.status, third.error_type) == ("FAILED", "HTTPError")
    assert third.error_message == "503 Server Error: Service Unavailable"
    with pytest.raises(ValueError), record_attempt(path, DAY, "download") as dl4:
        dl4.skip("UPLOADED")


def test_carry_repeats_earlier_phases_but_not_status_times_or_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with record_attempt(path, DAY, "download", run_id="r") as dl:
        dl.update(csv_path="/a.csv", records_downloaded=5)
    with record_attempt(path, DAY, "process", carry=dl.row) as pr:
        pr.cdf_path = "/a.cdf"
    with record_attempt(path, DAY, "upload", carry=pr.row) as up:
        up.s3_key = "eo/a.cdf"
    rows = _rows(path)
    assert [r["status"] for r in rows] == [
        "DOWNLOAD_PENDING",
        "DOWNLOADED",
        "PROCESS_PENDING",
        "PROCESSED",
        "UPLOAD_PENDING",
        "UPLOADED",
    ]
    assert rows[2]["csv_path"] == "/a.csv" and rows[2]["run_id"] == "r"
    assert rows[2]["started_at_utc"] != rows[1]["started_at_utc"]
    assert rows[2]["finished_at_utc"] == ""
    final = rows[-1]
    assert (final["csv_path"], final["cdf_path"], final["s3_key"]) == (
        "/a.csv",
        "/a.cdf",
        "eo/a.cdf",
    )
    assert final["download_seconds"] == rows[1]["download_seconds"]
    assert final["process_seconds"] == rows[3]["process_seconds"]
    assert final["upload_seconds"] != ""


def test_seconds_set_by_the_block_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with record_attempt(path, DAY, "process") as pr:
        pr.process_seconds = 42.5
    assert _rows(path)[-1]["process_seconds"] == "42.5"


def test_bad_phase_and_recorder_owned_columns_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with pytest.raises(ValueError):
        record_attempt(path, DAY, "convert")
    with pytest.raises(ValueError):
        record_attempt(path, DAY, "download", status="UPLOADED")
    with pytest.raises(ValueError):
        record_attempt(path, DAY, "download", no_such_column=1)
    with record_attempt(path, DAY, "download") as dl:
        with pytest.raises(AttributeError):
            dl.status = "UPLOADED"
        with pytest.raises(ValueError):
            dl.update(started_at_utc="x")
    assert not hasattr(dl, "no_such_column")
    assert [r["status"] for r in _rows(path)] == ["DOWNLOAD_PENDING", "DOWNLOADED"]


def test_pending_write_failure_skips_the_block(tmp_path: Path) -> None:
    not_telemetry = tmp_path / "other.csv"
    not_telemetry.write_text("name,age\nbob,3\n")
    ran = False
    with pytest.raises(ValueError), record_attempt(not_telemetry, DAY, "download"):
        ran = True
    assert not ran


def test_an_attempt_records_once(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    attempt = record_attempt(path, DAY, "download")
    with attempt:
        pass
    with pytest.raises(RuntimeError), attempt:
        pass
    assert len(_rows(path)) == 2
