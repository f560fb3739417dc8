"""Races between processes: creating the file, and upgrading an old header."""

from __future__ import annotations

import csv
import multiprocessing
from pathlib import Path

from telemetry import LEGACY_SCHEMA, SCHEMA, HistoricalTelemetry


def _append(path: str, worker: int, count: int, barrier) -> None:  # type: ignore[no-untyped-def]
    store = HistoricalTelemetry(path)
    barrier.wait()
    for i in range(count):
        store.append_row(
            {"run_id": f"{worker}-{i}", "chunk_date_utc": "2020-01-01", "status": "FAILED"}
        )


def _race(path: Path, workers: int, count: int) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers)
    procs = [
        ctx.Process(target=_append, args=(str(path), w, count, barrier)) for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0


def test_processes_creating_the_file_at_once_write_exactly_one_header(tmp_path: Path) -> None:
    for trial in range(25):
        path = tmp_path / f"t{trial}.csv"
        _race(path, 4, 2)
        assert path.read_bytes().count(b"run_id,chunk_date_utc") == 1, trial
        assert len(list(HistoricalTelemetry(path).iter_rows())) == 8


def test_header_upgrade_while_others_append_loses_no_row(tmp_path: Path) -> None:
    for trial in range(5):
        path = tmp_path / f"old{trial}.csv"
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(LEGACY_SCHEMA)
            writer.writerow(["old", "2019-12-31", "", "", "UPLOADED", *[""] * 13])
        _race(path, 4, 10)
        with open(path, newline="") as fh:
            table = list(csv.reader(fh))
        assert table[0] == list(SCHEMA)
        assert all(len(row) == len(SCHEMA) for row in table)
        ids = sorted(r.run_id for r in HistoricalTelemetry(path).iter_rows())
        assert ids == sorted(["old"] + [f"{w}-{i}" for w in range(4) for i in range(10)])
