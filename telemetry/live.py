"""One followed telemetry file: the engine every live consumer runs on.

:class:`LiveFile` owns a file's :class:`~telemetry.TelemetryTail` and its
:class:`~telemetry.BackfillState`. Each :meth:`LiveFile.step` reads the next
batch and applies it: while the file is being caught up with (at the start,
and after every reset) in the cold load's bulk form, one fold per batch with
no per-day bookkeeping; once caught up, row by row, reporting which days
changed. Resets (truncated, replaced, deleted, re-created), a file that is
not (or no longer) telemetry and malformed records come back in the same
:class:`Step` for every consumer, with one policy: the state starts over
empty, the consumer keeps running and says so, and the file is read again
from its start as soon as it is telemetry.

Concurrency: a :class:`LiveFile` and its state belong to one thread at a
time; a consumer that reads the state from another thread takes its own
lock around :meth:`LiveFile.step` and its reads (``metrics``), or runs the
steps where it reads (``follow``, the monitor's worker hands each step's
state to the UI thread only once the step is done).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .fields import Malformed, Record
from .segments import Segment
from .state import BackfillState
from .tail import TelemetryTail

#: Bytes read per step while catching up (bulk: the decoded rows of a step
#: are folded at once) and once caught up (one step a wake-up, usually less).
CATCH_UP_BYTES = 8 << 20
LIVE_BYTES = 1 << 20


@dataclass
class Step:
    """What one :meth:`LiveFile.step` found and did."""

    #: Days whose latest row changed, with their latest status before
    #: (``None``: a day first seen). Empty while catching up.
    changed: dict[date, str | None] = field(default_factory=dict)
    #: The rows applied, in file order (empty while catching up).
    records: list[Record] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    #: The file was reset (truncated, replaced, deleted, created): the state
    #: started over empty, and the new file is caught up with from its start.
    reset: str | None = None
    #: Why the file is not telemetry (``None`` while it is).
    error: str | None = None
    exists: bool = True
    #: This step was part of a catch-up (bulk, nothing per day reported).
    loading: bool = False
    #: This step finished a catch-up: the state holds the whole file.
    loaded: bool = False
    #: Everything there was to read has been read.
    caught_up: bool = False
    #: Where reading stands in the file, and its size then.
    position: int = 0
    size: int = 0


class LiveFile:
    """A telemetry file followed from its start: its state, kept up to date step by step.

    ``new_state`` makes the empty state at the start and after each reset.
    ``until`` (for the first catch-up only) stops the bulk catch-up at that
    offset: what was appended after it comes as changes.
    """

    def __init__(
        self,
        path: Path | str,
        new_state: Callable[[], BackfillState] = BackfillState,
        *,
        until: int | None = None,
    ) -> None:
        self.path = Path(path)
        self._new_state = new_state
        self.state = new_state()
        self.tail = TelemetryTail(self.path)
        #: The state holds the whole file as read so far (a catch-up is done).
        self.loaded = False
        self.resets = 0
        self.error: str | None = None
        self.exists = True
        self._until = until

    def step(self) -> Step:
        """Read the next batch and apply it. ``OSError`` (unreadable) propagates."""
        if not self.loaded:
            return self._catch_up()
        update = self.tail.read_new(LIVE_BYTES)
        out = Step(exists=update.exists, size=update.size)
        self.exists = update.exists
        if update.reset is not None or update.error is not None:
            return self._start_over(out, update.reset, update.error)
        self.error = None
        out.records, out.malformed = update.records, update.malformed
        out.changed = self.state.apply_changes(update.records, update.malformed)
        out.position = self.tail.offset + self.tail.held_back
        out.caught_up = self.tail.caught_up(update)
        return out

    def _catch_up(self) -> Step:
        until = self._until
        # Folded chunk by chunk as it is decoded (the rows still in the CPU cache).
        fold, folded = self.state.fold_segments, []

        def each(segments: list[Segment], malformed: list[Malformed]) -> None:
            fold(segments, malformed)
            folded.extend(malformed)

        update = self.tail.read_new(CATCH_UP_BYTES, segments=True, until=until, each=each)
        out = Step(exists=update.exists, size=update.size, loading=True)
        self.exists = update.exists
        if update.reset is not None or update.error is not None:
            return self._start_over(out, update.reset, update.error)
        self.error = None
        if not update.exists:
            out.caught_up = True  # nothing to read: caught up with once it is there
            return out
        out.malformed = folded
        out.position = self.tail.offset + self.tail.held_back
        end = update.size if until is None else min(until, update.size)
        if out.position >= end:
            self.state.header = self.tail.header
            self.state.finish_fold()
            self.loaded = out.loaded = True
            self._until = None
            out.caught_up = self.tail.caught_up(update)
        return out

    def _start_over(self, out: Step, reset: str | None, error: str | None) -> Step:
        """A reset or a file that is not telemetry: an empty state, read again from the start."""
        had_rows = self.state.rows > 0 or bool(self.state.malformed)
        if reset is not None or (error is not None and had_rows):
            self.resets += reset is not None
            self.state = self._new_state()
            self.loaded = False
            self._until = None
            self.tail.restart()  # the new file is caught up with in bulk, from its start
        out.reset, out.error = reset, error
        self.error = error
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
