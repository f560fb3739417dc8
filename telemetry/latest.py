"""The resume rule: which of two rows of one day is the day's latest.

Kept in one place so :meth:`HistoricalTelemetry.load_state` and
:class:`telemetry.state.BackfillState` agree by construction.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .records import read_batches
from .schema import SCHEMA, TelemetryRow

if TYPE_CHECKING:
    from datetime import date

STARTED_COL = SCHEMA.index("started_at_utc")


@lru_cache(maxsize=8192)
def parse_instant(text: str) -> datetime | None:
    """Parse an ISO-8601 timestamp as an aware datetime (naive means UTC), or ``None``."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def _writer_format(text: str) -> bool:
    # What utcnow_iso() and the original module write: same shape, same
    # offset, so comparing the strings is comparing the instants.
    return len(text) in (25, 32) and text.endswith("+00:00") and text[10] == "T"


def replaces(started: str, current: str) -> bool:
    """True when a row started at ``started`` becomes the latest over ``current``.

    The later instant wins; a tie goes to the new row (it is later in the file:
    a PENDING row and its outcome share one ``started_at_utc``). When either
    side does not parse as a timestamp both are compared as strings, exactly
    as the original module does. On every file the original module writes
    this is its ``started >= current`` rule.
    """
    if started == current:
        return True
    if len(started) == len(current) and _writer_format(started) and _writer_format(current):
        return started > current
    a = parse_instant(started)
    b = parse_instant(current)
    if a is None or b is None:
        return started >= current
    return a >= b


def load_latest(path: Path | str) -> dict[date, TelemetryRow]:
    """Return the latest row per day of the file at ``path`` ({} if missing).

    See :meth:`telemetry.HistoricalTelemetry.load_state`.
    """
    path = Path(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return {}
    latest: dict[date, list[str]] = {}
    started: dict[date, str] = {}
    with fh:
        for batch in read_batches(fh):
            for record in batch.records:
                day = record.day
                values = record.values
                when = values[STARTED_COL]
                current = started.get(day)
                if current is None or replaces(when, current):
                    latest[day] = values
                    started[day] = when
    return {day: TelemetryRow(*values) for day, values in latest.items()}
