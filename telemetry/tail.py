"""Follow a telemetry file that grows while it is read.

:class:`TelemetryTail` remembers how far it has read and returns only what was
appended since, so the cost of an update is the size of the update, not of
the file. It notices when the file it follows stops being the same file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .fields import Malformed, Record, TelemetryFormatError
from .file import PrefixProof
from .framing import CHUNK_SIZE, next_read, read_at
from .records import RecordDecoder, cold_load
from .segments import Segment

#: Reasons a tail starts over, as reported in :attr:`TailUpdate.reset`.
RESET_TRUNCATED = "truncated"
RESET_REPLACED = "replaced"
RESET_DELETED = "deleted"
RESET_CREATED = "created"

_HEAD = 4096  # at most this much of the file's first line is its fingerprint
_BEFORE = 64  # bytes just before the read offset kept as a fingerprint


@dataclass
class TailUpdate:
    """What one :meth:`TelemetryTail.read_new` found.

    When ``reset`` is set the file is no longer the one read so far (it was
    truncated, replaced, deleted or created): everything derived from earlier
    updates must be dropped, and ``records`` start from the new file's
    beginning. ``exists`` is False while there is no file at the path.
    ``error`` says why the file at the path is not telemetry (its header is
    not a telemetry header, or it holds binary data); then nothing was read
    from it, and every later call tries again from its start, so a file
    rewritten in place as telemetry is read as soon as it is.
    """

    records: list[Record] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    #: With ``segments=True``: the rows as columns, instead of ``records``.
    segments: list[Segment] = field(default_factory=list)
    reset: str | None = None
    exists: bool = True
    size: int = 0
    error: str | None = None


class TelemetryTail:
    """Incremental reader of one telemetry file, from a saved byte offset.

    :meth:`read_new` returns complete records appended since the last call,
    each with its byte offset. An incomplete final record (a write in
    progress, cut anywhere: inside a quoted multi-line field or a multi-byte
    character) is held back until it is complete. Truncation (also when the
    file regrows past the old offset), replacement by rename, deletion and
    re-creation (even on the same inode: the head of the file and the bytes
    before the offset are fingerprinted) are reported as a reset. A held-back
    record whose bytes are no longer in the file (the writer rolled it back)
    is dropped, and reading goes on from the offset.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._start()
        self._seen = False  # a file existed at the path at some read

    def _start(self) -> None:
        self.decoder = RecordDecoder()
        self.offset = 0  # bytes consumed as complete records
        #: The proof of the bytes consumed, hashed as they were read (``None``
        #: after :meth:`resume`: the bytes before were read elsewhere).
        self.proof: PrefixProof | None = PrefixProof()
        self._pending = b""
        self._identity: tuple[int, int] | None = None
        self._head = b""
        self._before = b""

    def resume(
        self,
        offset: int,
        header: list[str],
        line: int,
        identity: tuple[int, int],
        before: bytes,
    ) -> None:
        """Go on from ``offset``: the file's first bytes were read elsewhere (a saved state).

        ``line`` is the physical line number there, ``identity`` the file's
        device and inode and ``before`` the bytes just before ``offset`` when
        they were read: a file replaced or rewritten since is a reset at the
        next call, as for bytes this tail read itself.
        """
        self._start()
        self.proof = None
        self.decoder.adopt_header(header, line=line)
        self.offset = offset
        self._identity = identity
        self._seen = True
        self._before = before[-_BEFORE:] if offset else b""

    @property
    def identity(self) -> tuple[int, int] | None:
        """The device and inode of the file read so far (``None`` before it is seen)."""
        return self._identity

    def bytes_before(self, offset: int) -> bytes | None:
        """The bytes just before ``offset`` of the file this tail reads (as
        :meth:`resume` takes them), or ``None`` if the file at the path is
        another one now or shorter. ``OSError`` if it cannot be read."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != self._identity or st.st_size < offset:
                return None
            start = max(0, offset - _BEFORE)
            return read_at(fd, offset - start, start)
        finally:
            os.close(fd)

    def restart(self) -> None:
        """Read the file at the path again from its start at the next call.

        Reports no reset for the file it reads now (its identity is kept); a
        file deleted meanwhile and created again is reported as created.
        """
        identity = self._identity
        self._start()
        self._identity = identity

    @property
    def header(self) -> list[str] | None:
        """The header of the file as read so far, or ``None`` before it."""
        return self.decoder.header

    def caught_up(self, update: TailUpdate) -> bool:
        """True when ``update`` read to the end of the file as it was then."""
        return self.offset + len(self._pending) >= update.size

    @property
    def held_back(self) -> int:
        """Bytes after :attr:`offset` that do not form a complete record yet."""
        return len(self._pending)

    def read_new(
        self,
        max_bytes: int | None = None,
        *,
        segments: bool = False,
        until: int | None = None,
        each: Callable[[list[Segment], list[Malformed]], None] | None = None,
    ) -> TailUpdate:
        """Return what was appended since the last call.

        At most ``max_bytes`` are read, or as many as an unfinished record
        held back holds so far, if more (so a long record costs linear time);
        nothing past the file offset ``until``. With ``segments`` the rows come
        as :attr:`TailUpdate.segments` (the cold load's bulk form) instead of
        records; with ``each`` too, they (and the malformed reports) are handed
        to it chunk by chunk instead, while the decoded rows are still in the
        CPU cache (unless the file turns out not to be telemetry, nothing
        handed over is taken back).

        Never raises for what the file holds: a file that is not telemetry
        gives an update with :attr:`TailUpdate.error` set (and its reset, if
        the file changed since the last call). ``OSError`` propagates when
        nothing could be read; once some bytes were, the rows read so far come
        back and the error is met again at the next call (no row is lost).
        """
        update = TailUpdate()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            update.exists = False
            if self._identity is not None:
                self._start()
                update.reset = RESET_DELETED
            return update
        try:
            st = os.fstat(fd)
            update.size = st.st_size
            identity = (st.st_dev, st.st_ino)
            if self._identity is None:
                if self._seen and update.reset is None:
                    update.reset = RESET_CREATED
            else:
                reason = self._changed(fd, identity, st.st_size)
                if reason is not None:
                    self._start()
                    update.reset = reason
            self._seen = True
            self._identity = identity
            try:
                with cold_load():  # decoding allocates many objects and no cycles
                    self.decoder.segments = segments
                    end = st.st_size if until is None else min(until, st.st_size)
                    self._read(fd, end, max_bytes, update, each)
            except TelemetryFormatError as exc:
                # Nothing of such a file counts: read it from the start next time.
                self._start()
                self._identity = identity
                update.records.clear()
                update.segments.clear()
                update.malformed.clear()
                update.error = str(exc)
        finally:
            os.close(fd)
        return update

    def _changed(self, fd: int, identity: tuple[int, int], size: int) -> str | None:
        """Why the file is no longer the one read so far, or ``None``.

        What is held back (an unfinished record) must still be in the file:
        a writer rolls back a row it could not store, and appends after
        that must not be glued onto bytes that are gone. When they are gone
        only they are dropped (what was read before them still stands).
        """
        if identity != self._identity:
            return RESET_REPLACED
        if size < self.offset:
            return RESET_TRUNCATED
        if self._head and read_at(fd, len(self._head), 0) != self._head:
            return RESET_REPLACED
        before = self._before
        if before and read_at(fd, len(before), self.offset - len(before)) != before:
            return RESET_TRUNCATED
        pending = self._pending
        if pending and (
            size < self.offset + len(pending) or read_at(fd, len(pending), self.offset) != pending
        ):
            self._pending = b""
            self.decoder.forget_unfinished()
        return None

    def _read(
        self,
        fd: int,
        size: int,
        max_bytes: int | None,
        update: TailUpdate,
        each: Callable[[list[Segment], list[Malformed]], None] | None = None,
    ) -> None:
        pos = self.offset + len(self._pending)
        budget = size - pos
        if max_bytes is not None:
            # Never less than an unfinished record holds so far: a long one is
            # then decoded a bounded number of times across calls too.
            budget = min(budget, max(max_bytes, len(self._pending)))
        start = pos
        while budget > 0:
            try:
                chunk = os.pread(fd, min(budget, next_read(CHUNK_SIZE, self._pending)), pos)
            except OSError:
                if pos == start:
                    raise
                break  # what was read stands; the error comes again at the next call
            if not chunk:
                break
            pos += len(chunk)
            budget -= len(chunk)
            buf = self._pending + chunk if self._pending else chunk
            batch = self.decoder.decode(buf, self.offset)
            update.records.extend(batch.records)
            if each is not None:
                each(list(batch.segments), batch.malformed)
            else:
                update.segments.extend(batch.segments)
                update.malformed.extend(batch.malformed)
            if self.proof is not None:
                self.proof.add(memoryview(buf)[: batch.consumed])
            self.offset += batch.consumed
            self._pending = buf[batch.consumed :]
        try:
            if not self._head.endswith(b"\n") and len(self._head) < _HEAD:
                # The fingerprint of the file is its first line (the header): a
                # different header means a different file, the same header with
                # different rows before the offset means truncated and rewritten.
                head = read_at(fd, _HEAD, 0)
                newline = head.find(b"\n")
                self._head = head if newline < 0 else head[: newline + 1]
            before = max(0, self.offset - _BEFORE)
            self._before = read_at(fd, self.offset - before, before)
        except OSError:  # the rows read stand; the next call checks less, once
            self._before = b""
