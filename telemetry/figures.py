"""The figures of a backfill: durations and their percentiles, failure groups,
progress, attempt numbers and runs of days, and the number parsing they share."""

from __future__ import annotations

import bisect
import math
import operator
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import compress, islice, repeat

from .rules import OPENS_ATTEMPT
from .schema import COLUMN

_STATUS = COLUMN["status"]
STARTED_COL = COLUMN["started_at_utc"]

DEFAULT_STALE_AFTER = timedelta(minutes=15)
DEFAULT_WINDOW = timedelta(hours=1)


def parse_number(text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _floats(cells: Iterable[str], *, finite_only: bool = True) -> list[float]:
    """The cells that parse as numbers (as :func:`parse_number`), in one C-level pass if all do."""
    texts = list(filter(None, cells))  # empty cells are common (a failed download)
    try:
        numbers = list(map(float, texts))
    except ValueError:  # an odd cell: parse one by one, skipping what does not parse
        numbers = []
        for text in texts:
            try:  # noqa: SIM105 - a call per cell is what this fallback avoids elsewhere
                numbers.append(float(text))
            except ValueError:
                pass
    if finite_only and not math.isfinite(sum(numbers)):  # an inf or nan among them
        return list(filter(math.isfinite, numbers))
    return numbers


def add_floats(values: array[float], cells: list[str]) -> None:
    """Append the cells that parse as numbers to ``values`` (non-finite ones too)."""
    size = len(values)
    try:  # all of them, in one C-level pass (the usual case)
        values.extend(map(float, cells))
    except ValueError:  # an empty or odd cell: undo and skip what does not parse
        del values[size:]
        values.extend(_floats(cells, finite_only=False))


def sum_whole(cells: list[str]) -> int:
    """The sum of the cells that parse as finite numbers, each cut to a whole number."""
    try:  # all of them, in one C-level pass (the usual case)
        return sum(map(int, map(float, cells)))
    except (ValueError, OverflowError):  # empty, odd or non-finite cells
        return sum(map(int, _floats(cells)))


def sum_floats(cells: list[str]) -> float:
    """The sum of the cells that parse as finite numbers."""
    try:  # all of them, in one C-level pass (the usual case)
        total = sum(map(float, cells))
    except ValueError:
        total = math.nan
    return total if math.isfinite(total) else sum(_floats(cells))


class DurationStats:
    """Durations of one phase in seconds: count, total, min, max, percentiles.

    Values are kept in a compact ``array`` (8 bytes each) and sorted once per
    query after new values arrived, so percentiles are exact. Empty and
    unparseable cells are not recorded; negative values count as zero and
    non-finite ones are ignored.
    """

    def __init__(self) -> None:
        self.values: array[float] = array("d")
        self._sorted: array[float] = array("d")
        self._sorted_len = -1

    def add(self, seconds: float) -> None:
        """Record one duration in seconds."""
        self.values.append(seconds)

    def sort(self) -> None:
        """Sort the values recorded so far now (else the first query does)."""
        self._clean()

    def _clean(self) -> array[float]:
        values = self.values
        done = self._sorted_len
        if done != len(values):
            fresh = sorted(filter(math.isfinite, values[max(done, 0) :]))
            negative = bisect.bisect_left(fresh, 0.0)
            fresh[:negative] = [0.0] * negative  # negatives count as zero
            if len(fresh) > 100:  # merge two sorted runs (C-level, linear)
                self._sorted = array("d", sorted([*self._sorted, *fresh]))
            else:  # a few new values (live updates): insert them in place
                for v in fresh:
                    bisect.insort(self._sorted, v)
            self._sorted_len = len(values)
        return self._sorted

    @property
    def recorded(self) -> int:
        """How many values were recorded so far, non-finite ones too: cheap, no sorting.

        A change of it tells that :meth:`percentile` may have moved.
        """
        return len(self.values)

    @property
    def count(self) -> int:
        """How many durations count (finite ones)."""
        return len(self._clean())

    @property
    def total(self) -> float:
        """Sum of the durations."""
        return math.fsum(self._clean())

    @property
    def min(self) -> float:
        """Shortest duration (``inf`` with no data)."""
        values = self._clean()
        return values[0] if values else math.inf

    @property
    def max(self) -> float:
        """Longest duration (``-inf`` with no data)."""
        values = self._clean()
        return values[-1] if values else -math.inf

    @property
    def mean(self) -> float | None:
        """Mean duration, or ``None`` with no data."""
        values = self._clean()
        return math.fsum(values) / len(values) if values else None

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0..100, nearest rank), or ``None`` with no data."""
        return nearest_rank(self._clean(), q)


def nearest_rank(ordered: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of the sorted ``ordered`` by nearest rank.

    ``None`` when empty. The one percentile rule of every figure and trend.
    """
    if not ordered:
        return None
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


@dataclass(frozen=True)
class FailureGroup:
    """Days whose latest status is FAILED, sharing one ``error_type``."""

    error_type: str
    days: list[date]
    runs: list[tuple[date, date]]
    sample_day: date
    sample_message: str
    #: Days of the group by the phase they failed in, most first.
    phases: dict[str, int] = field(default_factory=dict)
    #: When each day last failed (its latest row's finish, else start), by day;
    #: ``None`` where neither timestamp parses.
    failed_at: dict[date, datetime | None] = field(default_factory=dict)

    @property
    def last_failed_at(self) -> datetime | None:
        """The most recent failure of the group, or ``None`` if none has a timestamp."""
        return max(filter(None, self.failed_at.values()), default=None)

    @property
    def phase_text(self) -> str:
        """``process``, or ``download 3, process 2`` when the days failed in several."""
        if len(self.phases) == 1:
            return next(iter(self.phases))
        return ", ".join(f"{phase} {n}" for phase, n in self.phases.items())

    @property
    def count(self) -> int:
        return len(self.days)

    @property
    def first(self) -> date:
        return self.days[0]

    @property
    def last(self) -> date:
        return self.days[-1]


@dataclass(frozen=True)
class Progress:
    """Where a backfill stands against its expected range of days.

    ``missing`` days were never attempted (not failed); ``done`` days reached
    a final status (uploaded, or skipped for lack of data or input);
    ``in_flight`` days are anywhere in between.
    """

    start: date | None
    end: date | None
    total: int
    done: int
    failed: int
    in_flight: int
    missing: int
    days_per_hour: float | None
    eta: timedelta | None
    #: No ``--start``/``--end`` (or not both): the range is the days seen so far.
    range_inferred: bool = False

    @property
    def fraction(self) -> float:
        """Share of the range that is done, 0..1."""
        return self.done / self.total if self.total else 0.0


def attempt_numbers(rows: Iterable[Sequence[str]]) -> list[int]:
    """Number each of one day's rows (values in ``SCHEMA`` order, file order) by attempt.

    The rule :meth:`BackfillState.attempts` counts by: a run of rows sharing
    one ``started_at_utc`` is one attempt when it is the day's first, or opens
    with a download-phase row (``DOWNLOAD_PENDING``, ``DOWNLOADED``,
    ``SKIPPED_NO_DATA``, ``FAILED``); other runs (a process or upload phase
    recorded with its own ``started_at_utc``) belong to the attempt before.
    """
    numbers: list[int] = []
    last: str | None = None
    n = 0
    for values in rows:
        started = values[STARTED_COL]
        if started != last:
            if n == 0 or values[_STATUS] in OPENS_ATTEMPT:
                n += 1
            last = started
        numbers.append(n)
    return numbers


def day_runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Collapse days into ``(first, last)`` runs of consecutive days, sorted."""
    ordered = days if isinstance(days, list) else list(days)
    if not all(map(operator.lt, ordered, islice(ordered, 1, None))):
        ordered = sorted(set(ordered))  # not already sorted and distinct
    if not ordered:
        return []
    # Runs break where two neighbours are not one day apart: found in C, not per day.
    numbers = list(map(date.toordinal, ordered))
    steps = map(operator.sub, islice(numbers, 1, None), numbers)
    breaks = list(compress(range(1, len(numbers)), map(operator.ne, steps, repeat(1))))
    firsts = map(ordered.__getitem__, [0, *breaks])
    lasts = map(ordered.__getitem__, [b - 1 for b in breaks] + [len(ordered) - 1])
    return list(zip(firsts, lasts, strict=True))
