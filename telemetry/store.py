"""The append-only telemetry file: the writer orchestrators embed, and its readers.

Guarantees of :meth:`HistoricalTelemetry.append_row`, for every writer that
uses this module (threads or processes, on one machine):

* **Atomic rows.** The whole write happens under an exclusive ``flock`` on the
  file, so rows from concurrent writers are never interleaved, and the
  decision to write the header is made from the file's size *after* the lock
  is held, so a new file gets exactly one header.
* **Durable rows.** The row is flushed and ``fsync``-ed before the call
  returns; a new file's directory is ``fsync``-ed too. An ``OSError`` from
  ``fsync`` propagates: the row must then be treated as not stored.
* **Crash safety.** A writer killed mid-row leaves a torn final record. The
  next append closes it off (closing an open quote if need be) with a marker
  that makes it one malformed record every reader skips and reports, so it
  can never swallow or glue onto the new row. The check costs only the bytes
  appended since this process last looked at the file.
* **Older headers.** A file whose header stops after ``finished_at_utc`` (the
  format before the processing and upload columns) is upgraded in place on
  the first append: rewritten to a temporary file with the full header, every
  row padded with empty values, then renamed over the original while the old
  file's lock is held. A writer that was waiting on the old file notices the
  replacement and writes into the new one. ``backfill-monitor upgrade FILE``
  does the same on demand.
* A torn header (a crash while creating the file) is rewritten when the file
  holds nothing else, and never appended under.

Writers of the original module take no lock; run them alongside this one and
their rows may interleave with ours, exactly as they could with each other.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import os
import threading
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from .records import (
    CHUNK_SIZE,
    Malformed,
    RecordDecoder,
    TelemetryFormatError,
    close_off,
    read_batches,
)
from .schema import LEGACY_SCHEMA, SCHEMA, VALID_STATUSES, TelemetryRow

_HEADER_LINE = (",".join(SCHEMA) + "\r\n").encode()

# Per file (device, inode): the offset up to which this process has verified
# the file ends on a record boundary. Shared by every HistoricalTelemetry in
# the process, so even a writer object made per row never rescans the file.
_verified_end: dict[tuple[int, int], int] = {}
_verified_lock = threading.Lock()


def encode_row(values: list[str]) -> bytes:
    """Encode one row as RFC 4180 CSV with a CRLF line end, like ``csv.writer``."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue().encode("utf-8")


def row_values(row: TelemetryRow | Mapping[str, Any]) -> list[str]:
    """Validate a row and return its values in ``SCHEMA`` order.

    Raises ``ValueError`` for unknown columns, a status outside
    ``VALID_STATUSES`` (an empty status is allowed, as in the original
    module) and NUL characters, which no reader would accept back.
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
                fcntl.flock(fd, fcntl.LOCK_EX)
                if not _is_current(fd, self.path):
                    continue  # replaced (upgraded) or deleted while we waited
                if self._append_locked(fd, payload):
                    break
            finally:
                os.close(fd)  # also releases the lock
        if created:
            _fsync_dir(self.path.parent)

    def _append_locked(self, fd: int, payload: bytes) -> bool:
        """Write ``payload`` under the lock; ``False`` means start over."""
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        size = st.st_size
        prefix = b""
        if size == 0:
            prefix = _HEADER_LINE
        else:
            with _verified_lock:
                known = _verified_end.get(key)
            if known is None or known > size or (known and os.pread(fd, 1, known - 1) != b"\n"):
                known = None
            if known is None:
                header, header_end = _read_header(fd, size)
                if header is None:
                    # Only a torn header and nothing else: safe to start over.
                    os.ftruncate(fd, 0)
                    prefix = _HEADER_LINE
                    size = 0
                elif header != list(SCHEMA):
                    if _is_legacy(header):
                        _rewrite_with_full_header(fd, self.path)
                        return False
                    raise TelemetryFormatError(
                        f"{self.path}: header does not match the telemetry schema; "
                        "refusing to append"
                    )
                known = header_end
            if size:
                prefix = _close_off_torn_tail(fd, known, size)
        data = prefix + payload
        _write_all(fd, data)
        os.fsync(fd)
        with _verified_lock:
            _verified_end[key] = size + len(data)
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
        from .latest import load_latest

        return load_latest(self.path)

    def iter_rows(self) -> Iterator[TelemetryRow]:
        """Yield every well-formed row in file order (malformed rows skipped)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            for batch in read_batches(fh):
                for record in batch.records:
                    yield TelemetryRow(*record.values)

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
            header, _ = _read_header(fd, os.fstat(fd).st_size)
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


def _is_current(fd: int, path: Path) -> bool:
    """True when ``fd`` is still the file at ``path`` (not replaced or deleted)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _read_header(fd: int, size: int) -> tuple[list[str] | None, int]:
    """Return the file's header and the offset after it.

    ``(None, 0)`` means the file holds only a torn header (a prefix of the full
    header line); anything else without a complete first line is refused.
    """
    head = os.pread(fd, min(size, 1 << 16), 0)
    nl = head.find(b"\n")
    if nl < 0:
        bare = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        if size < (1 << 16) and _HEADER_LINE.startswith(bare):
            return None, 0
        raise TelemetryFormatError("the file's first line is not a telemetry header")
    decoder = RecordDecoder()
    decoder.decode(head[: nl + 1], 0)
    if decoder.header is None:
        raise TelemetryFormatError("the file's first line is not a telemetry header")
    return decoder.header, nl + 1


def _is_legacy(header: list[str]) -> bool:
    return (
        len(header) < len(SCHEMA)
        and tuple(header) == SCHEMA[: len(header)]
        and len(header) >= len(LEGACY_SCHEMA)
    )


def _close_off_torn_tail(fd: int, start: int, size: int) -> bytes:
    """Return what must precede a new row so a torn record cannot absorb it.

    Frames only ``[start, size)``, where ``start`` is a known record boundary
    (framing, not decoding: a million rows take well under a second).
    """
    pos = start
    leftover = b""
    while pos < size:
        chunk = os.pread(fd, min(size - pos, CHUNK_SIZE), pos)
        if not chunk:
            break
        buf = leftover + chunk
        leftover = buf[RecordDecoder.frame(buf) :]
        pos += len(chunk)
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
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rewrite_with_full_header(fd: int, path: Path) -> None:
    """Replace the file (whose lock the caller holds) by an upgraded copy.

    Well-formed rows are re-encoded with every schema column (the new ones
    empty); malformed records are carried over byte for byte.
    """
    tmp = path.with_name(f".{path.name}.upgrade-{os.getpid()}-{threading.get_ident()}")
    size = os.fstat(fd).st_size
    with open(tmp, "wb") as out, os.fdopen(os.dup(fd), "rb") as src:
        src.seek(0)
        out.write(_HEADER_LINE)
        items: list[tuple[int, bytes | None]] = []
        consumed = 0
        pending = b""
        decoder = RecordDecoder()
        offset = 0
        while True:
            chunk = src.read(4 << 20)
            buf = pending + chunk
            batch = decoder.decode(buf, offset, final=not chunk)
            items = [(r.offset, encode_row(r.values)) for r in batch.records]
            items += [(m.offset, None) for m in batch.malformed]
            items.sort()
            bounds = [o for o, _ in items[1:]] + [offset + batch.consumed] * bool(items)
            for (start, encoded), end in zip(items, bounds, strict=True):
                if encoded is not None:
                    out.write(encoded)
                else:
                    raw = buf[start - offset : end - offset]
                    out.write(raw if raw.endswith(b"\n") else raw + close_off(raw))
            consumed = offset + batch.consumed
            pending = buf[batch.consumed :]
            offset = consumed
            if not chunk:
                break
        assert consumed == size or not pending
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
