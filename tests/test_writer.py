"""The writer never loses or garbles a row: concurrency, torn tails, old headers."""

from __future__ import annotations

import csv
import multiprocessing
from pathlib import Path

from telemetry import LEGACY_SCHEMA, SCHEMA, HistoricalTelemetry, diagnose
from tests.seed_reference import seed_iter_rows


def _append_many(path: str, worker: int, count: int) -> None:
    store = HistoricalTelemetry(path)
    for i in range(count):
        store.append_row(
            {
                "run_id": f"w{worker}",
                "chunk_date_utc": f"2020-{1 + i % 12:02d}-{1 + worker:02d}",
                "status": "FAILED",
                "error_message": f"worker {worker} row {i}\n" + "x" * (i * 97 % 3000),
            }
        )


def test_concurrent_processes_write_one_header_and_every_row_intact(tmp_path: Path) -> None:
    for trial in range(3):
        path = tmp_path / f"t{trial}.csv"
        ctx = multiprocessing.get_context("fork")
        procs = [ctx.Process(target=_append_many, args=(str(path), w, 40)) for w in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        data = path.read_bytes()
        assert data.count(b"run_id,chunk_date_utc") == 1
        rows = list(HistoricalTelemetry(path).iter_rows())
        assert len(rows) == 160
        assert diagnose(path) == []
        for row in rows:
            worker, i = int(row.run_id[1:]), int(row.error_message.split()[3])
            assert row.error_message == f"worker {worker} row {i}\n" + "x" * (i * 97 % 3000)
        assert len(seed_iter_rows(path)) == 160


def test_torn_quoted_tail_never_swallows_next_row(tmp_path: Path) -> None:
    base = tmp_path / "base.csv"
    store = HistoricalTelemetry(base)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    intact = base.read_bytes()
    store.append_row(
        {"chunk_date_utc": "2020-01-02", "status": "FAILED", "error_message": 'a,"b"\r\nc\nd'}
    )
    full = base.read_bytes()
    for cut in range(len(intact) + 1, len(full)):
        path = tmp_path / f"cut{cut}.csv"
        path.write_bytes(full[:cut])
        HistoricalTelemetry(path).append_row({"chunk_date_utc": "2020-01-03", "status": "UPLOADED"})
        rows = list(HistoricalTelemetry(path).iter_rows())
        days = [r.chunk_date_utc for r in rows]
        if cut == len(full) - 1:  # only the final "\n" was missing: the row is kept
            assert days == ["2020-01-01", "2020-01-02", "2020-01-03"]
        else:
            assert days == ["2020-01-01", "2020-01-03"], cut
            assert [m.reason for m in diagnose(path)] == [
                "torn record (closed off by a later write)"
            ]
        latest = HistoricalTelemetry(path).load_state()
        assert latest[min(latest)].status == "UPLOADED"


def test_legacy_header_is_upgraded_without_losing_values(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(LEGACY_SCHEMA)
        writer.writerow(["r1", "2020-01-01", "", "", "FAILED", *[""] * 9, "Boom", "a\nb", "", ""])
    store = HistoricalTelemetry(path)
    assert store.load_state()[min(store.load_state())].error_message == "a\nb"
    store.append_row({"chunk_date_utc": "2020-01-02", "status": "UPLOADED", "s3_key": "k"})
    with open(path, newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == list(SCHEMA)
    assert all(len(row) == len(SCHEMA) for row in table)
    rows = list(store.iter_rows())
    assert [(r.run_id, r.error_type, r.error_message, r.s3_key) for r in rows] == [
        ("r1", "Boom", "a\nb", ""),
        ("", "", "", "k"),
    ]
