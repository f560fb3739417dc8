"""The one live engine (telemetry.LiveFile): what it holds once caught up is what a cold
load of the same bytes holds, whatever the file went through; its steps say what changed."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import telemetry.live
from telemetry import SCHEMA, BackfillState, HistoricalTelemetry, LiveFile, Step
from telemetry.store import encode_row, row_values

HEADER = (",".join(SCHEMA) + "\r\n").encode()


def _bytes(day: int, status: str, msg: str = "", minute: int = 0) -> bytes:
    return encode_row(
        row_values(
            {
                "chunk_date_utc": date.fromordinal(date(2020, 1, 1).toordinal() + day).isoformat(),
                "status": status,
                "error_message": msg,
                "started_at_utc": f"2026-01-01T00:{minute % 60:02d}:00+00:00",
            }
        )
    )


def _same(live: LiveFile, path: Path) -> None:
    cold = BackfillState.from_path(path)
    state = live.state
    assert dict(state.latest) == dict(cold.latest)
    assert state.rows == cold.rows
    assert state.status_counts == cold.status_counts
    assert state.failed_counts() == cold.failed_counts()
    assert [(m.offset, m.reason) for m in state.malformed] == [
        (m.offset, m.reason) for m in cold.malformed
    ]
    assert state.last_row_at == cold.last_row_at


_ROWS = st.lists(
    st.tuples(
        st.integers(0, 40),
        st.sampled_from(["UPLOADED", "FAILED", "DOWNLOAD_PENDING", "SKIPPED_NO_DATA"]),
        st.sampled_from(["", "boom", 'multi\nline "quoted", x']),
        st.integers(0, 59),
    ),
    min_size=1,
    max_size=30,
)
_EVENTS = st.lists(
    st.tuples(st.sampled_from(["append", "append", "append", "truncate", "replace"]), _ROWS),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_EVENTS, st.integers(200, 5000))
def test_caught_up_the_engine_holds_what_a_cold_load_holds(
    tmp_path: Path, events: list[tuple[str, list[tuple[int, str, str, int]]]], step_bytes: int
) -> None:
    telemetry.live.CATCH_UP_BYTES = step_bytes  # many bulk steps, even on small files
    try:
        path = tmp_path / "t.csv"
        path.write_bytes(HEADER)
        live = LiveFile(path)
        live.drain()
        resets = 0
        for kind, rows in events:
            data = b"".join(_bytes(*r) for r in rows)
            if kind == "truncate":
                # Cut back to its header (seen: a reset), then written on. A rewrite
                # in place to the same size between two reads is not told (the
                # tail fingerprints the bytes before its offset, not the file).
                with open(path, "r+b") as fh:
                    fh.truncate(len(HEADER))
                live.drain()
                with open(path, "ab") as fh:
                    fh.write(data)
                resets += 1
            elif kind == "replace":
                staged = tmp_path / "staged.csv"
                staged.write_bytes(HEADER + data)
                os.replace(staged, path)
                resets += 1
            else:
                with open(path, "ab") as fh:
                    fh.write(data)
            steps: list[Step] = []
            live.drain(steps.append)
            assert live.loaded
            _same(live, path)
        assert live.state.rows > 0  # the rows were decoded, not all skipped
    finally:
        telemetry.live.CATCH_UP_BYTES = 8 << 20


def test_steps_report_changes_resets_and_a_file_that_is_not_telemetry(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    for day in range(3):
        store.append_row({"chunk_date_utc": f"2020-01-0{day + 1}", "status": "UPLOADED"})
    live = LiveFile(path)
    first = live.step()
    assert first.loading and first.loaded and first.caught_up and first.changed == {}
    assert live.state.rows == 3
    store.append_row({"chunk_date_utc": "2020-01-02", "status": "FAILED"})
    store.append_row({"chunk_date_utc": "2020-01-09", "status": "FAILED"})
    step = live.step()
    assert not step.loading and step.caught_up
    assert step.changed == {date(2020, 1, 2): "UPLOADED", date(2020, 1, 9): None}
    assert [r.values[4] for r in step.records] == ["FAILED", "FAILED"]
    # Not telemetry: an error, an empty state; the engine goes on.
    path.write_text("name,age\nbob,3\n")
    steps: list[Step] = []
    live.drain(steps.append)
    assert any(s.error and "not a telemetry file" in s.error for s in steps)
    assert live.state.rows == 0 and live.error is not None
    # Telemetry again: read from its start, in bulk.
    path.unlink()
    store.append_row({"chunk_date_utc": "2021-06-01", "status": "FAILED"})
    steps = []
    live.drain(steps.append)
    assert live.error is None and live.loaded
    assert dict(live.state.latest).keys() == {date(2021, 6, 1)}
    # Truncated under it: a reset, and the state starts over.
    with open(path, "r+b") as fh:
        fh.truncate(len(HEADER))
    store.append_row({"chunk_date_utc": "2022-02-02", "status": "UPLOADED"})
    steps = []
    live.drain(steps.append)
    assert steps[0].reset == "truncated" and live.resets >= 1
    assert dict(live.state.latest).keys() == {date(2022, 2, 2)}


def test_until_leaves_what_came_after_it_to_be_reported_as_changes(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    until = path.stat().st_size
    store.append_row({"chunk_date_utc": "2020-01-02", "status": "FAILED"})
    live = LiveFile(path, until=until)
    steps: list[Step] = []
    live.drain(steps.append)
    assert steps[0].loaded and live.state.rows == 2
    assert steps[-1].changed == {date(2020, 1, 2): None}


def _failing_preads(monkeypatch, path: Path, after: int):  # type: ignore[no-untyped-def]
    """``os.pread`` raises EIO for ``path`` after ``after`` successful reads of it,
    until the returned switch is turned off."""
    import errno

    real = os.pread
    inode = path.stat().st_ino
    state = {"left": after, "on": True}

    def pread(fd: int, size: int, offset: int) -> bytes:
        if state["on"] and os.fstat(fd).st_ino == inode:
            if state["left"] <= 0:
                raise OSError(errno.EIO, "Input/output error")
            state["left"] -= 1
        return real(fd, size, offset)

    monkeypatch.setattr(os, "pread", pread)
    return state


def test_an_io_error_mid_read_loses_no_row_and_is_a_step_not_an_exception(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.csv"
    path.write_bytes(HEADER + b"".join(_bytes(d, "UPLOADED") for d in range(3)))
    live = LiveFile(path)
    live.drain()
    monkeypatch.setattr(telemetry.tail, "CHUNK_SIZE", 64)  # many preads per step
    with open(path, "ab") as fh:
        fh.write(b"".join(_bytes(d, "FAILED", "boom", d) for d in range(3, 40)))
    switch = _failing_preads(monkeypatch, path, after=8)
    step = live.step()  # some chunks read, then EIO: what was read is applied
    read_first = live.state.rows
    assert 3 < read_first < 40 and step.unreadable is None and step.changed
    step = live.step()  # nothing more can be read: said, the state kept
    assert step.unreadable == "cannot read it: Input/output error"
    assert step.trouble == step.unreadable and step.caught_up and not step.starts_over
    assert live.state.rows == read_first
    switch["on"] = False
    live.drain()
    assert live.state.rows == 40
    _same(live, path)  # every row once: none lost, none read twice


def test_an_unreadable_file_at_the_start_is_a_step_and_is_read_once_it_can_be(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.csv"
    path.write_bytes(HEADER + b"".join(_bytes(d, "UPLOADED") for d in range(5)))
    switch = _failing_preads(monkeypatch, path, after=0)
    live = LiveFile(path)
    step = live.step()
    assert step.unreadable is not None and step.caught_up and live.state.rows == 0
    switch["on"] = False
    live.drain()
    _same(live, path)
