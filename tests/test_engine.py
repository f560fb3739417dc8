"""The live engine: the incremental tail and BackfillState agree with load_state."""

from __future__ import annotations

import math
import os
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry import SCHEMA, VALID_STATUSES, BackfillState, HistoricalTelemetry, TelemetryTail
from telemetry.figures import DurationStats, attempt_numbers
from telemetry.latest import parse_instant
from telemetry.records import read_batches
from telemetry.state import _stamps
from telemetry.store import encode_row
from tests import reference
from tests.bench.generate import generate
from tests.seed_reference import seed_load_state
from tests.test_reference import assert_state_is_the_reference


def _feed_in_chunks(path: Path, data: bytes, cuts: list[int]) -> BackfillState:
    """Write ``data`` to ``path`` piece by piece, following it with a tail."""
    state = BackfillState()
    tail = TelemetryTail(path)
    path.write_bytes(b"")
    written = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        with open(path, "ab") as fh:
            fh.write(data[written:cut])
        written = cut
        update = tail.read_new()
        assert update.reset is None
        state.apply(update.records, update.malformed)
        # Only complete records count: the state equals a reading of the
        # bytes up to the tail's offset.
        prefix = path.with_suffix(".prefix")
        prefix.write_bytes(data[: tail.offset])
        assert dict(state.latest) == seed_load_state(prefix)
    return state


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 1000),
    cuts=st.lists(st.integers(0, 60_000), max_size=12),
)
def test_state_fed_in_random_chunks_equals_load_state(seed: int, cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = generate(Path(tmp) / "source.csv", 150, seed)
        data = source.read_bytes()
        cuts = [c % (len(data) + 1) for c in cuts]
        state = _feed_in_chunks(Path(tmp) / "live.csv", data, cuts)
        assert dict(state.latest) == HistoricalTelemetry(source).load_state()
        assert state.rows == 150


def test_tail_holds_back_a_record_cut_inside_a_quoted_field(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "DOWNLOAD_PENDING"})
    tail = TelemetryTail(path)
    assert len(tail.read_new().records) == 1
    with open(path, "ab") as fh:
        fh.write(b',2020-01-01,,,FAILED,,,,,,,,,,Boom,"Traceback\r\n  line \xc3')
    assert tail.read_new().records == []
    assert tail.held_back > 0
    with open(path, "ab") as fh:
        fh.write(b'\xa9 2",' + b"," * (len(SCHEMA) - 17) + b"\r\n")
    records = tail.read_new().records
    assert [r.values[4] for r in records] == ["FAILED"]
    assert records[0].values[15] == "Traceback\r\n  line \u00e9 2"


def test_tail_reports_truncation_replacement_deletion_and_creation(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    for day in ("2020-01-01", "2020-01-02"):
        store.append_row({"chunk_date_utc": day, "status": "UPLOADED"})
    tail = TelemetryTail(path)
    assert len(tail.read_new().records) == 2

    # Truncate, then regrow past the old offset with different rows.
    data = path.read_bytes()
    header_end = data.index(b"\n") + 1
    with open(path, "r+b") as fh:
        fh.truncate(header_end)
    for day in ("2021-05-01", "2021-05-02", "2021-05-03"):
        store.append_row({"chunk_date_utc": day, "status": "FAILED"})
    update = tail.read_new()
    assert update.reset == "truncated"
    assert [r.day for r in update.records] == [date(2021, 5, d) for d in (1, 2, 3)]

    # Replace by rename.
    other = tmp_path / "other.csv"
    HistoricalTelemetry(other).append_row({"chunk_date_utc": "2022-01-01", "status": "UPLOADED"})
    os.replace(other, path)
    update = tail.read_new()
    assert update.reset == "replaced"
    assert [r.day for r in update.records] == [date(2022, 1, 1)]

    path.unlink()
    assert tail.read_new().reset == "deleted"
    assert tail.read_new().exists is False
    store.append_row({"chunk_date_utc": "2023-01-01", "status": "UPLOADED"})
    update = tail.read_new()
    assert update.reset == "created"
    assert [r.day for r in update.records] == [date(2023, 1, 1)]


def test_state_counts_failures_stalls_and_progress(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def at(minutes: float) -> str:
        return (t0 + timedelta(minutes=minutes)).isoformat(timespec="microseconds")

    rows = [
        ("2020-01-01", "UPLOADED", "", at(0)),
        ("2020-01-02", "FAILED", "HTTPError", at(1)),
        ("2020-01-03", "FAILED", "HTTPError", at(2)),
        ("2020-01-05", "FAILED", "Timeout", at(3)),
        ("2020-01-06", "SKIPPED_NO_DATA", "", at(4)),
        ("2020-01-07", "DOWNLOAD_PENDING", "", at(5)),
        ("2020-01-08", "UPLOADED", "", at(60)),
    ]
    for day, status, error_type, started in rows:
        store.append_row(
            {
                "chunk_date_utc": day,
                "status": status,
                "error_type": error_type,
                "error_message": f"{error_type} on {day}" if error_type else "",
                "started_at_utc": started,
                "download_seconds": "10",
            }
        )
    state = BackfillState.from_path(path, stale_after=timedelta(minutes=15))
    assert state.status_counts["FAILED"] == 3
    groups = {g.error_type: g for g in state.failures()}
    assert groups["HTTPError"].runs == [(date(2020, 1, 2), date(2020, 1, 3))]
    assert groups["Timeout"].days == [date(2020, 1, 5)]
    assert state.stalled(now=t0 + timedelta(minutes=30)) == [date(2020, 1, 7)]
    assert state.stalled(now=t0 + timedelta(minutes=10)) == []
    progress = state.progress()
    assert progress.total == 8  # 2020-01-01 .. 2020-01-08
    assert progress.missing == 1  # 2020-01-04 was never attempted
    assert progress.failed == 3
    assert progress.done == 3  # two uploads and one skip: skipped is not failed
    assert progress.in_flight == 1
    assert state.durations["download"].percentile(50) is not None
    history = state.history(path, date(2020, 1, 2))
    assert [r.values[15] for r in history] == ["HTTPError on 2020-01-02"]


def test_history_reads_a_day_back_with_file_line_numbers_even_when_fed_by_a_tail(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "DOWNLOAD_PENDING"})
    store.append_row(
        {"chunk_date_utc": "2020-01-02", "status": "FAILED", "error_message": "a\nb\nc"}
    )
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "DOWNLOADED"})
    tail = TelemetryTail(path)
    state = BackfillState()  # fed by a tail: it never sees the header itself
    update = tail.read_new()
    changes = state.apply_changes(update.records, update.malformed)
    assert changes == {date(2020, 1, 1): None, date(2020, 1, 2): None}
    history = state.history(path, date(2020, 1, 1))
    assert [(r.line, r.values[4]) for r in history] == [(2, "DOWNLOAD_PENDING"), (6, "DOWNLOADED")]
    assert state.row_count(date(2020, 1, 1)) == 2
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED"})
    update = tail.read_new()
    assert state.apply_changes(update.records) == {date(2020, 1, 1): "DOWNLOADED"}


def test_attempts_count_download_attempts_not_phases(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def row(day: str, status: str, minutes: int) -> None:
        started = (t0 + timedelta(minutes=minutes)).isoformat(timespec="microseconds")
        store.append_row({"chunk_date_utc": day, "status": status, "started_at_utc": started})

    # One clean day, each phase recorded with its own started_at_utc: one attempt.
    for status, minute in [
        ("DOWNLOAD_PENDING", 0), ("DOWNLOADED", 0), ("PROCESS_PENDING", 1), ("PROCESSED", 1),
        ("UPLOAD_PENDING", 2), ("UPLOADED", 2),
    ]:  # fmt: skip
        row("2020-01-01", status, minute)
    # A download that failed twice, then succeeded and failed to process: three attempts.
    for status, minute in [
        ("DOWNLOAD_PENDING", 3), ("FAILED", 3), ("DOWNLOAD_PENDING", 4), ("FAILED", 4),
        ("DOWNLOAD_PENDING", 5), ("DOWNLOADED", 5), ("PROCESS_PENDING", 6), ("FAILED", 6),
    ]:  # fmt: skip
        row("2020-01-02", status, minute)
    state = BackfillState.from_path(path)
    assert state.attempts(date(2020, 1, 1)) == 1
    assert state.attempts(date(2020, 1, 2)) == 3
    assert state.total_attempts == 4 and state.retries == 2
    history = state.history(path, date(2020, 1, 2))
    assert attempt_numbers(r.values for r in history) == [1, 1, 2, 2, 3, 3, 3, 3]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=1500), max_size=5)
)
def test_duration_percentiles_stay_exact_as_values_arrive(steps: list[list[float]]) -> None:
    stats = DurationStats()
    seen: list[float] = []
    for step in steps:
        for value in step:
            stats.add(value)
        seen += [max(v, 0.0) for v in step if math.isfinite(v)]
        ordered = sorted(seen)
        assert stats.count == len(ordered)
        for q in (0, 50, 95, 100):
            if not ordered:
                assert stats.percentile(q) is None
                continue
            rank = min(max(math.ceil(q / 100 * len(ordered)), 1), len(ordered))
            assert stats.percentile(q) == ordered[rank - 1]


_STAMPS = st.sampled_from(
    [
        "2026-01-01T00:00:01.551429+00:00",
        "2026-01-01T00:00:02+00:00",
        "2026-01-01T03:00:00+02:00",
        "2026-01-01T00:00:03Z",
        "2026-01-01T00:00:04z",
        "2026-01-01T00:00:05",
        "2026-01-01",
        "",
        "soon",
    ]
)


@given(st.lists(_STAMPS, max_size=12))
def test_finish_stamps_parse_as_parse_instant_does(texts: list[str]) -> None:
    """The bulk parse of finish times agrees with the one-by-one rule (naive is UTC)."""
    moments = [parse_instant(text) for text in texts]
    expected = [m.timestamp() for m in moments if m is not None]
    # Off UTC, a naive time taken as local time would show.
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        assert _stamps(texts) == expected
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


_STATUSES = sorted(VALID_STATUSES)
NOW = datetime(2026, 1, 1, 1, tzinfo=timezone.utc)
_CELLS = st.sampled_from(["", "1.5", "0", "12", "x", "nan", "-3", "1e3"])


@st.composite
def in_order_rows(draw: st.DrawFn) -> list[list[str]]:
    """Rows with non-decreasing started_at_utc (one orchestrator), odd cells included."""
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = []
    for _ in range(draw(st.integers(1, 60))):
        t += timedelta(seconds=draw(st.sampled_from([0, 0, 1, 90])))
        values = [""] * len(SCHEMA)
        values[1] = f"2020-01-{draw(st.integers(1, 9)):02d}"
        values[4] = draw(st.sampled_from(_STATUSES))
        for col in (5, 8, 9, 18, 19, 21):
            values[col] = draw(_CELLS)
        values[14] = draw(st.sampled_from(["", "HTTPError", "Timeout"]))
        values[15] = draw(st.sampled_from(["", "boom", 'a, "b"\nc', "x\r\ny"]))
        # Long rows: a file crosses the cold load's 64 KiB chunks, so days
        # recur across its segments.
        values[10] = "/data/" + "p" * draw(st.sampled_from([0, 3000]))
        values[16] = t.isoformat(timespec="microseconds")
        values[17] = draw(st.sampled_from(["", values[16]]))
        rows.append(values)
    return rows


@settings(max_examples=40, deadline=None)
@given(in_order_rows(), st.lists(st.integers(1, 8), max_size=6))
def test_the_in_order_folds_equal_the_reference(rows: list[list[str]], cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        data = b"".join(map(encode_row, [list(SCHEMA), *rows]))
        path.write_bytes(data)
        ref = reference.fold(reference.decode(data)[1].rows)
        fast = BackfillState()
        tail = TelemetryTail(path)
        update = tail.read_new()
        records, start = update.records, 0
        for size in [*cuts, len(records)]:
            batch = records[start : start + size]
            start += size
            fast.apply_changes(batch)
            assert fast.days == sorted(fast.latest)  # kept sorted batch by batch
        assert fast.in_time_order  # the run-at-a-time fold, batch by batch
        # The cold load (whole runs split at once, figures counted at the end).
        cold = BackfillState.from_path(path)
        assert cold.in_time_order
        assert_state_is_the_reference(fast, ref, "in-order batches")
        assert_state_is_the_reference(cold, ref, "in-order cold load")
        _assert_same_state(cold, fast, len(rows))


def _assert_same_state(fast: BackfillState, slow: BackfillState, rows: int) -> None:
    days = slow.days
    assert fast.days == days
    assert dict(fast.latest) == dict(slow.latest)
    assert fast.status_counts == slow.status_counts
    assert [fast.attempts(d) for d in days] == [slow.attempts(d) for d in days]
    assert fast.total_attempts == slow.total_attempts == sum(map(slow.attempts, days))
    assert [fast.runs(d) for d in days] == [slow.runs(d) for d in days]
    assert sum(map(fast.row_count, days)) == rows
    for phase in ("download", "process", "upload"):
        # The same values (order is free; repr makes nan equal nan).
        fast_values = sorted(map(repr, fast.durations[phase].values))
        assert fast_values == sorted(map(repr, slow.durations[phase].values))
    assert fast.records_downloaded == slow.records_downloaded
    assert fast.csv_mb == pytest.approx(slow.csv_mb)
    assert fast.cdf_mb == pytest.approx(slow.cdf_mb)
    assert fast.last_row_at == slow.last_row_at
    assert fast.failures() == slow.failures()
    assert fast.progress() == slow.progress()
    assert fast.rows == slow.rows == rows
    assert fast.stalled(NOW) == slow.stalled(NOW)
    assert fast.throughput() == slow.throughput()


def test_a_whole_file_applied_at_once_equals_the_cold_load(tmp_path: Path) -> None:
    """Big batches take the bulk paths (new days' slots and figures); the cold load its own."""
    path = generate(tmp_path / "t.csv", 3000, 7)
    with path.open("rb") as fh:
        records = [r for batch in read_batches(fh) for r in batch.records]
    applied = BackfillState()
    applied.apply(records[:1500])
    applied.apply(records[1500:])
    cold = BackfillState.from_path(path)
    assert applied.in_time_order and len(applied.days) > 300
    ref = reference.fold(reference.decode(path.read_bytes())[1].rows)
    assert_state_is_the_reference(applied, ref, "applied at once")
    assert_state_is_the_reference(cold, ref, "cold load")
    _assert_same_state(applied, cold, 3000)
