"""A cold load on two cores: the file's later part folded by a second process.

:func:`cold_fold` forks; the child folds the rows from a line end past the
middle of the file into a state of its own and sends it back as plain values
(:mod:`telemetry.plain`) while the parent folds the rows before that line
end; the parent then merges the two (:meth:`BackfillState.fold_later`). The
answer is the one-process fold's, always:

- The line end is only a guess at a record boundary. It is proven by the
  parent's own read, which must end there with every byte consumed (not
  inside a quoted field, nothing held back), in a file whose lines end in
  LF. Otherwise the parent reads on to the end alone and the child's work is
  dropped.
- The two folds merge exactly only while every ``started_at_utc`` is empty
  or in the writer's format (the latest-row rule is then an order);
  otherwise the parent reads on from the split itself, as one process would.
- A child that fails, or whose answer does not load, is the same.

:class:`LaterPart` does the same for the live engine's first read of a
file: its steps fold the rows before the line end meanwhile.

Used by the commands (:func:`~telemetry.snapshot.backfill_state`) and the
live engine (``LiveFile(two_cores=True)``), never by the embedded API. A fork
copies only the calling thread, so a lock another thread holds stays held
in the child: the child runs only this package's code, whose one lock (the
collector's pause in :mod:`telemetry.records`) a forked child makes anew.
The child asks to be killed with its parent, and a child no longer wanted
is killed and reaped.
"""

from __future__ import annotations

import contextlib
import ctypes
import marshal
import os
import signal
import tempfile
import weakref
from pathlib import Path
from typing import Any, NamedTuple

from .fields import TelemetryFormatError
from .file import TelemetryFile, header_at
from .framing import read_at
from .plain import state_from_plain, state_plain
from .records import cold_load
from .state import BackfillState

#: Files smaller than this are read in one process: a fork and the merge cost
#: more than the second core saves.
MIN_BYTES = 8 << 20
#: The share of the file the child folds: it also writes its state out, and
#: the parent reads that in.
LATER_SHARE = 0.45
#: Bytes searched from the guessed middle for a line that looks like a row.
_SEARCH = 256 << 10


def cold_fold(
    path: Path | str,
    *,
    two: bool = True,
    at: int | None = None,
    **options: Any,
) -> tuple[BackfillState, TelemetryFile]:
    """The state of ``path`` read cold (finished), and the file object that read it.

    The file object's :attr:`~TelemetryFile.read_to` and ``proof`` describe
    the whole read, as after one :meth:`~TelemetryFile.read_through`. With
    ``two`` (and a big enough file and ``fork``), the later part is folded by
    a second process; ``at`` forces the split there (tests). ``options`` go
    to :class:`BackfillState`. Raises what a one-process read raises.
    """
    if two and hasattr(os, "fork"):
        split = _split(Path(path), at=at)
        done = None if split is None else _in_two(Path(path), split, options)
        if done is not None:
            return done
    state = BackfillState(**options)
    file = TelemetryFile(path)
    state.header = file.read_through(state.fold_segments)
    state.finish_fold()
    return state, file


class _Split(NamedTuple):
    """Where a file is split, its header, and its size then."""

    at: int
    header: list[str]
    size: int


def split_point(path: Path, min_bytes: int | None = None) -> int | None:
    """Where to split ``path``: the start of a line that looks like a plain row
    (no quote, one field per column) past its middle; ``None`` if the file is
    small, has no header yet, ends its lines in a bare CR, or has no such line
    near there."""
    split = _split(path, min_bytes)
    return None if split is None else split.at


def _split(path: Path, min_bytes: int | None = None, at: int | None = None) -> _Split | None:
    """:func:`split_point` with the header and the size read on the way (one open);
    with ``at``, a split forced there (tests) in a file with a header and LF lines."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        if at is None and size < (MIN_BYTES if min_bytes is None else min_bytes):
            return None
        header, _, cr_only = header_at(fd, size)
        if header is None or cr_only:
            return None
        if at is not None:
            return _Split(at, header, size)
        guess = size - int(size * LATER_SHARE)
        window = read_at(fd, _SEARCH, guess)
    except (OSError, TelemetryFormatError):
        return None
    finally:
        os.close(fd)
    commas = len(header) - 1
    nl = window.find(b"\n")
    while nl >= 0:
        end = window.find(b"\n", nl + 1)
        if end < 0:
            return None
        line = window[nl + 1 : end]
        if b'"' not in line and b"\r" not in line[:-1] and line.count(b",") >= commas:
            return _Split(guess + nl + 1, header, size)
        nl = end
    return None


def _in_two(
    path: Path, split: _Split, options: dict[str, Any]
) -> tuple[BackfillState, TelemetryFile]:
    """The fold of ``path`` split as ``split`` says."""
    state = BackfillState(**options)
    at, header = split.at, split.header
    child = _Later(path, at, header, state.has_figures)
    try:
        file = TelemetryFile(path)
        state.header = file.read_through(state.fold_segments, stop=at)
        stopped = file.stopped_at
        later = child.result() if stopped is not None else None
    finally:
        child.end()
    if stopped is None:  # not a record boundary: read on to the end alone
        state.finish_fold()
        return state, file
    if later is not None and state.fold_later(later[0], stopped[1]):
        _, read_to, part = later
        file.read_to = None if read_to is None else (read_to[0], read_to[1] + stopped[1] - 1)
        file.proof.join(*part)
    else:  # the child failed, or its fold cannot be merged: read on from the split
        rest = TelemetryFile(path)
        rest.read_through(state.fold_segments, start=(at, stopped[1], header))
        file.read_to, file.stopped_at = rest.read_to, None
        file.proof.join(*rest.proof.part())
    state.finish_fold()
    return state, file


class _Later:
    """A child process folding ``path`` from ``at`` on (up to ``stop``, if given);
    stopped and reaped when dropped.

    Its answer goes to an unnamed file (in memory where the system has
    ``memfd_create``), not a pipe: the child writes it all and ends while
    the parent still folds, and the parent reads it in one go.
    """

    def __init__(
        self, path: Path, at: int, header: list[str], figures: bool, stop: int | None = None
    ) -> None:
        answer = _unnamed_file()
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:  # the child: fold, write, and leave without cleaning up
            code = 1
            try:
                _die_with(parent)
                _write_all(answer, _fold_later(path, at, header, figures, stop))
                code = 0
            finally:
                os._exit(code)
        self._answer = answer
        self._end = weakref.finalize(self, _stop_child, self.pid, answer)

    def result(self) -> tuple[BackfillState, tuple[int, int] | None, tuple[int, int, bytes]] | None:
        """The child's state, where its read ended cleanly and the proof of its
        bytes; ``None`` if it failed. Reaps the child."""
        self._end.detach()
        try:
            _, status = os.waitpid(self.pid, 0)
            data = read_at(self._answer, os.fstat(self._answer).st_size, 0) if not status else b""
        except OSError:
            return None
        finally:
            os.close(self._answer)
        if status != 0:
            return None
        try:
            with cold_load():  # many objects that live on, and no cycles
                plain, read_to, part = marshal.loads(data)
                del data  # not held while the state is rebuilt
                later = state_from_plain(*plain)
                del plain
        except (EOFError, ValueError, TypeError):
            return None
        return later, None if read_to is None else tuple(read_to), tuple(part)

    def end(self) -> None:
        """Stop the child if it still runs, and reap it (once its result is not wanted)."""
        self._end()


def _unnamed_file() -> int:
    """A descriptor of a new file with no name: in memory (Linux), else in the temp directory."""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):
            return os.memfd_create("backfill-monitor-part", os.MFD_CLOEXEC)
    fd, name = tempfile.mkstemp(prefix="backfill-monitor-part-")
    os.unlink(name)
    return fd


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (one ``write`` may take less)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _stop_child(pid: int, answer: int) -> None:
    os.close(answer)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


class LaterPart:
    """The later part of a file being folded by a second process while its reader
    folds the rest: the live engine's first read of a big file.

    :meth:`start` forks the child, which folds the file from :attr:`at` up to
    its size then, if a record ends there; the reader folds the bytes before
    :attr:`at` and then :meth:`take` s the child's state to merge
    (:meth:`BackfillState.fold_later`). A dropped part stops its child.
    """

    def __init__(self, at: int, child: _Later) -> None:
        #: Where the child's part starts.
        self.at = at
        self._child = child

    @classmethod
    def start(cls, path: Path | str, *, figures: bool) -> LaterPart | None:
        """The later part of ``path`` under way; ``None`` for a file that is not to
        be split (small, no header yet, bare-CR lines) or without ``fork``."""
        split = _split(Path(path)) if hasattr(os, "fork") else None
        if split is None:
            return None
        return cls(split.at, _Later(Path(path), split.at, split.header, figures, stop=split.size))

    def take(self) -> tuple[BackfillState, tuple[int, int], bytes] | None:
        """The child's state, ``(offset, line)`` where its part ended (lines
        counted from 1 at :attr:`at`) and the last bytes it read (up to
        :data:`~telemetry.file.EDGE`); ``None`` when it failed or its part did
        not end at a record's end."""
        later = self._child.result()
        if later is None or later[1] is None:
            return None
        return later[0], later[1], later[2][2]

    def cancel(self) -> None:
        """Stop the child: its part is not wanted."""
        self._child.end()


#: prctl(2)'s option: the signal a process gets when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Have the kernel kill this child when ``parent`` dies (Linux; elsewhere the
    child ends when its fold does), and leave now if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _fold_later(
    path: Path, at: int, header: list[str], figures: bool, stop: int | None = None
) -> bytes:
    """The child's work: fold ``path`` from ``at`` on, as plain values, with where
    the read ended cleanly (with ``stop``: where it stopped, if it did)."""
    state = BackfillState(figures=figures)
    state.note_first_rows()
    file = TelemetryFile(path)
    file.read_through(state.fold_segments, stop, start=(at, 1, header))
    state.settle_gaps()
    ended = file.read_to if stop is None else file.stopped_at
    with cold_load():
        return marshal.dumps((state_plain(state, saved=False), ended, file.proof.part()))
