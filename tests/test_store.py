"""Behavioural tests of the telemetry store (writer and readers)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

import telemetry
from telemetry import HistoricalTelemetry, TelemetryRow
from tests.seed_reference import seed_append_row, seed_iter_rows, seed_load_state


def _row(day: str, started: str, msg: str = "", status: str = "DOWNLOADED") -> dict[str, str]:
    return {
        "run_id": "r",
        "chunk_date_utc": day,
        "status": status,
        "error_message": msg,
        "started_at_utc": started,
    }


def test_awkward_text_round_trips_and_matches_seed(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    msgs = ['a,b "q"\r\nline2\nx', "é ünïcode ✓", ""]
    for i, m in enumerate(msgs):
        store.append_row(_row(f"2024-01-0{i + 1}", "2024-01-01T00:00:00+00:00", m))
    assert [r.error_message for r in store.iter_rows()] == msgs
    assert store.load_state() == seed_load_state(path)
    assert store.malformed() == []


def test_field_over_200_kib_round_trips_without_touching_csv_limit(tmp_path: Path) -> None:
    limit = csv.field_size_limit()
    store = HistoricalTelemetry(tmp_path / "t.csv")
    long = "trace,\n" * 40_000
    store.append_row(_row("2024-01-01", "t", long))
    assert [r.error_message for r in store.iter_rows()] == [long]
    assert csv.field_size_limit() == limit


def test_seed_written_file_reads_identically(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    seed_append_row(path, _row("2024-01-01", "2024-01-01T00:00:00+00:00", 'a,"b"\nc'))
    seed_append_row(path, _row("2024-01-01", "2024-01-01T00:00:00+00:00", "later"))
    store = HistoricalTelemetry(path)
    assert list(store.iter_rows()) == seed_iter_rows(path)
    assert store.load_state() == seed_load_state(path)


def test_invalid_status_and_unknown_column_raise(tmp_path: Path) -> None:
    store = HistoricalTelemetry(tmp_path / "t.csv")
    with pytest.raises(ValueError):
        store.append_row({"status": "BOGUS"})
    with pytest.raises(ValueError):
        store.append_row({"nope": "x"})


def test_fsync_error_propagates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(fd: int) -> None:
        raise OSError("fsync failed")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        HistoricalTelemetry(tmp_path / "t.csv").append_row(TelemetryRow(status="FAILED"))


def test_legacy_header_is_upgraded_on_append(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(telemetry.LEGACY_SCHEMA)
        w.writerow(["r", "2024-01-01", "", "", "DOWNLOADED"] + [""] * 13)
    HistoricalTelemetry(path).append_row(_row("2024-01-02", "t") | {"s3_key": "k"})
    rows = list(HistoricalTelemetry(path).iter_rows())
    assert [r.chunk_date_utc for r in rows] == ["2024-01-01", "2024-01-02"]
    assert rows[0].s3_key == "" and rows[1].s3_key == "k"
    with open(path, newline="") as fh:
        assert {len(r) for r in csv.reader(fh)} == {len(telemetry.SCHEMA)}


def test_torn_tail_is_closed_off_and_new_row_reads_intact(tmp_path: Path) -> None:
    base = tmp_path / "base.csv"
    HistoricalTelemetry(base).append_row(_row("2024-01-01", "a", "first"))
    start = base.stat().st_size
    HistoricalTelemetry(base).append_row(_row("2024-01-02", "b", 'multi\nline "q", x'))
    data = base.read_bytes()
    for cut in range(start + 1, len(data)):
        path = tmp_path / f"c{cut}.csv"
        path.write_bytes(data[:cut])
        store = HistoricalTelemetry(path)
        store.append_row(_row("2024-01-03", "c", "new"))
        msgs = [r.error_message for r in store.iter_rows()]
        if cut == len(data) - 1:
            assert msgs in (["first", "new"], ["first", 'multi\nline "q", x', "new"])
        else:
            assert msgs == ["first", "new"], cut
            assert len(store.malformed()) == 1, cut


def test_torn_header_is_rewritten_and_foreign_header_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"run_id,chunk_da")
    HistoricalTelemetry(path).append_row(_row("2024-01-01", "a"))
    assert path.read_bytes().startswith((",".join(telemetry.SCHEMA) + "\r\n").encode())
    assert len(list(HistoricalTelemetry(path).iter_rows())) == 1
    other = tmp_path / "o.csv"
    other.write_bytes(b"a,b,c\r\n1,2,3\r\n")
    with pytest.raises(telemetry.TelemetryFormatError):
        HistoricalTelemetry(other).append_row(_row("2024-01-01", "a"))


def _append_many(path: str, who: int) -> None:
    store = HistoricalTelemetry(path)
    for i in range(50):
        store.append_row(_row("2024-01-01", f"{who}-{i:02d}", f'w{who} row {i}, "x"\n'))


def test_concurrent_appenders_write_one_header_and_intact_rows(tmp_path: Path) -> None:
    import multiprocessing

    path = str(tmp_path / "t.csv")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    rows = list(HistoricalTelemetry(path).iter_rows())
    expected = {f'w{w} row {i}, "x"\n' for w in range(4) for i in range(50)}
    assert len(rows) == 200 and {r.error_message for r in rows} == expected
    assert Path(path).read_bytes().count(b"run_id,chunk_date_utc") == 1
    assert HistoricalTelemetry(path).malformed() == []
