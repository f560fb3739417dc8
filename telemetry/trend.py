"""How phase durations move over the run: p50 / p95 per bucket of writing time.

Each day counts once, by its latest row (the one that decides its status):
the durations that row carries, at the time it was written
(``finished_at_utc``, else ``started_at_utc``). Days whose latest row is
``FAILED`` are counted per bucket too, so a chart can mark them. The bucket
width adapts to the span of the run (a demo of minutes, a backfill of
weeks), so a chart always has a few dozen points at most.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

from .figures import nearest_rank, parse_number
from .latest import parse_instant
from .schema import COLUMN, PHASES, STATUS_FAILED


class LatestRows(Protocol):
    """What a trend reads of a state: its days and each day's latest row
    (:class:`~telemetry.BackfillState` is one)."""

    @property
    def days(self) -> list[date]: ...

    def latest_values(self, day: date) -> list[str] | None: ...


#: Bucket widths to pick from, narrowest first: the first that spans the
#: run in at most the buckets asked for wins.
WIDTHS: tuple[timedelta, ...] = (
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(weeks=1),
    timedelta(days=30),
    timedelta(days=365),
)

_SECONDS = {phase: COLUMN[f"{phase}_seconds"] for phase in PHASES}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class DurationTrend:
    """Phase durations per bucket of writing time, oldest bucket first.

    ``starts[k]`` is the start of bucket ``k`` (aware, UTC); buckets are
    ``width`` apart and consecutive (an empty bucket has ``days`` 0 and
    ``None`` percentiles). ``p50[phase][k]`` / ``p95[phase][k]`` are the
    nearest-rank percentiles in seconds of the durations of ``phase``
    carried by the latest rows written in bucket ``k``. ``failed[k]``
    counts the days whose latest row, written then, is ``FAILED``.
    """

    width: timedelta
    starts: list[datetime]
    days: list[int]
    failed: list[int]
    p50: dict[str, list[float | None]]
    p95: dict[str, list[float | None]]

    @property
    def has_durations(self) -> bool:
        """True when some bucket has a duration of some phase."""
        return any(v is not None for series in self.p50.values() for v in series)


def pick_width(span: timedelta, buckets: int) -> timedelta:
    """The narrowest of :data:`WIDTHS` that covers ``span`` in at most ``buckets`` buckets.

    Past the widest (hand-edited times centuries apart), a whole number of
    the widest: there are never more than ``buckets`` buckets.
    """
    for width in WIDTHS:
        if span < width * buckets:
            return width
    widest = WIDTHS[-1]
    return widest * (span // (widest * buckets) + 1)


def duration_trend(
    state: LatestRows, buckets: int = 48, days: Iterable[date] | None = None
) -> DurationTrend:
    """The :class:`DurationTrend` of ``state`` in at most ``buckets`` buckets.

    Costs one pass over the days (their latest rows), not over the rows:
    about 8 µs a day. ``days`` limits it to those days (default: every day
    seen); a thread reading a state that another thread applies rows to
    passes a copy of :attr:`BackfillState.days` taken in that other thread.
    Days whose latest row has no parseable time are left out.
    """
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, not {buckets}")
    # One compact entry per day (not its row: a state may hold 100k+ days).
    moments: list[datetime] = []
    failed_flags = bytearray()
    seconds: dict[str, array[float]] = {p: array("d") for p in PHASES}  # NaN: none
    started_at, finished_at = COLUMN["started_at_utc"], COLUMN["finished_at_utc"]
    status_at = COLUMN["status"]
    for day in state.days if days is None else days:
        values = state.latest_values(day)
        if values is None:
            continue
        moment = parse_instant(values[finished_at]) or parse_instant(values[started_at])
        if moment is None:
            continue
        moments.append(moment)
        failed_flags.append(values[status_at] == STATUS_FAILED)
        for phase, col in _SECONDS.items():
            number = parse_number(values[col])
            # Negatives count as zero, as in DurationStats.
            seconds[phase].append(math.nan if number is None else max(number, 0.0))
    if not moments:
        none: dict[str, list[float | None]] = {p: [] for p in PHASES}
        return DurationTrend(WIDTHS[0], [], [], [], none, {p: [] for p in PHASES})
    first, last = min(moments), max(moments)
    width = pick_width(last - first, buckets)
    # Buckets start on whole multiples of the width since the epoch (UTC),
    # except at the very edge of the calendar (a hand-edited year 1).
    try:
        origin = _EPOCH + width * ((first - _EPOCH) // width)
    except OverflowError:
        origin = first
    count = (last - origin) // width + 1
    samples: dict[str, list[list[float]]] = {p: [[] for _ in range(count)] for p in PHASES}
    per_bucket_days = [0] * count
    failed = [0] * count
    for n, moment in enumerate(moments):
        k = (moment - origin) // width
        per_bucket_days[k] += 1
        failed[k] += failed_flags[n]
        for phase, values_of in seconds.items():
            value = values_of[n]
            if value == value:  # not NaN
                samples[phase][k].append(value)
    p50: dict[str, list[float | None]] = {}
    p95: dict[str, list[float | None]] = {}
    for phase, per_bucket in samples.items():
        ordered = [sorted(s) for s in per_bucket]
        p50[phase] = [nearest_rank(s, 50) for s in ordered]
        p95[phase] = [nearest_rank(s, 95) for s in ordered]
    starts = [origin + width * k for k in range(count)]
    return DurationTrend(width, starts, per_bucket_days, failed, p50, p95)
