"""The reader never crashes on a damaged file, and reports what it skipped."""

from __future__ import annotations

import io
import tempfile
from datetime import date
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from telemetry import (
    SCHEMA,
    BackfillState,
    HistoricalTelemetry,
    TelemetryRow,
    diagnose,
    utcnow_iso,
)
from telemetry.fields import split_fields
from telemetry.latest import _writer_format, writer_format
from telemetry.records import RecordDecoder, read_batches
from telemetry.store import encode_row
from telemetry.store import row_values as store_row_values

HEADER = ",".join(SCHEMA)


def _row(day: str, status: str = "UPLOADED", started: str = "", message: str = "") -> str:
    values = [""] * len(SCHEMA)
    values[1], values[4], values[15], values[16] = day, status, message, started
    return ",".join(values)


def test_damaged_rows_are_skipped_and_reported_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    lines = [
        b"\xef\xbb\xbf" + HEADER.encode(),  # BOM
        _row("2020-01-01").encode(),
        _row("2020-01-02", message="caf\xe9").encode("latin-1"),  # invalid UTF-8
        _row("2020-01-03").encode() + b"\x00",  # NUL
        b"a,b,c",  # too few fields
        _row("2020-01-04").encode() + b",extra",  # too many fields
        HEADER.encode(),  # repeated header
        _row("2020-01-05", status="DONE").encode(),  # unknown status
        _row("not-a-date").encode(),
        _row("2020-01-06").encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")  # LF only
    store = HistoricalTelemetry(path)
    assert sorted(store.load_state()) == [date(2020, 1, 1), date(2020, 1, 6)]
    # As the original module: every row, a date that does not parse too.
    days = [r.chunk_date_utc for r in store.iter_rows()]
    assert days == ["2020-01-01", "not-a-date", "2020-01-06"]
    reports = [(m.line, m.reason) for m in diagnose(path)]
    assert reports == [
        (3, "invalid UTF-8"),
        (4, "NUL byte"),
        (5, f"expected {len(SCHEMA)} fields, found 3"),
        (6, f"expected {len(SCHEMA)} fields, found {len(SCHEMA) + 1}"),
        (7, "repeated header"),
        (8, "unknown status 'DONE'"),
        (9, "unparseable chunk_date_utc 'not-a-date'"),
    ]


def test_offsets_compare_as_instants_and_ties_go_to_the_later_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    # 10:00-05:00 is 15:00Z: later than 12:00Z although it sorts first as text.
    store.append_row(
        {
            "chunk_date_utc": "2020-01-01",
            "status": "FAILED",
            "started_at_utc": "2020-01-02T10:00:00-05:00",
        }
    )
    store.append_row(
        {
            "chunk_date_utc": "2020-01-01",
            "status": "DOWNLOADED",
            "started_at_utc": "2020-01-02T12:00:00Z",
        }
    )
    same = "2020-01-03T00:00:00.000001+00:00"
    store.append_row(
        {"chunk_date_utc": "2020-01-02", "status": "DOWNLOAD_PENDING", "started_at_utc": same}
    )
    store.append_row(
        {"chunk_date_utc": "2020-01-02", "status": "DOWNLOADED", "started_at_utc": same}
    )
    state = store.load_state()
    assert state[date(2020, 1, 1)].status == "FAILED"
    assert state[date(2020, 1, 2)].status == "DOWNLOADED"


def test_none_is_written_as_empty_and_timestamps_carry_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "UPLOADED", "s3_key": None})
    assert list(store.iter_rows()) == [TelemetryRow(chunk_date_utc="2020-01-01", status="UPLOADED")]
    for _ in range(50):
        stamp = utcnow_iso()
        assert len(stamp) == 32 and stamp[19] == "." and stamp.endswith("+00:00")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet='ab,"\n\r\x00é', max_size=300))
def test_framing_alone_agrees_with_the_decoder(text: str) -> None:
    """The writer's torn-tail check frames without decoding; it must cut where readers do."""
    buf = text.encode("utf-8")
    decoder = RecordDecoder()
    decoder.adopt_header(list(SCHEMA))
    assert RecordDecoder.frame(buf) == decoder.decode(buf, 1000).consumed


def _row_text(**cells: str) -> str:
    """A row's CSV text with ``cells`` (already CSV-quoted if need be) in their columns.

    Built from ``SCHEMA``, so the odd files below keep their meaning if columns
    are appended.
    """
    values = [""] * len(SCHEMA)
    for name, text in cells.items():
        values[SCHEMA.index(name)] = text
    return ",".join(values)


_T9 = "2026-01-01T00:00:09.000000+00:00"
_T8 = "2026-01-01T00:00:08.000000+00:00"
_GOOD = _row_text(
    chunk_date_utc="2020-01-0{d}",
    status="{status}",
    download_seconds="1.5",
    started_at_utc="2026-01-01T00:00:0{t}.000000+00:00",
)
_ODD_LINES = [
    "",  # blank
    _row_text(chunk_date_utc="2020-01-01", status="BOGUS", started_at_utc=_T9),  # status
    _row_text(chunk_date_utc="2020-13-01", status="FAILED", started_at_utc=_T9),  # date
    _row_text(chunk_date_utc="2020-01-01", status="FAILED", started_at_utc=_T9)[
        :-1
    ],  # a field short
    _row_text(
        chunk_date_utc="2020-01-02",
        status="FAILED",
        error_type='"Boom"',
        error_message='"a\nb,c"',
        started_at_utc=_T8,
    ),
    _row_text(
        chunk_date_utc="2020-01-05",
        status="FAILED",
        error_type='"Boom"',
        error_message='"a\r\nb"',
        started_at_utc=_T8,
    ),
    _row_text(chunk_date_utc="2020-01-03", status="UPLOADED", started_at_utc="not a time"),
    ",".join(SCHEMA),  # a repeated header
    _row_text(
        chunk_date_utc="2020-01-04", status="FAILED", error_message="x\ry", started_at_utc=_T9
    ),
    # A stray CR between two quoted fields.
    _row_text(
        chunk_date_utc="2020-01-04",
        status="FAILED",
        output_format='"x"',
        error_type="x\ry",
        error_message='"a"',
        started_at_utc=_T9,
    ),
]


# A row whose error type and message are any text of quotes, commas and line
# ends: well-formed quoting or not, line ends inside quotes or outside.
_HOSTILE = _row_text(
    chunk_date_utc="{day}", status="FAILED", error_type="{cells}", started_at_utc=_T9
).replace("{cells},", "{cells}", 1)  # the cells take the error type and message
_TOKENS = st.lists(st.sampled_from(["a", ",", '"', '""', "\r", "\n", "\r\n"]), max_size=6)
_CELLS = st.tuples(_TOKENS, _TOKENS).map(lambda pair: ",".join(map("".join, pair)))
_DAY_TEXTS = st.sampled_from(["2020-01-01", "2020-01-02", "2020-01-03", "20200103", "2020-13-01"])

_LINES = st.lists(
    st.one_of(
        st.builds(
            _GOOD.format,
            d=st.integers(1, 5),
            status=st.sampled_from(["DOWNLOAD_PENDING", "FAILED", "UPLOADED", ""]),
            t=st.integers(0, 9),
        ),
        st.sampled_from(_ODD_LINES),
        # Quotes anywhere (well-formed or not), line ends inside or outside them.
        st.builds(_HOSTILE.format, day=_DAY_TEXTS, cells=_CELLS),
    ),
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(_LINES, st.booleans())
def test_load_state_agrees_with_the_full_decoder_on_odd_files(lines: list[str], crlf: bool) -> None:
    """The cold loads' decoding (whole runs split at once) agrees with the full decoder."""
    end = "\r\n" if crlf else "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        # Past the first 64 KiB chunk (decoded row by row while the header is
        # learnt), so the lines below take the bulk paths.
        filler = [_GOOD.format(d=9, status="UPLOADED", t=0)] * 1000
        path.write_text(end.join([",".join(SCHEMA), *filler, *lines]) + end, newline="")
        full = BackfillState()
        with path.open("rb") as fh:
            for batch in read_batches(fh):
                full.apply(batch.records, batch.malformed)
        cold = BackfillState.from_path(path)
        assert full.rows >= len(filler)  # the file really decodes
        assert HistoricalTelemetry(path).load_state() == dict(full.latest) == dict(cold.latest)
        assert cold.malformed == full.malformed
        assert cold.status_counts == full.status_counts
        assert [cold.attempts(d) for d in full.days] == [full.attempts(d) for d in full.days]
        assert [cold.runs(d) for d in full.days] == [full.runs(d) for d in full.days]
        # Each day's runs of positions lead back to exactly its rows.
        with path.open("rb") as fh:
            records = [r for b in read_batches(fh) for r in b.records]
        for day in full.days:
            # (The text of a CRLF row may keep its CR or not: compare the rest.)
            history = [r[:4] for r in cold.history(path, day)]
            assert history == [r[:4] for r in records if r.day == day]
            assert cold.row_count(day) == sum(r.day == day for r in records)


@settings(max_examples=120, deadline=None)
@given(_LINES, st.booleans(), st.integers(1, 600))
def test_segments_hold_the_same_rows_at_any_chunk_size(
    lines: list[str], crlf: bool, size: int
) -> None:
    """A chunk split at once (quoted rows decoded alone, then put back) holds the same rows."""
    end = "\r\n" if crlf else "\n"
    _assert_segments_agree((end.join([",".join(SCHEMA), *lines]) + end).encode(), size)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(_CELLS, _DAY_TEXTS), min_size=1, max_size=4),
    st.booleans(),
    st.integers(100, 800),
)
# A quote inside a plain field after a quoted one; CRs outside quotes (in a
# CRLF file, where only the line-end CRs are counted in bulk); a bad date.
@example([('"a",b"c"', "2020-01-01")], False, 300)
@example([('"a",\r', "2020-01-01")], True, 300)
@example([('a\r,"b"', "2020-01-01")], True, 300)
@example([('"a",b', "2020-13-01")], False, 300)
@example([('"a"x,"b"', "2020-01-01")], False, 300)  # a quote closing before a letter
def test_hostile_quoted_rows_among_good_ones_decode_as_the_general_path_does(
    rows: list[tuple[str, str]], crlf: bool, size: int
) -> None:
    """Chunks of good rows take the one-split path, decoding quoted rows by their pieces."""
    end = "\r\n" if crlf else "\n"
    # The header's chunk is decoded row by row: the rows after it are not.
    lines = [",".join(SCHEMA), *[_GOOD.format(d=9, status="UPLOADED", t=0)] * 12]
    for k, (cells, day) in enumerate(rows):
        lines += [_GOOD.format(d=k % 5 + 1, status="UPLOADED", t=0)] * 6
        lines.append(_HOSTILE.format(day=day, cells=cells))
    lines += [_GOOD.format(d=9, status="UPLOADED", t=0)] * 6
    _assert_segments_agree((end.join(lines) + end).encode(), size)


def _assert_segments_agree(data: bytes, size: int) -> None:
    """Decoding ``data`` into segments, ``size`` bytes a read, gives what records do."""
    expected = list(read_batches(io.BytesIO(data)))
    records = [r for batch in expected for r in batch.records]
    malformed = [m for batch in expected for m in batch.malformed]
    batches = list(read_batches(io.BytesIO(data), size, RecordDecoder(segments=True)))
    segments = [s for b in batches for s in b.segments]
    rows = [
        (day, s.values(k), s.keeps[k] if isinstance(s.keeps[k], str) else None)
        for s in segments
        for k, day in enumerate(s.row_days())
    ]
    assert rows == [(r.day, r.values, r.text) for r in records]
    # The runs, joined where one goes on with the day of the run before,
    # start where each maximal run of one day's adjacent records starts.
    runs: list[list[Any]] = []
    for s in segments:
        for day, end, first, offset, line in zip(
            s.days, s.ends, s.firsts, s.offsets, s.lines, strict=True
        ):
            if runs and runs[-1][0] == day:
                runs[-1][3] += end - first
            else:
                runs.append([day, offset, line, end - first])
    expected = [
        [day, group[0].offset, group[0].line, len(group)]
        for day, group in ((d, list(g)) for d, g in groupby(records, key=lambda r: r.day))
    ]
    assert runs == expected
    assert [m for b in batches for m in b.malformed] == malformed
    assert batches[-1].consumed == len(data)


def test_split_fields_decodes_quoted_fields_and_refuses_what_is_not_a_record() -> None:
    assert split_fields('a,"b ""c"", d",e') == ["a", 'b "c", d', "e"]  # one quoted field
    assert split_fields('"a\nb",,"""",x') == ["a\nb", "", '"', "x"]  # several
    assert split_fields('a,""') == ["a", ""]
    for text in ('a,"b"c', 'a,b"c"', '"a"\r,b', 'a,"b'):
        with pytest.raises(ValueError, match="not a well-formed record"):
            split_fields(text)


_STAMPS = st.sampled_from(
    [
        "2026-01-01T00:00:01.551429+00:00",
        "2026-01-01T00:00:01+00:00",
        "2026-01-01T00:00:01.551429Z",
        "2026-01-01 00:00:01.551429+00:00",
        "2026-01-01T00:00:01.551429+05:00",
        "2026-01-01T00:00:01.551429",
        "",
        "x" * 32,
    ]
)


@given(st.lists(_STAMPS, min_size=1, max_size=30))
def test_the_column_wise_format_check_is_the_per_value_rule(whens: list[str]) -> None:
    """writer_format slices the joined values; it must say what checking each one says."""
    assert writer_format(whens) == all(map(_writer_format, whens))


def test_overlapping_cold_loads_restore_the_collector_once_the_last_ends() -> None:
    """The monitor's reader thread and its UI thread pause the GC at once."""
    import gc
    import threading

    from telemetry import cold_load

    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with cold_load():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    with cold_load():
        thread.start()
        inside.wait(10)
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's load still runs
    release.set()
    thread.join(10)
    assert gc.isenabled()
    gc.disable()
    try:
        with cold_load():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()


def test_a_cold_load_leaves_what_it_built_in_the_oldest_generation() -> None:
    """The first collection after a load does not walk everything it built as young.

    In a process of its own: a thread of another test still inside a cold
    load of its own would rightly keep the collector paused.
    """
    import subprocess
    import sys

    code = """
import gc
from telemetry import cold_load

with cold_load():
    built = [[day] for day in range(1000)]
oldest = {id(obj) for obj in gc.get_objects(generation=2)}
assert all(id(row) in oldest for row in built)
assert gc.get_freeze_count() == 0
# A process that keeps objects frozen on purpose keeps them frozen.
gc.freeze()
frozen = gc.get_freeze_count()
with cold_load():
    pass
assert gc.get_freeze_count() == frozen
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def _tail_in_reads(path: Path, max_bytes: int) -> int:
    from telemetry import TelemetryTail

    tail, rows = TelemetryTail(path), 0
    while True:
        update = tail.read_new(max_bytes=max_bytes)
        rows += len(update.records)
        if tail.caught_up(update):
            return rows


def test_a_record_longer_than_many_chunks_is_decoded_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Framing stays linear: the bytes handed to the decoder, summed over every
    try, stay within a small multiple of the file (one try per chunk would be
    quadratic: about 8 times the file here)."""
    from telemetry import BackfillState, TelemetryTail
    from telemetry.store import _close_off_torn_tail

    path = tmp_path / "t.csv"
    message = 'Traceback line, "quoted"\n' * 40_000  # 1 MB, 16 chunks
    store = HistoricalTelemetry(path)
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "FAILED", "error_message": message})
    store.append_row({"chunk_date_utc": "2020-01-02", "status": "UPLOADED"})
    size = path.stat().st_size
    seen = [0]
    real_decode = RecordDecoder.decode
    real_frame = RecordDecoder.frame

    def decode(self: RecordDecoder, buf: bytes, offset: int, *, final: bool = False):  # type: ignore[no-untyped-def]
        seen[0] += len(buf)
        return real_decode(self, buf, offset, final=final)

    def frame(buf: bytes, **options: Any) -> int:
        seen[0] += len(buf)
        return real_frame(buf, **options)

    monkeypatch.setattr(RecordDecoder, "decode", decode)
    monkeypatch.setattr(RecordDecoder, "frame", staticmethod(frame))
    readers = {
        "iter_rows": lambda: next(r.error_message for r in store.iter_rows()) == message,
        "load_state": lambda: len(store.load_state()) == 2,
        "from_path": lambda: BackfillState.from_path(path).rows == 2,
        "tail": lambda: len(TelemetryTail(path).read_new().records) == 2,
        "tail in small reads": lambda: _tail_in_reads(path, 64 << 10) == 2,
    }
    for name, read in readers.items():
        seen[0] = 0
        assert read(), name
        assert seen[0] <= 4 * size, (name, seen[0] / size)
    seen[0] = 0
    with open(path, "rb") as fh:
        assert _close_off_torn_tail(fh.fileno(), len(",".join(SCHEMA)) + 2, size) == b""
    assert seen[0] <= 4 * size, ("writer", seen[0] / size)


class _Counting:
    """A compiled pattern that counts the bytes its calls may examine."""

    def __init__(self, pattern: Any, seen: list[int]) -> None:
        self.pattern, self.seen = pattern, seen

    def _count(self, args: tuple[Any, ...]) -> None:
        buf, pos = args[0], args[1] if len(args) > 1 else 0
        end = args[2] if len(args) > 2 else len(buf)
        self.seen[0] += end - pos

    def match(self, *args: Any) -> Any:
        self._count(args)
        return self.pattern.match(*args)

    def fullmatch(self, *args: Any) -> Any:
        self._count(args)
        return self.pattern.fullmatch(*args)

    def finditer(self, *args: Any) -> Any:
        self._count(args)
        return self.pattern.finditer(*args)


def test_a_long_record_offered_a_piece_at_a_time_is_scanned_about_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A caller that offers the unfinished record again with 16 KB more each
    time (no doubling): the framing patterns look at each byte about once,
    not once per try (which would be 32 times here)."""
    from telemetry import framing

    header = (",".join(SCHEMA) + "\r\n").encode()
    message = 'Traceback line, "quoted"\n' * 20_000  # 500 KB, quoted and multi-line
    row = {"chunk_date_utc": "2020-01-01", "status": "FAILED", "error_message": message}
    data = header + encode_row(store_row_values(row))
    data += encode_row(store_row_values({"chunk_date_utc": "2020-01-02", "status": "UPLOADED"}))
    seen = [0]
    for name in ("_RECORD", "_PARTIAL", "_REST", "_OPEN_PREFIX"):
        monkeypatch.setattr(framing, name, _Counting(getattr(framing, name), seen))
    monkeypatch.setattr(
        framing, "_row_start", lambda at, real=framing._row_start: _Counting(real(at), seen)
    )

    def content_end(buf: bytes, start: int, real: Any = framing._content_end) -> int:
        seen[0] += len(buf) - start  # it may look at every byte from start on
        return int(real(buf, start))

    def row_starts(buf: bytes, start: int, limit: int, *rest: Any) -> Any:
        seen[0] += limit - start
        return real_row_starts(buf, start, limit, *rest)

    real_row_starts = framing._row_starts
    monkeypatch.setattr(framing, "_content_end", content_end)
    monkeypatch.setattr(framing, "_row_starts", row_starts)
    decoder = RecordDecoder()
    records: list[Any] = []
    offset, pending, cut = 0, b"", 0
    while cut < len(data):
        piece = data[cut : cut + (16 << 10)]
        cut += len(piece)
        buf = pending + piece
        batch = decoder.decode(buf, offset, final=cut >= len(data))
        records += batch.records
        offset += batch.consumed
        pending = buf[batch.consumed :]
    assert [r.values[SCHEMA.index("error_message")] for r in records[:1]] == [message]
    assert len(records) == 2
    # Each try scans what is new, the content and the row-start search once
    # each, plus one full pass when the record completes.
    assert seen[0] <= 4 * len(data), seen[0] / len(data)


def test_a_kept_frame_memo_is_ignored_when_the_bytes_changed_under_it() -> None:
    """A decoder that kept how far it got in a long record, offered other bytes
    at the same offset (the file rewritten in place), decodes them as a fresh
    decoder does."""
    header = (",".join(SCHEMA) + "\r\n").encode()
    message = 'a "quoted" traceback\n' + "a" * 50_000  # a quoted field
    long_row = {"chunk_date_utc": "2020-01-01", "status": "FAILED", "error_message": message}
    first = header + encode_row(store_row_values(long_row))
    rows = [
        {"chunk_date_utc": f"2020-02-{k:02d}", "status": "FAILED", "error_message": "b\n" * 30}
        for k in range(1, 28)
    ]
    other = header + b"".join(encode_row(store_row_values(r)) for r in rows) + b"x" * 30_000
    decoder = RecordDecoder()
    batch = decoder.decode(first[: len(first) // 2], 0)  # the long record is unfinished
    assert not batch.records
    at = batch.consumed  # the header's end, in both files
    again = decoder.decode(other[at:], at)
    fresh = RecordDecoder()
    fresh.decode(first[:at], 0)
    expected = fresh.decode(other[at:], at)
    assert [r.values for r in again.records] == [r.values for r in expected.records]
    assert len(again.records) == 27 and again.consumed == expected.consumed
