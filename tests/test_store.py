"""The store never loses or garbles a row: round trips, the original module's files,
validation, durability, older and torn headers, torn tails, concurrent writers."""

from __future__ import annotations

import csv
import multiprocessing
import os
from pathlib import Path

import pytest

import telemetry
from telemetry import HistoricalTelemetry, TelemetryRow, diagnose
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


def test_legacy_header_is_upgraded_on_append_without_losing_values(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(telemetry.LEGACY_SCHEMA)
        writer.writerow(["r1", "2024-01-01", "", "", "FAILED", *[""] * 9, "Boom", "a\nb", "", ""])
    store = HistoricalTelemetry(path)
    assert store.load_state()[min(store.load_state())].error_message == "a\nb"
    store.append_row(_row("2024-01-02", "t") | {"s3_key": "k"})
    with open(path, newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == list(telemetry.SCHEMA)
    assert {len(row) for row in table} == {len(telemetry.SCHEMA)}
    rows = list(store.iter_rows())
    assert [(r.chunk_date_utc, r.error_type, r.error_message, r.s3_key) for r in rows] == [
        ("2024-01-01", "Boom", "a\nb", ""),
        ("2024-01-02", "", "", "k"),
    ]


def test_torn_quoted_tail_never_swallows_next_row(tmp_path: Path) -> None:
    base = tmp_path / "base.csv"
    HistoricalTelemetry(base).append_row(_row("2024-01-01", "a", "first", "UPLOADED"))
    start = base.stat().st_size
    torn = 'multi\nline "q", x\r\ny'
    HistoricalTelemetry(base).append_row(_row("2024-01-02", "b", torn, "FAILED"))
    data = base.read_bytes()
    for cut in range(start + 1, len(data)):
        path = tmp_path / f"c{cut}.csv"
        path.write_bytes(data[:cut])
        store = HistoricalTelemetry(path)
        store.append_row(_row("2024-01-03", "c", "new"))
        msgs = [r.error_message for r in store.iter_rows()]
        if cut == len(data) - 1:  # only the final "\n" was missing: the row is kept
            assert msgs == ["first", torn, "new"], cut
        else:
            assert msgs == ["first", "new"], cut
            assert [m.reason for m in store.malformed()] == [
                "torn record (closed off by a later write)"
            ], cut
        assert store.load_state()[min(store.load_state())].status == "UPLOADED"


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


def _message(worker: int, i: int) -> str:
    # Quotes, commas, newlines and lengths from 0 to ~3 KB: rows of many sizes.
    return f'w{worker} row {i}, "x"\n' + "y" * (i * 97 % 3000)


def _append_many(path: str, worker: int, count: int) -> None:
    store = HistoricalTelemetry(path)
    for i in range(count):
        day = f"2024-{1 + i % 12:02d}-{1 + worker:02d}"
        store.append_row(_row(day, f"{worker}-{i:02d}", _message(worker, i), "FAILED"))


def test_concurrent_processes_write_one_header_and_every_row_intact(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for trial in range(3):
        path = tmp_path / f"t{trial}.csv"
        procs = [ctx.Process(target=_append_many, args=(str(path), w, 40)) for w in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        assert path.read_bytes().count(b"run_id,chunk_date_utc") == 1
        assert diagnose(path) == []
        rows = list(HistoricalTelemetry(path).iter_rows())
        expected = {_message(w, i) for w in range(4) for i in range(40)}
        assert len(rows) == 160 and {r.error_message for r in rows} == expected
        assert len(seed_iter_rows(path)) == 160
