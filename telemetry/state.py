"""Everything the monitor shows, kept up to date row by row without rescanning.

:class:`BackfillState` folds rows into the resume state (the latest row per
day, by the same rule as :meth:`HistoricalTelemetry.load_state`) and the
figures derived from it: counts, failures, durations, throughput, stalls.
Applying rows costs only the rows applied.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from .latest import STARTED_COL, parse_instant, replaces
from .records import Malformed, Record, RecordDecoder, read_batches
from .schema import (
    FINAL_STATUSES,
    PENDING_STATUSES,
    PHASE_OF_STATUS,
    SCHEMA,
    STATUS_DOWNLOADED,
    STATUS_FAILED,
    STATUS_PROCESSED,
    STATUS_SKIPPED_NO_DATA,
    STATUS_UPLOADED,
    TelemetryRow,
)

_C = {name: i for i, name in enumerate(SCHEMA)}
_STATUS = _C["status"]
_FINISHED = _C["finished_at_utc"]
_ERROR_TYPE = _C["error_type"]

PHASES: tuple[str, ...] = ("download", "process", "upload")

# Which column holds the duration of which phase, and which outcome row
# reports it (a later row of the same day repeats earlier columns; counting
# every row would count one download many times).
_DURATION_OF_STATUS: dict[str, tuple[str, int]] = {
    STATUS_DOWNLOADED: ("download", _C["download_seconds"]),
    STATUS_FAILED: ("download", _C["download_seconds"]),
    STATUS_SKIPPED_NO_DATA: ("download", _C["download_seconds"]),
    STATUS_PROCESSED: ("process", _C["process_seconds"]),
    STATUS_UPLOADED: ("upload", _C["upload_seconds"]),
}

DEFAULT_STALE_AFTER = timedelta(minutes=15)
DEFAULT_WINDOW = timedelta(hours=1)


def _number(text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class DurationStats:
    """Count, sum, min, max and percentiles of one phase's durations.

    Percentiles come from a log-bucketed histogram (2% wide buckets), so they
    are accurate to about 1% and cost nothing per row however many rows there
    are.
    """

    _SCALE = 1 / math.log(1.02)

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self._buckets: Counter[int] = Counter()

    def add(self, seconds: float) -> None:
        """Record one duration in seconds (negative values count as zero)."""
        seconds = max(seconds, 0.0)
        self.count += 1
        self.total += seconds
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)
        key = -(10**6) if seconds <= 1e-6 else math.floor(math.log(seconds) * self._SCALE)
        self._buckets[key] += 1

    @property
    def mean(self) -> float | None:
        """Mean duration, or ``None`` with no data."""
        return self.total / self.count if self.count else None

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0..100), within about 1%, or ``None`` with no data."""
        if not self.count:
            return None
        rank = q / 100 * self.count
        seen = 0
        for key in sorted(self._buckets):
            seen += self._buckets[key]
            if seen >= rank:
                if key == -(10**6):
                    return 0.0
                mid = math.exp((key + 0.5) / self._SCALE)
                return min(max(mid, self.min), self.max)
        return self.max


@dataclass(frozen=True)
class FailureGroup:
    """Days whose latest status is FAILED, sharing one ``error_type``."""

    error_type: str
    days: list[date]
    runs: list[tuple[date, date]]
    sample_day: date
    sample_message: str

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

    @property
    def fraction(self) -> float:
        """Share of the range that is done, 0..1."""
        return self.done / self.total if self.total else 0.0


def day_runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Collapse days into ``(first, last)`` runs of consecutive days, sorted."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


class LatestRows(Mapping[date, TelemetryRow]):
    """Read-only view: day -> latest :class:`TelemetryRow` (built on access)."""

    def __init__(self, values: dict[date, list[str]]) -> None:
        self._values = values

    def __getitem__(self, day: date) -> TelemetryRow:
        return TelemetryRow(*self._values[day])

    def __iter__(self) -> Iterator[date]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, day: object) -> bool:
        return day in self._values


class BackfillState:
    """The resume state of a backfill and the figures derived from it.

    ``latest`` always equals ``load_state()`` of the bytes applied so far.
    ``expected_start``/``expected_end`` bound the range progress and the ETA
    are measured against (by default the first..last day seen). Rows must be
    applied in file order.
    """

    def __init__(
        self,
        *,
        expected_start: date | None = None,
        expected_end: date | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        self.expected_start = expected_start
        self.expected_end = expected_end
        self.stale_after = stale_after
        self._latest: dict[date, list[str]] = {}
        self._started: dict[date, str] = {}
        self._offsets: dict[date, array[int]] = {}
        self._attempts: dict[date, int] = {}
        self._last_started: dict[date, str] = {}
        self.status_counts: Counter[str] = Counter()
        self._failed: dict[str, set[date]] = {}
        self._pending: set[date] = set()
        self.durations: dict[str, DurationStats] = {p: DurationStats() for p in PHASES}
        self.csv_mb = 0.0
        self.cdf_mb = 0.0
        self.records_downloaded = 0
        self._finish_times: array[float] = array("d")
        self._last_moment = ""
        self.rows = 0
        self.malformed: list[Malformed] = []
        self.header: list[str] | None = None

    # -- loading ---------------------------------------------------------------

    @classmethod
    def from_path(cls, path: Path | str, **options: object) -> BackfillState:
        """Load a whole file cold; a torn final record is reported as malformed.

        A missing file gives an empty state. Raises
        :class:`~telemetry.records.TelemetryFormatError` for a file that is
        not telemetry. ``options`` are passed to the constructor.
        """
        state = cls(**options)  # type: ignore[arg-type]
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return state
        with fh:
            decoder = RecordDecoder()
            for batch in read_batches(fh, decoder=decoder):
                state.apply(batch.records, batch.malformed)
            state.header = decoder.header
        return state

    def apply(self, records: Iterable[Record], malformed: Iterable[Malformed] = ()) -> set[date]:
        """Fold rows (in file order) into the state; return the days whose latest row changed."""
        changed: set[date] = set()
        self.malformed.extend(malformed)
        started = self._started
        offsets = self._offsets
        attempts = self._attempts
        last_started = self._last_started
        last_moment = self._last_moment
        n = 0
        for offset, _line, day, values in records:
            n += 1
            when = values[STARTED_COL]
            day_offsets = offsets.get(day)
            if day_offsets is None:
                offsets[day] = array("q", (offset,))
                attempts[day] = 1
                last_started[day] = when
            else:
                day_offsets.append(offset)
                if last_started[day] != when:
                    attempts[day] += 1
                    last_started[day] = when
            status = values[_STATUS]
            finished = values[_FINISHED]
            if when > last_moment:
                last_moment = when
            if finished > last_moment:
                last_moment = finished
            measured = _DURATION_OF_STATUS.get(status)
            if measured is not None:
                self._measure(status, measured, values)
            current = started.get(day)
            if current is None or replaces(when, current):
                self._set_latest(day, values, status)
                started[day] = when
                changed.add(day)
        self._last_moment = last_moment
        self.rows += n
        return changed

    def _measure(self, status: str, measured: tuple[str, int], values: list[str]) -> None:
        phase, col = measured
        seconds = _number(values[col])
        if seconds is not None:
            self.durations[phase].add(seconds)
        if status == STATUS_DOWNLOADED:
            self.csv_mb += _number(values[_C["csv_size_mb"]]) or 0.0
            self.records_downloaded += int(_number(values[_C["records_downloaded"]]) or 0)
        elif status == STATUS_PROCESSED:
            self.cdf_mb += _number(values[_C["cdf_size_mb"]]) or 0.0

    def _set_latest(self, day: date, values: list[str], status: str) -> None:
        old = self._latest.get(day)
        if old is not None:
            old_status = old[_STATUS]
            self.status_counts[old_status] -= 1
            if old_status == STATUS_FAILED:
                group = self._failed[old[_ERROR_TYPE]]
                group.discard(day)
                if not group:
                    del self._failed[old[_ERROR_TYPE]]
            elif old_status in PENDING_STATUSES:
                self._pending.discard(day)
        self._latest[day] = values
        self.status_counts[status] += 1
        if status == STATUS_FAILED:
            self._failed.setdefault(values[_ERROR_TYPE], set()).add(day)
        elif status in PENDING_STATUSES:
            self._pending.add(day)
        elif status in FINAL_STATUSES:
            moment = parse_instant(values[_FINISHED] or values[STARTED_COL])
            if moment is not None:
                bisect.insort(self._finish_times, moment.timestamp())

    # -- the resume state --------------------------------------------------------

    @property
    def latest(self) -> Mapping[date, TelemetryRow]:
        """Day -> latest row: equal to ``load_state()`` of the rows applied."""
        return LatestRows(self._latest)

    def latest_values(self, day: date) -> list[str] | None:
        """The latest row of ``day`` as values in ``SCHEMA`` order (do not modify)."""
        return self._latest.get(day)

    def status_of(self, day: date) -> str | None:
        """The latest status of ``day``, or ``None`` if it was never attempted."""
        values = self._latest.get(day)
        return None if values is None else values[_STATUS]

    @property
    def days(self) -> list[date]:
        """Every day seen, sorted."""
        return sorted(self._latest)

    def attempts(self, day: date) -> int:
        """Attempts at ``day``: runs of rows sharing one ``started_at_utc``."""
        return self._attempts.get(day, 0)

    def row_count(self, day: date) -> int:
        """Rows in the file for ``day``."""
        day_offsets = self._offsets.get(day)
        return 0 if day_offsets is None else len(day_offsets)

    def offsets(self, day: date) -> list[int]:
        """Byte offsets of every row of ``day``, in file order."""
        return list(self._offsets.get(day, ()))

    @property
    def retries(self) -> int:
        """Attempts beyond the first, summed over all days."""
        return sum(self._attempts.values()) - len(self._attempts)

    @property
    def total_attempts(self) -> int:
        return sum(self._attempts.values())

    # -- derived figures ---------------------------------------------------------

    def phase_counts(self) -> dict[str, Counter[str]]:
        """Days by latest status, grouped by the phase of that status."""
        out: dict[str, Counter[str]] = {p: Counter() for p in PHASES}
        for status, count in self.status_counts.items():
            if count:
                out[PHASE_OF_STATUS.get(status, "download")][status] += count
        return out

    def failures(self) -> list[FailureGroup]:
        """Days whose latest status is FAILED, grouped by ``error_type``, biggest first."""
        groups = []
        for error_type, days in self._failed.items():
            ordered = sorted(days)
            sample = ordered[-1]
            groups.append(
                FailureGroup(
                    error_type=error_type,
                    days=ordered,
                    runs=day_runs(ordered),
                    sample_day=sample,
                    sample_message=self._latest[sample][_C["error_message"]],
                )
            )
        groups.sort(key=lambda g: (-g.count, g.error_type))
        return groups

    @property
    def last_row_at(self) -> datetime | None:
        """The latest ``started_at_utc``/``finished_at_utc`` seen, as an instant."""
        return parse_instant(self._last_moment) if self._last_moment else None

    def since_last_row(self, now: datetime | None = None) -> timedelta | None:
        """How long ago the newest row's timestamp is (writer liveness)."""
        last = self.last_row_at
        if last is None:
            return None
        return (now or datetime.now(timezone.utc)) - last

    def stalled(self, now: datetime | None = None) -> list[date]:
        """Days whose latest row is ``*_PENDING`` and older than ``stale_after``, sorted."""
        now = now or datetime.now(timezone.utc)
        out = []
        for day in self._pending:
            moment = parse_instant(self._started[day])
            if moment is not None and now - moment > self.stale_after:
                out.append(day)
        return sorted(out)

    def throughput(self, window: timedelta = DEFAULT_WINDOW) -> float | None:
        """Days reaching a final status per hour, over ``window`` ending at the last one.

        ``None`` until at least two days have finished.
        """
        times = self._finish_times
        if len(times) < 2:
            return None
        end = times[-1]
        start = end - window.total_seconds()
        first = bisect.bisect_right(times, start)
        span = min(window.total_seconds(), end - times[0])
        count = len(times) - first
        if first == 0:
            count -= 1  # the first finish opens the span, it is not inside it
        if span <= 0:
            return None
        return count / (span / 3600)

    def progress(self, window: timedelta = DEFAULT_WINDOW) -> Progress:
        """Progress over the expected range (or first..last day seen) and the ETA."""
        start = self.expected_start
        end = self.expected_end
        if self._latest and (start is None or end is None):
            start = start or min(self._latest)
            end = end or max(self._latest)
        if start is None or end is None or end < start:
            return Progress(start, end, 0, 0, 0, 0, 0, self.throughput(window), None)
        total = (end - start).days + 1
        done = failed = attempted = 0
        whole_range = start <= min(self._latest) and max(self._latest) <= end
        if whole_range:
            attempted = len(self._latest)
            done = sum(self.status_counts[s] for s in FINAL_STATUSES)
            failed = self.status_counts[STATUS_FAILED]
        else:
            for day, values in self._latest.items():
                if start <= day <= end:
                    attempted += 1
                    status = values[_STATUS]
                    if status in FINAL_STATUSES:
                        done += 1
                    elif status == STATUS_FAILED:
                        failed += 1
        rate = self.throughput(window)
        remaining = total - done
        eta = None
        if rate and remaining >= 0:
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
        )

    def history(self, path: Path | str, day: date) -> list[Record]:
        """Read every row of ``day`` from the file at ``path``, in file order.

        Reads only those rows (by their byte offsets); rows that no longer
        decode (the file changed under us) are left out.
        """
        out: list[Record] = []
        header = self.header
        with open(path, "rb") as fh:
            for offset in self._offsets.get(day, ()):
                decoder = RecordDecoder()
                decoder.adopt_header(header)
                fh.seek(offset)
                buf = b""
                while True:
                    chunk = fh.read(64 << 10)
                    buf += chunk
                    batch = decoder.decode(buf, offset, final=not chunk)
                    if batch.records or batch.malformed or not chunk:
                        out.extend(r for r in batch.records[:1] if r.offset == offset)
                        break
        return out
