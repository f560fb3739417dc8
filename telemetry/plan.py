"""The resume plan: on restart, which days of a range still need which phase.

This is the decision an orchestrator makes from ``load_state()`` when it
starts: ::

    plan = resume_plan(store.load_state(), start, end)
    for day in plan.download: ...
    for day in plan.process: ...   # csv_path is in load_state()[day]
    for day in plan.upload: ...    # cdf_path is in load_state()[day]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cached_property

from .figures import DEFAULT_STALE_AFTER, day_runs
from .latest import parse_instant
from .rules import phase_of
from .schema import (
    FINAL_STATUSES,
    PHASES,
    STATUS_DOWNLOAD_PENDING,
    STATUS_DOWNLOADED,
    STATUS_FAILED,
    STATUS_PROCESS_PENDING,
    STATUS_PROCESSED,
    STATUS_UPLOAD_PENDING,
    TelemetryRow,
)
from .state import BackfillState

#: The phases, in the order a day goes through them.

# Latest status -> the phase that comes next.
_NEXT_PHASE: dict[str, str] = {
    STATUS_DOWNLOADED: "process",
    STATUS_PROCESSED: "upload",
}
# A stalled PENDING row: redo the phase it was in.
_PENDING_PHASE: dict[str, str] = {
    STATUS_DOWNLOAD_PENDING: "download",
    STATUS_PROCESS_PENDING: "process",
    STATUS_UPLOAD_PENDING: "upload",
}


def failed_phase(row: TelemetryRow) -> str:
    """The phase a ``FAILED`` row failed in, as far as the row tells (:func:`phase_of`)."""
    return phase_of(list(row.to_dict().values()))


@dataclass(frozen=True)
class ResumePlan:
    """Which days of ``start..end`` need which phase next; every list is sorted.

    Every day of the range is in exactly one of ``download``, ``process``,
    ``upload``, ``in_flight`` and ``done``. ``never_attempted``, ``failed``
    and ``stalled`` say *why* a day is work (each is a subset of the three
    work lists).
    """

    #: The range planned; ``None`` only for an empty state given no range.
    start: date | None
    end: date | None
    download: list[date]
    process: list[date]
    upload: list[date]
    #: Latest row ``*_PENDING`` and younger than ``stale_after``: another
    #: process may be working on it, so it is not work.
    in_flight: list[date]
    #: Latest status ``UPLOADED``, ``SKIPPED_NO_DATA`` or ``SKIPPED_NO_INPUT``.
    done: list[date]
    never_attempted: list[date]
    failed: list[date]
    stalled: list[date]

    @property
    def work(self) -> int:
        """How many days need a phase run."""
        return len(self.download) + len(self.process) + len(self.upload)

    def phase_of(self, day: date) -> str | None:
        """The phase ``day`` needs next, or ``None`` (done, in flight or out of range)."""
        for phase in PHASES:
            if day in self._sets[phase]:
                return phase
        return None

    def ranges(self, phase: str = "download") -> list[tuple[date, date]]:
        """The days needing ``phase`` as ``(first, last)`` runs of consecutive days."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
        days: list[date] = getattr(self, phase)
        return day_runs(days)

    def ranges_text(self) -> str:
        """The work as ``<phase> <first>..<last>`` lines (a lone day as ``<phase> <day>``).

        Phases in order (download, process, upload), each in date order:
        the format of ``backfill-monitor latest --plan --format ranges`` and
        of the monitor's export, one line per run of consecutive days.
        """
        return "".join(
            f"{phase} {a}..{b}\n" if a != b else f"{phase} {a}\n"
            for phase in PHASES
            for a, b in self.ranges(phase)
        )

    @cached_property
    def _sets(self) -> dict[str, frozenset[date]]:
        return {p: frozenset(getattr(self, p)) for p in PHASES}


def resume_plan(
    state_or_latest: BackfillState | Mapping[date, TelemetryRow],
    start: date | None = None,
    end: date | None = None,
    *,
    now: datetime | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> ResumePlan:
    """Plan the days ``start..end`` (inclusive) from the latest row per day.

    ``state_or_latest`` is a :class:`BackfillState` or what ``load_state()``
    returns. ``start``/``end`` default to the first/last day seen (an empty
    state with no range gives an empty plan). Per day, by its latest row:

    * no row: ``download`` (never attempted);
    * ``FAILED``: the phase it failed in (:func:`failed_phase`);
    * ``DOWNLOADED``: ``process``; ``PROCESSED``: ``upload``;
    * ``*_PENDING`` started more than ``stale_after`` before ``now``: stalled,
      redo that phase; younger (or with an unparseable ``started_at_utc``):
      in flight, not work. An orchestrator that knows it is the only writer
      passes ``stale_after=timedelta(0)`` so its own crashed attempts are
      retried at once;
    * ``UPLOADED`` or a ``SKIPPED_*`` status: done;
    * an empty status (allowed by the writer): ``download``.
    """
    if isinstance(state_or_latest, BackfillState):  # its slots read, no row built
        state = state_or_latest
        seen = state.days
        status_of, started_of = state.status_of, state.started_of
        failed_in: Callable[[date], str | None] = state.phase_of
    else:
        latest = state_or_latest
        seen = sorted(latest)

        def status_of(day: date) -> str | None:
            row = latest.get(day)
            return None if row is None else row.status

        def started_of(day: date) -> str | None:
            return latest[day].started_at_utc

        def failed_in(day: date) -> str | None:
            return failed_phase(latest[day])

    if seen and (start is None or end is None):
        start = start or seen[0]
        end = end or seen[-1]
    now = now or datetime.now(timezone.utc)
    work: dict[str, list[date]] = {p: [] for p in PHASES}
    in_flight: list[date] = []
    done: list[date] = []
    never: list[date] = []
    failed: list[date] = []
    stalled: list[date] = []
    first = start or date.min
    count = (end - first).days + 1 if start is not None and end is not None else 0
    for n in range(max(count, 0)):
        day = first + timedelta(days=n)
        status = status_of(day)
        if status is None:
            never.append(day)
            work["download"].append(day)
        elif status in FINAL_STATUSES:
            done.append(day)
        elif status == STATUS_FAILED:
            failed.append(day)
            work[failed_in(day) or "download"].append(day)
        elif status in _NEXT_PHASE:
            work[_NEXT_PHASE[status]].append(day)
        elif status in _PENDING_PHASE:
            moment = parse_instant(started_of(day) or "")
            if moment is not None and now - moment > stale_after:
                stalled.append(day)
                work[_PENDING_PHASE[status]].append(day)
            else:
                in_flight.append(day)
        else:
            work["download"].append(day)
    return ResumePlan(
        start=start,
        end=end,
        download=work["download"],
        process=work["process"],
        upload=work["upload"],
        in_flight=in_flight,
        done=done,
        never_attempted=never,
        failed=failed,
        stalled=stalled,
    )
