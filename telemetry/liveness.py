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
from datetime import timedelta
from itertools import pairwise

from .latest import parse_instant

#: The writer counts as quiet after this many typical gaps between rows...
QUIET_GAPS = 10
#: ...and never sooner than this (a fast writer pausing for a slow day is normal).
QUIET_FLOOR = timedelta(minutes=2)


class RowGaps:
    """The typical gap between rows, from the timestamps of the newest rows.

    Keeps the newest ``keep`` row instants (the later of ``started_at_utc``
    and ``finished_at_utc`` of each row, as text) and gives the median gap
    between consecutive ones: the writer's usual rhythm, which tells "quiet
    for a while" from "gone".
    """

    def __init__(self, keep: int = 200) -> None:
        self.keep = keep
        self._moments: deque[str] = deque(maxlen=keep)

    def clear(self) -> None:
        """Forget every row (the file was reset)."""
        self._moments.clear()

    def add(self, started: Iterable[str], finished: Iterable[str]) -> None:
        """Note rows by their ``started_at_utc`` and ``finished_at_utc`` (only the newest count)."""
        self._moments.extend(map(max, started, finished))

    def median(self) -> timedelta | None:
        """Median positive gap between the kept rows, or ``None`` with fewer than three."""
        parsed = sorted(m for m in map(parse_instant, self._moments) if m is not None)
        gaps = [(b - a).total_seconds() for a, b in pairwise(parsed) if b > a]
        if len(gaps) < 3:
            return None
        return timedelta(seconds=statistics.median(gaps))


@dataclass(frozen=True)
class Liveness:
    """How long the writer has been silent, and whether that is unusual.

    ``since`` is the age of the newest row's timestamp (``None`` without
    rows); ``quiet`` is True when it is older than ``limit``:
    ``max(stale_after, QUIET_FLOOR, QUIET_GAPS x the median gap between rows)``.
    """

    since: timedelta | None
    limit: timedelta
    quiet: bool


def liveness(since: timedelta | None, gaps: RowGaps, stale_after: timedelta) -> Liveness:
    """The writer's liveness given the newest row's age (see :class:`Liveness`)."""
    limit = max(stale_after, QUIET_FLOOR)
    median = gaps.median()
    if median is not None:
        limit = max(limit, median * QUIET_GAPS)
    return Liveness(since, limit, since is not None and since > limit)
