"""A telemetry file on disk: every read of its bytes but the writer's and the tail's.

:class:`TelemetryFile` reads a file through in bulk (the cold load), a day's
rows by their byte offsets (a day's history) and a record's raw bytes; the
folds are handed what it decodes and never open a file. :func:`header_at`
is the one reading of a header (a byte order mark, blank lines before it,
a torn header, the older shorter header), shared with the writer.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, cast

from .fields import Malformed, Record, TelemetryFormatError
from .framing import BOM, read_at
from .records import Batch, RecordDecoder, cold_load, read_batches, read_header
from .schema import SCHEMA
from .segments import Segment

#: Bytes of a file's start that must hold its header.
HEAD_BYTES = 64 << 10
#: The header line the writer writes.
HEADER_LINE = (",".join(SCHEMA) + "\r\n").encode()


def header_at(fd: int, size: int) -> tuple[list[str] | None, int, bool]:
    """The header of the open file ``fd`` of ``size`` bytes, the offset after it,
    and whether its lines end in a bare CR.

    ``(None, 0, False)`` means the file holds no header yet: nothing, or only
    a torn header (a prefix of the full header line, read whole). A file
    with no header record in its first :data:`HEAD_BYTES` raises
    :class:`TelemetryFormatError`, as does a header that is not telemetry's.
    """
    head = read_at(fd, min(size, HEAD_BYTES), 0)
    header, end, cr_only = read_header(head)
    if header is not None:
        return header, end, cr_only
    base = len(BOM) if head.startswith(BOM) else 0
    whole = len(head) == size and size <= base + len(HEADER_LINE)
    if whole and HEADER_LINE.startswith(head[base:]):
        return None, 0, False
    raise TelemetryFormatError("the file's first lines hold no telemetry header")


#: Bytes hashed at a prefix's start and before its end (:class:`PrefixProof`).
EDGE = 64 << 10


class PrefixProof:
    """What proves a file's first bytes unchanged, taken from the bytes as they are read.

    :meth:`add` each piece read, in order, from the file's start; :meth:`digest`
    then describes exactly those bytes: the SHA-256 of the first and of the
    last :data:`EDGE` of them and the CRC-32 of all. The same digest as
    hashing the file's first :attr:`size` bytes afterwards, without the gap in
    which the file could change.
    """

    def __init__(self, *, crc: bool = True) -> None:
        self.size = 0
        self._crc: int | None = 0 if crc else None
        self._head = bytearray()
        self._edge = b""

    def add(self, data: bytes | memoryview) -> None:
        """Add the next ``data`` read."""
        if self._crc is not None:
            self._crc = zlib.crc32(data, self._crc)
        self.size += len(data)
        if len(self._head) < EDGE:
            self._head += data[: EDGE - len(self._head)]
        if len(data) >= EDGE:  # a whole read's worth: no joining
            self._edge = bytes(data[-EDGE:])
        else:
            self._edge = (self._edge + bytes(data))[-EDGE:]

    def join(self, crc: int, size: int, edge: bytes) -> None:
        """Add the next ``size`` bytes, read elsewhere: their CRC-32 and their last
        :data:`EDGE` bytes (all of them if fewer), as :meth:`add` would."""
        if size > EDGE and len(self._head) < EDGE:
            raise ValueError("the first bytes must be added whole")
        self._crc = crc32_combine(self._proven(), crc, size)
        self.size += size
        if len(self._head) < EDGE:
            self._head += edge[: EDGE - len(self._head)]
        self._edge = (self._edge + edge)[-EDGE:]

    def part(self) -> tuple[int, int, bytes]:
        """The CRC-32, length and last :data:`EDGE` bytes of what was added
        (what :meth:`join` takes)."""
        return self._proven(), self.size, self._edge

    def digest(self) -> dict[str, Any]:
        """The proof of the bytes added so far."""
        if not self.size:
            return {"head": "", "edge": "", "crc": 0}
        return {
            "head": hashlib.sha256(self._head).hexdigest(),
            "edge": hashlib.sha256(self._edge).hexdigest(),
            "crc": self._proven(),
        }

    def _proven(self) -> int:
        if self._crc is None:
            raise ValueError("taken without a CRC: proves nothing")
        return self._crc


_CRC_POLY = 0xEDB88320  # CRC-32's polynomial, reflected


def _mult_mod_p(a: int, b: int) -> int:
    """``a`` times ``b`` modulo CRC-32's polynomial (reflected bit order)."""
    product, bit = 0, 1 << 31
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1
    return product


def crc32_combine(crc1: int, crc2: int, size2: int) -> int:
    """The CRC-32 of ``A + B`` from ``crc1`` of ``A``, ``crc2`` of ``B`` and ``size2 = len(B)``.

    zlib's ``crc32_combine``, which Python does not expose: ``crc1`` times
    ``x^(8 * size2)`` modulo the polynomial, plus ``crc2``.
    """
    power, square = 1 << 31, 1 << 23  # x^0; then x^8, squared bit by bit of size2
    while size2:
        if size2 & 1:
            power = _mult_mod_p(square, power)
        size2 >>= 1
        square = _mult_mod_p(square, square)
    return _mult_mod_p(power, crc1) ^ crc2


class _Proving:
    """A binary file whose every ``read`` adds to a :class:`PrefixProof`."""

    def __init__(self, fh: BinaryIO, proof: PrefixProof) -> None:
        self._fh, self._proof = fh, proof
        #: A read found the end of the file.
        self.ended = False

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._proof.add(data)
        self.ended = self.ended or (not data and size != 0)
        return data


def write_atomic(target: Path, data: bytes | list[bytes], mode: int = 0o600) -> None:
    """Write ``data`` (or its parts, one after the other) to ``target`` whole or not
    at all: a temporary file beside it, then a rename. ``OSError`` when it
    cannot be written (nothing is left behind)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:40]}.", dir=target.parent)
    try:
        if mode != 0o600:  # mkstemp's
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.writelines([data] if isinstance(data, bytes) else data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class TelemetryFile:
    """The telemetry file at ``path``, read on demand (each call opens it anew)."""

    def __init__(self, path: Path | str, *, prove: bool = True, positions: bool = True) -> None:
        self.path = Path(path)
        # Without ``prove``, a read takes no CRC of its bytes (a cold load that
        # saves nothing: the embedded API); its proof then proves nothing.
        self._prove = prove
        # Without ``positions``, the segments read in bulk say nothing of where
        # their rows are (a fold that keeps none: the embedded API's).
        self._positions = positions
        #: After :meth:`read_through`: ``(offset, line)`` where the read ended
        #: if it ended at a line end with nothing torn or held back (the
        #: file's size then, and the physical line number there), else ``None``.
        self.read_to: tuple[int, int] | None = None
        #: After :meth:`read_through` with ``stop``: ``(offset, line)`` there if
        #: the read ended there, at a record's end, with nothing held back.
        self.stopped_at: tuple[int, int] | None = None
        #: After :meth:`read_through`: the proof of the bytes it read (with ``prove``).
        self.proof = PrefixProof(crc=prove)

    def read_through(
        self,
        fold: Callable[[Iterable[Segment], Iterable[Malformed]], None],
        stop: int | None = None,
        *,
        start: tuple[int, int, list[str]] | None = None,
    ) -> list[str] | None:
        """Decode the whole file in bulk, handing ``fold`` each chunk's rows and reports.

        Returns the header (``None`` for a missing or empty file). A torn
        final record is reported as malformed; a file that is not telemetry
        raises :class:`TelemetryFormatError`; a failing read raises its
        ``OSError``, naming the file. With ``stop``, the read ends there if a
        record ends there (:attr:`stopped_at` says so), else goes on. With
        ``start``, ``(offset, line, header)`` of a record's first byte, from
        there on, as if the file before it had been read: :attr:`proof` is
        then that of the bytes from there.
        """
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return None
        self.read_to = self.stopped_at = None
        with fh, cold_load():
            decoder = RecordDecoder(segments=True, positions=self._positions)
            before = end = 0
            if start is not None:
                before = end = start[0]
                fh.seek(end)
                decoder.adopt_header(start[2], line=start[1])
            last: Batch | None = None
            self.proof = PrefixProof(crc=self._prove)
            reader = _Proving(fh, self.proof)
            proving = cast(BinaryIO, reader)
            try:
                for batch in read_batches(proving, decoder=decoder, start=end, stop=stop):
                    fold(batch.segments, batch.malformed)
                    before, end, last = end, batch.consumed, batch
                if end == stop and not reader.ended:  # it stopped there
                    if decoder.header is not None and not decoder.cr_only:
                        self.stopped_at = (end, decoder.next_line)
                        return decoder.header
                    for batch in read_batches(proving, decoder=decoder, start=end):
                        fold(batch.segments, batch.malformed)
                        before, end, last = end, batch.consumed, batch
            except OSError as exc:  # an I/O error while reading: say which file
                exc.filename = exc.filename or str(self.path)
                raise
            # The final try (at the end of the file) decoded nothing: every
            # record had ended before it, with its line.
            clean = last is not None and not (last.segments or last.malformed)
            if clean and before == end and decoder.header is not None and not decoder.cr_only:
                self.read_to = (end, decoder.next_line)
            return decoder.header

    def segments_before(
        self,
        starts: list[tuple[int, int]],
        until: int,
        header: list[str],
        enough: Callable[[list[Segment]], bool],
        most: int = 32 << 20,
    ) -> list[Segment]:
        """The rows before ``until`` from one of ``starts`` on, in bulk.

        ``starts`` are ``(byte offset, line number)`` of records, ascending,
        and ``until`` ends a record (a saved state's end). Reads from the last
        start, then from four times further back each time, until the rows
        are ``enough``, the first start is reached or ``most`` bytes are read.
        """
        out: list[Segment] = []
        if not starts:
            return out
        fd = os.open(self.path, os.O_RDONLY)
        try:
            back = 1
            while True:
                offset, line = starts[max(0, len(starts) - back)]
                decoder = RecordDecoder(segments=True)
                decoder.adopt_header(header, line=line)
                buf = read_at(fd, until - offset, offset)
                out = list(decoder.decode(buf, offset, final=True).segments)
                if enough(out) or back >= len(starts) or until - offset >= most:
                    return out
                back *= 4
        finally:
            os.close(fd)

    def history(self, day: date, runs: list[tuple[int, int, int]], rows: int) -> list[Record]:
        """Every row of ``day``, in file order, from where its ``runs`` say they are.

        ``runs`` are ``(byte offset, line number, rows)`` of each run of the
        day's adjacent rows (:meth:`BackfillState.runs`), ``rows`` the rows
        in the file (it sizes the reads). Reads only the header and those
        rows: each run's bytes are read and decoded once. Each record keeps
        its line number. Rows that no longer decode as the day's (the file
        changed) are left out.
        """
        out: list[Record] = []
        if not runs:
            return out
        fd = os.open(self.path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            try:
                header, _, cr_only = header_at(fd, size)
            except TelemetryFormatError:
                return out  # no longer telemetry
            window = _Window(fd, size)
            # A run's bytes are about its rows times the file's mean row.
            mean = size // max(rows, 1) + 1
            for offset, line, count in runs:
                decoder = RecordDecoder()
                decoder.adopt_header(header, line=line, cr_only=cr_only)
                want = count * mean + mean
                while True:
                    buf = window.bytes(offset, want)
                    final = offset + len(buf) >= size
                    found = decoder.decode(buf, offset, final=final).records[:count]
                    decoder.adopt_header(header, line=line, cr_only=cr_only)
                    if len(found) == count or final:
                        break
                    want *= 2
                for k, record in enumerate(found):
                    if record.day != day or (k == 0 and record.offset != offset):
                        break  # the file changed under us: stop here
                    out.append(record)
        finally:
            os.close(fd)
        return out

    def raw(self, offset: int, limit: int) -> bytes:
        """Up to ``limit`` bytes from ``offset`` (fewer where the file ends)."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return read_at(fd, limit, offset)
        finally:
            os.close(fd)


class _Window:
    """Bytes of an open file read in pieces of at least 64 KiB, the last piece kept."""

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self._size = size
        self._start = 0
        self._data = b""

    def bytes(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` (fewer at the end of the file)."""
        length = min(length, self._size - offset)
        start, data = self._start, self._data
        if not (start <= offset and offset + length <= start + len(data)):
            data = self._data = read_at(self._fd, max(length, 64 << 10), offset)
            start = self._start = offset
        return data[offset - start : offset - start + length]
