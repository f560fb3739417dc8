"""Framing records on bytes: where a record ends, torn tails, stray quotes, CR-only files.

A *record* is one CSV row per RFC 4180: fields separated by commas, ended by
``\\n`` or ``\\r\\n``; a field in double quotes may hold commas, quotes (as
``""``) and line ends. Framing happens on bytes, so byte offsets are exact and
a cut inside a multi-byte character or inside a quoted multi-line field is
simply "not complete yet". Two rules go beyond RFC 4180, both documented in
the README: a stray quote loses at most its own row, and a file whose lines
end in a bare CR is read with each CR as a line end.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import cache

from .fields import DATE_COL, STATUS_BYTES, STATUS_COL, parse_day, split_fields
from .schema import SCHEMA, VALID_STATUSES

BOM = b"\xef\xbb\xbf"

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
# For resuming a record cut inside a quoted field (FrameMemo): the complete
# fields and the opening quote of the open one; what follows a closing quote.
_OPEN_PREFIX = re.compile(rb"(?:" + _FIELD + rb',)*"')
_REST = re.compile(rb"(?:," + _FIELD + rb")*\r?\n")


class FrameMemo:
    """How far framing got in a record that ran to the end of the buffer.

    A record of a 20 MB traceback arrives across many reads. The first try
    leaves here where its open quoted field's content had been scanned to
    and where the stray-quote search stands; the next try, offered the same
    bytes and more, scans only what is new (as h11 keeps its receive
    buffer), so each byte of a long record is scanned about once. The memo
    is tied to the record's position in the file (``at``) and checked
    against the bytes it stopped at, so a memo offered the wrong bytes is
    ignored, never trusted.
    """

    __slots__ = ("at", "check", "done", "done_at", "odd", "safe", "searched")

    def __init__(self) -> None:
        self.at = -1  # where the record starts in the file (-1: nothing kept)
        self.safe = 0  # bytes of the record that are fields, then open quoted content
        self.searched = 0  # the record's bytes searched for row starts (a line end)
        #: Its first line leaves a quote open (stray quotes matter); ``None``
        #: while that line is not complete.
        self.odd: bool | None = False
        self.check = b""  # the bytes just before ``safe``
        self.done_at = -1  # where the record framed last is (see keep_result)
        self.done: Framed | None = None

    def keep_result(self, at: int, result: Framed) -> None:
        """Keep the result of framing the record at file offset ``at``, for the next
        :func:`frame_record` of it (once)."""
        self.done_at, self.done = at, result

    def clear(self) -> None:
        """Forget the record."""
        self.at = -1

    def holds(self, buf: bytes, pos: int, at: int) -> bool:
        """True if it was kept for the record at file offset ``at``, at ``buf[pos]``."""
        if self.at != at or self.at < 0:
            return False
        end = pos + self.safe
        return end <= len(buf) and buf[end - len(self.check) : end] == self.check


#: What :func:`frame_record` returns: ``(end, fields, reason, text)``, or
#: ``None`` for a record that runs to the end of the buffer unfinished.
Framed = tuple[int, list[str], str | None, str | None]


def frame_record(
    buf: bytes,
    pos: int,
    width: int = -1,
    status_at: int = STATUS_COL,
    decode: bool = True,
    date_at: int = DATE_COL,
    memo: FrameMemo | None = None,
    at: int = 0,
    whole_width: int = 0,
) -> Framed | None:
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
    the header's ``width`` (status at ``status_at``, the day at
    ``date_at``), the quote cannot
    have been meant to open a multi-line field (a traceback's lines never
    read as telemetry rows). The lines before that row are reported as
    one malformed record and reading goes on with the row. The decision
    depends only on the bytes up to the end of that line, so every reader
    makes the same one however much of the file it holds; until that line
    is complete the record is not (at the end of a file: torn). ``width``
    -1 (no header yet) turns it off. ``whole_width``: a row of that many
    fields is a row too (every ``SCHEMA`` column under an older header).

    ``memo`` (with ``at``, where ``buf[pos]`` is in the file) makes a
    record that runs to the end of ``buf`` cheap to try again with more
    bytes (:class:`FrameMemo`); the result is the same with or without it.
    """
    if memo is not None and memo.done_at >= 0:
        done_at, done = memo.done_at, memo.done
        memo.done_at, memo.done = -1, None
        if done_at == at and done is not None:
            return done
    if memo is not None and memo.holds(buf, pos, at):
        handled, result = _resume(buf, pos, (width, whole_width), status_at, decode, date_at, memo)
        if handled:
            return result
    elif memo is not None:
        memo.clear()
    nl = buf.find(b"\n", pos)
    odd = nl >= 0 and buf.count(b'"', pos, nl) & 1
    # A first line that leaves a quote open starts a multi-line record (a
    # traceback): framed field by field, each quoted field's end found in C,
    # rather than by the pattern, which steps through every byte of it.
    m_end = _record_end(buf, pos) if odd else _matched_end(buf, pos)
    if width > 0 and odd:
        # The line leaves a quote open. Lines that may start a row are found
        # by a C-level search (a traceback's lines almost never qualify).
        # Inside a well-formed record every line start is inside a quoted
        # field, so only the record itself is searched; otherwise each
        # candidate is checked to be still inside the open field.
        limit = len(buf) if m_end is None else m_end
        for candidate in _row_starts(buf, nl, limit, status_at):
            line_at = candidate.start() + 1
            if m_end is None and _PARTIAL.fullmatch(buf, pos, line_at) is None:
                break  # the quoted field closed (or the record broke) before it
            row_next = _row_on_line(buf, line_at, (width, whole_width), status_at, date_at)
            if row_next is None:
                # That line is not complete yet: cannot tell.
                _remember(buf, pos, at, memo, candidate.start())
                return None
            if row_next:
                return line_at, [], _STRAY_QUOTE, None
    if m_end is None:
        if _PARTIAL.match(buf, pos) is not None:
            # More bytes may complete it (or, if final, it is torn).
            _remember(buf, pos, at, memo, buf.rfind(b"\n", pos))
            return None
        cr = buf.rfind(b"\r", pos)
        if cr > pos and b"\n" not in buf[cr:] and _PARTIAL.fullmatch(buf, pos, cr + 1):
            # A bare CR with the line after it unfinished: it ends this record
            # if a row starts there (:func:`bare_cr_rows`): cannot tell yet.
            return None
        end = buf.find(b"\n", pos) + 1
        if not end:
            return None
        if b"\x00" in buf[pos:end]:
            return end, [], "NUL byte", None
        return end, [], "stray quote or carriage return outside a quoted field", None
    return _framed(buf, pos, m_end, decode)


def _matched_end(buf: bytes, pos: int) -> int | None:
    """Where the well-formed record at ``buf[pos]`` ends (after its line end), if it is one."""
    m = _RECORD.match(buf, pos)
    return None if m is None else m.end()


_PLAIN_FIELD = re.compile(_PLAIN)


def _record_end(buf: bytes, pos: int) -> int | None:
    """:func:`_matched_end`, field by field: a quoted field's end is found by
    :func:`_content_end` (C-level searches), a plain one by a short match."""
    size = len(buf)
    plain = _PLAIN_FIELD.match
    while True:
        if buf[pos : pos + 1] == b'"':
            pos = _content_end(buf, pos + 1) + 1
            if pos > size:
                return None
        else:
            pos = plain(buf, pos).end()  # type: ignore[union-attr] # matches the empty text
        after = buf[pos : pos + 1]
        if after == b",":
            pos += 1
        elif after == b"\n":
            return pos + 1
        elif after == b"\r" and buf[pos + 1 : pos + 2] == b"\n":
            return pos + 2
        else:
            return None


def _framed(buf: bytes, pos: int, end: int, decode: bool) -> Framed:
    """The result of :func:`frame_record` for the well-formed record ``buf[pos:end]``."""
    if not decode:
        return end, [], None, None
    stop = end - 1
    if stop > pos and buf[stop - 1] == 0x0D:  # a CR before the LF: not in the text
        stop -= 1
    if buf.find(b"\x00", pos, stop) >= 0:
        return end, [], "NUL byte", None
    try:  # decoded in place: a long record is not copied first
        text = str(memoryview(buf)[pos:stop], "utf-8")
    except UnicodeDecodeError:
        return end, [], "invalid UTF-8", None
    return end, split_fields(text), None, text


#: The first window :func:`_content_end` blanks out pairs in (it doubles).
_CONTENT_WINDOW = 4096
#: Quotes :func:`_content_end` steps over one by one before it blanks out pairs.
_STEPPED_QUOTES = 8


def _content_end(buf: bytes, start: int) -> int:
    """Where the content of a quoted field from ``buf[start]`` on ends: at the first
    quote that is not half of an escaped pair (``""``), else at ``len(buf)``.

    A last lone quote may be half of a pair whose other half is not read
    yet: it is where the content ends, for the caller to judge. A few
    quotes are stepped over with ``find``; a quote-dense field (a
    traceback quoting file names) has its pairs blanked out, which keeps
    every offset, and is searched in C, in windows that double (so a short
    field at the start of a big buffer copies little of it).
    """
    find = buf.find
    for _ in range(_STEPPED_QUOTES):
        quote = find(b'"', start)
        if quote < 0:
            return len(buf)
        if buf[quote + 1 : quote + 2] != b'"':
            return quote
        start = quote + 2
    size, window = len(buf), _CONTENT_WINDOW
    while True:  # windows that double: a field is not copied with the whole buffer
        end = min(size, start + window)
        rest = buf[start:end].replace(b'""', b"  ").find(b'"')
        if rest < 0:
            if end == size:
                return size
            start = end  # every quote in the window was half of a pair in it
        elif start + rest < end - 1 or end == size:
            return start + rest
        else:  # a lone quote at the window's last byte: maybe half of a pair
            start += rest
        window *= 2


def whole_record(raw: bytes) -> str | None:
    """The text (without its line end) of ``raw`` if it is exactly one well-formed
    record of UTF-8 text, else ``None``."""
    if _RECORD.fullmatch(raw) is None:
        return None
    result = _framed(raw, 0, len(raw), True)
    return result[3]


def _remember(buf: bytes, pos: int, at: int, memo: FrameMemo | None, searched: int) -> None:
    """Keep in ``memo`` how far a record cut inside a quoted field was framed.

    Only when the cut is inside a quoted field (the long case: a traceback);
    ``searched`` is the line end from which row starts are still to be
    looked for (-1: none in the record yet).
    """
    if memo is None:
        return
    memo.clear()
    opening = _OPEN_PREFIX.match(buf, pos)
    if opening is None:
        return
    safe = _content_end(buf, opening.end())
    if safe < len(buf) - 1 or (safe == len(buf) - 1 and buf[safe] != 0x22):
        return  # the field closes in buf after all: not the case kept
    nl = buf.find(b"\n", pos)
    memo.at, memo.safe = at, safe - pos
    memo.odd = None if nl < 0 else bool(buf.count(b'"', pos, nl) & 1)
    memo.searched = max(searched - pos, 0)
    memo.check = buf[max(safe - 16, pos) : safe]


def _resume(
    buf: bytes,
    pos: int,
    widths: tuple[int, int],
    status_at: int,
    decode: bool,
    date_at: int,
    memo: FrameMemo,
) -> tuple[bool, Framed | None]:
    """:func:`frame_record` from where ``memo`` left off: ``(True, its result)``,
    or ``(False, None)`` when the general path must decide.

    The bytes up to ``memo.safe`` are complete fields and the content of an
    open quoted field: only the rest is scanned, for the field's closing
    quote and, when the first line left a quote open, for lines that read
    as the start of a row (from ``memo.searched``).
    """
    size = len(buf)
    close = _content_end(buf, pos + memo.safe)
    if close == size or (close == size - 1 and buf[close] == 0x22):
        limit, end = size, -1  # still open (a last lone quote may be half of a pair)
    else:  # the field closes at ``close``: what follows must end the record
        rest = _REST.match(buf, close + 1)
        if rest is None:
            memo.clear()
            return False, None  # more fields, a torn or a malformed end: the general path
        limit = end = rest.end()
    if memo.odd is None:  # the first line was not complete: is it now?
        nl = buf.find(b"\n", pos, limit)
        if nl >= 0:
            memo.odd = bool(buf.count(b'"', pos, nl) & 1)
            memo.searched = nl - pos
    if memo.odd and widths[0] > 0:
        for candidate in _row_starts(buf, pos + memo.searched, limit, status_at):
            line_at = candidate.start() + 1
            row_next = _row_on_line(buf, line_at, widths, status_at, date_at)
            if row_next is None:  # not complete yet (only while the field is open)
                memo.searched = candidate.start() - pos
                return True, None
            if row_next:
                memo.clear()
                return True, (line_at, [], _STRAY_QUOTE, None)
        last_nl = buf.rfind(b"\n", pos + memo.searched, limit)
        if last_nl >= 0:
            memo.searched = last_nl - pos
    if end < 0:
        memo.safe = close - pos
        memo.check = buf[max(close - 16, pos) : close]
        return True, None
    memo.clear()
    return True, _framed(buf, pos, end, decode)


_STRAY_QUOTE = "unclosed quote (a torn or hand-edited row): its field would run over the next row"


@cache
def _row_start(status_at: int) -> re.Pattern[bytes]:
    """Lines that may start a row: plain fields up to a valid status (not an empty one).

    The cheap part of :func:`_row_on_line`, as one pattern to search with.
    """
    statuses = b"|".join(re.escape(s.encode()) for s in sorted(VALID_STATUSES))
    # Anchored on the line end before it (a literal: the search skips ahead fast).
    return re.compile(rb'\n(?:[^",\r\n]*,){%d}(?:%s)(?=,|\r?\n)' % (status_at, statuses))


# What :func:`_row_starts` searches a long field for first: a comma, then
# capitals and ``_`` (what statuses are made of) as many as the shortest status.
_STATUS_LIKE = re.compile(rb",[A-Z_]{%d}" % min(len(s) for s in VALID_STATUSES if s))
#: Bytes from which :func:`_row_starts` searches for a status first.
_SEARCH_BY_STATUS = 1 << 12


def _row_starts(buf: bytes, start: int, limit: int, status_at: int) -> Iterator[re.Match[bytes]]:
    """``_row_start(status_at).finditer(buf, start, limit)``, faster on a long field.

    A line that starts a row holds a comma then a status: the lines of a
    traceback almost never do. So the bytes are searched (in C, skipping
    from comma to comma) for a comma before a run of capitals as long as the
    shortest status; only the lines with one are matched, in order.
    """
    pattern = _row_start(status_at)
    if status_at == 0 or limit - start < _SEARCH_BY_STATUS:
        yield from pattern.finditer(buf, start, limit)
        return
    tried = -1
    for hit in _STATUS_LIKE.finditer(buf, start, limit):
        line = buf.rfind(b"\n", start, hit.start())  # the line end before the comma
        if line > tried:
            tried = line
            found = pattern.match(buf, line, limit) if line >= 0 else None
            if found is not None:
                yield found


def _row_on_line(
    buf: bytes, pos: int, widths: tuple[int, int], status_at: int, date_at: int = DATE_COL
) -> bool | None:
    """Whether the line at ``pos`` reads, alone, as the start of a row of ``widths`` fields
    (the header's, and every ``SCHEMA`` column's under an older header, else 0).

    That is a whole well-formed row, or the first line of one whose last
    field is quoted and goes on past the line (a row with a traceback):
    complete fields before it, no more than ``width``, a valid status (not
    an empty one) among them, and a day that parses if it comes before the
    status. The fields up to the status must be plain (no quotes), as every
    writer writes them. So a line of an error message such as ``,,,,,x``
    never passes for a row. ``None`` when the line has no line end in
    ``buf`` yet: not known.
    """
    end = buf.find(b"\n", pos)
    if end < 0:
        return None
    # Cheap first: the fields up to the status are plain, the status valid.
    cells = buf[pos:end].split(b",", status_at + 1)
    if (
        len(cells) <= status_at + 1
        or cells[status_at] not in STATUS_BYTES
        or not cells[status_at]
        or b'"' in buf[pos : end - len(cells[-1])]
    ):
        return False
    if date_at < status_at and parse_day(cells[date_at].decode("latin-1")) is None:
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
    if whole:
        return len(fields) in widths
    return status_at < len(fields) - 1 <= max(widths) - 1


def may_start_row(line: str) -> bool:
    """Whether ``line`` could start a row of ``SCHEMA`` (the cheap test of :func:`_row_on_line`)."""
    cells = line.split(",", STATUS_COL + 1)
    return (
        len(cells) > STATUS_COL + 1
        and cells[STATUS_COL] in VALID_STATUSES
        and '"' not in line[: len(line) - len(cells[-1])]
    )


#: Every CR read as a line end (a file saved with CR-only line ends).
CR_AS_LF = bytes.maketrans(b"\r", b"\n")


def cr_only_line_ends(buf: bytes, base: int = 0) -> bool:
    """True when the first line end in ``buf`` (from ``base``), after any blank
    lines at its start, is a bare CR.

    Such a file (saved by an old editor) ends every line so; the original
    module's reader reads it, and so does every reader here: each CR is read
    as a line end, byte for byte, so offsets stay exact. A CR at the very
    end of ``buf`` is not told yet.
    """
    while True:
        if buf.startswith(b"\n", base):
            base += 1
        elif buf.startswith(b"\r\n", base):
            base += 2
        else:
            break
    cr = buf.find(b"\r", base)
    if cr < 0 or cr + 1 >= len(buf):
        return False
    lf = buf.find(b"\n", base, cr)
    return lf < 0 and buf[cr + 1] != 0x0A


_BARE_CR = re.compile(rb"\r(?=[^\n])")


def has_bare_cr(buf: bytes, start: int = 0, end: int | None = None) -> bool:
    """True when ``buf[start:end]`` holds a CR followed by a byte other than LF
    (the byte at ``end`` is not looked at)."""
    end = len(buf) if end is None else end
    return buf.find(b"\r", start, end) >= 0 and _BARE_CR.search(buf, start, end) is not None


@cache
def _row_after_cr(status_at: int, final: bool) -> re.Pattern[bytes]:
    """The start of a row right after a bare CR: plain fields up to a valid status."""
    statuses = b"|".join(re.escape(s.encode()) for s in sorted(VALID_STATUSES))
    end = rb"(?=[,\r\n]|\Z)" if final else rb"(?=[,\r\n])"
    return re.compile(rb'(?:[^",\r\n]*,){%d}(?:%s)%s' % (status_at, statuses, end))


def bare_cr_rows(buf: bytes, status_at: int, date_at: int, *, final: bool = False) -> bytes:
    """``buf`` with each bare CR that comes right before the start of a row read as a line end.

    A block of rows saved with CR-only line ends into a file of LF (or CRLF)
    lines (an old editor) reads, as the original module reads it, one row a
    line. A CR elsewhere (inside a quoted message, before text that is no
    row) is left as it is. The decision looks only at the bytes after the CR
    up to the row's status (no further than its line): a CR whose row start
    is not complete in ``buf`` yet is left, and stays in what the decoder
    holds back, unless ``buf`` is ``final``: then the file's end ends the
    status too. Same length: offsets stay exact.
    """
    pattern = _row_after_cr(status_at, final)
    out: bytearray | None = None
    for bare in _BARE_CR.finditer(buf):
        at = bare.start()
        start = pattern.match(buf, at + 1)
        if start is None:
            continue
        if date_at < status_at:
            day = buf[at + 1 : start.end()].split(b",")[date_at]
            if parse_day(day.decode("latin-1")) is None:
                continue
        if out is None:
            out = bytearray(buf)
        out[at] = 0x0A
    return buf if out is None else bytes(out)


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


def read_at(fd: int, size: int, offset: int) -> bytes:
    """Read ``size`` bytes at ``offset`` of ``fd``, fewer only where the file ends.

    One ``pread`` may return fewer bytes than asked without being at the
    end (FUSE, NFS, SMB do so legally); this reads on until it has them all
    or a read returns nothing. ``OSError`` propagates.
    """
    out = os.pread(fd, size, offset)
    if len(out) == size or not out:
        return out
    parts = [out]
    got = len(out)
    while got < size:
        more = os.pread(fd, size - got, offset + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def next_read(chunk_size: int, pending: bytes) -> int:
    """How much to read next when ``pending`` bytes of an unfinished record are held.

    At least as much as the record holds so far: the buffer it is decoded
    in then doubles from one try to the next, so a record far longer than a
    chunk (a 20 MB traceback) is scanned a bounded number of times in all,
    not once per chunk (which is quadratic in its length).
    """
    return max(chunk_size, len(pending))
