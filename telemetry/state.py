"""Everything the monitor shows, kept up to date row by row without rescanning.

:class:`BackfillState` folds rows into the resume state (the latest row per
day, by the same rule as :meth:`HistoricalTelemetry.load_state`) and the
figures derived from it: counts, failures, durations, throughput, stalls.
Applying rows costs only the rows applied.

This module is the fold. What a row says about its day (which status opens
an attempt, reports a duration or a volume) lives in :mod:`telemetry.rules`;
the figures' own types (:class:`DurationStats`, :class:`Progress`...) in
:mod:`telemetry.figures`; the latest-row rule in :mod:`telemetry.latest`.
"""

from __future__ import annotations

import bisect
import operator
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from itertools import compress, islice, pairwise, repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

from .fields import CANONICAL_STATUS, Malformed, Record, row_values
from .figures import (
    DEFAULT_STALE_AFTER,
    DEFAULT_WINDOW,
    DurationStats,
    FailureGroup,
    Progress,
    add_floats,
    day_runs,
    parse_number,
    sum_floats,
    sum_whole,
)
from .file import TelemetryFile
from .latest import (
    STARTED_COL,
    build_rows,
    in_writer_order,
    orderly_times,
    parse_instant,
    replaces,
)
from .liveness import Liveness, Newest, RowGaps, liveness
from .records import cold_load
from .rules import (
    DURATION_OF_STATUS,
    FLAG_OPENS,
    FLAG_PHASE,
    FLAG_VOLUME,
    OPENS_ATTEMPT,
    PHASE_COLUMN,
    VOLUMES,
    VOLUMES_OF_STATUS,
    phase_of,
    status_flags,
)
from .schema import (
    COLUMN,
    FINAL_STATUSES,
    PENDING_STATUSES,
    PHASE_OF_STATUS,
    PHASES,
    STATUS_FAILED,
    TelemetryRow,
)
from .segments import Segment, keep_of, run_firsts, runs_of
from .trend import DurationTrend, duration_trend, pick_width

_STATUS = COLUMN["status"]
_FINISHED = COLUMN["finished_at_utc"]
_SENSOR = COLUMN["sensor_id"]
_DESCRIPTOR = COLUMN["descriptor"]
_ERROR_TYPE = COLUMN["error_type"]
_DAY = itemgetter(2)
_VALUES = itemgetter(3)
_OFFSET = itemgetter(0)
_LINE = itemgetter(1)

# What BackfillState keeps of one day, a "day slot": a plain list, so a
# million rows' days are made by C-level maps and a saved state's lists are
# used as marshal loads them. Its fields, at these indexes:
_KEEP = 0  # the latest row as segments.keep_of keeps it: its text, or its values
_STARTED = 1  # the latest row's started_at_utc
_LATEST_STATUS = 2  # the latest row's status (a shared string)
_FINISHED_AT = 3  # the latest row's finished_at_utc; slot[:4] is a Latest
_ATTEMPTS = 4  # attempts at the day so far (BackfillState.attempts)
_LAST_STARTED = 5  # started_at_utc of the day's last row in file order
_RUNS = 6  # then (byte offset, line number, rows) per run of adjacent rows (with figures)

#: A day slot (above).
DaySlot = list[Any]


def _runs(slot: DaySlot) -> list[tuple[int, int, int]]:
    """``(byte offset, line number, rows)`` of each run of the day's adjacent rows."""
    positions = slot[_RUNS:]
    return list(zip(positions[0::3], positions[1::3], positions[2::3], strict=True))


def _add_run(slot: DaySlot, goes_on: bool, segment: Segment, run: int, rows: int) -> None:
    """Add run ``run`` of ``segment`` (``rows`` rows) to a day's runs of positions.

    When it ``goes_on`` from the row before (same day), the day's last run
    just grows.
    """
    if goes_on:
        slot[-1] += rows
    else:
        slot += (segment.offsets[run], segment.lines[run], rows)


def _source_of(segment: Segment) -> tuple[str, str] | None:
    """The sensor and descriptor of the last row of ``segment`` that names either."""
    n = len(segment.keeps)
    if not n:
        return None
    last = segment.values(n - 1)
    if not (last[_SENSOR] or last[_DESCRIPTOR]):  # rarely: look back, C-level
        both = map(operator.add, segment.column(_SENSOR), segment.column(_DESCRIPTOR))
        named = next(compress(range(n - 1, -1, -1), reversed(list(both))), None)
        if named is None:
            return None
        last = segment.values(named)
    return last[_SENSOR], last[_DESCRIPTOR]


def _values(keep: str | list[str]) -> list[str]:
    return keep if isinstance(keep, list) else row_values(keep)


def _segment_of(records: list[Record]) -> Segment:
    """The rows of ``records`` as one :class:`Segment` (with their values as ``rows``)."""
    values = list(map(_VALUES, records))
    keeps = list(map(keep_of, records))
    ends, days = runs_of(list(map(_DAY, records)))
    firsts = list(map(records.__getitem__, run_firsts(ends)))
    return Segment(
        ends,
        days,
        keeps,
        [],
        {},
        list(map(_OFFSET, firsts)),
        list(map(_LINE, firsts)),
        values,
    )


def _finish_times(latest: list[Latest]) -> list[float]:
    """When each of these latest rows finished (else started), as POSIX timestamps.

    Rows with neither timestamp parseable are left out.
    """
    texts = list(map(itemgetter(_FINISHED_AT), latest))
    if not all(texts):  # usually a few rows: each takes its started_at_utc
        for k in compress(range(len(texts)), map(operator.not_, texts)):
            texts[k] = latest[k][_STARTED]
    return _stamps(texts)


def _stamps(texts: list[str]) -> list[float]:
    """The timestamps among ``texts`` as POSIX timestamps (C-level when all are aware ISO)."""
    if not all(texts):  # an empty text is no timestamp
        texts = list(filter(None, texts))
    try:
        moments = list(map(datetime.fromisoformat, texts))
    except ValueError:  # empty or odd texts: parse one by one
        moments = []
    else:
        if None not in set(map(attrgetter("tzinfo"), moments)):
            return list(map(datetime.timestamp, moments))
    parsed = map(parse_instant, texts)  # naive means UTC there
    return [m.timestamp() for m in parsed if m is not None]


#: A day's latest row as the fold keeps it: ``[keep, started, status,
#: finished]``, the first four fields of its day slot.
Latest = list[Any]

#: One change of the fold: a day, its latest row before (``None``: a day
#: first seen) and after.
Change = tuple[date, Latest | None, Latest]


class DayFigures:
    """The figures that depend only on each day's latest row, kept from the fold's changes.

    The fold hands every change as ``(day, before, after)``: :meth:`update`
    takes the ``before`` rows out and puts the ``after`` rows in. A cold load
    puts every day's latest row in at once (C-level maps over the columns).
    Adding a figure means adding it here, once.
    """

    def __init__(self) -> None:
        self.status_counts: Counter[str] = Counter()
        self.failed: dict[str, set[date]] = {}
        #: Failed days by the phase they failed in (:func:`~telemetry.rules.phase_of`).
        self.failed_phases: Counter[str] = Counter()
        self.pending: set[date] = set()
        #: When each day whose latest status is final finished, sorted.
        self.finish_times: array[float] = array("d")

    def update(self, changes: list[Change]) -> None:
        """Take out each change's ``before`` row, then put in its ``after`` row."""
        gone = [(day, before) for day, before, _ in changes if before is not None]
        if gone:
            days, rows = map(list, zip(*gone, strict=True))
            self.put(days, rows, add=False)
        self.put(list(map(itemgetter(0), changes)), list(map(itemgetter(2), changes)))

    def put(self, days: list[date], latest: list[Latest], *, add: bool = True) -> None:
        """Count ``days`` whose latest rows are ``latest`` in every figure (out, unless ``add``).

        Each of ``latest`` is read by its first fields (a :data:`Latest`, or a
        day slot) and none is kept.
        """
        statuses = list(map(itemgetter(_LATEST_STATUS), latest))
        if add:
            self.status_counts.update(statuses)
        else:
            self.status_counts.subtract(statuses)
        is_failed = list(map(operator.eq, statuses, repeat(STATUS_FAILED)))
        failed = self.failed
        phases = self.failed_phases
        for day, row in zip(compress(days, is_failed), compress(latest, is_failed), strict=True):
            values = _values(row[_KEEP])
            group = failed.setdefault(values[_ERROR_TYPE], set())
            phases[phase_of(values)] += 1 if add else -1
            if add:
                group.add(day)
            else:
                group.discard(day)
                if not group:
                    del failed[values[_ERROR_TYPE]]
        pending = compress(days, map(PENDING_STATUSES.__contains__, statuses))
        if add:
            self.pending.update(pending)
        else:
            self.pending.difference_update(pending)
        finals = list(compress(latest, map(FINAL_STATUSES.__contains__, statuses)))
        stamps, times = _finish_times(finals), self.finish_times
        if add and len(stamps) > 100:  # merge two sorted runs (C-level)
            self.finish_times = array("d", sorted([*times, *stamps]))
        elif add:
            for stamp in stamps:
                bisect.insort(times, stamp)
        else:  # the day no longer counts as finished then (it was retried)
            for stamp in stamps:
                i = bisect.bisect_left(times, stamp)
                if i < len(times) and times[i] == stamp:
                    del times[i]


class Frozen:
    """A saved state's day slots, not made until they are needed whole.

    Reading a reopened state's figures and plan needs every day's latest
    status, and the whole slots only of the days whose status is failed or
    pending: ``statuses`` (one byte per day of ``days``, sorted, indexing
    ``table``) and ``named``. Anything else (a fold, another day's row)
    calls ``load(len(days))`` once, which returns every slot (a list each)
    in the order of ``order`` (the days as the state held them), or raises
    ``ValueError``.
    """

    def __init__(
        self,
        days: list[date],
        statuses: tuple[list[str], bytes],
        named: dict[date, DaySlot],
        order: list[date],
        load: Callable[[int], list[DaySlot]],
    ) -> None:
        self.days = days
        self.table, self.codes = statuses
        if len(self.codes) != len(days) or max(self.codes, default=-1) >= len(self.table):
            raise ValueError("a saved state's statuses are not its days'")
        self.named = named
        self._order = order
        self._load = load
        self._slots: dict[date, DaySlot] | None = None
        self._lock = threading.Lock()

    def status_of(self, day: date) -> str | None:
        """The latest status of ``day`` (``None``: never attempted)."""
        days = self.days
        i = bisect.bisect_left(days, day)
        return self.table[self.codes[i]] if i < len(days) and days[i] == day else None

    def counts(self, lo: int, hi: int) -> Counter[str]:
        """Days ``days[lo:hi]`` by their latest status."""
        codes = self.codes
        return Counter({s: codes.count(k, lo, hi) for k, s in enumerate(self.table)})

    def thaw(self) -> dict[date, DaySlot]:
        """Every day's slot, by day: made once (the first of two threads that ask
        makes it, the other waits for it)."""
        with self._lock:
            if self._slots is None:
                with cold_load():  # many objects that live on, and no cycles
                    slots = self._load(len(self._order))
                    self._slots = dict(zip(self._order, slots, strict=True))
            return self._slots


class LatestRows(Mapping[date, TelemetryRow]):
    """Read-only view: day -> latest :class:`TelemetryRow` (built on access)."""

    def __init__(self, slots: dict[date, DaySlot]) -> None:
        self._slots = slots

    def __getitem__(self, day: date) -> TelemetryRow:
        return TelemetryRow(*_values(self._slots[day][_KEEP]))

    def __iter__(self) -> Iterator[date]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, day: object) -> bool:
        return day in self._slots


class BackfillState:
    """The resume state of a backfill and the figures derived from it.

    ``latest`` always equals ``load_state()`` of the bytes applied so far.
    ``expected_start``/``expected_end`` bound the range progress and the ETA
    are measured against (by default the first..last day seen). Rows must be
    applied in file order.

    Memory per day is one small list (the latest row as its text, two
    timestamps, counts and where each run of the day's adjacent rows starts
    in the file, :meth:`runs`); a day's other rows are read back from the
    file on demand (:meth:`history`).
    """

    def __init__(
        self,
        *,
        expected_start: date | None = None,
        expected_end: date | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        figures: bool = True,
    ) -> None:
        self.expected_start = expected_start
        self.expected_end = expected_end
        self.stale_after = stale_after
        # The day slots; None while they are frozen (a saved state not needed
        # whole yet: see Frozen).
        self._table: dict[date, DaySlot] | None = {}
        self._frozen: Frozen | None = None
        self._sorted_days: list[date] | None = []
        self._figures = DayFigures()
        self.durations: dict[str, DurationStats] = {p: DurationStats() for p in PHASES}
        # Without figures (``load_state``), only the resume state is kept.
        self._measure = {
            status: (self.durations[phase].values, col)
            for status, (phase, col) in DURATION_OF_STATUS.items()
            if figures
        }
        self.csv_mb = 0.0
        self.cdf_mb = 0.0
        self.records_downloaded = 0
        self._newest_row = Newest()
        # While every row so far is in time order, batches take the fast fold.
        self._in_order = True
        self._high = ""
        # The day of the last row folded: a run of rows going on with it
        # (across batches) adds to that day's last run of positions.
        self._last_day: date | None = None
        # The latest day that has a slot.
        self._newest: date | None = None
        self._total_attempts = 0
        self.rows = 0
        self.malformed: list[Malformed] = []
        self.header: list[str] | None = None
        #: The ``sensor_id`` and ``descriptor`` of the last row in the file that
        #: names either: what the backfill is of (empty strings until one does).
        self.source = ("", "")
        #: The timestamps of the newest rows: the writer's usual rhythm.
        self.gaps = RowGaps()
        self._newest_segments: list[Segment] = []  # folded in bulk, gaps not noted yet
        self._unfinished = False  # folded in bulk since the figures were derived
        # Every started_at_utc folded is in the writer's format or empty: the
        # latest-row rule is then an order, and two parts of a file merge
        # exactly (fold_later).
        self._writer_times = True
        # With note_first_rows(): each new day's first started_at_utc and status,
        # in the order the days were first seen (what fold_later needs).
        self._firsts: tuple[list[str], list[str]] | None = None

    @property
    def has_figures(self) -> bool:
        """Whether the figures are kept (``False``: the resume state alone, and no
        run positions: :meth:`runs`, :meth:`row_count` and :meth:`history` are empty)."""
        return bool(self._measure)

    @property
    def _slots(self) -> dict[date, DaySlot]:
        """Every day's slot (thawed first if frozen): what the folds change."""
        table = self._table
        return self._thaw() if table is None else table

    def _slot(self, day: date) -> DaySlot | None:
        """``day``'s slot, to read: from a frozen state's named slots when it is one."""
        frozen = self._frozen
        if frozen is not None:
            slot = frozen.named.get(day)
            if slot is not None:
                return slot
        return self._slots.get(day)

    def thaw(self) -> None:
        """Make the day slots of a reopened state now (nothing to do for others).

        Raises ``ValueError`` when they do not load: a reader that is to
        fold goes on from the file's start instead.
        """
        if self._table is None:
            self._thaw()

    def freeze(self, frozen: Frozen) -> None:
        """Hold the day slots as ``frozen`` until they are needed whole (a saved state)."""
        self._table, self._frozen = None, frozen

    def _thaw(self) -> dict[date, DaySlot]:
        frozen = self._frozen
        if frozen is None:  # another thread thawed it meanwhile (the table first)
            assert self._table is not None
            return self._table
        table = self._table = frozen.thaw()
        self._frozen = None
        return table

    # -- loading ---------------------------------------------------------------

    @classmethod
    def from_path(cls, path: Path | str, **options: object) -> BackfillState:
        """Load a whole file cold; a torn final record is reported as malformed.

        A missing file gives an empty state. Raises
        :class:`~telemetry.records.TelemetryFormatError` for a file that is
        not telemetry. ``options`` are passed to the constructor.
        """
        state = cls(**options)  # type: ignore[arg-type]
        file = TelemetryFile(path, prove=False, positions=state.has_figures)
        state.header = file.read_through(state.fold_segments)
        state.finish_fold()
        return state

    def fold_segments(self, segments: Iterable[Segment], malformed: Iterable[Malformed]) -> None:
        """Fold rows read in bulk, in file order (a cold load or a catch-up).

        The figures that depend on each day's latest row (counts, failures,
        pending days, finish times) are not kept up to date meanwhile:
        :meth:`finish_fold` derives them once, before the state is read or
        rows are applied with :meth:`apply`.
        """
        self.malformed.extend(malformed)
        self._unfinished = True
        newest = self._newest_segments
        for segment in segments:
            self._fold_segment(segment)
            if self._measure:
                newest.append(segment)  # the last segments: enough rows for the gaps
                if sum(len(s.keeps) for s in newest[1:]) >= self.gaps.keep:
                    del newest[0]

    def finish_fold(self) -> None:
        """Derive the figures of the rows folded by :meth:`fold_segments` (nothing
        to do when none were folded since the last call)."""
        self.settle_gaps()
        if self._measure and self._unfinished:
            with cold_load():  # many small objects that live on, and no cycles
                self._recount()
        self._unfinished = False
        self._sorted_days = None  # sorted when first asked for

    def settle_gaps(self) -> None:
        """Note the rhythm of the newest rows folded in bulk (:meth:`finish_fold`'s first part)."""
        for segment in self._newest_segments:
            self._note_gaps(segment)
        self._newest_segments.clear()

    def note_first_rows(self) -> None:
        """Keep each new day's first row's ``started_at_utc`` and status from now
        on: a fold of a file's later part, to be merged by :meth:`fold_later`."""
        self._firsts = ([], [])

    def fold_later(self, later: BackfillState, line: int) -> bool:
        """Merge ``later``, the bulk fold of the rest of this file's rows.

        This state is the bulk fold of the rows before a record's start
        (physical line ``line`` there), not finished yet. ``later`` was folded from an empty
        state of the same kind with :meth:`note_first_rows` on, counting
        lines from 1, and its gaps settled; it is consumed. Afterwards this
        state is exactly the fold of both parts in one (finish it with
        :meth:`finish_fold`). Returns False, changing nothing, when that
        cannot be promised: some ``started_at_utc`` is neither empty nor in
        the writer's format, so the latest-row rule is not an order to merge
        by (:func:`~telemetry.latest.orderly_times`).
        """
        if later._firsts is None or not (self._writer_times and later._writer_times):
            return False
        self.settle_gaps()
        shift = line - 1
        slots = self._slots
        # The later part's first row goes on with the run of this part's last
        # row if both are of one day (reports between them end no run).
        going_on = next(iter(later._slots), None)
        if going_on != self._last_day:
            going_on = None
        figures = bool(self._measure)
        added = 0
        opens = OPENS_ATTEMPT
        for (day, slot), first, status in zip(later._slots.items(), *later._firsts, strict=True):
            if shift:
                slot[_RUNS + 1 :: 3] = [n + shift for n in slot[_RUNS + 1 :: 3]]
            mine = slots.get(day)
            if mine is None:
                slots[day] = slot
                continue
            if replaces(slot[_STARTED], mine[_STARTED]):
                mine[:_ATTEMPTS] = slot[:_ATTEMPTS]
            if figures:  # the later part counted the day's first row there as an attempt
                more = slot[_ATTEMPTS] - 1 + (mine[_LAST_STARTED] != first and status in opens)
                mine[_ATTEMPTS] += more
                added += more - slot[_ATTEMPTS]
            mine[_LAST_STARTED] = slot[_LAST_STARTED]
            if not figures:  # no positions kept
                continue
            runs = slot[_RUNS:]
            if day == going_on:  # one run across the split
                mine[-1] += runs[2]
                del runs[:3]
            mine += runs
        self._total_attempts += later._total_attempts + added
        self.rows += later.rows
        self.malformed += [m._replace(line=m.line + shift) for m in later.malformed]
        for phase, stats in later.durations.items():
            self.durations[phase].values.extend(stats.values)
        for figure in VOLUMES:
            setattr(self, figure, getattr(self, figure) + getattr(later, figure))
        self._newest_row.merge(later._newest_row)
        if later.source != ("", ""):
            self.source = later.source
        self.gaps.extend(later.gaps)
        if later._firsts[0]:  # it folded rows
            self._in_order = (
                self._in_order and later._in_order and self._high <= later._firsts[0][0]
            )
            self._high = later._high
            self._last_day = later._last_day
            if self._newest is None or (later._newest is not None and later._newest > self._newest):
                self._newest = later._newest
        self._sorted_days = None
        self._unfinished = True
        return True

    def _note_gaps(self, segment: Segment) -> None:
        keep = -(self.gaps.keep)
        self.gaps.add(segment.whens[keep:], segment.column(_FINISHED)[keep:])

    def _fold_segment(self, segment: Segment) -> None:
        """Fold rows during a cold load; the day figures are counted once at the end."""
        self.rows += len(segment.keeps)
        self.source = _source_of(segment) or self.source
        whens = segment.whens
        if self._in_order and in_writer_order(self._high, whens):
            self._high = whens[-1]
            self._fold_in_order(segment, whens, None)
        else:
            self._in_order = False
            self._writer_times = self._writer_times and orderly_times(whens)
            self._fold_rows(segment, {})

    def _recount(self) -> None:
        """Derive the figures that depend on each day's latest row, from scratch."""
        self._figures = DayFigures()
        # The slots as they are: put reads their first fields (a Latest) and keeps none.
        self._figures.put(list(self._slots), list(self._slots.values()))

    def apply(self, records: Iterable[Record], malformed: Iterable[Malformed] = ()) -> set[date]:
        """Fold rows (in file order) into the state; return the days whose latest row changed."""
        return set(self.apply_changes(records, malformed))

    def apply_changes(
        self, records: Iterable[Record], malformed: Iterable[Malformed] = ()
    ) -> dict[date, str | None]:
        """Like :meth:`apply`, returning ``{day: its latest status before}`` for changed days.

        The previous status is ``None`` for a day first seen in ``records``.
        Costs one pass over ``records``; the figures that depend only on each
        day's latest row are updated once per changed day, not once per row.
        While every row so far is in time order (one orchestrator writing as
        it goes) a batch is folded one run of same-day rows at a time, with
        C-level maps over its columns; otherwise row by row.
        """
        self.malformed.extend(malformed)
        if not isinstance(records, list):
            records = list(records)
        if not records:
            return {}
        with cold_load():  # a batch allocates many objects and no cycles
            return self._apply_changes(records)

    def _apply_changes(self, records: list[Record]) -> dict[date, str | None]:
        segment = _segment_of(records)
        whens = segment.whens
        self._note_gaps(segment)
        self.source = _source_of(segment) or self.source
        before: dict[date, Latest | None] = {}
        if self._in_order and in_writer_order(self._high, whens):
            self._high = whens[-1]
            self._fold_in_order(segment, whens, before)
        else:
            self._in_order = False
            self._writer_times = self._writer_times and orderly_times(whens)
            self._fold_rows(segment, before)
        self.rows += len(records)
        slots = self._slots
        changes = [(day, old, slots[day][:_ATTEMPTS]) for day, old in before.items()]
        self._figures.update(changes)
        new_days = [day for day, old in before.items() if old is None]
        if new_days:
            self._add_days(new_days)
        return {day: None if old is None else old[_LATEST_STATUS] for day, old in before.items()}

    def _add_days(self, new_days: list[date]) -> None:
        """Keep :attr:`days` sorted: append days past the end, else sort again later."""
        ordered = self._sorted_days
        if ordered is None:
            return
        new_days.sort()
        if not ordered or new_days[0] > ordered[-1]:
            ordered.extend(new_days)
        else:
            self._sorted_days = None

    def _fold_rows(
        self,
        segment: Segment,
        before: dict[date, Latest | None],
    ) -> None:
        """Fold rows one by one (any order); fill ``before`` (the changed days' latest rows)."""
        if self._measure:
            self._newest_row.note_rows(segment.whens, segment.column(_FINISHED))
        slots = self._slots
        get_slot = slots.get
        measure = self._measure.get
        volumes = {figure: getattr(self, figure) for figure in VOLUMES}
        volumes_of = (VOLUMES_OF_STATUS if self._measure else {}).get
        attempts = 0
        canonical = CANONICAL_STATUS.get
        keeps, row_values_of = segment.keeps, segment.values
        previous_day = self._last_day
        newest = self._newest
        first_whens, first_statuses = self._firsts or ([], [])
        positions = bool(self._measure)
        for run, (day, first, end) in enumerate(
            zip(segment.days, segment.firsts, segment.ends, strict=True)
        ):
            slot = get_slot(day)
            if slot is not None and positions:
                _add_run(slot, day == previous_day, segment, run, end - first)
            previous_day = day
            for k in range(first, end):
                values = row_values_of(k)
                when = values[STARTED_COL]
                status = canonical(values[_STATUS], values[_STATUS])
                finished = values[_FINISHED]
                measured = measure(status)
                if measured is not None:
                    cell = values[measured[1]]
                    if cell:
                        try:  # noqa: SIM105 - suppress() would cost a call per row
                            measured[0].append(float(cell))
                        except ValueError:
                            pass
                for figure, col, whole in volumes_of(status, ()):
                    number = parse_number(values[col]) or 0.0
                    volumes[figure] += int(number) if whole else number
                keep = keeps[k]
                if slot is None:
                    slot = slots[day] = [keep, when, status, finished, 1, when]
                    if positions:
                        slot += (segment.offsets[run], segment.lines[run], end - first)
                    if newest is None or day > newest:
                        newest = day
                    attempts += 1
                    before[day] = None
                    first_whens.append(when)
                    first_statuses.append(status)
                    continue
                if slot[_LAST_STARTED] != when:
                    slot[_LAST_STARTED] = when
                    if status in OPENS_ATTEMPT:
                        slot[_ATTEMPTS] += 1
                        attempts += 1
                current = slot[_STARTED]
                if replaces(when, current):
                    if day not in before:
                        before[day] = slot[:_ATTEMPTS]
                    slot[_KEEP] = keep
                    slot[_STARTED] = when
                    slot[_LATEST_STATUS] = status
                    slot[_FINISHED_AT] = finished
        self._last_day = previous_day
        self._newest = newest
        for figure, total in volumes.items():
            setattr(self, figure, total)
        self._total_attempts += attempts

    def _fold_in_order(
        self,
        segment: Segment,
        whens: list[str],
        before: dict[date, Latest | None] | None,
    ) -> None:
        """Fold rows known to be in time order: each row replaces its day's latest.

        Equal to :meth:`_fold_rows` on such rows (a property test checks it),
        with Python code per run of same-day rows instead of per row. Fills
        ``before`` unless it is ``None`` (a cold load).
        """
        keeps, statuses, days = segment.keeps, segment.statuses, segment.days
        finished = segment.column(_FINISHED)
        canonical = CANONICAL_STATUS.__getitem__
        if self._measure:
            flags = status_flags(statuses)
            self._newest_row.note_rows(whens, finished)
            self._measure_in_bulk(segment, flags)
            opens = flags[FLAG_OPENS]
            # opening[k - 1] is 1 when row k >= 1 opens an attempt: its
            # started_at_utc differs from the row before and it is download-phase
            # (the two masks are ANDed as integers). The attempts a run opens past
            # its first row are then one C-level count of it.
            changed = bytes(map(operator.ne, islice(whens, 1, None), whens))
            both = int.from_bytes(changed, "little") & int.from_bytes(opens[1:], "little")
            opening = both.to_bytes(len(changed), "little")
        else:  # the resume state alone: no figures, no attempts
            opens = opening = bytes(len(whens))
        slots = self._slots
        firsts, ends = segment.firsts, segment.ends
        columns = (whens, statuses, finished, opening, firsts)
        added = 0
        for run in self._new_days_in_bulk(segment, columns, before):
            day = days[run]
            i, j = firsts[run], ends[run]
            last = j - 1
            new_attempts = opening.count(1, i, last)  # inside the run, past its first row
            slot = slots[day]  # made above if the day is new
            if self._measure:
                goes_on = day == (days[run - 1] if run else self._last_day)
                _add_run(slot, goes_on, segment, run, j - i)
            if slot[_LAST_STARTED] != whens[i] and opens[i]:
                new_attempts += 1
            slot[_ATTEMPTS] += new_attempts
            added += new_attempts
            if before is not None and day not in before:
                before[day] = slot[:_ATTEMPTS]
            slot[_KEEP] = keeps[last]
            slot[_STARTED] = slot[_LAST_STARTED] = whens[last]
            slot[_LATEST_STATUS] = canonical(statuses[last])
            slot[_FINISHED_AT] = finished[last]
        self._total_attempts += added
        self._last_day = days[-1]

    def _new_days_in_bulk(
        self,
        segment: Segment,
        columns: tuple[list[str], list[str], list[str], bytes, list[int]],
        before: dict[date, Latest | None] | None,
    ) -> list[int]:
        """Make the slots of days first seen here, from their first run, with C-level maps.

        ``columns`` are the segment's ``started_at_utc``, status and
        ``finished_at_utc`` columns, which rows past the first open an attempt
        (byte ``k - 1`` for row ``k``) and the index of each run's first row.
        Returns the runs left for the loop in :meth:`_fold_in_order`: those
        of days that had a slot already.
        """
        whens, statuses, finished, opening, firsts = columns
        run_days = segment.days
        slots = self._slots
        runs = len(run_days)
        # Usually (a cold load in order) every run is a new day's but the
        # first, which may go on with the day the segment before ended on.
        old = 1 if run_days[0] in slots else 0
        newest = self._newest
        if old < runs and (newest is None or run_days[old] > newest):
            # Days past every day seen, in rising order, are new and distinct
            # (no lookups in the big map of slots).
            rising = all(
                map(operator.lt, islice(run_days, old, None), islice(run_days, old + 1, None))
            )
        else:
            rising = False
        if rising or (
            len(set(run_days)) == runs and slots.keys().isdisjoint(islice(run_days, old, None))
        ):
            stale = None
        else:
            # A day's first run in the segment (reversed, so the first index wins).
            first_run = dict(zip(reversed(run_days), range(runs - 1, -1, -1), strict=True))
            stale = list(
                map(
                    operator.or_,
                    map(slots.__contains__, run_days),
                    map(operator.ne, map(first_run.__getitem__, run_days), range(runs)),
                )
            )
        ends = segment.ends
        if stale is None or sum(stale) == old:  # the stale run, if any, is the first
            starts, stops, new_days = firsts[old:], ends[old:], run_days[old:]
            offsets, lines = segment.offsets[old:], segment.lines[old:]
            left = list(range(old))
        else:
            fresh = list(map(operator.not_, stale))
            starts, stops = list(compress(firsts, fresh)), list(compress(ends, fresh))
            new_days = list(compress(run_days, fresh))
            offsets = list(compress(segment.offsets, fresh))
            lines = list(compress(segment.lines, fresh))
            left = list(compress(range(runs), stale))
        lasts = list(map(operator.sub, stops, repeat(1)))
        if self._firsts is not None:
            self._firsts[0].extend(map(whens.__getitem__, starts))
            self._firsts[1].extend(
                map(CANONICAL_STATUS.__getitem__, map(statuses.__getitem__, starts))
            )
        # 1 + the attempts opened inside the run past its first row
        if self._measure:
            opened = map(opening.count, repeat(1), starts, lasts)
            attempts = list(map(operator.add, opened, repeat(1)))
        else:
            attempts = [0] * len(starts)
        latest_whens = list(map(whens.__getitem__, lasts))
        fields = [
            map(segment.keeps.__getitem__, lasts),
            latest_whens,
            map(CANONICAL_STATUS.__getitem__, map(statuses.__getitem__, lasts)),
            map(finished.__getitem__, lasts),
            attempts,
            latest_whens,
        ]
        if self._measure:  # where the day's rows are (none kept without figures)
            fields += [offsets, lines, map(operator.sub, stops, starts)]
        new_slots = map(list, zip(*fields, strict=True))
        slots.update(zip(new_days, new_slots, strict=True))
        if new_days:
            top = max(new_days)
            if newest is None or top > newest:
                self._newest = top
        self._total_attempts += sum(attempts)
        if before is not None:
            before.update(zip(new_days, repeat(None)))
        return left

    def _measure_in_bulk(self, segment: Segment, flags: list[bytes]) -> None:
        """Durations and volumes of a batch, column by column.

        ``flags`` are the rows' :func:`status_flags`: each column is read
        only at the rows whose status reports it.
        """
        for phase, k in FLAG_PHASE.items():
            mask = flags[k]
            if 1 in mask:
                cells = list(segment.cells(PHASE_COLUMN[phase], mask))
                add_floats(self.durations[phase].values, cells)
        for figure, (_, col, whole) in VOLUMES.items():
            mask = flags[FLAG_VOLUME[figure]]
            if 1 in mask:
                cells = list(segment.cells(col, mask))
                total = sum_whole(cells) if whole else sum_floats(cells)
                setattr(self, figure, getattr(self, figure) + total)

    # -- the resume state --------------------------------------------------------

    @property
    def status_counts(self) -> Counter[str]:
        """Days by their latest status (a count may be zero)."""
        return self._figures.status_counts

    @property
    def latest(self) -> Mapping[date, TelemetryRow]:
        """Day -> latest row: equal to ``load_state()`` of the rows applied."""
        return LatestRows(self._slots)

    def latest_values(self, day: date) -> list[str] | None:
        """The latest row of ``day`` as a new list of values in ``SCHEMA`` order."""
        slot = self._slot(day)
        return None if slot is None else list(_values(slot[_KEEP]))

    def phase_of(self, day: date) -> str | None:
        """The phase ``day``'s latest row is in (for FAILED: failed in), or ``None``.

        :func:`telemetry.rules.phase_of`: the rule of every view and of the
        resume plan.
        """
        slot = self._slot(day)
        return None if slot is None else phase_of(_values(slot[_KEEP]))

    def status_of(self, day: date) -> str | None:
        """The latest status of ``day``, or ``None`` if it was never attempted."""
        frozen = self._frozen
        if frozen is not None:
            return frozen.status_of(day)
        slot = self._slots.get(day)
        return None if slot is None else slot[_LATEST_STATUS]

    def statuses_of(self, days: list[date]) -> list[str]:
        """The latest status of each of ``days``, each a day of :attr:`days` (C-level)."""
        frozen = self._frozen
        if frozen is not None:
            return [frozen.status_of(day) or "" for day in days]
        return list(map(itemgetter(_LATEST_STATUS), map(self._slots.__getitem__, days)))

    def started_of(self, day: date) -> str | None:
        """``started_at_utc`` of the latest row of ``day``, or ``None``."""
        slot = self._slot(day)
        return None if slot is None else slot[_STARTED]

    @property
    def days(self) -> list[date]:
        """Every day seen, sorted (a shared list: do not modify)."""
        if self._sorted_days is None:
            frozen = self._frozen
            self._sorted_days = sorted(self._slots) if frozen is None else list(frozen.days)
        return self._sorted_days

    def attempts(self, day: date) -> int:
        """Download attempts at ``day``.

        An attempt is a run of rows sharing one ``started_at_utc``; the first
        run of a day always counts, a later one only when it opens with a
        download-phase row (``DOWNLOAD_PENDING``, ``DOWNLOADED``,
        ``SKIPPED_NO_DATA`` or ``FAILED``). So a day whose process and upload
        phases were recorded with their own ``started_at_utc`` is still one
        attempt, and a download retried three times is three.
        """
        slot = self._slot(day)
        return 0 if slot is None else slot[_ATTEMPTS]

    def row_count(self, day: date) -> int:
        """Rows in the file for ``day``."""
        slot = self._slot(day)
        return 0 if slot is None else sum(slot[_RUNS + 2 :: 3])

    def runs(self, day: date) -> list[tuple[int, int, int]]:
        """Where ``day``'s rows are, in file order, as runs of adjacent rows.

        Each run is ``(byte offset, line number, rows)``: where its first row
        starts and how many rows of the day follow one another from there
        (malformed records between them do not end a run). Empty for a state
        without figures.
        """
        slot = self._slot(day)
        return [] if slot is None else _runs(slot)

    @property
    def in_time_order(self) -> bool:
        """True while every row applied so far came in time order (one writer going on).

        Such rows are folded a run of same-day rows at a time; after the first
        row out of order, one by one. Both give the same state.
        """
        return self._in_order

    @property
    def retries(self) -> int:
        """Attempts beyond the first, summed over all days."""
        return self.total_attempts - len(self.days)

    @property
    def total_attempts(self) -> int:
        """Attempts summed over all days."""
        return self._total_attempts

    # -- derived figures ---------------------------------------------------------

    def phase_counts(self) -> dict[str, Counter[str]]:
        """Days by latest status, grouped by phase: a status's own, or for FAILED
        the phase it failed in (:func:`~telemetry.rules.phase_of`)."""
        out: dict[str, Counter[str]] = {p: Counter() for p in PHASES}
        for status, count in self.status_counts.items():
            if count and status != STATUS_FAILED:
                out[PHASE_OF_STATUS.get(status, "download")][status] += count
        for phase, count in self._figures.failed_phases.items():
            if count:
                out[phase][STATUS_FAILED] += count
        return out

    def failed_counts(self) -> dict[str, int]:
        """Days whose latest status is FAILED, by ``error_type``: one count per type, no sorting."""
        return {error_type: len(days) for error_type, days in self._figures.failed.items() if days}

    def failures(self, *, recent_first: bool = False) -> list[FailureGroup]:
        """Days whose latest status is FAILED, grouped by ``error_type``.

        Biggest first; with ``recent_first``, the group that failed most
        recently first (groups without a timestamp last), then biggest.
        """
        groups = []
        finished, started = COLUMN["finished_at_utc"], COLUMN["started_at_utc"]
        for error_type, days in self._figures.failed.items():
            ordered = sorted(days)
            rows = [_values(self._slot(day)[_KEEP]) for day in ordered]  # type: ignore[index]
            groups.append(
                FailureGroup(
                    error_type=error_type,
                    days=ordered,
                    runs=day_runs(ordered),
                    sample_day=ordered[-1],
                    sample_message=rows[-1][COLUMN["error_message"]],
                    phases=dict(Counter(map(phase_of, rows)).most_common()),
                    failed_at={
                        day: parse_instant(values[finished]) or parse_instant(values[started])
                        for day, values in zip(ordered, rows, strict=True)
                    },
                )
            )
        groups.sort(key=lambda g: (-g.count, g.error_type))
        if recent_first:
            never = datetime.min.replace(tzinfo=timezone.utc)
            groups.sort(key=lambda g: g.last_failed_at or never, reverse=True)
        return groups

    @property
    def last_row_at(self) -> datetime | None:
        """The latest ``started_at_utc``/``finished_at_utc`` seen, as an instant."""
        return self._newest_row.instant

    def since_last_row(self, now: datetime | None = None) -> timedelta | None:
        """How long ago the newest row's timestamp is (writer liveness)."""
        last = self.last_row_at
        if last is None:
            return None
        return (now or datetime.now(timezone.utc)) - last

    def liveness(self, now: datetime | None = None) -> Liveness:
        """Whether the writer went quiet: the one rule of :mod:`telemetry.liveness`.

        Quiet means the newest row is older than ten times the median gap
        between the newest 200 rows, and two minutes (by the writer's own
        cadence; ``stale_after`` only while there are too few rows for a gap).
        """
        return liveness(self.since_last_row(now), self.gaps, self.stale_after)

    def stalled(self, now: datetime | None = None) -> list[date]:
        """Days whose latest row is ``*_PENDING`` and older than ``stale_after``, sorted."""
        now = now or datetime.now(timezone.utc)
        out = []
        for day in self._figures.pending:
            moment = parse_instant(self._slot(day)[_STARTED])  # type: ignore[index]
            if moment is not None and now - moment > self.stale_after:
                out.append(day)
        return sorted(out)

    def throughput(
        self, window: timedelta = DEFAULT_WINDOW, now: datetime | None = None
    ) -> float | None:
        """Days reaching a final status per hour, over ``window``.

        The window ends at ``now`` when given (so the rate falls to zero when
        nothing finishes: a stopped backfill reads as stopped), else at the
        last finish. ``None`` until at least two days have finished.
        """
        times = self._figures.finish_times
        if len(times) < 2:
            return None
        end = times[-1] if now is None else max(times[-1], now.timestamp())
        start = end - window.total_seconds()
        first = bisect.bisect_right(times, start)
        span = min(window.total_seconds(), end - times[0])
        count = len(times) - first
        if first == 0:
            count -= 1  # the first finish opens the span, it is not inside it
        if span <= 0:
            return None
        return count / (span / 3600)

    def finished_per_hour(self, hours: int = 48, now: datetime | None = None) -> list[int]:
        """Days reaching a final status in each of the last ``hours`` hours, oldest first.

        The last hour ends at ``now`` (default: the last finish). Each count
        is one bisection of the sorted finish times: cheap on any file.
        """
        return self.finished_per(timedelta(hours=1), hours, now)

    def finished_per(
        self, width: timedelta, buckets: int, now: datetime | None = None
    ) -> list[int]:
        """Days reaching a final status in each of the last ``buckets`` spans of ``width``.

        Oldest first; the last span ends at ``now`` (default: the last finish).
        """
        times = self._figures.finish_times
        if not times:
            return [0] * buckets
        end = times[-1] if now is None else now.timestamp()
        step = width.total_seconds()
        edges = [end - step * k for k in range(buckets, -1, -1)]
        cuts = [bisect.bisect_right(times, edge) for edge in edges]
        return [b - a for a, b in pairwise(cuts)]

    def finished_over_run(
        self, buckets: int = 48, now: datetime | None = None
    ) -> tuple[timedelta, list[int]]:
        """Days finished per span over the whole run, at most ``buckets`` spans.

        Returns the span's width (the narrowest of :data:`telemetry.trend.WIDTHS`
        that covers the first finish to ``now`` in ``buckets``) and the counts,
        oldest first, the last span ending at ``now`` (default: the last finish).
        """
        times = self._figures.finish_times
        if not times:
            return pick_width(timedelta(0), buckets), [0]
        end = times[-1] if now is None else now.timestamp()
        span = timedelta(seconds=max(end - times[0], 0.0))
        width = pick_width(span, buckets)
        count = min(buckets, int(span / width) + 1)
        return width, self.finished_per(width, count, now)

    def duration_trend(
        self, buckets: int = 48, days: Iterable[date] | None = None
    ) -> DurationTrend:
        """p50 / p95 of each phase's duration per bucket of writing time, failures counted.

        See :func:`telemetry.trend.duration_trend`: one pass over the days.
        """
        return duration_trend(self, buckets, days)

    def progress(self, window: timedelta = DEFAULT_WINDOW, now: datetime | None = None) -> Progress:
        """Progress over the expected range (or first..last day seen) and the ETA.

        With ``now`` the rate is the recent one (:meth:`throughput`): no day
        finished in the window means a rate of 0 and no ETA, and a writer
        gone quiet (:meth:`liveness`) has no ETA either. ``range_inferred``
        says the range is not both ``expected_start`` and ``expected_end``.
        """
        inferred = self.expected_start is None or self.expected_end is None
        start = self.expected_start
        end = self.expected_end
        days = self.days
        if days and (start is None or end is None):
            start = start or days[0]
            end = end or days[-1]
        if start is None or end is None or end < start:
            rate = self.throughput(window, now)
            return Progress(start, end, 0, 0, 0, 0, 0, rate, None, inferred)
        total = (end - start).days + 1
        done = failed = attempted = 0
        whole_range = not days or (start <= days[0] and days[-1] <= end)
        if whole_range:
            attempted = len(days)
            done = sum(self.status_counts[s] for s in FINAL_STATUSES)
            failed = self.status_counts[STATUS_FAILED]
        else:
            lo = bisect.bisect_left(days, start)
            hi = bisect.bisect_right(days, end)
            frozen = self._frozen
            if frozen is not None:
                counts = frozen.counts(lo, hi)
            else:
                slots = self._slots
                counts = Counter(slots[day][_LATEST_STATUS] for day in days[lo:hi])
            attempted = hi - lo
            done = sum(counts[s] for s in FINAL_STATUSES)
            failed = counts[STATUS_FAILED]
        rate = self.throughput(window, now)
        remaining = total - done
        eta = None
        quiet = now is not None and self.liveness(now).quiet
        if rate and remaining >= 0 and not quiet:
            eta = timedelta(hours=remaining / rate)
        return Progress(
            start,
            end,
            total,
            done,
            failed,
            attempted - done - failed,
            total - attempted,
            rate,
            eta,
            inferred,
        )

    def latest_rows(self) -> dict[date, TelemetryRow]:
        """Every day's latest row, built at once: ``load_state()``'s answer.

        The state gives its rows up: it is left empty.
        """
        slots, self._table = self._slots, {}
        self._sorted_days = []
        keeps = dict(zip(slots, map(itemgetter(_KEEP), slots.values()), strict=True))
        slots.clear()  # before the rows are built: the peak is one of the two
        return build_rows(keeps)

    def history(self, path: Path | str, day: date) -> list[Record]:
        """Every row of ``day`` in the file at ``path``, in file order, read by offset.

        :meth:`telemetry.file.TelemetryFile.history`, from where this state
        saw the day's rows (:meth:`runs`).
        """
        return TelemetryFile(path).history(day, self.runs(day), self.rows)


def load_latest(path: Path | str) -> dict[date, TelemetryRow]:
    """The latest row per day of the file at ``path`` ({} if missing).

    See :meth:`telemetry.HistoricalTelemetry.load_state`: the fold of
    :class:`BackfillState` without its figures, each day's latest row built
    at the end.
    """
    with cold_load():
        return BackfillState.from_path(path, figures=False).latest_rows()
