"""One grammar for every command's options: durations, days and day ranges.

Every duration option takes ``90s``, ``15m``, ``2h``, ``1d`` or plain
seconds; every day option takes ``YYYY-MM-DD`` exactly; a range whose end is
before its start is refused the same way everywhere.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import click

_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)\s*")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``1d`` or plain seconds (``30``, ``0.5``) as a timedelta.

    Raises ``ValueError`` with a message fit for the user.
    """
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 15m, 2h, 1d, or seconds)")
    return timedelta(seconds=float(match.group(1)) * _SECONDS[match.group(2)])


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` day; raises ``ValueError`` with a message fit for the user."""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


class Duration(click.ParamType):
    """A click option type for :func:`parse_duration`; ``positive`` refuses zero."""

    name = "duration"

    def __init__(self, *, positive: bool = False) -> None:
        self.positive = positive

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            span = parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if self.positive and span <= timedelta(0):
            self.fail(f"must be more than 0, not {value!r}", param, ctx)
        return span


class Day(click.ParamType):
    """A click option type for :func:`parse_day`."""

    name = "date"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_day(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()
POSITIVE_DURATION = Duration(positive=True)
DAY = Day()


def check_range(first: date | None, last: date | None, first_name: str, last_name: str) -> None:
    """Refuse a range whose last day is before its first (one line, exit 2)."""
    if first is not None and last is not None and last < first:
        raise click.UsageError(f"{last_name} {last} is before {first_name} {first}")
