"""Nothing lost, round 3: faults at the system call, the header upgrade, odd line ends.

Faults are injected where the system call happens: ``os.pread``, ``os.close``
and ``os.fchmod`` are patched for the duration of one call of the real code.
"""

from __future__ import annotations

import csv
import errno
import logging
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from telemetry import (
    LEGACY_SCHEMA,
    SCHEMA,
    BackfillState,
    HistoricalTelemetry,
    TelemetryFormatError,
    diagnose,
    upgrade_header,
)
from telemetry import store as store_module
from tests import reference
from tests.seed_reference import seed_append_row, seed_iter_rows

HEADER = (",".join(SCHEMA) + "\r\n").encode()


def _row(day: str, msg: str = "", status: str = "UPLOADED", run: str = "r") -> dict[str, str]:
    return {"run_id": run, "chunk_date_utc": day, "status": status, "error_message": msg}


def _fresh_process() -> None:
    """Forget what this process verified of its files, as a new process would."""
    with store_module._verified_lock:
        store_module._verified_end.clear()


def _short_preads(monkeypatch: pytest.MonkeyPatch, most: int = 7) -> None:
    real = os.pread

    def short(fd: int, size: int, offset: int) -> bytes:
        return real(fd, min(size, most), offset)

    monkeypatch.setattr(os, "pread", short)


def _runs(path: Path) -> list[str]:
    return [r.run_id for r in HistoricalTelemetry(path).iter_rows()]


def test_a_short_read_of_the_header_never_wipes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.csv"
    for i in range(5):
        HistoricalTelemetry(path).append_row(_row(f"2020-01-0{i + 1}", run=f"r{i}"))
    _fresh_process()
    _short_preads(monkeypatch)
    HistoricalTelemetry(path).append_row(_row("2020-01-09", run="new"))
    monkeypatch.undo()
    assert _runs(path) == ["r0", "r1", "r2", "r3", "r4", "new"]
    assert diagnose(path) == []


def test_a_short_read_does_not_stop_the_upgrade_of_a_valid_older_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(LEGACY_SCHEMA)
        writer.writerow(["old", "2019-01-01", "", "", "UPLOADED", *[""] * 13])
    _short_preads(monkeypatch, most=5)
    assert upgrade_header(path) is True
    monkeypatch.undo()
    assert path.read_bytes().startswith(HEADER)
    assert _runs(path) == ["old"]


def test_only_a_file_holding_nothing_but_a_torn_header_is_started_over(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(HEADER[:20])
    HistoricalTelemetry(path).append_row(_row("2020-01-01", run="a"))
    assert _runs(path) == ["a"]
    bigger = tmp_path / "u.csv"
    bigger.write_bytes(HEADER[:-2] + b",extra")  # more than a header: refused, never cut
    before = bigger.read_bytes()
    with pytest.raises(ValueError):
        HistoricalTelemetry(bigger).append_row(_row("2020-01-01"))
    assert bigger.read_bytes() == before


def test_a_failing_fingerprint_read_after_the_fsync_returns_and_stores_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row(_row("2020-01-01", run="a"))
    synced = []
    real_fsync, real_pread = os.fsync, os.pread

    def fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(fd)

    def pread(fd: int, size: int, offset: int) -> bytes:
        if synced:
            raise OSError(errno.EIO, "Input/output error")
        return real_pread(fd, size, offset)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "pread", pread)
    short = {"chunk_date_utc": "2020-01-02"}  # under 64 bytes: the fingerprint is read back
    with caplog.at_level(logging.WARNING, logger="telemetry.store"):
        HistoricalTelemetry(path).append_row(short)
    monkeypatch.undo()
    assert synced, "the fault was never reached"
    assert [r.chunk_date_utc for r in HistoricalTelemetry(path).iter_rows()] == [
        "2020-01-01",
        "2020-01-02",
    ]
    assert "row stored" in caplog.text
    HistoricalTelemetry(path).append_row(_row("2020-01-03", run="c"))  # and it goes on
    assert _runs(path) == ["a", "", "c"]


@pytest.mark.parametrize("code", [errno.EIO, errno.EINTR])
def test_a_failing_close_after_the_row_is_stored_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row(_row("2020-01-01", run="a"))
    real_close = os.close
    failed = []

    def close(fd: int) -> None:
        real_close(fd)  # Linux releases the descriptor whatever close reports
        failed.append(fd)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "close", close)
    with caplog.at_level(logging.WARNING, logger="telemetry.store"):
        HistoricalTelemetry(path).append_row(_row("2020-01-02", run="b"))
    monkeypatch.undo()
    assert failed
    assert _runs(path) == ["a", "b"]
    assert "closing the file failed" in caplog.text


def test_a_failing_write_still_raises_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row(_row("2020-01-01", run="a"))
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(OSError, match="No space"):
        HistoricalTelemetry(path).append_row(_row("2020-01-02", run="b"))
    monkeypatch.undo()
    assert _runs(path) == ["a"]
    HistoricalTelemetry(path).append_row(_row("2020-01-03", run="c"))
    assert _runs(path) == ["a", "c"] and diagnose(path) == []


def _legacy(path: Path, header: tuple[str, ...], lines: list[list[str]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(lines)


def _old(
    run: str, day: str, status: str = "UPLOADED", width: int = len(LEGACY_SCHEMA)
) -> list[str]:
    return [run, day, "", "", status] + [f"{run}-{i}" for i in range(5, width)]


def test_the_upgrade_pads_every_row_whatever_its_date_or_status(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    lines = [
        _old("dated", "2020-01-01"),
        _old("undated", "not-a-day"),
        _old("unknown", "2020-01-02", status="DONE"),
        _old("whole", "2020-01-03", width=len(SCHEMA)),  # the original module writes these
        _old("short", "2020-01-04", width=10),  # skipped by every reader: stays skipped
    ]
    _legacy(path, LEGACY_SCHEMA, lines)
    before = list(HistoricalTelemetry(path).iter_rows())
    assert [r.run_id for r in before] == ["dated", "undated", "whole"]
    assert before[2].s3_key == "whole-23"  # the extra fields are the new columns
    assert [r.run_id for r in seed_iter_rows(path)][:4] == ["dated", "undated", "unknown", "whole"]
    skipped = len(diagnose(path))
    HistoricalTelemetry(path).append_row(_row("2020-02-01", run="new"))
    with open(path, newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == list(SCHEMA)
    padded = {row[0]: row for row in table[1:]}
    assert len(padded["unknown"]) == len(SCHEMA) and padded["unknown"][4] == "DONE"
    assert len(padded["short"]) == 10
    after = list(HistoricalTelemetry(path).iter_rows())
    assert after[:3] == before and after[3].run_id == "new"
    assert len(diagnose(path)) == skipped  # unknown status and the short row, still skipped


def test_a_longer_prefix_header_does_not_revive_skipped_records(tmp_path: Path) -> None:
    header = SCHEMA[:20]
    path = tmp_path / "old.csv"
    lines = [
        _old("ok", "2020-01-01", width=20),
        _old("eighteen", "2020-01-02", width=18),
        _old("whole", "2020-01-03", width=24),
    ]
    _legacy(path, header, lines)
    before = [r.run_id for r in HistoricalTelemetry(path).iter_rows()]
    assert before == ["ok", "whole"]
    assert upgrade_header(path) is True
    assert [r.run_id for r in HistoricalTelemetry(path).iter_rows()] == before
    assert len(diagnose(path)) == 1


def test_rows_the_original_module_writes_under_an_older_header_are_read(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    _legacy(path, LEGACY_SCHEMA, [_old("a", "2020-01-01")])
    # The original module writes every SCHEMA column under whatever header it finds.
    seed_append_row(
        path, {"run_id": "b", "chunk_date_utc": "2020-01-02", "status": "UPLOADED", "s3_key": "k/b"}
    )
    store = HistoricalTelemetry(path)
    assert [r.run_id for r in store.iter_rows()] == ["a", "b"]
    state = store.load_state()
    assert len(state) == 2 and state[max(state)].s3_key == "k/b"
    cold = BackfillState.from_path(path)
    assert cold.rows == 2 and cold.latest[max(cold.latest)].s3_key == "k/b"
    store.append_row(_row("2020-01-03", run="c"))
    assert [(r.run_id, r.s3_key) for r in store.iter_rows()] == [("a", ""), ("b", "k/b"), ("c", "")]


def test_the_upgrade_closes_its_copy_when_fchmod_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.csv"
    _legacy(path, LEGACY_SCHEMA, [_old("a", "2020-01-01")])

    def fchmod(fd: int, mode: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    fds_before = set(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "fchmod", fchmod)
    with pytest.raises(OSError, match="Input/output"):
        upgrade_header(path)
    monkeypatch.undo()
    assert set(os.listdir("/proc/self/fd")) <= fds_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv"]


def test_a_block_of_cr_only_rows_in_an_lf_file_reads_as_the_original_module_reads_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.csv"
    for i in range(3):
        seed_append_row(path, _row(f"2020-01-0{i + 1}", run=f"lf{i}"))
    block = tmp_path / "block.csv"
    for i in range(3):
        seed_append_row(block, _row(f"2020-02-0{i + 1}", msg="a, b" if i else "", run=f"cr{i}"))
    rows = block.read_bytes().split(b"\r\n", 1)[1].replace(b"\r\n", b"\r")
    with open(path, "ab") as fh:
        fh.write(rows)  # an old editor's CR-only lines after the LF ones
    expected = ["lf0", "lf1", "lf2", "cr0", "cr1", "cr2"]
    assert [r.run_id for r in seed_iter_rows(path)] == expected
    store = HistoricalTelemetry(path)
    assert _runs(path) == expected
    assert len(store.load_state()) == 6
    cold = BackfillState.from_path(path)
    assert cold.rows == 6 and diagnose(path) == []
    day = max(cold.latest)
    assert [r.values[0] for r in cold.history(path, day)] == ["cr2"]
    store.append_row(_row("2020-03-01", run="after"))
    assert _runs(path) == [*expected, "after"]


def test_a_cr_only_file_opening_with_a_stray_lf_is_read_without_raising(tmp_path: Path) -> None:
    lf = tmp_path / "lf.csv"
    for i in range(3):
        seed_append_row(lf, _row(f"2020-01-0{i + 1}", run=f"r{i}"))
    path = tmp_path / "t.csv"
    path.write_bytes(b"\n" + lf.read_bytes().replace(b"\r\n", b"\r"))
    cold = BackfillState.from_path(path)
    for day in cold.latest:
        cold.history(path, day)
    # The original module takes the blank first line for its header and reads
    # nothing; every reader here reads the rows, and agrees with the reference.
    assert _runs(path) == ["r0", "r1", "r2"]
    _, decoded = reference.decode(path.read_bytes())
    assert [r.values[0] for r in decoded.rows] == ["r0", "r1", "r2"]


def test_the_tail_never_glues_a_rolled_back_row_onto_later_rows(tmp_path: Path) -> None:
    from telemetry import TelemetryTail
    from telemetry.store import encode_row, row_values

    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row(_row("2020-01-01", run="a"))
    stored = path.stat().st_size
    torn = encode_row(row_values(_row("2020-01-02", "long message " * 20, run="rolled")))
    with open(path, "ab") as fh:
        fh.write(torn[: len(torn) // 2])  # a write in progress, seen by the tail
    tail = TelemetryTail(path)
    first = tail.read_new()
    assert [r.values[0] for r in first.records] == ["a"] and tail.held_back > 0
    os.truncate(path, stored)  # the writer rolls it back (ENOSPC on its fsync) ...
    for i in range(3):  # ... and later appends regrow the file past where it was
        HistoricalTelemetry(path).append_row(_row(f"2020-01-1{i}", "x" * 60, run=f"later{i}"))
    assert path.stat().st_size > stored + len(torn) // 2
    update = tail.read_new()
    assert update.reset is None
    assert [r.values[0] for r in update.records] == ["later0", "later1", "later2"]
    assert update.malformed == [] and tail.held_back == 0


_DAMAGE = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "cut", "replace", "cr-only", "older"]),
        st.floats(0, 1),
        st.sampled_from([b'"', b"\r", b"\n", b",", b"\x00", b"\xff", b"x", b'""', b"\r\n"]),
    ),
    min_size=1,
    max_size=3,
)


def _damage(data: bytes, edits: list[tuple[str, float, bytes]]) -> bytes:
    out = bytearray(data)
    for op, where, piece in edits:
        pos = int(where * len(out))
        if op == "insert":
            out[pos:pos] = piece
        elif op == "delete":
            del out[pos : pos + 3]
        elif op == "cut":
            del out[max(pos, len(HEADER) // 2) :]
        elif op == "replace" and pos < len(out):
            out[pos] = piece[0]
        elif op == "cr-only":  # an old editor saved the rest of the file
            out[pos:] = bytes(out[pos:]).replace(b"\r\n", b"\r")
        elif op == "older" and out.startswith(HEADER):  # an older, shorter header
            short = ",".join(SCHEMA[: 18 + int(where * 4)]).encode() + b"\r\n"
            out[: len(HEADER)] = short
    return bytes(out)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(["", "plain", 'q "x", y', "multi\nline\r\nz", "a,b"]),
        min_size=1,
        max_size=8,
    ),
    _DAMAGE,
)
@example(  # a CR-only block whose last row is torn: the row before it stays a row
    messages=["", "", "", 'q "x", y', "multi\nline\r\nz", "multi\nline\r\nz", "plain", "plain"],
    edits=[("cut", 0.896484375, b'"'), ("cr-only", 0.5, b'"')],
)
def test_an_append_to_a_damaged_file_keeps_every_row_it_held(
    tmp_path: Path, messages: list[str], edits: list[tuple[str, float, bytes]]
) -> None:
    path = tmp_path / "damaged.csv"
    path.unlink(missing_ok=True)
    for i, msg in enumerate(messages):
        HistoricalTelemetry(path).append_row(_row(f"2020-01-{i + 1:02d}", msg, run=f"r{i}"))
    path.write_bytes(_damage(path.read_bytes(), edits))
    _fresh_process()
    try:
        before = list(HistoricalTelemetry(path).iter_rows())
    except TelemetryFormatError:
        return  # no longer a telemetry file: the writer refuses it (tested elsewhere)
    assume(before)  # the file still holds rows: the property is about keeping them
    try:
        HistoricalTelemetry(path).append_row(_row("2021-01-01", run="NEW"))
    except TelemetryFormatError:
        # A header that is not SCHEMA or an older prefix of it: refused, untouched.
        assert list(HistoricalTelemetry(path).iter_rows()) == before
        return
    after = list(HistoricalTelemetry(path).iter_rows())
    assert after[:-1] == before and after[-1].run_id == "NEW"
    state = BackfillState.from_path(path)
    assert sum(len(state.history(path, day)) for day in state.latest) == state.rows


def test_history_decodes_each_run_once_however_the_days_interleave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from telemetry.records import RecordDecoder, read_batches

    path = tmp_path / "t.csv"
    HistoricalTelemetry(path).append_row(_row("2020-01-01", run="h"))
    with open(path, "ab") as fh:  # 2,000 rows of two days, alternating
        for i in range(2000):
            day = "2020-01-01" if i % 2 else "2020-01-02"
            msg = "multi\nline" if i % 7 == 0 else "x" * (i % 50)
            fh.write(store_module.encode_row(store_module.row_values(_row(day, msg, run=f"r{i}"))))
    state = BackfillState.from_path(path)
    assert len(state.runs(date(2020, 1, 1))) == 1001
    decoded = []
    real = RecordDecoder.decode

    def decode(self: RecordDecoder, buf: bytes, offset: int, *, final: bool = False) -> Any:
        decoded.append(len(buf))
        return real(self, buf, offset, final=final)

    monkeypatch.setattr(RecordDecoder, "decode", decode)
    rows = state.history(path, date(2020, 1, 1))
    monkeypatch.undo()
    # Each run's bytes are decoded about once (two or three times the file at most).
    assert sum(decoded) <= 3 * path.stat().st_size
    assert [r.values[0] for r in rows] == ["h"] + [f"r{i}" for i in range(1, 2000, 2)]
    with open(path, "rb") as fh:
        every = [r for b in read_batches(fh) for r in b.records if r.day == date(2020, 1, 1)]
    assert rows == every  # offsets and line numbers too
