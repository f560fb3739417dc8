"""The monitor's defaults, from a config file in the user's config directory.

``~/.config/backfill-monitor/config.ini`` on Linux (the XDG config home, as
``platformdirs`` finds it on each system)::

    [monitor]
    theme = textual-light
    stale_after = 30m
    colour_mode = availability
    bell = no
    alert_on = stalled, quiet, failed
    feed_lines = 1000
    start = 2020-01-01
    end = 2024-12-31

Every key is optional; command-line options win over the file.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from .options import parse_duration

#: Events that can alert (a toast, and the bell unless it is off).
ALERT_EVENTS = ("failed", "stalled", "quiet")
#: The calendar's colour modes (``tui.widgets.calendar.MODES``, without importing Textual).
COLOUR_MODES = ("status", "availability", "duration", "attempts")
#: The most lines the live feed may be asked to keep (it redraws them all at
#: each new row, so the cost grows with them).
MAX_FEED_LINES = 2_000


def config_path() -> Path:
    """Where the config file is looked for."""
    from platformdirs import user_config_path

    return user_config_path("backfill-monitor") / "config.ini"


@dataclass(frozen=True)
class MonitorConfig:
    """The monitor's defaults. ``alert_on`` holds events of :data:`ALERT_EVENTS`."""

    theme: str | None = None
    stale_after: timedelta | None = None
    colour_mode: str = "status"
    bell: bool = True
    alert_on: frozenset[str] = field(default_factory=lambda: frozenset({"stalled", "quiet"}))
    #: Attempts the live feed keeps (and failed attempts, apart).
    feed_lines: int = 200
    #: The expected range of days, where ``--start`` / ``--end`` do not set it.
    start: date | None = None
    end: date | None = None


def load_config(path: Path | None = None) -> MonitorConfig:
    """Read the config file (a missing one gives the defaults).

    Raises ``ValueError`` with a message naming the file and the key for
    anything it cannot use.
    """
    path = config_path() if path is None else path
    parser = configparser.ConfigParser()
    try:
        if not parser.read(path, encoding="utf-8"):
            return MonitorConfig()
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a config file: {exc}".splitlines()[0]) from None
    if not parser.has_section("monitor"):
        return MonitorConfig()
    section = parser["monitor"]
    known = {
        "theme",
        "stale_after",
        "colour_mode",
        "bell",
        "alert_on",
        "feed_lines",
        "start",
        "end",
    }
    unknown = set(section) - known
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} in [monitor]")
    try:
        stale = section.get("stale_after")
        stale_after = parse_duration(stale) if stale else None
        bell = section.getboolean("bell", fallback=True)
        lines = section.get("feed_lines", "200").strip()
        if not lines.isdigit():
            raise ValueError(f"feed_lines: {lines!r} is not a whole number")
        feed_lines = int(lines)
        if not 1 <= feed_lines <= MAX_FEED_LINES:
            raise ValueError(f"feed_lines: {feed_lines} is not between 1 and {MAX_FEED_LINES:,}")
        start, end = (_day(section, key) for key in ("start", "end"))
        if start is not None and end is not None and start > end:
            raise ValueError(f"start {start} is after end {end}")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    mode = section.get("colour_mode", "status").strip()
    if mode not in COLOUR_MODES:
        raise ValueError(f"{path}: colour_mode {mode!r} is not one of {', '.join(COLOUR_MODES)}")
    listed = section.get("alert_on", "stalled,quiet").split(",")
    events = frozenset(e.strip() for e in listed if e.strip())
    if not events <= set(ALERT_EVENTS):
        bad = ", ".join(sorted(events - set(ALERT_EVENTS)))
        raise ValueError(f"{path}: alert_on: {bad} is not one of {', '.join(ALERT_EVENTS)}")
    theme = section.get("theme") or None
    return MonitorConfig(theme, stale_after, mode, bell, events, feed_lines, start, end)


def _day(section: configparser.SectionProxy, key: str) -> date | None:
    text = section.get(key, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{key}: {text!r} is not a date (YYYY-MM-DD)") from None
