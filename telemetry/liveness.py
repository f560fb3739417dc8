"""Is the writer still going? The one rule for "the writer went quiet".

The monitor's header, ``summary``, ``follow`` and ``metrics`` all ask
:meth:`telemetry.BackfillState.liveness`, which applies :func:`liveness` to
the state's :class:`RowGaps`, so they can never disagree.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain, pairwise

from .latest import parse_instant

#: The writer counts as quiet after this many typical gaps between rows...
QUIET_GAPS = 10
#: ...and never sooner than this (a fast writer pausing for a slow day is normal).
QUIET_FLOOR = timedelta(minutes=2)


_UTC = "+00:00"


class Newest:
    """The newest row timestamp seen, compared as instants; what does not parse is skipped.

    Timestamps as the writers write them (UTC, ``+00:00``) compare as text,
    so most rows cost one string comparison; a new text maximum is kept
    only once it parses (a leap second ``23:59:60`` or ``n/a`` never hides
    the real newest row). Any other timestamp (another offset, ``Z``, no
    offset) is parsed and compared as an instant.
    """

    __slots__ = ("_other", "_text")

    def __init__(self) -> None:
        self._text = ""  # the newest parseable "+00:00" timestamp, as text
        self._other: datetime | None = None  # the newest of the others

    def clear(self) -> None:
        """Forget every timestamp."""
        self._text, self._other = "", None

    def note(self, moment: str) -> None:
        """Note one timestamp (an empty one is ignored)."""
        if moment > self._text:
            if moment.endswith(_UTC):
                if parse_instant(moment) is not None:
                    self._text = moment
                return
        elif not moment or moment.endswith(_UTC):
            return
        parsed = parse_instant(moment)
        if parsed is not None and (self._other is None or parsed > self._other):
            self._other = parsed

    def merge(self, other: Newest) -> None:
        """Note every timestamp ``other`` noted (the newest of both is kept)."""
        if other._text > self._text:
            self._text = other._text
        if other._other is not None and (self._other is None or other._other > self._other):
            self._other = other._other

    def note_rows(self, started: list[str], finished: list[str]) -> None:
        """Note the timestamps of many rows, with C-level passes when they are all
        the writers' UTC text (one parse for the new newest, usually)."""
        moments = list(filter(None, chain(started, finished)))
        joined = "".join(moments)
        if joined.count(_UTC) != len(moments) or joined.count("+") != len(moments):
            for moment in moments:  # other offsets among them: one by one
                self.note(moment)
            return
        top = max(moments, default="")
        if top <= self._text:
            return
        if parse_instant(top) is not None:
            self._text = top
            return
        # The newest does not parse (a leap second): the newest that does wins.
        for moment in sorted({m for m in moments if m > self._text}, reverse=True):
            if parse_instant(moment) is not None:
                self._text = moment
                return

    @property
    def instant(self) -> datetime | None:
        """The newest instant noted, or ``None``."""
        text = parse_instant(self._text) if self._text else None
        if text is None or (self._other is not None and self._other > text):
            return self._other
        return text


class RowGaps:
    """The typical gap between rows, from the timestamps of the newest rows.

    Keeps the timestamps of the newest ``keep`` rows (``started_at_utc``
    and ``finished_at_utc``) and gives the median gap
    between consecutive ones: the writer's usual rhythm, which tells "quiet
    for a while" from "gone".
    """

    def __init__(self, keep: int = 200) -> None:
        self.keep = keep
        self._moments: deque[tuple[str, str]] = deque(maxlen=keep)

    def clear(self) -> None:
        """Forget every row (the file was reset)."""
        self._moments.clear()

    def add(self, started: Iterable[str], finished: Iterable[str]) -> None:
        """Note rows by their ``started_at_utc`` and ``finished_at_utc`` (only the newest count)."""
        self._moments.extend(zip(started, finished, strict=True))

    def extend(self, later: RowGaps) -> None:
        """Note the rows ``later`` kept, as rows after these."""
        self._moments.extend(later._moments)

    def median(self) -> timedelta | None:
        """Median positive gap between the kept rows, or ``None`` with fewer than three.

        A row's moment is the later of its two timestamps that parse.
        """
        parsed = sorted(filter(None, map(_later, self._moments)))
        gaps = [(b - a).total_seconds() for a, b in pairwise(parsed) if b > a]
        if len(gaps) < 3:
            return None
        return timedelta(seconds=statistics.median(gaps))


def _later(pair: tuple[str, str]) -> datetime | None:
    moments = [m for m in map(parse_instant, pair) if m is not None]
    return max(moments, default=None)


@dataclass(frozen=True)
class Liveness:
    """How long the writer has been silent, and whether that is unusual.

    ``since`` is the age of the newest row's timestamp (``None`` without
    rows); ``quiet`` is True when it is older than ``limit``: the writer's
    own cadence, ``max(QUIET_FLOOR, QUIET_GAPS x the median gap between
    rows)``; ``stale_after`` only while there are too few rows for a gap.
    """

    since: timedelta | None
    limit: timedelta
    quiet: bool


def liveness(since: timedelta | None, gaps: RowGaps, stale_after: timedelta) -> Liveness:
    """The writer's liveness given the newest row's age (see :class:`Liveness`)."""
    median = gaps.median()
    if median is None:
        limit = max(stale_after, QUIET_FLOOR)
    else:
        limit = max(QUIET_FLOOR, median * QUIET_GAPS)
    return Liveness(since, limit, since is not None and since > limit)
