"""Turn the bytes of a telemetry file into rows: the one record decoder.

Every reader in the project (``load_state``, ``iter_rows``, the cold load, the
live tail, ``check``, the writer's torn-tail check) goes through
:class:`RecordDecoder`, so there is exactly one definition of what a record
is and of what makes one malformed. The flow, one module a step:

* :mod:`telemetry.framing`: where a record ends (RFC 4180 on bytes), torn
  tails, stray quotes, CR-only files;
* :mod:`telemetry.fields`: a record's fields and the reasons it is no row;
* this module: the decoder that runs them over a file, chunk by chunk, with
  its bulk paths (whole runs of plain rows split at once, held equal to the
  plain reference in ``tests/reference.py`` by a property test);
* :mod:`telemetry.segments`: the rows as columns, for the cold loads' folds.
"""

from __future__ import annotations

import gc
import operator
import os
import threading
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from itertools import accumulate, compress, repeat
from typing import Any, BinaryIO, NamedTuple

from .fields import (
    BINARY_REASONS,
    CANONICAL_STATUS,
    DATE_COL,
    NOT_TEXT,
    STATUS_COL,
    STATUS_TEXTS,
    WIDTH,
    Malformed,
    Record,
    TelemetryFormatError,
    field_count_reason,
    header_mapping,
    parse_day,
    quoted_fields,
)
from .framing import (
    BOM,
    CHUNK_SIZE,
    CR_AS_LF,
    FrameMemo,
    bare_cr_rows,
    close_off,
    cr_only_line_ends,
    frame_record,
    has_bare_cr,
    may_start_row,
    next_read,
)
from .schema import COLUMN, SCHEMA
from .segments import STRIDE, Segment, SegmentBuilder, keep_of, run_firsts, runs_of

_ONLY_WIDTH = {WIDTH}
_STARTED_COL = COLUMN["started_at_utc"]
# The cells after the status of a plain line that stands in for a quoted row
# in a bulk split (its own cells replace them).
_STAND_IN = "," * (WIDTH - 1 - STATUS_COL)

#: Lines of a quoted record past which the one-split path leaves it to the
#: careful path (whose regular expressions frame it without Python per line).
_LONG_RECORD = 64


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


class _Chunk:
    """One buffer being decoded: its lines, where each starts, and the results."""

    def __init__(self, buf: bytes, offset: int, base: int, first_line: int) -> None:
        self.buf = buf
        self.offset = offset
        self.first_line = first_line
        self.records: list[Record] = []
        self.segments: list[Segment] = []
        self.builder = SegmentBuilder()
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
        # The header is a prefix of SCHEMA (an older file): rows that hold
        # every SCHEMA column are rows too (the original module writes them so).
        self._whole_rows = False
        #: Where the record after the header starts (when the header was read
        #: here, not adopted).
        self.header_end = 0
        self._line = 1
        #: The file ends its lines with a bare CR (saved by an old editor):
        #: each CR is read as a line end. Told by the header's line end.
        self.cr_only = False
        # Rows of one day are usually adjacent: remember the last date parsed.
        self._day_text = ""
        self._day: date | None = None
        # How far framing got in a record that ran to the end of a buffer.
        self._memo = FrameMemo()

    def adopt_header(self, header: list[str] | None, line: int = 1, cr_only: bool = False) -> None:
        """Start mid-file: decode as if ``header`` had been read already.

        ``line`` is the physical line number of the first byte to be decoded;
        ``cr_only`` what :attr:`cr_only` was for the file's header.
        """
        self._line = line
        self.cr_only = cr_only
        self._set_header(header)

    def _set_header(self, header: list[str] | None) -> None:
        self.header = header
        self._mapping = None if header is None else header_mapping(header)
        self._whole_rows = (
            self._mapping is not None and tuple(header or ()) == SCHEMA[: len(header or ())]
        )

    def forget_unfinished(self) -> None:
        """Forget how far framing got in an unfinished record (its bytes are gone)."""
        self._memo = FrameMemo()

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
        if self.header is not None:
            return self._decode(buf, offset, final)
        records, malformed, done = self._learn_header(buf, offset)
        if not done:
            return self._decode(buf, offset, final)
        rest = self._decode(buf[done:], offset + done, final)
        return rest._replace(
            records=records + rest.records,
            malformed=malformed + rest.malformed,
            consumed=done + rest.consumed,
        )

    def _learn_header(self, buf: bytes, offset: int) -> tuple[list[Record], list[Malformed], int]:
        """Decode ``buf`` line by line until the header is known.

        Returns what was found before it and how many bytes were decoded, so
        the rows after the header are decoded knowing it (in one buffer as
        across many). Tells :attr:`cr_only` first.
        """
        base = len(BOM) if offset == 0 and buf.startswith(BOM) else 0
        if not self.cr_only:
            self.cr_only = cr_only_line_ends(buf, base)
        ends = buf.translate(CR_AS_LF) if self.cr_only else buf
        records: list[Record] = []
        malformed: list[Malformed] = []
        done = 0
        while self.header is None:
            nl = ends.find(b"\n", done or base)
            if nl < 0:
                break
            part = self._decode(buf[done : nl + 1], offset + done, False)
            records += part.records
            malformed += part.malformed
            done += part.consumed
            if done != nl + 1:
                break  # a record over several lines: decoded with the rest
        if self.header is not None:
            self.header_end = offset + done
        return records, malformed, done

    def _decode(self, buf: bytes, offset: int, final: bool) -> Batch:
        base = len(BOM) if offset == 0 and buf.startswith(BOM) else 0
        as_read = True
        # A CR in a chunk of a known header may be bare (not before an LF).
        # Where the chunk is to be decoded in one split, that split proves
        # every CR of its plain rows ends a line, so only the careful
        # records' bytes are searched (:meth:`_one_split`); elsewhere the
        # whole chunk is searched first.
        cr_unchecked = self.header is not None and not self.cr_only and b"\r" in buf
        if cr_unchecked and not self._may_split_once(buf, offset + base, final):
            cr_unchecked = False
            if has_bare_cr(buf):
                buf = bare_cr_rows(buf, self._status_at, self._date_at, final=final)
                as_read = False
        if self.cr_only:
            buf = buf.translate(CR_AS_LF)  # same length: offsets stay exact
            as_read = False
        if self._memo.at == offset + base and self.header is not None and not final:
            # The buffer opens with the long record the last call could not
            # finish: frame its new bytes alone; while it goes on, nothing
            # else in the buffer is looked at (not even split into lines).
            memo, at, width = self._memo, offset + base, len(self.header)
            status_at, date_at = self._status_at, self._date_at
            ahead = frame_record(
                buf,
                base,
                width,
                status_at,
                date_at=date_at,
                memo=memo,
                at=at,
                whole_width=self._whole_width,
            )
            if ahead is None:
                return Batch([], [], base)
            memo.keep_result(at, ahead)  # for the careful path, at once
            first_nl = buf.find(b"\n", base)
            if as_read and 0 <= first_nl < ahead[0] - 1:
                return self._decode_long(buf, offset, base, first_nl, ahead[0], final)
        # Pure ASCII (the usual case) is split as text in one go; otherwise
        # each line is decoded alone so invalid UTF-8 spoils only its own row.
        chunk = _Chunk(buf, offset, base, self._line)
        # Lines that need the careful path: quoted fields (or, in a chunk with
        # NUL bytes, every line). When the header is SCHEMA itself the other
        # lines are decoded in bulk: for segments, all of them in one split
        # if they are all well-formed, else run by run between careful lines.
        bulk = chunk.ascii_only and self._mapping is None and self.header is not None
        one_split = self.segments and bulk and not chunk.suspect
        cut = self._one_split(chunk, cr_unchecked) if one_split else None
        if cut is None and cr_unchecked:
            # The one split failed, or met a bare CR: the chunk is decoded
            # again, searched first (framing may have read its bytes as they
            # were: it starts afresh).
            self.forget_unfinished()
            if has_bare_cr(buf):
                buf = bare_cr_rows(buf, self._status_at, self._date_at, final=final)
            chunk = _Chunk(buf, offset, base, self._line)
        if cut is None:
            cut = self._run_by_run(chunk, bulk)
        # Every complete line, unless a record runs to the end of buf unfinished.
        consumed = chunk.starts[cut]
        newlines = cut  # line ends in buf[:consumed]
        line_no = self._line + newlines
        if final and consumed < len(buf) and close_off(buf[consumed:]) == b"\n":
            # Cut just before its final LF: read as the writer will complete it.
            self._line = line_no
            rest = self._decode(buf[consumed:] + b"\n", offset + consumed, True)
            if self.segments and chunk.builder.keeps:
                chunk.segments.append(chunk.builder.segment())
            return Batch(
                chunk.records + rest.records,
                chunk.malformed + rest.malformed,
                len(buf),
                [*chunk.segments, *rest.segments],
            )
        if final and consumed < len(buf):
            reason = "torn final record (no line end)"
            chunk.malformed.append(Malformed(offset + consumed, line_no, reason))
            line_no += buf.count(b"\n", consumed)
            consumed = len(buf)
        self._line = line_no
        if self.segments and chunk.builder.keeps:
            chunk.segments.append(chunk.builder.segment())
        return Batch(chunk.records, chunk.malformed, consumed, chunk.segments)

    def _decode_long(
        self, buf: bytes, offset: int, base: int, first_nl: int, end: int, final: bool
    ) -> Batch:
        """:meth:`_decode` of a buffer that opens with a long record framed at last
        (kept in the memo), ending at ``end``: the record alone, then the rest.

        Only the record's first line is made a chunk line: its other lines
        (a traceback's thousands) are never split or visited.
        """
        chunk = _Chunk(buf[: first_nl + 1], offset, base, self._line)
        self._rows(chunk, 0, 1)  # the careful path takes the memo's result
        if self.segments:
            chunk.builder.add_records(chunk.records, self.positions)
            if chunk.builder.keeps:
                chunk.segments.append(chunk.builder.segment())
        self._line += buf.count(b"\n", base, end)
        rest = self._decode(buf[end:], offset + end, final)
        return Batch(
            chunk.records + rest.records,
            chunk.malformed + rest.malformed,
            end + rest.consumed,
            [*chunk.segments, *rest.segments],
        )

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
        texts = plain = chunk.lines[a:b]
        if chunk.has_cr:
            plain = list(map(str.removesuffix, texts, repeat("\r")))
            if any(map(operator.contains, plain, repeat("\r"))):
                return False  # a stray CR
        rows = list(map(str.split, plain, repeat(",")))
        if set(map(len, rows)) != _ONLY_WIDTH:
            return False
        columns = list(zip(*rows, strict=True))
        if not STATUS_TEXTS.issuperset(columns[STATUS_COL]):
            return False
        try:
            days = list(map(date.fromisoformat, columns[DATE_COL]))
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

    def _may_split_once(self, buf: bytes, at: int, final: bool) -> bool:
        """Whether :meth:`_decode` may decode ``buf`` (starting at file offset
        ``at``) in one split: segments of ``SCHEMA`` rows, ASCII, no NUL, no
        long record framed before."""
        return (
            self.segments
            and self._mapping is None
            and (self._memo.at != at or final)
            and buf.isascii()
            and b"\x00" not in buf
        )

    def _one_split(self, chunk: _Chunk, cr_unchecked: bool = False) -> int | None:
        """Decode a whole chunk (no NUL bytes) with one split of its lines (``segments`` decoding).

        The records with quoted fields are decoded one by one first, found
        by searching for quotes from the end of the record before, and each
        stands in the split as a plain stand-in line with its date and
        status, whose cells are then replaced by the record's. Returns the
        index of the line where a record runs to the end of the buffer
        unfinished (else the number of lines), or ``None``, having decoded
        nothing, when a plain line is not a well-formed row: the run-by-run
        path then takes over. With ``cr_unchecked`` (the chunk has a CR,
        not searched for bare ones yet), also ``None`` when a careful record
        or the bytes held back hold a bare CR: a plain row holds none once it
        is split.
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
            if cr_unchecked and has_bare_cr(chunk.buf, starts[q], starts[k]):
                del malformed[reported:]
                return None
            first = q + 1 if records else q
            kept[first:k] = repeat(False, k - first)
            if records:
                placed.append((q - dropped, records.pop()))
            dropped += k - first
            pos = find('"', starts[k], end)
        if cr_unchecked and has_bare_cr(chunk.buf, starts[cut]):
            del malformed[reported:]
            return None  # in the bytes held back (which the search would have changed)
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
                texts[at] = f",{values[DATE_COL]},,,{values[STATUS_COL]}{_STAND_IN}{cr}"
        if rows and not self._bulk_segment(chunk, rows, texts):
            del malformed[reported:]
            return None
        out = chunk.builder
        for at, r in placed:
            values = r.values
            out.keeps[at] = keep_of(r)
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
        :func:`quoted_fields` checks and splits the rest.
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
            if k < n and lines[k].count(",") > STATUS_COL and may_start_row(lines[k]):
                return -1  # the quote may be stray: the careful path judges
        else:
            return -1  # runs to the end of the buffer
        starts = chunk.starts
        text = chunk.text[starts[q] : starts[k] - 1]
        if text.endswith("\r"):
            text = text[:-1]
        fields = quoted_fields(text.split('"'))
        if fields is None or len(fields) != WIDTH:
            return -1
        status = CANONICAL_STATUS.get(fields[STATUS_COL])
        if status is None:
            return -1
        fields[STATUS_COL] = status
        text_day = fields[DATE_COL]
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
        if chunk.has_cr and "\r" in text:
            # Every CR ends a line (the m - 1 inner line ends are checked below).
            if text.count("\r") != m or not text.endswith("\r"):
                return False
            line_end = "\r\n"
        if len(fields) != STRIDE * m + 1 or not all(
            map(operator.contains, fields[STRIDE:-1:STRIDE], repeat(line_end))
        ):
            return False
        if not STATUS_TEXTS.issuperset(fields[STATUS_COL::STRIDE]):
            return False
        # Runs of rows with one day text; a date object per run.
        ends, days_text = runs_of(fields[DATE_COL::STRIDE])
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
        canon = CANONICAL_STATUS.get
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
                result = frame_record(
                    buf,
                    pos,
                    width,
                    self._status_at,
                    date_at=self._date_at,
                    memo=self._memo,
                    at=offset + pos,
                    whole_width=self._whole_width,
                )
                if result is None:  # runs to the end of buf unfinished
                    k = -1
                    break
                end, fields, reason, row_text = result
                rec = k
                k += buf.count(b"\n", pos, end)
                if reason is not None:
                    if header is None and reason in BINARY_REASONS:
                        raise TelemetryFormatError(NOT_TEXT)
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
                            raise TelemetryFormatError(NOT_TEXT) from None
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
            if len(fields) == width:
                values = (
                    fields if mapping is None else [fields[j] if j >= 0 else "" for j in mapping]
                )
            elif header is None:
                self._set_header(fields)
                header, mapping, width = fields, self._mapping, len(fields)
                continue
            elif len(fields) == WIDTH and self._whole_rows and any(fields):
                values = fields  # every column, under an older header
            else:
                reason = field_count_reason(fields, header)
                malformed.append(Malformed(offset + pos, first_line + rec, reason))
                continue
            status = canon(values[STATUS_COL])
            if status is None:
                status = values[STATUS_COL]
                reason = (
                    "repeated header" if fields == header else f"unknown status {status[:40]!r}"
                )
                malformed.append(Malformed(offset + pos, first_line + rec, reason))
                continue
            values[STATUS_COL] = status
            text_day = values[DATE_COL]
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
    def _whole_width(self) -> int:
        """The field count of a whole row under an older header (0: none)."""
        return WIDTH if self._whole_rows else 0

    @property
    def _status_at(self) -> int:
        """Where the file's own header has ``status``."""
        return STATUS_COL if self._mapping is None else self._mapping[STATUS_COL]

    @property
    def _date_at(self) -> int:
        """Where the file's own header has ``chunk_date_utc``."""
        return DATE_COL if self._mapping is None else self._mapping[DATE_COL]

    @staticmethod
    def frame(
        buf: bytes, *, cr_only: bool = False, memo: FrameMemo | None = None, offset: int = 0
    ) -> int:
        """Return how many bytes at the start of ``buf`` are complete records.

        ``buf`` must start at a record boundary of a file whose header is
        ``SCHEMA``. Frames exactly as :meth:`decode` does (malformed records,
        stray quotes included) without decoding fields: a line with no quote
        is one record, a line with one goes through the careful path. What
        is left is an incomplete last record. ``cr_only``: the file's lines
        end in a bare CR (:attr:`cr_only`); otherwise a bare CR before a row
        ends a line, as in :meth:`decode`. A caller that offers an
        unfinished record again with more bytes passes the same ``memo`` and
        where ``buf`` starts in the file (``offset``): each byte of a long
        record is then scanned about once (:class:`FrameMemo`).
        """
        if cr_only:
            buf = buf.translate(CR_AS_LF)
        elif has_bare_cr(buf):
            return _frame_lines(bare_cr_rows(buf, STATUS_COL, DATE_COL), memo, offset)
        if b"\x00" in buf:
            return _frame_lines(buf, memo, offset)
        # Every CR ends a line: a line with no quote is one record. Only the
        # lines with a quote are framed, found by searching for the next
        # quote (the lines of a long record are never split or visited).
        end = buf.rfind(b"\n") + 1
        pos = 0
        while (q := buf.find(b'"', pos, end)) >= 0:
            line = buf.rfind(b"\n", pos, q) + 1 or pos
            result = frame_record(
                buf, line, WIDTH, STATUS_COL, decode=False, memo=memo, at=offset + line
            )
            if result is None:
                return line
            pos = result[0]
        return end


def _frame_lines(buf: bytes, memo: FrameMemo | None, offset: int) -> int:
    """:meth:`RecordDecoder.frame` line by line (a buffer with NUL bytes or bare CRs)."""
    chunk = _Chunk(buf, 0, 0, 1)
    lines, starts = chunk.lines, chunk.starts
    n = len(lines)
    k = 0
    while (q := chunk.next_careful(k)) < n:
        pos = starts[q]
        if chunk.quote in lines[q] or chunk.nul in lines[q] or chunk.cr in lines[q][:-1]:
            result = frame_record(
                buf, pos, WIDTH, STATUS_COL, decode=False, memo=memo, at=offset + pos
            )
            if result is None:
                return pos
            k = q + buf.count(b"\n", pos, result[0])
        else:
            k = q + 1
    return starts[n]


def read_header(head: bytes) -> tuple[list[str] | None, int, bool]:
    """The header in ``head`` (a file's first bytes), where the record after it starts,
    and whether the file's lines end in a bare CR.

    Found as every reader finds it (blank lines and malformed records before
    it are passed over); ``None`` when ``head`` holds no complete header
    record. Raises :class:`TelemetryFormatError` when the file is not a
    telemetry CSV.
    """
    decoder = RecordDecoder()
    decoder._learn_header(head, 0)
    return decoder.header, decoder.header_end, decoder.cr_only


_pause_lock = threading.Lock()
_pause_depth = 0  # cold loads running now, in any thread
_pause_restore = False  # whether the collector was on when the first began


def _pause_anew() -> None:
    """In a forked child: a lock of its own (another thread of the parent may
    have held it), no cold load running (only the forking thread goes on)."""
    global _pause_lock, _pause_depth
    _pause_lock, _pause_depth = threading.Lock(), 0


os.register_at_fork(after_in_child=_pause_anew)


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
    stop: int | None = None,
) -> Iterator[Batch]:
    """Decode a whole file from its start, one :class:`Batch` per chunk.

    ``consumed`` of each batch is relative to the file, not the chunk: the
    last batch's ``consumed`` is the file size. An incomplete final record is
    reported as torn. Raises :class:`TelemetryFormatError` for a file whose
    header is not a telemetry header. With ``start``, ``fh`` stands at that
    byte offset, a record's first byte, and ``decoder`` knows the header
    (:meth:`RecordDecoder.adopt_header`). With ``stop``, reads go no further
    than that offset and end there, with no final batch, if a record ends
    there (every byte before it consumed); else they go on to the end.
    """
    decoder = decoder or RecordDecoder()
    offset = start
    pending = b""
    while True:
        want = next_read(chunk_size, pending)
        if stop is not None:
            left = stop - offset - len(pending)
            if left <= 0 and not pending:
                return
            if left <= 0:  # a record runs on past it
                stop = None
            else:
                want = min(want, left)
        chunk = fh.read(want)
        buf = pending + chunk if pending else chunk
        final = not chunk
        batch = decoder.decode(buf, offset, final=final)
        offset += batch.consumed
        pending = buf[batch.consumed :]
        yield batch._replace(consumed=offset)
        if final:
            return
