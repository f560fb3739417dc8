"""Turn the bytes of a telemetry file into rows: the one record decoder.

Every reader in the project (``load_state``, ``iter_rows``, the cold load, the
live tail, ``check``) goes through :class:`RecordDecoder`, so there is exactly
one definition of what a record is and of what makes one malformed.

A *record* is one CSV row per RFC 4180: fields separated by commas, ended by
``\\n`` or ``\\r\\n``, a field in double quotes may hold commas, quotes (as
``""``) and line ends. Framing happens on bytes, so byte offsets are exact and
a cut inside a multi-byte character or inside a quoted multi-line field is
simply "not complete yet". Fields are decoded without the :mod:`csv` module:
its process-wide field size limit (128 KiB) would reject long stack traces.
"""

from __future__ import annotations

import gc
import operator
import re
import threading
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import cache
from itertools import accumulate, chain, compress, islice, repeat
from operator import itemgetter
from typing import Any, BinaryIO, NamedTuple, TypeVar

from .schema import COLUMN, SCHEMA, VALID_STATUSES

BOM = b"\xef\xbb\xbf"

_K = TypeVar("_K")

#: Bytes read per chunk by the cold readers. Small on purpose: the decoded
#: lines of one chunk stay in the CPU cache (4 MiB chunks measured 2x slower).
CHUNK_SIZE = 64 << 10

#: The row the writer leaves behind when it closes off a torn record: any
#: record carrying this suffix of empty fields has more fields than the
#: header, so every reader reports it and none ever takes it for a row.
TORN_MARK = "," * len(SCHEMA)

_QUOTED = rb'"[^"]*(?:""[^"]*)*"'
_PLAIN = rb'[^",\r\n]*'
_FIELD = rb"(?:" + _QUOTED + rb"|" + _PLAIN + rb")"
# One complete, well-formed record including its line end.
_RECORD = re.compile(_FIELD + rb"(?:," + _FIELD + rb")*\r?\n")
# What a record looks like before its line end has been written (or read):
# complete fields, then a partial one (an open quoted field may end on a quote
# that is half of an escaped pair). Its quote count is odd exactly when the cut
# is inside a quoted field.
_PARTIAL = re.compile(rb"(?:" + _FIELD + rb",)*" + rb'(?:"[^"]*(?:""[^"]*)*"?|[^",\r\n]*)\r?\Z')

_DATE_COL = COLUMN["chunk_date_utc"]
_STATUS_COL = COLUMN["status"]
_WIDTH = len(SCHEMA)
# Each valid status text maps to one shared string object (and so does "":
# the original writer accepts an empty status).
_CANONICAL_STATUS: dict[str, str] = {s: s for s in VALID_STATUSES}
_CANONICAL_STATUS[""] = ""
_STATUS_TEXTS = frozenset(_CANONICAL_STATUS)
_STATUS_BYTES = frozenset(s.encode() for s in _STATUS_TEXTS)
_ONLY_WIDTH = {_WIDTH}
_STARTED_COL = COLUMN["started_at_utc"]
# The cells after the status of a plain line that stands in for a quoted row
# in a bulk split (its own cells replace them).
_STAND_IN = "," * (_WIDTH - 1 - _STATUS_COL)


class TelemetryFormatError(ValueError):
    """The file is not a telemetry CSV (its header names no telemetry columns, or it is binary)."""


# A first line with NUL bytes or bytes that are not UTF-8: not a CSV at all.
_BINARY = frozenset({"NUL byte", "invalid UTF-8"})
_NOT_TEXT = "binary data, not a telemetry file"


class Record(NamedTuple):
    """One well-formed row, as read from the file.

    ``values`` holds one string per ``SCHEMA`` column, in ``SCHEMA`` order,
    whatever the file's own column order is; ``day`` is the parsed
    ``chunk_date_utc``; ``offset`` the byte offset of the row's first byte;
    ``line`` its 1-based physical line number. ``text`` is the record as
    written, without its ``\\n`` (a ``\\r`` before it may remain), when the
    file's columns are ``SCHEMA``; ``None`` for files with other columns.
    :func:`row_values` turns ``text`` back into ``values``.
    """

    offset: int
    line: int
    day: date
    values: list[str]
    text: str | None = None


class Malformed(NamedTuple):
    """A record the state skips, with where it is and why.

    ``values`` (in ``SCHEMA`` order) is set only for a well-formed row
    whose ``chunk_date_utc`` does not parse: the original module's
    ``iter_rows`` yields such rows (its writer never checked dates), so
    :meth:`~telemetry.HistoricalTelemetry.iter_rows` does too, while
    ``load_state`` and the state skip them, as the original does.
    """

    offset: int
    line: int
    reason: str
    values: list[str] | None = None


#: Lines of a quoted record past which the one-split path leaves it to the
#: careful path (whose regular expressions frame it without Python per line).
_LONG_RECORD = 64

#: Cells per row in :attr:`Segment.fields`.
STRIDE = _WIDTH - 1


class Segment(NamedTuple):
    """Consecutive rows of a file as columns (a ``segments`` decoder's output).

    Rows come in *runs* of adjacent rows of one day: run ``r`` holds rows
    ``ends[r - 1]`` (0 for the first) up to ``ends[r]``, its day is
    ``days[r]``, its first row starts at byte ``offsets[r]`` on line
    ``lines[r]``. Two adjacent runs may share a day (a day's rows split by a
    chunk boundary, or written as different texts of one date).

    ``keeps`` holds each row's :attr:`Record.text` (its values when the
    file's columns are not ``SCHEMA``). ``fields`` holds the cells of every
    row, ``STRIDE`` per row: :meth:`column` reads one column of every row
    from it without Python code per row. Rows decoded one by one (quoted
    fields, other columns) also have their values in ``careful``, by index;
    the other rows' text split on commas gives their values. ``offsets``
    and ``lines`` are empty from a decoder made with ``positions=False``. A
    segment made of records already decoded has their values in ``rows``
    instead of ``fields`` and ``careful``.
    """

    ends: list[int]
    days: list[date]
    keeps: list[Any]
    fields: list[str]
    careful: dict[int, list[str]]
    offsets: list[int]
    lines: list[int]
    rows: list[list[str]] | None = None

    def column(self, col: int) -> list[str]:
        """Column ``col`` (``1 <= col < STRIDE``, in ``SCHEMA`` order) of every row."""
        if not 1 <= col < STRIDE:
            raise IndexError(f"column {col} is not kept in segment fields")
        if self.rows is not None:
            return list(map(itemgetter(col), self.rows))
        return self.fields[col::STRIDE]

    def cells(self, col: int, mask: Iterable[object]) -> Iterator[str]:
        """Column ``col`` of the rows where ``mask`` is true (any truthy value, such as byte 1)."""
        if self.rows is not None:
            return map(itemgetter(col), compress(self.rows, mask))
        return compress(self.column(col), mask)

    @property
    def whens(self) -> list[str]:
        """``started_at_utc`` of every row."""
        return self.column(_STARTED_COL)

    @property
    def statuses(self) -> list[str]:
        """``status`` of every row (valid statuses; equal, not always shared, strings)."""
        return self.column(_STATUS_COL)

    @property
    def firsts(self) -> list[int]:
        """The index of each run's first row."""
        return run_firsts(self.ends)

    def row_days(self) -> list[date]:
        """The day of every row."""
        counts = map(operator.sub, self.ends, self.firsts)
        return list(chain.from_iterable(map(repeat, self.days, counts)))

    def values(self, k: int) -> list[str]:
        """Row ``k``'s values, in ``SCHEMA`` order."""
        if self.rows is not None:
            return self.rows[k]
        values = self.careful.get(k)
        return row_values(self.keeps[k]) if values is None else values


def runs_of(keys: list[_K]) -> tuple[list[int], list[_K]]:
    """Split rows whose days (or day texts) are ``keys`` into maximal runs of equal ones.

    Returns where each run ends (as :attr:`Segment.ends`) and its key, with
    no Python code per row.
    """
    n = len(keys)
    ends = list(compress(range(1, n), map(operator.ne, islice(keys, 1, None), keys)))
    run_keys = list(map(keys.__getitem__, [0, *ends])) if n else []
    ends.append(n)
    return ends, run_keys


def run_firsts(ends: list[int]) -> list[int]:
    """The index of each run's first row, from where each run ends."""
    return [0, *islice(ends, len(ends) - 1)]


class _SegmentBuilder:
    """The runs and columns of one chunk's rows, collected piece by piece.

    What a ``segments`` decoder builds a chunk's :class:`Segment` from.
    """

    def __init__(self) -> None:
        self.ends: list[int] = []
        self.days: list[date] = []
        self.keeps: list[Any] = []
        self.fields: list[str] = []
        self.careful: dict[int, list[str]] = {}
        self.offsets: list[int] = []
        self.lines: list[int] = []

    def add_runs(self, ends: list[int], days: list[date]) -> None:
        """Add runs ending at ``ends`` (counted from the first row not added yet)."""
        base = len(self.keeps)
        self.ends += map(operator.add, ends, repeat(base)) if base else ends
        self.days += days

    def add_records(self, records: list[Record], positions: bool) -> None:
        """Add rows decoded one by one (their values are kept in ``careful``)."""
        if not records:
            return
        ends, days = runs_of([r.day for r in records])
        if positions:
            firsts = run_firsts(ends)
            self.offsets += [records[k].offset for k in firsts]
            self.lines += [records[k].line for k in firsts]
        self.add_runs(ends, days)
        first = len(self.keeps)
        for k, r in enumerate(records, first):
            self.careful[k] = r.values
            self.fields += r.values[:STRIDE]
        self.keeps += [r.values if r.text is None else r.text for r in records]
        records.clear()

    def segment(self) -> Segment:
        return Segment(
            self.ends,
            self.days,
            self.keeps,
            self.fields,
            self.careful,
            self.offsets,
            self.lines,
        )


class Batch(NamedTuple):
    """What one call of :meth:`RecordDecoder.decode` found.

    ``consumed`` is how many bytes of the input were complete records (or
    blank lines); the caller keeps the rest and offers it again with more.
    """

    records: list[Record]
    malformed: list[Malformed]
    consumed: int
    #: Only from a decoder made with ``segments=True``: the rows, in file
    #: order, instead of ``records``.
    segments: Sequence[Segment] = ()


def parse_day(text: str) -> date | None:
    """Parse ``chunk_date_utc`` the way the original module does, or ``None``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def split_fields(text: str) -> list[str]:
    """Split one well-formed record (without its line end) into fields.

    Raises :class:`ValueError` for a text that is not one (as the decoders
    never give).
    """
    if '"' not in text:
        return text.split(",")
    fields = _quoted_fields(text.split('"'))
    if fields is None:
        raise ValueError(f"not a well-formed record: {text[:60]!r}")
    return fields


def _quoted_fields(parts: list[str]) -> list[str] | None:
    """The fields of a record (without its line end) from its text split on quotes.

    Works on the pieces between quotes, not on characters: outside quotes a
    piece is commas and plain fields; an empty piece between two quoted
    pieces is an escaped quote (``""``). Returns ``None`` when the record is
    not well-formed as the ``_RECORD`` pattern says: a quote opens a field
    only first or right after a comma, closes it only before a comma or the
    end, and no CR stands outside quotes.
    """
    m = len(parts)
    head = parts[0]
    if not m & 1 or (head and not head.endswith(",")) or "\r" in head:
        return None
    fields = head.split(",")
    if not any(parts[2 : m - 1 : 2]):
        # One quoted field (the usual case): the pieces outside quotes
        # between its first and last are all empty, each an escaped quote.
        fields[-1] = '"'.join(parts[1 : m - 1 : 2])
        after = parts[-1]  # outside quotes: "" at the end, else ",..."
        if after:
            if after[0] != "," or "\r" in after:
                return None
            fields += after.split(",")[1:]
        return fields
    i = 1
    while i < m:
        piece = parts[i]  # inside quotes (fields[-1] is the field's empty start)
        i += 1
        while i < m - 1 and not parts[i]:  # an escaped quote
            piece += '"' + parts[i + 1]
            i += 2
        fields[-1] = piece
        after = parts[i]  # outside quotes: "" at the end, else ",..."
        i += 1
        if after:
            if after[0] != "," or "\r" in after or (i < m and after[-1] != ","):
                return None
            fields += after.split(",")[1:]
    return fields


def row_values(text: str) -> list[str]:
    """The values of a record from its :attr:`Record.text`."""
    if text.endswith("\r"):
        text = text[:-1]
    return split_fields(text)


def header_mapping(header: list[str]) -> list[int] | None:
    """Return, per SCHEMA column, its index in ``header`` (-1 if absent).

    ``None`` means the header is ``SCHEMA`` itself (the fast path).
    Raises :class:`TelemetryFormatError` when ``header`` is not a telemetry
    header: it must name ``chunk_date_utc`` and ``status``.
    """
    if tuple(header) == SCHEMA:
        return None
    missing = [c for c in ("chunk_date_utc", "status") if c not in header]
    if missing:
        shown = ",".join(header)[:80]
        raise TelemetryFormatError(
            f"not a telemetry file: header {shown!r} lacks column(s) {', '.join(missing)}"
        )
    return [header.index(c) if c in header else -1 for c in SCHEMA]


class _Chunk:
    """One buffer being decoded: its lines, where each starts, and the results."""

    def __init__(self, buf: bytes, offset: int, base: int, first_line: int) -> None:
        self.buf = buf
        self.offset = offset
        self.first_line = first_line
        self.records: list[Record] = []
        self.segments: list[Segment] = []
        self.builder = _SegmentBuilder()
        self.malformed: list[Malformed] = []
        self.ascii_only = buf.isascii()
        self.lines: list[Any]
        self.quote: Any
        self.cr: Any
        self.nul: Any
        self.text = ""
        if self.ascii_only:
            self.text = text = buf.decode("ascii")
            self.lines = text[base:].split("\n")
            self.quote, self.cr, self.nul = '"', "\r", "\x00"
        else:
            self.lines = buf[base:].split(b"\n")
            self.quote, self.cr, self.nul = b'"', b"\r", b"\x00"
        self.lines.pop()  # no line end after it: not complete yet
        # Line k starts at starts[k] (a C-level prefix sum of the lines'
        # lengths plus one line end each); starts[n] is where the last
        # complete line ends.
        lengths = map(operator.add, map(len, self.lines), repeat(1))
        self.starts = list(accumulate(lengths, initial=base))
        # NUL bytes make every line take the careful path. A CR is stray when
        # it is not its line's last byte: the bulk decoders check their runs
        # for that, the row-by-row path each line (``in`` is a memchr).
        self.has_cr = b"\r" in buf
        self.suspect = b"\x00" in buf

    def next_careful(self, k: int) -> int:
        """The first line from ``k`` on that needs the careful path (the number of lines if none).

        That is a line with a quote (or, with NUL bytes, any line), found by
        searching for the next quote (``find`` is a memchr), not line by
        line, and only from where decoding has got to: the lines inside a
        long quoted record are never visited one by one.
        """
        starts = self.starts
        n = len(starts) - 1
        if self.suspect or k >= n:
            return min(k, n)
        find = self.text.find if self.ascii_only else self.buf.find
        pos = find(self.quote, starts[k], starts[n])
        return n if pos < 0 else bisect_right(starts, pos) - 1


class RecordDecoder:
    """Frames and decodes one telemetry file from its first byte onwards.

    Feed it consecutive pieces of the file with :meth:`decode`; it learns the
    header from the first record, maps columns by that header (so older files
    with fewer columns read correctly) and returns complete rows. Rows with the
    wrong number of fields, a repeated header, an unknown status, an
    unparseable ``chunk_date_utc``, invalid UTF-8 or NUL bytes are returned as
    :class:`Malformed` reports and never as rows. A blank line is neither.
    """

    def __init__(self, *, segments: bool = False, positions: bool = True) -> None:
        #: Produce :attr:`Batch.segments` (what the cold loads need) instead
        #: of records: plain rows are then split a whole run at a time.
        self.segments = segments
        #: With ``segments``, fill :attr:`Segment.offsets` and ``lines``.
        self.positions = positions
        self.header: list[str] | None = None
        self._mapping: list[int] | None = None
        self._line = 1
        #: The file ends its lines with a bare CR (saved by an old editor):
        #: each CR is read as a line end. Told by the header's line end.
        self.cr_only = False
        # Rows of one day are usually adjacent: remember the last date parsed.
        self._day_text = ""
        self._day: date | None = None

    def adopt_header(self, header: list[str] | None, line: int = 1, cr_only: bool = False) -> None:
        """Start mid-file: decode as if ``header`` had been read already.

        ``line`` is the physical line number of the first byte to be decoded;
        ``cr_only`` what :attr:`cr_only` was for the file's header.
        """
        self.header = header
        self._line = line
        self.cr_only = cr_only
        self._mapping = None if header is None else header_mapping(header)

    @property
    def next_line(self) -> int:
        """The physical line number of the next byte to be decoded."""
        return self._line

    def decode(self, buf: bytes, offset: int, *, final: bool = False) -> Batch:
        """Decode the complete records at the start of ``buf``.

        ``offset`` is where ``buf`` starts in the file. With ``final`` the end
        of ``buf`` is the end of the file, and an incomplete last record is
        reported as torn instead of held back.
        """
        base = len(BOM) if offset == 0 and buf.startswith(BOM) else 0
        if self.header is None and not self.cr_only:
            self.cr_only = cr_only_line_ends(buf, base)
        if self.cr_only:
            buf = buf.translate(_CR_AS_LF)  # same length: offsets stay exact
        # Pure ASCII (the usual case) is split as text in one go; otherwise
        # each line is decoded alone so invalid UTF-8 spoils only its own row.
        chunk = _Chunk(buf, offset, base, self._line)
        # Lines that need the careful path: quoted fields (or, in a chunk with
        # NUL bytes, every line). When the header is SCHEMA itself the other
        # lines are decoded in bulk: for segments, all of them in one split
        # if they are all well-formed, else run by run between careful lines.
        bulk = chunk.ascii_only and self._mapping is None and self.header is not None
        one_split = self.segments and bulk and not chunk.suspect
        cut = self._one_split(chunk) if one_split else None
        if cut is None:
            cut = self._run_by_run(chunk, bulk)
        # Every complete line, unless a record runs to the end of buf unfinished.
        consumed = chunk.starts[cut]
        newlines = cut  # line ends in buf[:consumed]
        line_no = self._line + newlines
        if final and consumed < len(buf):
            reason = "torn final record (no line end)"
            chunk.malformed.append(Malformed(offset + consumed, line_no, reason))
            line_no += buf.count(b"\n", consumed)
            consumed = len(buf)
        self._line = line_no
        if self.segments and chunk.builder.keeps:
            chunk.segments.append(chunk.builder.segment())
        return Batch(chunk.records, chunk.malformed, consumed, chunk.segments)

    def _run_by_run(self, chunk: _Chunk, bulk: bool) -> int:
        """Decode the careful lines one by one and the runs between them in bulk if ``bulk``.

        Returns the index of the line where a record runs to the end of the
        buffer unfinished, else the number of lines.
        """
        n = len(chunk.lines)
        as_segments = self.segments
        k = 0
        while True:
            q = chunk.next_careful(k)
            if k < q and not (bulk and self._bulk_run(chunk, k, q)):
                self._rows(chunk, k, q)
                if as_segments:
                    chunk.builder.add_records(chunk.records, self.positions)
            if q == n:
                break
            k = self._rows(chunk, q, q + 1)
            if as_segments:
                chunk.builder.add_records(chunk.records, self.positions)
            if k < 0:  # a record that runs to the end of buf unfinished
                return q
        return n

    def _bulk(self, chunk: _Chunk, a: int, b: int) -> bool:
        """Decode the plain ASCII lines ``a..b`` with no Python code per row.

        Returns False, having decoded nothing, when any line is not a
        well-formed row of the ``SCHEMA`` header (blank, wrong field count,
        unknown status, bad date): the row-by-row path then reports it.
        """
        texts = chunk.lines[a:b]
        if chunk.has_cr:
            texts = list(map(str.removesuffix, texts, repeat("\r")))
            if any(map(operator.contains, texts, repeat("\r"))):
                return False  # a stray CR
        rows = list(map(str.split, texts, repeat(",")))
        if set(map(len, rows)) != _ONLY_WIDTH:
            return False
        columns = list(zip(*rows, strict=True))
        if not _STATUS_TEXTS.issuperset(columns[_STATUS_COL]):
            return False
        try:
            days = list(map(date.fromisoformat, columns[_DATE_COL]))
        except ValueError:
            return False
        offsets = map(operator.add, chunk.starts[a:b], repeat(chunk.offset))
        line_numbers = range(chunk.first_line + a, chunk.first_line + b)
        chunk.records.extend(
            map(
                tuple.__new__,
                repeat(Record),
                zip(offsets, line_numbers, days, rows, texts, strict=True),
            )
        )
        return True

    def _bulk_run(self, chunk: _Chunk, a: int, b: int) -> bool:
        """Decode the plain lines ``a..b`` in bulk, as records or into the segment."""
        if self.segments:
            return self._bulk_segment(chunk, range(a, b))
        return self._bulk(chunk, a, b)

    def _one_split(self, chunk: _Chunk) -> int | None:
        """Decode a whole chunk (no NUL bytes) with one split of its lines (``segments`` decoding).

        The records with quoted fields are decoded one by one first, found
        by searching for quotes from the end of the record before, and each
        stands in the split as a plain stand-in line with its date and
        status, whose cells are then replaced by the record's. Returns the
        index of the line where a record runs to the end of the buffer
        unfinished (else the number of lines), or ``None``, having decoded
        nothing, when a plain line is not a well-formed row: the run-by-run
        path then takes over.
        """
        lines, starts = chunk.lines, chunk.starts
        n = len(lines)
        kept = [True] * n  # the lines that are rows (a careful record by its first)
        placed: list[tuple[int, Record]] = []  # (its row in the chunk, careful row)
        records, malformed = chunk.records, chunk.malformed
        reported = len(malformed)
        dropped = 0  # lines before q that are not rows
        cut = n
        find, end = chunk.text.find, starts[n]
        pos = find('"', starts[0], end)
        while pos >= 0:
            q = bisect_right(starts, pos) - 1  # the line the record with a quote starts on
            k = self._quoted(chunk, q)
            if k < 0:  # not a plain well-formed quoted row: the general path says what it is
                k = self._rows(chunk, q, q + 1)
            if k < 0:  # a record that runs to the end of buf unfinished
                kept[q:] = repeat(False, n - q)
                cut = q
                break
            first = q + 1 if records else q
            kept[first:k] = repeat(False, k - first)
            if records:
                placed.append((q - dropped, records.pop()))
            dropped += k - first
            pos = find('"', starts[k], end)
        rows: Sequence[int] = range(n)
        texts = None  # every line a plain row: split a slice of the chunk's text
        if placed or dropped or cut < n:
            rows = list(compress(rows, kept))
            texts = list(map(lines.__getitem__, rows))
            # Stand-ins end as the other rows do (a CR may be in a quoted field only).
            plain_at = next((i for i, (at, _) in enumerate(placed) if at != i), len(placed))
            ends_cr = texts[plain_at].endswith("\r") if plain_at < len(texts) else chunk.has_cr
            cr = "\r" if ends_cr else ""
            for at, r in placed:
                values = r.values
                texts[at] = f",{values[_DATE_COL]},,,{values[_STATUS_COL]}{_STAND_IN}{cr}"
        if rows and not self._bulk_segment(chunk, rows, texts):
            del malformed[reported:]
            return None
        out = chunk.builder
        for at, r in placed:
            values = r.values
            out.keeps[at] = values if r.text is None else r.text
            out.fields[at * STRIDE : (at + 1) * STRIDE] = values[:STRIDE]
            out.careful[at] = values
        return cut

    def _quoted(self, chunk: _Chunk, q: int) -> int:
        """Decode the well-formed row with quoted fields starting on line ``q`` (ASCII, no NUL).

        Returns the index of the line after it, having added its record, or
        -1, having added nothing, when the record is anything else (malformed,
        unfinished, a wrong field count, status or date): the general path
        then decides. The record's end is the first line end after an even
        number of quotes (a CR before it is not part of the record);
        :func:`_quoted_fields` checks and splits the rest.
        """
        lines = chunk.lines
        n = len(lines)
        k = q
        quotes = 0
        while k < n:
            quotes += lines[k].count('"')
            k += 1
            if not quotes & 1:
                break
            if k - q > _LONG_RECORD:
                return -1  # a long record: the careful path frames it at C speed
            if k < n and lines[k].count(",") > _STATUS_COL and _may_start_row(lines[k]):
                return -1  # the quote may be stray: the careful path judges
        else:
            return -1  # runs to the end of the buffer
        starts = chunk.starts
        text = chunk.text[starts[q] : starts[k] - 1]
        if text.endswith("\r"):
            text = text[:-1]
        fields = _quoted_fields(text.split('"'))
        if fields is None or len(fields) != _WIDTH:
            return -1
        status = _CANONICAL_STATUS.get(fields[_STATUS_COL])
        if status is None:
            return -1
        fields[_STATUS_COL] = status
        text_day = fields[_DATE_COL]
        if text_day != self._day_text:
            self._day_text, self._day = text_day, parse_day(text_day)
        if self._day is None:
            return -1
        record = (chunk.offset + starts[q], chunk.first_line + q, self._day, fields, text)
        chunk.records.append(tuple.__new__(Record, record))
        return k

    def _bulk_segment(
        self, chunk: _Chunk, rows: Sequence[int], texts: list[str] | None = None
    ) -> bool:
        """Like :meth:`_bulk` for the plain lines ``rows``, adding them to the :class:`Segment`.

        ``texts`` are the rows' texts (some may stand in for quoted rows);
        without them ``rows`` must be a range of adjacent lines. The
        lines are split on commas in one call; with ``STRIDE`` cells per
        row, every line holds exactly ``SCHEMA``'s number of fields exactly
        when there are ``STRIDE * rows + 1`` cells and each of the ``rows - 1``
        cells that span a line end holds one. No row is split on its own.
        """
        m = len(rows)
        starts = chunk.starts
        if texts is not None:
            text = "\n".join(texts)
        else:  # adjacent lines: one slice of the text
            assert isinstance(rows, range)
            a, b = rows.start, rows.stop
            text = chunk.text[starts[a] : starts[b] - 1]
            texts = chunk.lines[a:b]
        fields = text.split(",")
        line_end = "\n"
        if chunk.has_cr:
            # Every CR ends a line (the m - 1 inner line ends are checked below).
            if text.count("\r") != m or not text.endswith("\r"):
                return False
            line_end = "\r\n"
        if len(fields) != STRIDE * m + 1 or not all(
            map(operator.contains, fields[STRIDE:-1:STRIDE], repeat(line_end))
        ):
            return False
        if not _STATUS_TEXTS.issuperset(fields[_STATUS_COL::STRIDE]):
            return False
        # Runs of rows with one day text; a date object per run.
        ends, days_text = runs_of(fields[_DATE_COL::STRIDE])
        try:
            days = list(map(date.fromisoformat, days_text))
        except ValueError:
            return False
        del fields[-1]  # the last row's last cell: STRIDE cells per row now
        out = chunk.builder
        if self.positions:
            at = list(map(rows.__getitem__, run_firsts(ends)))  # the runs' first lines
            out.offsets += map(operator.add, map(starts.__getitem__, at), repeat(chunk.offset))
            out.lines += map(operator.add, at, repeat(chunk.first_line))
        out.add_runs(ends, days)
        if out.keeps:
            out.keeps += texts
            out.fields += fields
        else:  # the chunk's first rows: take the lists as they are
            out.keeps = texts
            out.fields = fields
        return True

    def _rows(self, chunk: _Chunk, a: int, b: int) -> int:
        """Decode row by row from line ``a`` until a record starts at or after ``b``.

        Returns the index of the line after the last record decoded, or -1
        when a record starting before ``b`` runs to the end of the buffer.
        """
        buf, offset, lines, starts = chunk.buf, chunk.offset, chunk.lines, chunk.starts
        records, malformed = chunk.records, chunk.malformed
        quote, cr, nul = chunk.quote, chunk.cr, chunk.nul
        suspect, has_cr, ascii_only = chunk.suspect, chunk.has_cr, chunk.ascii_only
        append = records.append
        new = tuple.__new__
        first_line = chunk.first_line
        canon = _CANONICAL_STATUS.get
        day_text, day = self._day_text, self._day
        mapping = self._mapping
        header = self.header
        width = len(header) if header is not None else -1
        raw: Any
        fields: list[str]
        k = a
        while k < b:
            raw = lines[k]
            pos = starts[k]
            if quote in raw or (suspect and nul in raw) or (has_cr and cr in raw[:-1]):
                # The careful path: quoted fields, stray bytes.
                result = self._slow(buf, pos, width, self._status_at)
                if result is None:  # runs to the end of buf unfinished
                    k = -1
                    break
                end, fields, reason, row_text = result
                rec = k
                k += buf.count(b"\n", pos, end)
                if reason is not None:
                    if header is None and reason in _BINARY:
                        raise TelemetryFormatError(_NOT_TEXT)
                    malformed.append(Malformed(offset + pos, first_line + rec, reason))
                    continue
                if mapping is not None:
                    row_text = None
            else:
                rec = k
                k += 1
                if ascii_only:
                    row_text = raw
                    fields = raw.split(",")
                else:
                    try:
                        row_text = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        if header is None:
                            raise TelemetryFormatError(_NOT_TEXT) from None
                        malformed.append(Malformed(offset + pos, first_line + rec, "invalid UTF-8"))
                        continue
                    fields = row_text.split(",")
                tail = fields[-1]
                if tail.endswith("\r"):
                    fields[-1] = tail = tail[:-1]
                if not tail and len(fields) == 1:
                    continue  # a blank line
                if mapping is not None:
                    row_text = None
            if len(fields) != width:
                if header is None:
                    mapping = self._mapping = header_mapping(fields)
                    header = self.header = fields
                    width = len(fields)
                else:
                    reason = _field_count_reason(fields, header)
                    malformed.append(Malformed(offset + pos, first_line + rec, reason))
                continue
            values = fields if mapping is None else [fields[j] if j >= 0 else "" for j in mapping]
            status = canon(values[_STATUS_COL])
            if status is None:
                status = values[_STATUS_COL]
                reason = (
                    "repeated header" if fields == header else f"unknown status {status[:40]!r}"
                )
                malformed.append(Malformed(offset + pos, first_line + rec, reason))
                continue
            values[_STATUS_COL] = status
            text_day = values[_DATE_COL]
            if text_day != day_text:
                day_text, day = text_day, parse_day(text_day)
            if day is None:
                reason = f"unparseable chunk_date_utc {text_day[:40]!r}"
                malformed.append(Malformed(offset + pos, first_line + rec, reason, values))
                continue
            append(new(Record, (offset + pos, first_line + rec, day, values, row_text)))
        self._day_text, self._day = day_text, day
        return k

    @property
    def _status_at(self) -> int:
        """Where the file's own header has ``status``."""
        return _STATUS_COL if self._mapping is None else self._mapping[_STATUS_COL]

    @staticmethod
    def frame(buf: bytes, *, cr_only: bool = False) -> int:
        """Return how many bytes at the start of ``buf`` are complete records.

        ``buf`` must start at a record boundary of a file whose header is
        ``SCHEMA``. Frames exactly as :meth:`decode` does (malformed records,
        stray quotes included) without decoding fields: a line with no quote
        is one record, a line with one goes through the careful path. What
        is left is an incomplete last record. ``cr_only``: the file's lines
        end in a bare CR (:attr:`cr_only`).
        """
        if cr_only:
            buf = buf.translate(_CR_AS_LF)
        chunk = _Chunk(buf, 0, 0, 1)
        lines, starts = chunk.lines, chunk.starts
        n = len(lines)
        k = 0
        while (q := chunk.next_careful(k)) < n:
            pos = starts[q]
            if chunk.quote in lines[q] or chunk.nul in lines[q] or chunk.cr in lines[q][:-1]:
                result = RecordDecoder._slow(buf, pos, _WIDTH, _STATUS_COL, decode=False)
                if result is None:
                    return pos
                k = q + buf.count(b"\n", pos, result[0])
            else:
                k = q + 1
        return starts[n]

    @staticmethod
    def _slow(
        buf: bytes, pos: int, width: int = -1, status_at: int = _STATUS_COL, decode: bool = True
    ) -> tuple[int, list[str], str | None, str | None] | None:
        """Frame one record at ``pos`` with full quote awareness.

        Returns ``(end, fields, reason, text)`` where ``reason`` is set when
        the record is malformed (then ``fields`` is empty and ``text`` None),
        or ``None`` when the record runs to the end of ``buf`` unfinished.
        Without ``decode`` only ``end`` counts (framing alone: the fields of a
        well-formed record are not split).

        A stray quote loses at most the row it is in: when the record's
        first line leaves a quote open and a later line, reached while that
        quoted field is still open (the bytes before it are complete fields
        and an open quoted field), reads on its own as the start of a row of
        the header's ``width`` (status at ``status_at``), the quote cannot
        have been meant to open a multi-line field (a traceback's lines never
        read as telemetry rows). The lines before that row are reported as
        one malformed record and reading goes on with the row. The decision
        depends only on the bytes up to the end of that line, so every reader
        makes the same one however much of the file it holds; until that line
        is complete the record is not (at the end of a file: torn). ``width``
        -1 (no header yet) turns it off.
        """
        nl = buf.find(b"\n", pos)
        m = _RECORD.match(buf, pos)
        if width > 0 and nl >= 0 and buf.count(b'"', pos, nl) & 1:
            # The line leaves a quote open. Lines that may start a row are found
            # by a C-level search (a traceback's lines almost never qualify).
            # Inside a well-formed record every line start is inside a quoted
            # field, so only the record itself is searched; otherwise each
            # candidate is checked to be still inside the open field.
            limit = len(buf) if m is None else m.end()
            for candidate in _row_start(status_at).finditer(buf, nl, limit):
                at = candidate.start() + 1
                if m is None and _PARTIAL.fullmatch(buf, pos, at) is None:
                    break  # the quoted field closed (or the record broke) before it
                row_next = _row_on_line(buf, at, width, status_at)
                if row_next is None:
                    return None  # that line is not complete yet: cannot tell
                if row_next:
                    return at, [], _STRAY_QUOTE, None
        if m is None:
            if _PARTIAL.match(buf, pos) is not None:
                return None  # more bytes may complete it (or, if final, it is torn)
            end = buf.find(b"\n", pos) + 1
            if not end:
                return None
            if b"\x00" in buf[pos:end]:
                return end, [], "NUL byte", None
            return end, [], "stray quote or carriage return outside a quoted field", None
        end = m.end()
        if not decode:
            return end, [], None, None
        raw = buf[pos : end - 1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if b"\x00" in raw:
            return end, [], "NUL byte", None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return end, [], "invalid UTF-8", None
        return end, split_fields(text), None, text


_STRAY_QUOTE = "unclosed quote (a torn or hand-edited row): its field would run over the next row"


@cache
def _row_start(status_at: int) -> re.Pattern[bytes]:
    """Lines that may start a row: plain fields up to a valid (or empty) status.

    The cheap part of :func:`_row_on_line`, as one pattern to search with.
    """
    statuses = b"|".join(re.escape(s.encode()) for s in sorted(VALID_STATUSES))
    # Anchored on the line end before it (a literal: the search skips ahead fast).
    return re.compile(rb'\n(?:[^",\r\n]*,){%d}(?:%s)?(?=,|\r?\n)' % (status_at, statuses))


def _row_on_line(buf: bytes, pos: int, width: int, status_at: int) -> bool | None:
    """Whether the line at ``pos`` reads, alone, as the start of a row of ``width`` fields.

    That is a whole well-formed row, or the first line of one whose last
    field is quoted and goes on past the line (a row with a traceback):
    complete fields before it, no more than ``width``, a valid status among
    them. The fields up to the status must be plain (no quotes), as every
    writer writes them. ``None`` when the line has no line end in ``buf``
    yet: not known.
    """
    end = buf.find(b"\n", pos)
    if end < 0:
        return None
    # Cheap first: the fields up to the status are plain, the status valid.
    cells = buf[pos:end].split(b",", status_at + 1)
    if (
        len(cells) <= status_at + 1
        or cells[status_at] not in _STATUS_BYTES
        or b'"' in buf[pos : end - len(cells[-1])]
    ):
        return False
    if _RECORD.fullmatch(buf, pos, end + 1) is not None:
        raw = buf[pos:end]
        whole = True
    elif _PARTIAL.fullmatch(buf, pos, end + 1) is not None:
        raw = buf[pos : end + 1] + b'"'  # the open field closed, to count the fields
        whole = False
    else:
        return False
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if b"\x00" in raw:
        return False
    try:
        fields = split_fields(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return False
    return len(fields) == width if whole else status_at < len(fields) - 1 <= width - 1


def _may_start_row(line: str) -> bool:
    """Whether ``line`` could start a row of ``SCHEMA`` (the cheap test of :func:`_row_on_line`)."""
    cells = line.split(",", _STATUS_COL + 1)
    return (
        len(cells) > _STATUS_COL + 1
        and cells[_STATUS_COL] in _STATUS_TEXTS
        and '"' not in line[: len(line) - len(cells[-1])]
    )


#: Every CR read as a line end (a file saved with CR-only line ends).
_CR_AS_LF = bytes.maketrans(b"\r", b"\n")


def cr_only_line_ends(buf: bytes, base: int = 0) -> bool:
    """True when the first line end in ``buf`` (from ``base``) is a bare CR.

    Such a file (saved by an old editor) ends every line so; the original
    module's reader reads it, and so does every reader here: each CR is read
    as a line end, byte for byte, so offsets stay exact. A CR at the very
    end of ``buf`` is not told yet.
    """
    cr = buf.find(b"\r", base)
    if cr < 0 or cr + 1 >= len(buf):
        return False
    lf = buf.find(b"\n", base, cr)
    return lf < 0 and buf[cr + 1] != 0x0A


def close_off(torn: bytes) -> bytes:
    """Return the bytes that end the torn record ``torn`` so nothing can join it.

    ``torn`` is everything after the last complete record. The result closes
    an open quoted field if the cut was inside one, then adds ``TORN_MARK`` and
    a line end, so the torn record is one malformed record for every reader. A
    record cut only before its final ``\\n`` is completed instead.
    """
    if not torn:
        return b""
    if _PARTIAL.match(torn) is not None:
        if torn.count(b'"') % 2:
            return b'"' + _CLOSE_OFF
        if torn.endswith(b"\r"):
            return b"\n"
    return _CLOSE_OFF


_CLOSE_OFF = (TORN_MARK + "\r\n").encode()


def _field_count_reason(fields: list[str], header: list[str]) -> str:
    if len(fields) > len(header) and all(not f for f in fields[-_WIDTH:]):
        return "torn record (closed off by a later write)"
    return f"expected {len(header)} fields, found {len(fields)}"


_pause_lock = threading.Lock()
_pause_depth = 0  # cold loads running now, in any thread
_pause_restore = False  # whether the collector was on when the first began


@contextmanager
def cold_load() -> Iterator[None]:
    """Pause the cyclic garbage collector while a whole file is decoded.

    A cold load allocates millions of small objects that live on (the
    latest rows); each allocation burst would trigger a collection that
    walks all of them again. None of them form cycles, so collecting is
    pure overhead. Cold loads may overlap (threads, nesting): the collector
    is restored, if it was on, when the last one ends.

    Before it is, the objects allocated meanwhile are moved to the oldest
    generation (``gc.freeze()`` then ``gc.unfreeze()``: two constant-time
    list moves), so the first collection afterwards does not walk them all
    as young objects (0.1 s after a 1M-row load). Skipped when the process
    keeps objects frozen on purpose (``gc.get_freeze_count()`` is not 0).
    """
    global _pause_depth, _pause_restore
    with _pause_lock:
        if _pause_depth == 0:
            _pause_restore = gc.isenabled()
            gc.disable()
        _pause_depth += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause_depth -= 1
            if _pause_depth == 0 and _pause_restore:
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


def read_batches(
    fh: BinaryIO,
    chunk_size: int = CHUNK_SIZE,
    decoder: RecordDecoder | None = None,
    *,
    start: int = 0,
) -> Iterator[Batch]:
    """Decode a whole file from its start, one :class:`Batch` per chunk.

    ``consumed`` of each batch is relative to the file, not the chunk: the
    last batch's ``consumed`` is the file size. An incomplete final record is
    reported as torn. Raises :class:`TelemetryFormatError` for a file whose
    header is not a telemetry header. With ``start``, ``fh`` stands at that
    byte offset, a record's first byte, and ``decoder`` knows the header
    (:meth:`RecordDecoder.adopt_header`).
    """
    decoder = decoder or RecordDecoder()
    offset = start
    pending = b""
    while True:
        chunk = fh.read(next_read(chunk_size, pending))
        buf = pending + chunk if pending else chunk
        final = not chunk
        batch = decoder.decode(buf, offset, final=final)
        offset += batch.consumed
        pending = buf[batch.consumed :]
        yield batch._replace(consumed=offset)
        if final:
            return


def next_read(chunk_size: int, pending: bytes) -> int:
    """How much to read next when ``pending`` bytes of an unfinished record are held.

    At least as much as the record holds so far: the buffer it is decoded
    in then doubles from one try to the next, so a record far longer than a
    chunk (a 20 MB traceback) is scanned a bounded number of times in all,
    not once per chunk (which is quadratic in its length).
    """
    return max(chunk_size, len(pending))
