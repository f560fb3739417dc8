"""Every fast path of the engine equals the plain reference (tests/reference.py)
on generated files, hostile ones included: the record decoder, the cold load's
one-split and bulk paths, ``load_state``, the row-by-row and in-order folds,
and a tail fed in random chunks."""

from __future__ import annotations

import marshal
import math
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from telemetry import (
    SCHEMA,
    BackfillState,
    HistoricalTelemetry,
    TelemetryRow,
    TelemetryTail,
    segments,
)
from telemetry.plain import state_from_plain, state_plain
from telemetry.store import encode_row
from tests import reference

NOW = datetime(2026, 1, 2, tzinfo=timezone.utc)
HEADER = ",".join(SCHEMA).encode()

_DAYS = st.sampled_from(["2020-01-01", "2020-01-02", "2020-01-03", "2021-12-31", "", "2020-13-01"])
_STATUSES = st.sampled_from(
    [
        *("UPLOADED", "FAILED", "DOWNLOADED", "PROCESSED", "DOWNLOAD_PENDING"),
        *("UPLOAD_PENDING", "SKIPPED_NO_DATA", "PROCESS_PENDING", "", "DONE"),
    ]
)
_TIMES = st.sampled_from(
    [
        "2026-01-01T00:00:00.000000+00:00",
        "2026-01-01T01:00:00.000000+00:00",
        "2026-01-01T01:00:00+00:00",
        "2026-01-01T00:30:00Z",
        "2025-12-31T20:00:00-05:00",
        "2026-01-01T02:00:00",
        "garbage",
        "",
    ]
)
_NUMBERS = st.sampled_from(["", "1.5", "3", "nan", "inf", "-2", "x", "1e3"])
_TEXT = st.text(alphabet=st.sampled_from('ab ,"\n\r\x85é✓'), max_size=10)
# A quoted message holding a bare CR before the start of a row: that CR ends
# a line (as the original module reads a CR-only block), which leaves the
# quote open.
_CR_BEFORE_ROW = (
    encode_row(
        ["x", "2020-01-02", "", "", "FAILED", *[""] * 10, "m\rx,2020-01-03,,,UPLOADED,"]
    ).removesuffix(b"\r\n")
    + b"," * 8
)
_HOSTILE = st.sampled_from(
    [
        b"a,b,c",
        b"",  # a blank line
        HEADER,  # a repeated header
        b"x,2020-01-02,,,FAILED\x00" + b"," * 19,  # NUL
        b"x,2020-01-02,,,FAILED,caf\xe9" + b"," * 18,  # invalid UTF-8
        b"x,2020-01-02,,,FA\rILED" + b"," * 19,  # a stray CR
        b'x,"2020-01-02,,,FAILED' + b"," * 19,  # a stray quote
        b",2020-01-02,,,FAILED" + b"," * 19 + b"," * 24,  # a closed-off torn record
        _CR_BEFORE_ROW,
    ]
)


@st.composite
def rows(draw: st.DrawFn) -> list[str]:
    values = [""] * len(SCHEMA)
    col = reference.COL
    values[col["run_id"]] = draw(st.sampled_from(["r1", "r2"]))
    values[col["chunk_date_utc"]] = draw(_DAYS)
    values[col["status"]] = draw(_STATUSES)
    values[col["started_at_utc"]] = draw(_TIMES)
    values[col["finished_at_utc"]] = draw(_TIMES)
    values[col["error_type"]] = draw(st.sampled_from(["", "HTTPError", "Timeout"]))
    values[col["error_message"]] = draw(_TEXT)
    values[col["sensor_id"]] = draw(st.sampled_from(["", "", "SENSOR-1", "S,2"]))
    values[col["descriptor"]] = draw(st.sampled_from(["", "", "EOObservation"]))
    for name in ("download_seconds", "process_seconds", "upload_seconds", "csv_size_mb"):
        values[col[name]] = draw(_NUMBERS)
    values[col["records_downloaded"]] = draw(_NUMBERS)
    values[col["cdf_size_mb"]] = draw(_NUMBERS)
    return values


@st.composite
def files(draw: st.DrawFn, min_rows: int = 1) -> tuple[bytes, int]:
    """A telemetry file: the header, rows and hostile lines; and how many rows it holds."""
    crlf = draw(st.booleans())
    in_order = draw(st.booleans())
    pieces = draw(st.lists(st.one_of(rows(), _HOSTILE), min_size=min_rows, max_size=25))
    end = b"\r\n" if crlf else b"\n"
    out = [HEADER + end]
    good = 0
    minute = 0
    swallowed = False  # the quote a bare CR leaves open may take every row after it
    for piece in pieces:
        if isinstance(piece, bytes):
            out.append(piece + end)
            swallowed |= piece == _CR_BEFORE_ROW
            continue
        if in_order:  # one writer, in time order: the folds' fast paths
            minute += draw(st.integers(0, 2))
            moment = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=minute)
            piece[reference.COL["started_at_utc"]] = moment.isoformat(timespec="microseconds")
            piece[reference.COL["status"]] = piece[reference.COL["status"]].replace("DONE", "")
        encoded = encode_row(piece)
        out.append(encoded if crlf else encoded[:-2] + b"\n")
        good += piece[reference.COL["status"]] in reference.STATUS_TEXTS and not swallowed
    if draw(st.booleans()):  # a torn last record
        out.append(draw(st.sampled_from([b"y,2020-01-03,,,FAI", b'y,2020-01-03,,,FAILED,"ab'])))
    return b"".join(out), good


def _same_numbers(a: list[float], b: list[float]) -> bool:
    return sorted(map(repr, a)) == sorted(map(repr, b))


# Every public attribute of a state is a figure held to the reference below, or
# one of these (options, or kept by one path on purpose and tested elsewhere).
_FIGURES = {
    *("status_counts", "durations", "csv_mb", "cdf_mb", "records_downloaded", "rows", "source")
}
_NOT_FIGURES = {
    "expected_start": "an option",
    "expected_end": "an option",
    "stale_after": "an option",
    "header": "set by the cold load only",
    "gaps": "the liveness rule (tests/test_liveness.py)",
    "malformed": "the decoder's reports, compared with diagnose()",
}


def assert_state_is_the_reference(state: BackfillState, ref: reference.Fold, label: str) -> None:
    """Every figure of ``state`` is the reference's (and no figure goes unchecked)."""
    public = {name for name in vars(state) if not name.startswith("_")}
    unheld = public - _FIGURES - set(_NOT_FIGURES)
    assert not unheld, f"figures {sorted(unheld)} are not held to tests/reference.py: add them"
    assert {d: list(state.latest[d].to_dict().values()) for d in state.latest} == ref.latest, label
    assert {s: n for s, n in state.status_counts.items() if n} == ref.status_counts(), label
    assert state.failed_counts() == ref.failed_counts(), label
    assert {d: state.attempts(d) for d in state.days} == ref.attempts, label
    assert {d: state.row_count(d) for d in state.days} == ref.row_count, label
    assert state.total_attempts == sum(ref.attempts.values()), label
    assert state.rows == ref.rows, label
    assert state.source == ref.source, label
    for phase, values in ref.durations.items():
        assert _same_numbers(list(state.durations[phase].values), values), (label, phase)
    assert math.isclose(state.csv_mb, ref.csv_mb, abs_tol=1e-9), label
    assert math.isclose(state.cdf_mb, ref.cdf_mb, abs_tol=1e-9), label
    assert state.records_downloaded == ref.records_downloaded, label
    assert state.last_row_at == ref.last_moment, label
    assert state.stalled(NOW) == ref.stalled(NOW, state.stale_after), label
    assert state.throughput() == ref.throughput(), label


def _tie_file() -> tuple[bytes, int]:
    """Two rows of one day started at one instant written two ways: the later row wins."""
    one = [""] * len(SCHEMA)
    one[reference.COL["chunk_date_utc"]] = "2020-01-01"
    two = list(one)
    one[reference.COL["status"]], two[reference.COL["status"]] = "DOWNLOAD_PENDING", "FAILED"
    one[reference.COL["started_at_utc"]] = "2026-01-01T01:00:00.000000+00:00"
    two[reference.COL["started_at_utc"]] = "2026-01-01T01:00:00Z"
    return HEADER + b"\r\n" + encode_row(one) + encode_row(two), 2


@settings(max_examples=250, deadline=None)
@given(files(), st.lists(st.integers(1, 400), min_size=1, max_size=8))
@example((HEADER + b"\n" + b'x,"2020-01-02,,,FAILED' + b"," * 19 + b"\n", 0), [7])
@example(_tie_file(), [5])
@example((HEADER + b"\r\n" + _CR_BEFORE_ROW + b"\r\n", 0), [5])
def test_every_path_equals_the_reference(file: tuple[bytes, int], cuts: list[int]) -> None:
    _every_path_equals_the_reference(file, cuts)


def _every_path_equals_the_reference(file: tuple[bytes, int], cuts: list[int]) -> BackfillState:
    data, good = file
    _, decoded = reference.decode(data)
    ref = reference.fold(decoded.rows)
    # The file really decodes: every row it was written with, bar those a
    # hostile line next to it may take along (a stray quote, a torn record).
    assert len(decoded.rows) >= good - 2 * data.count(b'x,"') - 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(data)
        store = HistoricalTelemetry(path)
        assert [list(r.to_dict().values()) for r in store.iter_rows()] == [
            r.values for r in decoded.rows
        ]
        assert [(m.offset, m.line, m.reason) for m in store.malformed()] == decoded.malformed
        assert store.load_state() == {d: TelemetryRow(*v) for d, v in ref.latest.items()}
        assert_state_is_the_reference(BackfillState.from_path(path), ref, "cold load")
        # A tail fed the file in pieces (the live fold, batch by batch).
        live_path = Path(tmp) / "live.csv"
        live_path.write_bytes(b"")
        tail, live = TelemetryTail(live_path), BackfillState()
        at = 0
        for step in [*cuts, len(data)]:
            at = min(len(data), at + step)
            live_path.write_bytes(data[:at])
            update = tail.read_new()
            live.apply(update.records, update.malformed)
            if at == len(data):
                break
        assert_state_is_the_reference(live, ref, "tail")
    return live


def test_rows_kept_as_their_values_equal_the_reference_and_save_as_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long record is kept as its values (not split again): every path, with the
    threshold low enough that many rows are, and the state saved and loaded back."""
    mixed: list[bool] = []

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(files(min_rows=8), st.lists(st.integers(1, 400), min_size=1, max_size=4))
    def check(file: tuple[bytes, int], cuts: list[int]) -> None:
        # The days' latest rows as long as the middle one or longer are kept as values.
        latest = reference.fold(reference.decode(file[0])[1].rows).latest.values()
        lengths = sorted(len(encode_row(values)) - 2 for values in latest) or [0]
        monkeypatch.setattr(segments, "LONG_KEEP", lengths[len(lengths) // 2] - 1)
        state = _every_path_equals_the_reference(file, cuts)
        kinds = {type(slot[0]) for slot in state._slots.values()}
        mixed.append(kinds == {list, str})
        copy = state_from_plain(*marshal.loads(marshal.dumps(state_plain(state))))
        rows = [list(row.to_dict().values()) for row in state.latest_rows().values()]
        assert [list(row.to_dict().values()) for row in copy.latest_rows().values()] == rows

    check()
    assert sum(mixed) >= len(mixed) // 5, mixed  # texts and values side by side, often


def test_the_reference_reads_a_plain_file_as_the_writer_wrote_it(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    for i, status in enumerate(["DOWNLOAD_PENDING", "DOWNLOADED", "UPLOADED", "FAILED"]):
        store.append_row(
            {
                "chunk_date_utc": str(date(2020, 1, 1 + i % 2)),
                "status": status,
                "error_message": 'a "b"\nc' if status == "FAILED" else "",
                "started_at_utc": f"2026-01-01T00:0{i}:00+00:00",
            }
        )
    header, decoded = reference.decode(path.read_bytes())
    assert header == list(SCHEMA) and decoded.malformed == []
    assert [r.values[reference.COL["status"]] for r in decoded.rows] == [
        "DOWNLOAD_PENDING",
        "DOWNLOADED",
        "UPLOADED",
        "FAILED",
    ]
    # An UPLOADED row with its own start does not open an attempt; a FAILED one does.
    assert reference.fold(decoded.rows).attempts == {date(2020, 1, 1): 1, date(2020, 1, 2): 2}


def test_the_resume_state_alone_keeps_no_positions(tmp_path: Path) -> None:
    """``load_state``'s fold keeps each day's latest row and not where its rows are:
    the same latest rows as a fold with figures, in less memory."""
    from tests.bench.generate import generate

    path = generate(tmp_path / "t.csv", 3000, seed=4)
    bare, full = (BackfillState.from_path(path, figures=f) for f in (False, True))
    assert bare.days == full.days and all(full.runs(d) for d in full.days)
    assert not any(bare.runs(d) or bare.row_count(d) for d in bare.days)
    assert bare.latest_rows() == full.latest_rows()
