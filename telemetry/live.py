"""One followed telemetry file: the engine every live consumer runs on.

:class:`LiveFile` owns a file's :class:`~telemetry.TelemetryTail` and its
:class:`~telemetry.BackfillState`. Each step reads the next batch
(:meth:`LiveFile.read`) and applies it (:meth:`LiveFile.apply`): while the
file is being caught up with (at the start, and after every reset) in the
cold load's bulk form, with no per-day bookkeeping; once caught up, row by
row, reporting which days changed. Resets (truncated, replaced, deleted,
re-created), a file that is not (or no longer) telemetry and malformed
records come back in the same :class:`Step` for every consumer, with one
policy: the state starts over empty, the consumer keeps running and says
so, and the file is read again from its start as soon as it is telemetry.
A file that cannot be read (permissions, I/O errors) keeps its state: the
step says why, and the next one tries again.

Concurrency, the same in every consumer: the state belongs to one thread,
which reads and applies every step (:meth:`LiveFile.step`): ``follow``'s
thread, a ``metrics`` hub thread (under the lock its scrapes take), the
monitor's UI thread (its worker only waits for wake-ups).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .fields import Malformed, Record
from .segments import Segment
from .snapshot import RESAVE_BYTES, Prefix, StateCache
from .state import BackfillState
from .tail import TelemetryTail
from .twofold import LaterPart

#: Bytes read per step while catching up: the first step reads a little (a
#: first paint at once), each next one twice what was read, up to this.
CATCH_UP_BYTES = 8 << 20
FIRST_BYTES = 1 << 20
#: Bytes read per step once caught up (one step a wake-up, usually less).
LIVE_BYTES = 1 << 20


@dataclass
class Step:
    """What one step read (and, once applied, did)."""

    #: Days whose latest row changed, with their latest status before
    #: (``None``: a day first seen). Filled by :meth:`LiveFile.apply`; empty
    #: while catching up.
    changed: dict[date, str | None] = field(default_factory=dict)
    #: The rows read, in file order (empty while catching up).
    records: list[Record] = field(default_factory=list)
    #: The rows read while catching up, in bulk (empty once folded).
    segments: list[Segment] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    #: The file was reset (truncated, replaced, deleted, created).
    reset: str | None = None
    #: Why the file is not telemetry (``None`` while it is).
    error: str | None = None
    #: Why the file could not be read (an ``OSError``: permissions, I/O): the
    #: state keeps what was read, and the next step tries again.
    unreadable: str | None = None
    #: The state starts over empty with this step (a reset, or a file that
    #: stopped being telemetry): the file is caught up with from its start.
    starts_over: bool = False
    exists: bool = True
    #: This step was part of a catch-up (bulk, nothing per day reported).
    loading: bool = False
    #: This step finishes a catch-up: once applied, the state holds the whole file.
    loaded: bool = False
    #: Everything there was to read has been read.
    caught_up: bool = False
    #: Where reading stands in the file, and its size then.
    position: int = 0
    size: int = 0
    #: The segments were folded as they were read (:meth:`LiveFile.step`).
    folded: bool = False
    header: list[str] | None = None
    #: A second process's fold of the file's later part was merged in this
    #: step: its days are in the state, but were not handed to ``folded``.
    joined: bool = False

    @property
    def trouble(self) -> str | None:
        """What is wrong with the file now, if anything: :attr:`error` or :attr:`unreadable`."""
        return self.error or self.unreadable


class LiveFile:
    """A telemetry file followed from its start: its state, kept up to date step by step.

    ``new_state`` makes the empty state at the start and after each reset.
    ``until`` (for the first catch-up only) stops the bulk catch-up at that
    offset: what was appended after it comes as changes. ``catch_up_bytes``
    bounds a catch-up step (what one step holds in memory when it is read
    in one thread and applied in another). With ``cache`` the first
    catch-up starts from the saved state of a prefix of the file when one
    proves to be one (:class:`~telemetry.snapshot.StateCache`), and the
    state is saved there once caught up with. With ``two_cores`` (and no
    ``until``) a catch-up of a big file from its start has a second process
    fold the file's later part (:class:`~telemetry.twofold.LaterPart`) while
    the steps fold the rest, then merges it (:attr:`Step.joined`).
    """

    def __init__(
        self,
        path: Path | str,
        new_state: Callable[[], BackfillState] = BackfillState,
        *,
        until: int | None = None,
        catch_up_bytes: int = CATCH_UP_BYTES,
        cache: StateCache | None = None,
        two_cores: bool = False,
    ) -> None:
        self.path = Path(path)
        self._two_cores = two_cores and until is None
        self._new_state = new_state
        self.state = new_state()
        self.tail = TelemetryTail(self.path)
        self._cache = cache
        #: Where the state last saved (or reopened from) ends (-1: none).
        self.saved_to = -1
        #: Where the saved state the state was reopened from ends (-1: read cold).
        self.reopened_from = -1
        self._reopen_tried = cache is None
        self._later: LaterPart | None = None
        #: Later parts folded by a second process and merged (see ``two_cores``).
        self.joins = 0
        #: The state holds the whole file as read so far (a catch-up is applied).
        self.loaded = False
        self.resets = 0
        self.error: str | None = None
        self.exists = True
        self._until = until
        self._catch_up_bytes = catch_up_bytes
        # The reader's side: catching up, and whether anything was read since
        # the last start (a file that stops being telemetry then starts over).
        self._catching_up = True
        self._read_any = False

    def find_prefix(self) -> Prefix | None:
        """The saved state of a prefix of the file, if the cache holds one that proves to
        be one (any thread: it touches nothing of this object's)."""
        if self._cache is None:
            return None
        return self._cache.prefix(self.path, figures=self.state.has_figures, whole=True)

    def reopen(self, found: Prefix | None) -> None:
        """Start from ``found`` (:meth:`find_prefix`) before the first step, in the state's
        thread; ``None``: from the file's start. Without a call, the first step looks."""
        self._reopen_tried = True
        if found is None or self._read_any or self.tail.offset:
            return
        state, fresh = found.state, self.state
        state.expected_start, state.expected_end = fresh.expected_start, fresh.expected_end
        state.stale_after = fresh.stale_after
        assert state.header is not None  # a saved state has its header
        self.state = state
        self.tail.resume(found.offset, state.header, found.line, found.identity, found.before)
        self.saved_to = self.reopened_from = found.offset
        self._read_any = True

    def _save(self) -> None:
        """Save the state once a catch-up is applied, if it read enough that is new.

        The state is copied here, in its thread; the copy is written by a
        thread of its own.
        """
        cache, offset = self._cache, self.tail.offset
        if cache is None or offset == 0 or self.tail.decoder.cr_only:
            return
        if self.saved_to >= 0 and offset - self.saved_to < max(RESAVE_BYTES, self.saved_to // 8):
            return
        read_to = (offset, self.tail.decoder.next_line)
        write = cache.saver(self.path, self.state, read_to, self.tail.proof)
        self.saved_to = offset
        threading.Thread(target=write, name="save-state", daemon=True).start()

    def step(self) -> Step:
        """Read the next batch and apply it."""
        return self.apply(self.read(fold=True))

    def read(
        self, *, fold: bool = False, folded: Callable[[list[Segment]], None] | None = None
    ) -> Step:
        """Read the next batch, without touching the state unless ``fold``.

        With ``fold``, a catch-up's rows are folded into the state as they
        are decoded (only in the thread that owns the state), each piece
        then handed to ``folded`` and not kept. Never raises for the file: a
        file that cannot be read gives a step that says so
        (:attr:`Step.unreadable`), and every row read before stands.
        """
        if not self._reopen_tried:
            self.reopen(self.find_prefix())
        try:
            if self._catching_up:
                return self._catch_up(fold, folded)
            return self._read_rows()
        except OSError as exc:
            why = f"cannot read it: {exc.strerror or exc}"
            return Step(unreadable=why, exists=self.exists, caught_up=True)

    def _read_rows(self) -> Step:
        update = self.tail.read_new(LIVE_BYTES)
        out = Step(exists=update.exists, size=update.size)
        self.exists = update.exists
        if update.reset is not None or update.error is not None:
            return self._start_over(out, update.reset, update.error)
        self.error = None
        out.records, out.malformed = update.records, update.malformed
        self._read_any |= bool(update.records or update.malformed)
        out.position = self.tail.offset + self.tail.held_back
        out.caught_up = self.tail.caught_up(update)
        return out

    def apply(self, step: Step) -> Step:
        """Apply a step read by :meth:`read`, in order (in the state's thread); returns it."""
        if step.starts_over:
            self.state = self._new_state()
            self.loaded = False
        if step.loading:
            if not step.folded:
                self.state.fold_segments(step.segments, step.malformed)
            if step.loaded:
                self.state.header = step.header
                self.state.finish_fold()
                self.loaded = True
                self._save()
        elif step.records or step.malformed:
            step.changed = self.state.apply_changes(step.records, step.malformed)
        return step

    def _catch_up(self, fold: bool, folded: Callable[[list[Segment]], None] | None) -> Step:
        if (
            fold
            and self._two_cores
            and not self._later
            and not self.tail.offset
            and not self._read_any
        ):
            self._later = LaterPart.start(self.path, figures=self.state.has_figures)
        later = self._later
        until = self._until if later is None else later.at
        out = Step(loading=True, folded=fold)
        # Folded chunk by chunk as it is decoded (the rows still in the CPU cache).
        fold_now = self.state.fold_segments

        def each(segments: list[Segment], malformed: list[Malformed]) -> None:
            if not fold:
                out.segments += segments
            else:
                fold_now(segments, malformed)
                if folded is not None:
                    folded(segments)
            out.malformed += malformed
            if segments or malformed:
                self._read_any = True

        most = min(self._catch_up_bytes, max(FIRST_BYTES, 2 * self.tail.offset))
        update = self.tail.read_new(most, segments=True, until=until, each=each)
        out.exists, out.size = update.exists, update.size
        self.exists = update.exists
        if update.reset is not None or update.error is not None:
            return self._start_over(out, update.reset, update.error)
        self.error = None
        if not update.exists:
            out.caught_up = True  # nothing to read: caught up with once it is there
            return out
        out.position = self.tail.offset + self.tail.held_back
        end = update.size if until is None else min(until, update.size)
        if later is not None and out.position >= end:
            self._join(later, out, fold)  # then read on, from its end or from here
            return out
        if out.position >= end:
            out.header = self.tail.header
            out.loaded = True
            self._catching_up = False
            self._until = None
            out.caught_up = self.tail.caught_up(update)
        return out

    def _join(self, later: LaterPart, out: Step, fold: bool) -> None:
        """Merge the later part's fold if the steps ended exactly where it starts
        (and fold into the state: a reader that does not is not touched)."""
        self._later = None
        tail = self.tail
        header, identity = tail.header, tail.identity
        ended = tail.offset == later.at and not tail.held_back
        if not (fold and ended and header is not None and identity is not None):
            later.cancel()  # a record runs on across it: read on alone
            return
        taken = later.take()
        if taken is None:
            return
        try:
            before = tail.bytes_before(taken[1][0])
        except OSError:
            before = None
        line = tail.decoder.next_line
        last = taken[2]  # the child's last bytes: as many as it read, up to EDGE
        if before is None or not (last.endswith(before) or before.endswith(last)):
            return  # the file changed under it (or the child read another): read on alone
        if not self.state.fold_later(taken[0], line):
            return  # the parts do not merge: read on alone
        end, its_line = taken[1]
        tail.resume(end, header, its_line + line - 1, identity, before)
        out.joined = True
        out.position = end
        self.joins += 1

    def _start_over(self, out: Step, reset: str | None, error: str | None) -> Step:
        """A reset or a file that is not telemetry: an empty state, read again from the start."""
        out.segments.clear()
        out.malformed.clear()
        out.loading = out.loaded = False
        if reset is not None or (error is not None and self._read_any):
            self.resets += reset is not None
            self.saved_to = self.reopened_from = -1
            out.starts_over = True
            self._catching_up = True
            self._read_any = False
            self._until = None
            self.tail.restart()  # the new file is caught up with in bulk, from its start
        out.reset, out.error = reset, error
        self.error = error
        if self._later is not None:
            self._later.cancel()
            self._later = None
        # A new file that is there is read at the next step.
        out.caught_up = error is not None or not out.exists
        return out

    def drain(self, on_step: Callable[[Step], None] = lambda step: None) -> None:
        """Step until caught up, handing each step to ``on_step``."""
        while True:
            step = self.step()
            on_step(step)
            if step.caught_up:
                return
