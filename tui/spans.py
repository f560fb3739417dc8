"""Spans of time in words, for every command and the monitor (no Textual import)."""

from __future__ import annotations

from datetime import timedelta


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
