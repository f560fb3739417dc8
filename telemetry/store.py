"""The append-only telemetry file: the writer orchestrators embed, and its readers.

Guarantees of :meth:`HistoricalTelemetry.append_row`, for every writer that
uses this module (threads or processes, on one machine):

* **Atomic rows.** The whole write happens under an exclusive ``flock`` on the
  file, so rows from concurrent writers are never interleaved, and the
  decision to write the header is made from the file's size *after* the lock
  is held, so a new file gets exactly one header.
* **Durable rows.** The row is flushed and ``fsync``-ed before the call
  returns. A new file's directory is ``fsync``-ed before its first row goes
  in; where the directory cannot be opened (write and search only, mode
  0733) that sync is skipped and the entry is as durable as the file system
  makes it.
* **Raised means not stored; returned means stored.** When a write or its
  ``fsync`` fails (a full disk, an I/O error), whatever part of the row
  reached the file is cut off again, under the lock, before the ``OSError``
  propagates: no later append can complete it into a row. Once the row's
  ``fsync`` has succeeded the call returns: what fails after that (closing
  the file, reading back the bytes this process remembers as its
  fingerprint) is logged on the ``telemetry.store`` logger, never raised,
  so an orchestrator that retries on an exception never writes a row twice.
* **Crash safety.** A writer killed mid-row leaves a torn final record. The
  next append closes it off (closing an open quote if need be) with a marker
  that makes it one malformed record every reader skips and reports, so it
  can never swallow or glue onto the new row. The check costs only the bytes
  appended since this process last looked at the file, and that shortcut is
  taken only while the file still holds, just before where this process
  left it, the bytes it wrote there: a file restored in place (``cp``) or
  re-created on a reused inode is checked again from its header.
* **Older headers.** A file whose header stops after ``finished_at_utc`` (the
  format before the processing and upload columns) is upgraded in place on
  the first append: rewritten to a temporary file with the full header, every
  row padded with empty values, then renamed over the original while the old
  file's lock is held. A writer that was waiting on the old file notices the
  replacement and writes into the new one. A symlink's target is upgraded
  (the link stays); the copy keeps the file's mode, has a short name, and is
  removed on any failure. ``backfill-monitor upgrade FILE`` does the same on
  demand.
* A torn header (a crash while creating the file) is rewritten when the file
  holds nothing else, and never appended under. The header is read until
  its line ends or the file does (a network file system may return fewer
  bytes than asked), so a file holding more than a header is never taken
  for a torn one.

Writers of the original module take no lock; run them alongside this one and
their rows may interleave with ours, exactly as they could with each other.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import io
import logging
import os
import tempfile
import threading
import zlib
from collections.abc import Iterator, Mapping
from datetime import date
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

from .fields import Malformed, TelemetryFormatError, split_fields
from .file import HEADER_LINE, header_at
from .framing import (
    CHUNK_SIZE,
    CR_AS_LF,
    FrameMemo,
    close_off,
    next_read,
    read_at,
    whole_record,
)
from .records import RecordDecoder, read_batches
from .schema import LEGACY_SCHEMA, SCHEMA, VALID_STATUSES, TelemetryRow

_log = logging.getLogger(__name__)

# Per file (device, inode): the offset up to which this process has verified
# the file ends on a record boundary, the bytes just before it, and whether
# its lines end in a bare CR (see RecordDecoder.cr_only). Shared by
# every HistoricalTelemetry in the process, so even a writer object made per
# row never rescans the file. A device and inode name a file only while it
# lives (``cp backup.csv telemetry.csv`` keeps the inode, a deleted file's
# inode number is reused), so the cache is trusted only while those bytes are
# still there: the fingerprint the tail reader keeps, too.
_verified_end: dict[tuple[int, int], tuple[int, bytes, bool]] = {}
_verified_lock = threading.Lock()
_FINGERPRINT = 64  # bytes before a verified end that must not have changed
# The torn-tail check frames what other writers appended since this process
# looked in one go when it is at most this much (a few big rows); more (a
# process's first look at a big file) is read in cache-sized chunks.
_FRAME_AT_ONCE = 4 << 20


def storable_text(text: str) -> str:
    """``text`` with what a telemetry file cannot hold written as escapes.

    A NUL becomes the four characters ``\\x00`` and a lone surrogate (from
    bytes that were not UTF-8, as in an ``OSError`` about an undecodable
    path) its backslash escape, e.g. ``\\udcff``; other text is unchanged.
    """
    if text.isascii():
        return text.replace("\x00", "\\x00") if "\x00" in text else text
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def encode_row(values: list[str]) -> bytes:
    """Encode one row as RFC 4180 CSV with a CRLF line end, like ``csv.writer``."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue().encode("utf-8")


def row_values(row: TelemetryRow | Mapping[str, Any]) -> list[str]:
    """Validate a row and return its values in ``SCHEMA`` order.

    Raises ``ValueError`` for unknown columns, a status outside
    ``VALID_STATUSES`` (an empty status is allowed, as in the original
    module), NUL characters, which no reader would accept back, and lone
    surrogates, which UTF-8 cannot hold. :func:`telemetry.record_attempt`
    stores such text escaped instead (:func:`storable_text`).
    """
    if isinstance(row, TelemetryRow):
        data = row.to_dict()
    else:
        unknown = set(row) - set(SCHEMA)
        if unknown:
            raise ValueError(f"Unknown telemetry columns: {sorted(unknown)}. Allowed: {SCHEMA}.")
        data = {col: "" if row.get(col) is None else str(row.get(col)) for col in SCHEMA}
    status = data["status"]
    # The status is the one field orchestrators branch on: reject bad ones early.
    if status and status not in VALID_STATUSES:
        raise ValueError(f"Invalid telemetry status {status!r}. Allowed: {sorted(VALID_STATUSES)}.")
    values = [data[col] for col in SCHEMA]
    for col, value in zip(SCHEMA, values, strict=True):
        if "\x00" in value:
            raise ValueError(f"Telemetry column {col!r} contains a NUL character.")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(
                    f"Telemetry column {col!r} holds a lone surrogate (text decoded from "
                    "bytes that are not UTF-8), which cannot be stored as UTF-8."
                ) from None
    return values


class HistoricalTelemetry:
    """Append-only CSV writer and reader for one telemetry file."""

    def __init__(self, telemetry_path: Path | str) -> None:
        self.path = Path(telemetry_path)

    # -- writing -------------------------------------------------------------

    def append_row(self, row: TelemetryRow | Mapping[str, Any]) -> None:
        """Append one row durably, creating the file with its header if needed.

        When this returns the row is on disk (fsync-ed). Raises ``ValueError``
        for an invalid row, :class:`TelemetryFormatError` when the file is not
        a telemetry CSV, and ``OSError`` when the row could not be stored.
        """
        payload = encode_row(row_values(row))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd, created = _open_for_append(self.path)
            try:
                if created:
                    # Before any row goes in: an error here stores nothing.
                    _fsync_dir(self.path.parent)
                fcntl.flock(fd, fcntl.LOCK_EX)
                if not _is_current(fd, self.path):
                    continue  # replaced (upgraded) or deleted while we waited
                if self._append_locked(fd, payload):
                    break
            finally:
                _close(fd, self.path)  # also releases the lock

    def _append_locked(self, fd: int, payload: bytes) -> bool:
        """Write ``payload`` under the lock; ``False`` means start over."""
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        size = st.st_size
        prefix = b""
        cr_only = False
        if size == 0:
            prefix = HEADER_LINE
        else:
            trusted = _trusted_end(fd, key, size)
            if trusted is not None:
                known, cr_only = trusted
            else:
                header, known, cr_only = header_at(fd, size)
                if header is None:
                    # Only a torn header and nothing else: safe to start over.
                    os.ftruncate(fd, 0)
                    prefix = HEADER_LINE
                    size = 0
                elif header != list(SCHEMA):
                    if _is_legacy(header):
                        _rewrite_with_full_header(fd, self.path)
                        return False
                    raise TelemetryFormatError(
                        f"{self.path}: header does not match the telemetry schema; "
                        "refusing to append"
                    )
            if size:
                prefix = _close_off_torn_tail(fd, known, size, cr_only)
        data = prefix + payload
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except BaseException:
            # Raised means not stored: take back whatever part of the write
            # reached the file, so no later append can complete it into a row.
            with _verified_lock:
                _verified_end.pop(key, None)
            _roll_back(fd, size)
            raise
        # Stored. Nothing from here on may raise: the next append of this
        # process checks the file again from its header if it cannot remember.
        end = size + len(data)
        before = data[-_FINGERPRINT:]
        if len(before) < _FINGERPRINT and end > len(before):
            try:
                before = read_at(fd, _FINGERPRINT, max(0, end - _FINGERPRINT))
            except OSError as exc:
                _log.warning("%s: row stored; reading its fingerprint failed: %s", self.path, exc)
                return True
        with _verified_lock:
            _verified_end[key] = (end, before, cr_only)
        return True

    # -- reading -------------------------------------------------------------

    def load_state(self) -> dict[date, TelemetryRow]:
        """Return the most recent row per ``chunk_date_utc``: the resume state.

        "Most recent" is the row with the latest ``started_at_utc``; a tie goes
        to the row later in the file (a PENDING row and its outcome share one
        ``started_at_utc``). Timestamps that both parse are compared as instants,
        others as strings. Malformed rows and rows whose ``chunk_date_utc`` does
        not parse are skipped. A missing file gives ``{}``.
        """
        from .state import load_latest

        return load_latest(self.path)

    def iter_rows(self) -> Iterator[TelemetryRow]:
        """Yield every well-formed row in file order, as the original module does.

        Rows whose ``chunk_date_utc`` does not parse are yielded too (the
        original module's writer never checked dates, and its reader yields
        them); ``load_state`` skips them. Records that are not rows (torn,
        stray quotes, wrong field counts: :meth:`malformed`) are skipped.
        """
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            for batch in read_batches(fh):
                undated = [m for m in batch.malformed if m.values is not None]
                if not undated:
                    for record in batch.records:
                        yield TelemetryRow(*record.values)
                    continue
                rows = [(r.offset, r.values) for r in batch.records]
                rows += [(m.offset, m.values) for m in undated if m.values is not None]
                rows.sort(key=itemgetter(0))
                for _, values in rows:
                    yield TelemetryRow(*values)

    def malformed(self) -> list[Malformed]:
        """Return a report (offset, line, reason) for every record readers skip."""
        return diagnose(self.path)


def diagnose(path: Path | str) -> list[Malformed]:
    """Return the malformed-record reports of the file at ``path``, in file order.

    A missing file has none. Raises :class:`TelemetryFormatError` if the file
    is not a telemetry CSV.
    """
    path = Path(path)
    if not path.exists():
        return []
    out: list[Malformed] = []
    with open(path, "rb") as fh:
        for batch in read_batches(fh):
            out.extend(batch.malformed)
    return out


def upgrade_header(path: Path | str) -> bool:
    """Upgrade a file with the pre-processing-columns header to the full schema.

    Safe while other writers of this module append. Returns ``True`` if the
    file was upgraded, ``False`` if it already had the full header. Raises
    :class:`TelemetryFormatError` for any other header.
    """
    path = Path(path)
    while True:
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not _is_current(fd, path):
                continue
            header, _, _ = header_at(fd, os.fstat(fd).st_size)
            if header == list(SCHEMA):
                return False
            if header is None or not _is_legacy(header):
                raise TelemetryFormatError(f"{path}: not a telemetry header this tool can upgrade")
            _rewrite_with_full_header(fd, path)
            return True
        finally:
            os.close(fd)


# -- internals ----------------------------------------------------------------


def _open_for_append(path: Path) -> tuple[int, bool]:
    flags = os.O_RDWR | os.O_APPEND
    try:
        return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644), True
    except FileExistsError:
        pass
    try:
        return os.open(path, flags), False
    except FileNotFoundError:
        return _open_for_append(path)  # deleted in between: create it


def _close(fd: int, path: Path) -> None:
    """Close ``fd``, logging (never raising) a failure.

    Linux releases the descriptor (and its lock) even when ``close`` fails
    (EINTR, EIO from a network file system); whether a row is stored was
    decided by its ``fsync`` before, so a failed close changes nothing the
    caller could act on.
    """
    try:
        os.close(fd)
    except OSError as exc:
        _log.warning("%s: closing the file failed: %s", path, exc)


def _is_current(fd: int, path: Path) -> bool:
    """True when ``fd`` is still the file at ``path`` (not replaced or deleted)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _trusted_end(fd: int, key: tuple[int, int], size: int) -> tuple[int, bool] | None:
    """The cached verified end of the open file (and its line ends), if the file proves it.

    ``None`` when nothing is cached for ``key`` or the file no longer holds,
    just before that end, the bytes this process wrote there (it was
    truncated, restored in place or re-created on a reused inode).
    """
    with _verified_lock:
        cached = _verified_end.get(key)
    if cached is None:
        return None
    end, before, cr_only = cached
    if end > size or read_at(fd, len(before), end - len(before)) != before:
        with _verified_lock:
            _verified_end.pop(key, None)
        return None
    return end, cr_only


def _roll_back(fd: int, size: int) -> None:
    """Cut the file back to ``size`` after a failed write (best effort).

    The caller holds the lock, so nothing was appended after our bytes.
    """
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # the original error is what the caller must see


def _is_legacy(header: list[str]) -> bool:
    return (
        len(header) < len(SCHEMA)
        and tuple(header) == SCHEMA[: len(header)]
        and len(header) >= len(LEGACY_SCHEMA)
    )


def _close_off_torn_tail(fd: int, start: int, size: int, cr_only: bool = False) -> bytes:
    """Return what must precede a new row so a torn record cannot absorb it.

    Frames only ``[start, size)``, where ``start`` is a known record boundary
    (framing, not decoding: a million rows take well under a second), as
    every reader frames it (stray quotes included). ``cr_only``: the file's
    lines end in a bare CR.
    """
    pos = start
    leftover = b""
    memo = FrameMemo()
    while pos < size:
        step = size - start if size - start <= _FRAME_AT_ONCE else CHUNK_SIZE
        chunk = os.pread(fd, min(size - pos, next_read(step, leftover)), pos)
        if not chunk:
            break
        pos += len(chunk)
        buf = leftover + chunk
        framed = RecordDecoder.frame(buf, cr_only=cr_only, memo=memo, offset=pos - len(buf))
        leftover = buf[framed:]
    if cr_only:
        leftover = leftover.translate(CR_AS_LF)
    return close_off(leftover)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        if written == 0:
            raise OSError(errno.EIO, "write returned 0 bytes")
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable; best effort where the directory cannot be opened.

    A directory this process may write and search but not read (mode 0733,
    a drop box) cannot be opened to sync it: the entry is then as durable
    as the file system makes it on its own. Any other error propagates.
    """
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except PermissionError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rewrite_with_full_header(fd: int, path: Path) -> None:
    """Replace the file (whose lock the caller holds) by an upgraded copy.

    Well-formed rows are re-encoded with every schema column (the new ones
    empty); malformed records are carried over byte for byte. A symlink is
    followed: its target is upgraded and the link left as it is. The copy
    is made beside the target under a short temporary name (a file name
    near the 255-byte limit stays upgradable), with the original's mode; it
    is removed on any failure, and copies left by a killed upgrade of the
    same file are removed first. Raises ``OSError`` (with a message saying
    what to do) when no copy can be made, e.g. in a read-only directory.
    """
    target = Path(os.path.realpath(path))
    prefix = _upgrade_prefix(target)
    _remove_stale_copies(target.parent, prefix)
    try:
        out_fd, tmp_name = tempfile.mkstemp(prefix=prefix, dir=target.parent)
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"{path}: its header is the older {len(LEGACY_SCHEMA)}-column format, which must be "
            f"upgraded before rows are appended, but no temporary copy can be made in "
            f"{target.parent} ({exc.strerror}); make that directory writable, or upgrade a "
            "copy elsewhere with 'backfill-monitor upgrade' and move it back",
        ) from None
    tmp = Path(tmp_name)
    try:
        with open(out_fd, "wb") as out:  # closes the copy on any failure below
            os.fchmod(out_fd, os.fstat(fd).st_mode & 0o7777)
            with os.fdopen(os.dup(fd), "rb") as src:
                src.seek(0)
                _copy_upgraded(src, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


def _padded(raw: bytes, decoder: RecordDecoder) -> bytes | None:
    """A skipped record ``raw`` padded to the full schema if it is a row of the old header.

    That is a well-formed record with the header's number of fields that
    readers skip for its date or status alone; ``None`` for anything else.
    """
    header = decoder.header
    if header is None or not raw.endswith(b"\n"):
        return None
    if decoder.cr_only:
        raw = raw.translate(CR_AS_LF)
    text = whole_record(raw)
    if text is None:
        return None
    fields = split_fields(text)
    if len(fields) != len(header) or fields == header:
        return None
    column = {name: i for i, name in enumerate(header)}
    return encode_row([fields[column[c]] if c in column else "" for c in SCHEMA])


def _upgrade_prefix(target: Path) -> str:
    """The name prefix of ``target``'s upgrade copies: short, and its own."""
    raw = os.fsencode(target.name)
    return f".{os.fsdecode(raw[:40])}.{zlib.crc32(raw):08x}.upgrade-"


def _remove_stale_copies(directory: Path, prefix: str) -> None:
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(prefix):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _copy_upgraded(src: BinaryIO, out: BinaryIO) -> None:
    """Write the full header, then every record of ``src`` padded to the full schema.

    Every row of the old header's width comes out padded, whatever its date
    or status (the original module reads such rows); a row that already
    holds every column (the original module writes those under an old
    header) is kept whole. Any other record, which no reader takes for a
    row, is copied byte for byte, a torn one closed off: padding it would
    revive it.
    """
    out.write(HEADER_LINE)
    pending = b""
    decoder = RecordDecoder()
    offset = 0
    while True:
        chunk = src.read(next_read(4 << 20, pending))
        buf = pending + chunk
        batch = decoder.decode(buf, offset, final=not chunk)
        items: list[tuple[int, bytes | None]] = [
            (r.offset, encode_row(r.values)) for r in batch.records
        ]
        items += [(m.offset, None) for m in batch.malformed]
        items.sort()
        bounds = [o for o, _ in items[1:]] + [offset + batch.consumed] * bool(items)
        for (start, encoded), end in zip(items, bounds, strict=True):
            raw = buf[start - offset : end - offset]
            if encoded is None:
                encoded = _padded(raw, decoder)
            if encoded is not None:
                out.write(encoded)
            else:
                out.write(raw if raw.endswith(b"\n") else raw + close_off(raw))
        offset += batch.consumed
        pending = buf[batch.consumed :]
        if not chunk:
            return
