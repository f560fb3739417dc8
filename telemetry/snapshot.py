"""A saved state: a file's fold kept on disk, reopened by reading only what was appended.

:class:`StateCache` keeps, per telemetry file, the :class:`BackfillState` of a
prefix of it that ends at a line end (:meth:`StateCache.load`,
:meth:`StateCache.save`). What proves the prefix unchanged is kept with it
and checked at every load: the device and inode, that the file is at least
as long, a hash of its first bytes, a hash of the bytes just before the
prefix's end and a CRC of the whole prefix. A file edited in place, copied
over, replaced, truncated, or a saved state that is corrupt, from another
version or unreadable: the load gives ``None`` and the caller reads the file
cold. The state is written with :mod:`marshal` (plain values only: loading
never runs code) to a temporary file then renamed; the directory and its
files are readable by their owner only, and only the newest entries are kept.

Standard library only. The embedded API uses no cache; the commands give one.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import threading
import weakref
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from .file import EDGE, PrefixProof, crc32_combine, write_atomic
from .framing import read_at
from .plain import FORMAT, state_from_plain, state_plain
from .records import RecordDecoder, cold_load, read_batches
from .state import BackfillState
from .twofold import cold_fold

#: Saved states kept in a cache directory (the newest; the others are removed).
KEEP = 32

# -- what proves a prefix unchanged ---------------------------------------------


def _proof(fd: int, offset: int) -> dict[str, Any]:
    """The hashes of the first ``offset`` bytes of the open file ``fd``.

    The CRC of a big prefix is taken in two threads, a half each (``zlib``
    and the reads let other threads run), and combined.
    """
    if offset == 0:
        return {"head": "", "edge": "", "crc": 0}
    half = offset // 2 if offset >= 2 * _PROOF_BYTES else offset
    later = _Crc(fd, half, offset)
    try:
        first = _crc(fd, 0, half)
    finally:
        later.join()  # it reads ``fd``: never left reading it
    crc = crc32_combine(first, later.result(), offset - half)
    return {
        "head": hashlib.sha256(read_at(fd, min(offset, EDGE), 0)).hexdigest(),
        "edge": hashlib.sha256(
            read_at(fd, min(offset, EDGE), offset - min(offset, EDGE))
        ).hexdigest(),
        "crc": crc,
    }


def _crc(fd: int, start: int, stop: int) -> int:
    """The CRC-32 of bytes ``start`` to ``stop`` of the open file ``fd``.

    Read through one reused buffer (a map of the file would count its pages
    in this process's memory, and dies if the file is cut short under it).
    """
    crc, pos = 0, start
    buf = bytearray(max(min(stop - start, _PROOF_BYTES), 0))
    view = memoryview(buf)
    while pos < stop:
        got = os.preadv(fd, [view[: min(len(buf), stop - pos)]], pos)
        if got <= 0:
            raise OSError(f"the file ended at byte {pos} of {stop}")
        crc = zlib.crc32(view[:got], crc)
        pos += got
    return crc


class _Crc(threading.Thread):
    """:func:`_crc` of a range of ``fd``, taken in a thread of its own."""

    def __init__(self, fd: int, start: int, stop: int) -> None:
        super().__init__(name="prove-part", daemon=True)
        self._args = (fd, start, stop)
        self._crc = 0
        self._error: OSError | None = None
        self.start()

    def run(self) -> None:
        try:
            self._crc = _crc(*self._args)
        except OSError as exc:
            self._error = exc

    def result(self) -> int:
        """The CRC, once the thread is done; the read's ``OSError`` if it failed."""
        self.join()
        if self._error is not None:
            raise self._error
        return self._crc


# -- a saved state's file: _MAGIC, then three parts, each its length, its CRC-32
# and its marshal: the key (what proves the prefix, read first), the state
# without its day slots, and the slots (loaded when first needed whole).

_MAGIC = b"backfill-monitor state 4\n"


def _part(value: Any) -> list[bytes]:
    body = marshal.dumps(value)
    return [len(body).to_bytes(8, "big") + zlib.crc32(body).to_bytes(4, "big"), body]


def _read_part(fh: BinaryIO) -> Any:
    """The next part's value; ``None`` if it is cut short or damaged."""
    head = fh.read(12)
    if len(head) < 12:
        return None
    size, crc = int.from_bytes(head[:8], "big"), int.from_bytes(head[8:], "big")
    body = fh.read(size)
    if len(body) != size or zlib.crc32(body) != crc:
        return None  # cut short or damaged: not to be trusted
    try:
        return marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None


class SavedStateError(ValueError):
    """A saved state whose day slots, checked when read, do not load when first
    needed (written by something else than this module): it is removed, and
    the command that met it can be run again."""


def _slots_from(entry: BinaryIO, name: Path) -> Callable[[int], Any] | None:
    """The function that reads, checks and loads the ``count`` day slots of the
    saved state ``name`` (open as ``entry``, at its slots part), once; ``None``
    if that part is cut short.

    The part is read when first needed, from a descriptor of its own kept
    open until then: a save replaces the file (a rename), which leaves the
    bytes it holds as they are. Slots that do not load (damaged, or written
    by something else) raise :class:`SavedStateError`, removing the file.
    """
    head = entry.read(12)
    if len(head) < 12:
        return None
    size, crc = int.from_bytes(head[:8], "big"), int.from_bytes(head[8:], "big")
    at = entry.tell()
    if os.fstat(entry.fileno()).st_size != at + size:
        return None
    fd = os.dup(entry.fileno())

    def load(count: int) -> Any:
        try:
            try:
                body = read_at(fd, size, at)
            except OSError as exc:
                raise ValueError(exc.strerror or str(exc)) from None
            if len(body) != size or zlib.crc32(body) != crc:
                raise ValueError("cut short or damaged")
            slots = marshal.loads(body)
            if type(slots) is not list or not {list}.issuperset(map(type, slots)):
                raise ValueError("not day slots")
            if len(slots) != count:
                raise ValueError(f"{len(slots)} day slots for {count} days")
        except (EOFError, ValueError, TypeError) as exc:
            with contextlib.suppress(OSError):
                name.unlink()
            raise SavedStateError(
                f"the saved state {name} is damaged ({exc}); it is removed: run again"
            ) from None
        finally:
            closing()
        return slots

    closing = weakref.finalize(load, os.close, fd)  # closed once loaded, or dropped
    return load


def _read_key(fh: BinaryIO) -> dict[str, Any] | None:
    """What proves a saved state's prefix, if the file is a saved state of this version."""
    if fh.read(len(_MAGIC)) != _MAGIC:
        return None
    key = _read_part(fh)
    if not isinstance(key, dict) or key.get("format") != FORMAT:
        return None
    if not {"offset", "dev", "ino", "line", "proof"} <= key.keys():
        return None
    if not all(type(key[k]) is int for k in ("offset", "dev", "ino", "line")):
        return None
    return key


class _Proving(threading.Thread):
    """:func:`_proof` of ``fd``'s first ``offset`` bytes, taken in a thread
    (``zlib`` and the reads let other threads run meanwhile)."""

    def __init__(self, fd: int, offset: int) -> None:
        super().__init__(name="prove-prefix", daemon=True)
        self._fd, self._offset = fd, offset
        self._proof: dict[str, Any] | None = None
        self.start()

    def run(self) -> None:
        with contextlib.suppress(OSError):
            self._proof = _proof(self._fd, self._offset)

    def result(self) -> dict[str, Any] | None:
        """The proof; ``None`` if the file could not be read that far."""
        self.join()
        return self._proof


#: Bytes read at a time for the CRC of a prefix.
_PROOF_BYTES = 4 << 20


class StateCache:
    """Saved states of telemetry files, in ``directory`` (made on first save, mode 0700)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def _entry(self, path: Path, figures: bool) -> Path:
        kind = "figures" if figures else "resume"
        key = hashlib.sha256(f"{FORMAT}\0{kind}\0{path.resolve()}".encode()).hexdigest()[:32]
        return self.directory / f"{key}.state"

    def prefix(
        self, path: Path | str, *, figures: bool = True, whole: bool = False
    ) -> Prefix | None:
        """The saved state of a prefix of ``path``, proven to be one now, or ``None``.

        ``None`` when nothing saved proves to be a prefix of the file as it is
        now (then read it from its start). Never raises. The prefix is hashed
        in threads while the state is loaded. The state's day slots are read
        and made when first needed whole (:meth:`BackfillState.thaw`), or
        here if ``whole`` (slots that do not load then give ``None``, not an
        error later).
        """
        path = Path(path)
        try:
            name = self._entry(path, figures)
            entry = open(name, "rb")  # noqa: SIM115 (closed below)
        except OSError:
            return None
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            entry.close()
            return None
        proving: _Proving | None = None
        try:
            key = _read_key(entry)
            if key is None:
                return None
            st = os.fstat(fd)
            offset = key["offset"]
            if (st.st_dev, st.st_ino) != (key["dev"], key["ino"]) or st.st_size < offset:
                return None
            proving = _Proving(fd, offset)
            # The day slots' part is read, checked and loaded when first needed
            # (a summary never needs it), or below if ``whole``.
            head = _read_part(entry)
            slots = None if head is None else _slots_from(entry, name)
            if head is None or slots is None:
                return None
            with cold_load():  # many objects that live on, and no cycles
                state = state_from_plain(head, slots)
            if whole:  # while the prefix is still being hashed
                state.thaw()
            if proving.result() != key["proof"]:
                return None
            before = os.pread(fd, min(offset, EDGE), offset - min(offset, EDGE))
        except (OSError, ValueError):
            return None
        finally:
            if proving is not None:
                proving.join()  # it reads ``fd``
            os.close(fd)
            entry.close()
        if not state.header or state.has_figures != figures:
            return None
        return Prefix(state, offset, key["line"], (st.st_dev, st.st_ino), before)

    def load(
        self, path: Path | str, *, figures: bool = True, whole: bool = True
    ) -> Reopened | None:
        """The state of ``path`` read through: a saved prefix and the bytes after it.

        ``None`` when nothing saved proves to be a prefix of the file as it is
        now (then read it cold, and :meth:`save`). A failing read of the
        bytes after the prefix raises its ``OSError``, as a cold read would.
        ``whole``: as :meth:`prefix` (without it, the day slots are still made
        here when bytes were appended).
        """
        found = self.prefix(path, figures=figures, whole=whole)
        if found is None:
            return None
        state, offset = found.state, found.offset
        decoder = RecordDecoder()
        decoder.adopt_header(state.header, line=found.line)
        end, before, last = offset, offset, None
        with open(path, "rb") as fh, cold_load():
            st = os.fstat(fh.fileno())
            if (st.st_dev, st.st_ino) != found.identity:
                return None  # replaced since it was proven
            if st.st_size > offset:  # rows to fold: the day slots first, or a cold read
                try:
                    state.thaw()
                except ValueError:
                    return None
            fh.seek(offset)
            for batch in read_batches(fh, decoder=decoder, start=offset):
                if batch.records or batch.malformed:
                    state.apply_changes(batch.records, batch.malformed)
                before, end, last = end, batch.consumed, batch
        clean = last is not None and before == end and not (last.records or last.malformed)
        return Reopened(state, offset, (end, decoder.next_line) if clean else None)

    def save(
        self,
        path: Path | str,
        state: BackfillState,
        read_to: tuple[int, int],
        proof: PrefixProof | None = None,
    ) -> bool:
        """Save ``state``, the fold of ``path`` up to ``read_to`` (offset, line there).

        ``read_to`` is where a read ended cleanly (:attr:`TelemetryFile.read_to`);
        ``proof`` that of the bytes the state was folded from, if it was taken
        as they were read (else the file's first bytes are hashed now).
        Returns False, saving nothing, when the file is not that long any more
        or the cache cannot be written. Never raises for either.
        """
        return self.saver(path, state, read_to, proof)()

    def save_detached(
        self,
        path: Path | str,
        state: BackfillState,
        read_to: tuple[int, int],
        proof: PrefixProof | None = None,
    ) -> None:
        """:meth:`save`, by a process of its own that this one does not wait for.

        For a command about to print and end: a process forked twice (so
        that none is left for this one to reap), in a session of its own,
        its standard streams on ``/dev/null``, saves and ends; the command's
        output and exit do not wait for the save. Only for a process with no
        other thread (a fork copies the calling thread alone, and a lock
        another one held would stay held): else, and where ``fork`` is
        missing, it saves here and now.
        """
        if threading.active_count() > 1 or not hasattr(os, "fork"):
            self.save(path, state, read_to, proof)
            return
        try:
            middle = os.fork()
        except OSError:  # no process to be had: save here
            self.save(path, state, read_to, proof)
            return
        if middle:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(middle, 0)  # it ends at once
            return
        code = 1
        try:
            if os.fork() == 0:  # the saver
                os.setsid()
                quiet = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(quiet, fd)
                code = 0 if self.save(path, state, read_to, proof) else 1
            else:
                code = 0
        finally:
            os._exit(code)  # no cleanup of the process this one was copied from

    def saver(
        self,
        path: Path | str,
        state: BackfillState,
        read_to: tuple[int, int],
        proof: PrefixProof | None = None,
    ) -> Callable[[], bool]:
        """:meth:`save` in two parts: the state copied now (in the thread that owns
        it), and the returned function, which writes the copy (in any thread)."""
        try:
            with cold_load():  # a list per day: no collection is due for them
                plain = state_plain(state)
        except ValueError:
            return lambda: False
        figures = state.has_figures
        known = proof.digest() if proof is not None and proof.size == read_to[0] else None
        return lambda: self._save(Path(path), plain, figures, read_to, known)

    def _save(
        self,
        path: Path,
        plain: Any,
        figures: bool,
        read_to: tuple[int, int],
        known: dict[str, Any] | None,
    ) -> bool:
        offset, line = read_to
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            if st.st_size < offset or offset == 0:
                return False
            key = {
                "format": FORMAT,
                "offset": offset,
                "dev": st.st_dev,
                "ino": st.st_ino,
                "line": line,
                "proof": known if known is not None else _proof(fd, offset),
            }
            with cold_load():
                parts = [_MAGIC, *_part(key), *_part(plain[0]), *_part(plain[1])]
            self._write(self._entry(path, figures), parts)
        except (OSError, ValueError):
            return False
        finally:
            os.close(fd)
        return True

    def _write(self, entry: Path, data: list[bytes]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(entry, data)  # 0600
        self._evict()

    def _evict(self) -> None:
        def age(p: Path) -> float:
            try:
                return p.stat().st_mtime
            except OSError:
                return 0.0

        entries = sorted(self.directory.glob("*.state"), key=age, reverse=True)
        for old in entries[KEEP:]:
            with contextlib.suppress(OSError):
                old.unlink()


class Prefix(NamedTuple):
    """A saved state proven to be the fold of the file's first ``offset`` bytes."""

    state: BackfillState
    offset: int
    #: The physical line number at ``offset``.
    line: int
    #: The file's device and inode.
    identity: tuple[int, int]
    #: The bytes just before ``offset`` (up to :data:`EDGE`).
    before: bytes


class Reopened(NamedTuple):
    """A state reopened from a saved prefix: the state, where the prefix ended, and
    where the read ended cleanly (``None`` if it did not: torn or held back)."""

    state: BackfillState
    saved_to: int
    read_to: tuple[int, int] | None


#: Bytes appended since a saved state that make it worth saving again (or an
#: eighth of the prefix, if that is more): a save costs about a cold read's
#: half, so a file that grows a little at a time is not saved at every open.
RESAVE_BYTES = 16 << 20


def backfill_state(
    path: Path | str,
    cache: StateCache | None = None,
    *,
    detached: bool = False,
    whole: bool = True,
    **options: Any,
) -> BackfillState:
    """:meth:`BackfillState.from_path`, from ``cache`` when it holds a prefix of the file.

    The same state either way. A cold read, or a reopen that read at least
    :data:`RESAVE_BYTES` more (and an eighth of the prefix), is saved for the
    next time; with ``detached``, by a process of its own
    (:meth:`StateCache.save_detached`), which the caller does not wait for.
    A reopened state's day slots are made at once (slots that do not load
    mean a cold read); without ``whole``, only when first needed whole (a
    caller that reads the figures alone, the summary's, never makes them;
    :meth:`BackfillState.thaw` raises :class:`SavedStateError` for slots
    that do not load).
    """
    figures = bool(options.get("figures", True))
    save = cache.save_detached if detached and cache is not None else None
    if cache is not None:
        reopened = cache.load(path, figures=figures, whole=whole)
        if reopened is not None:
            state = reopened.state
            for name, value in options.items():
                if name != "figures":
                    setattr(state, name, value)
            done = reopened.read_to
            grown = done[0] - reopened.saved_to if done is not None else 0
            if done is not None and grown >= max(RESAVE_BYTES, reopened.saved_to // 8):
                (save or cache.save)(path, state, done)
            return state
    state, file = cold_fold(path, **options)
    if cache is not None and file.read_to is not None:
        (save or cache.save)(path, state, file.read_to, file.proof)
    return state
