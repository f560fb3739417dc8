"""Counts and spans of time in words, for every command and the monitor (no Textual import)."""

from __future__ import annotations

from datetime import date, timedelta


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``1 day``, ``2 days``, ``1,234 rows``, ``2 matches`` (with ``many``): thousands separated."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {many or noun + 's'}"


def days_between(count: int, first: date, last: date) -> str:
    """``1 day, 2020-01-05``; ``3 days, 2020-01-05..2020-01-07`` (a run without gaps);
    ``9 days between 2019-04-07 and 2021-09-29`` (scattered: not a range of them all)."""
    if count == 1 or first == last:
        return f"{plural(count, 'day')}, {first}"
    if (last - first).days + 1 == count:
        return f"{plural(count, 'day')}, {first}..{last}"
    return f"{plural(count, 'day')} between {first} and {last}"


def human_duration(span: timedelta) -> str:
    """``4 s``, ``3 min 5 s``, ``2 h 5 min``, ``3 d 4 h``: two units at most."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
