"""One grammar for every command's options: durations, days and day ranges.

Every duration option takes ``90s``, ``15m``, ``2h``, ``1d`` or plain
seconds; every day option takes ``YYYY-MM-DD`` exactly; a range whose end is
before its start is refused the same way everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from telemetry.snapshot import StateCache

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


_F = TypeVar("_F", bound=Callable[..., Any])

#: What ``--stale-after`` means to the commands that judge the writer too.
STALE_AND_QUIET = (
    "A pending day older than this is stalled; the writer is quiet after at least this."
)


def stale_after_option(
    help: str = STALE_AND_QUIET, default: str | None = "15m"
) -> Callable[[_F], _F]:
    """The ``--stale-after SPAN`` option (default 15 minutes), as every command spells it.

    ``default=None`` leaves the default to the caller (the monitor's config file).
    """
    return click.option(
        "--stale-after",
        type=DURATION,
        default=default,
        show_default=default is not None,
        metavar="SPAN",
        help=help,
    )


def expected_range_options(command: _F) -> _F:
    """The ``--start DATE`` and ``--end DATE`` options of the expected range of days."""
    command = click.option(
        "--end", type=DAY, metavar="DATE", help="Expected last day (default: last seen)."
    )(command)
    return click.option(
        "--start", type=DAY, metavar="DATE", help="Expected first day (default: first seen)."
    )(command)


def check_range(first: date | None, last: date | None, first_name: str, last_name: str) -> None:
    """Refuse a range whose last day is before its first (one line, exit 2)."""
    if first is not None and last is not None and last < first:
        raise click.UsageError(f"{last_name} {last} is before {first_name} {first}")


def parse_listen(text: str, example: str, *, any_port: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) as a host and a port, or a usage error.

    ``any_port`` admits port 0 (the system picks a free one).
    """
    host, sep, port = text.rpartition(":")
    lowest = 0 if any_port else 1
    if not sep or not host or not port.isdigit() or not lowest <= int(port) < 65536:
        raise click.UsageError(f"--listen: not HOST:PORT: {text!r} (e.g. {example})")
    return host.removeprefix("[").removesuffix("]"), int(port)


#: Overrides where saved states are kept.
CACHE_DIR_ENV = "BACKFILL_MONITOR_CACHE_DIR"


def cache_option(command: _F) -> _F:
    """The ``--no-cache`` flag of the commands that read a file through."""
    return click.option(
        "--no-cache",
        is_flag=True,
        help="Read the file from its start: neither use nor save its saved state.",
    )(command)


def state_cache(no_cache: bool) -> StateCache | None:
    """Where saved states are kept (``$BACKFILL_MONITOR_CACHE_DIR``, else the user's
    cache directory), or ``None`` with ``--no-cache``."""
    if no_cache:
        return None
    import os

    from platformdirs import user_cache_path

    from telemetry.snapshot import StateCache

    where = os.environ.get(CACHE_DIR_ENV) or user_cache_path("backfill-monitor") / "states"
    return StateCache(where)
