"""Words and figures of the main screen: header, summary and the selected-day strip.

Plain functions from a :class:`BackfillState` (and a clock) to Textual
content markup, so each reads the same in the app, in tests and in
snapshots. Colours are theme variables (``$error``, ``$warning``...), so
themes keep working.
"""

from __future__ import annotations

import math
import time
from datetime import date, datetime

from textual.markup import escape

from telemetry import (
    COLUMN,
    STATUS_FAILED,
    STATUS_SKIPPED_NO_DATA,
    STATUS_SKIPPED_NO_INPUT,
    STATUS_UPLOADED,
    BackfillState,
    Liveness,
)

from ..palette import status_colour
from ..spans import human_duration, plural

_STARTED = COLUMN["started_at_utc"]
_FINISHED = COLUMN["finished_at_utc"]


def human_seconds(seconds: float) -> str:
    """``13ms``, ``4.2s``, ``37s``, ``12m``: a download time in a few characters."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 600:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m"


def human_size(megabytes: float) -> str:
    """``512 MB``, ``1.2 GB``, ``3.4 TB``."""
    if megabytes < 1024:
        return f"{megabytes:,.0f} MB"
    if megabytes < 1024**2:
        return f"{megabytes / 1024:,.1f} GB"
    return f"{megabytes / 1024**2:,.1f} TB"


def human_count(n: float) -> str:
    """``950``, ``12.3k``, ``4.5M``."""
    if n < 10_000:
        return f"{n:,.0f}"
    if n < 1_000_000:
        return f"{n / 1000:,.1f}k"
    return f"{n / 1_000_000:,.1f}M"


def head_markup(
    name: str,
    source: str,
    live: Liveness,
    *,
    paused: bool,
    waiting: int = 0,
    exists: bool = True,
    complete: bool = False,
    reading: bool = False,
) -> str:
    """The header line: file, LIVE or PAUSED, last row age, sensor / descriptor.

    A backfill whose every day is done says so; its writer's silence then is
    no warning ("complete, writer stopped 3 h ago"). A quiet writer is never
    shown LIVE beside its warning, nor is a file without rows (or not there):
    nothing says a writer is at work. While the file is ``reading`` through,
    the newest row read so far says nothing of the writer: neither is shown.
    """
    parts = [f"[b]{escape(name)}[/b]"]
    if paused:
        extra = f" ({plural(waiting, 'row')} waiting)" if waiting else ""
        parts.append(f"[b $warning]❚❚ PAUSED{extra}[/]")
    elif exists and live.since is not None and not (live.quiet and not complete) and not reading:
        parts.append("[b $success]● LIVE[/]")
    if not exists:
        parts.append("[$warning]waiting for the file to appear[/]")
    elif reading:
        parts.append("reading the file…")
    elif live.since is None:
        parts.append("no rows yet")
    elif complete:
        stopped = f", writer stopped {human_duration(live.since)} ago" if live.quiet else ""
        parts.append(f"[b $success]✓ complete{stopped}[/]")
    elif live.quiet:
        parts.append(
            # Reversed: the error colour as the background, the line's own
            # as the text, which reads in every theme (ANSI ones included).
            f"[b reverse $error] ⚠ writer quiet: last row "
            f"{human_duration(live.since)} ago (usual < {human_duration(live.limit)}) [/]"
        )
    else:
        parts.append(f"last row {human_duration(live.since)} ago")
    if source:  # last: on a narrow terminal the state of the writer comes first
        parts.append(f"[dim]{escape(source)}[/]")
    return "  ".join(parts)


def summary_markup(
    state: BackfillState,
    stalled: int,
    percentiles: tuple[float | None, float | None] = (None, None),
) -> str:
    """Days by latest status, attempts, volume and download times (two lines).

    The day counts of the first line add up to the range: a stalled day is
    counted as stalled, not also as in flight.
    """
    counts = state.status_counts
    progress = state.progress()
    skipped = counts[STATUS_SKIPPED_NO_DATA] + counts[STATUS_SKIPPED_NO_INPUT]
    failed = counts[STATUS_FAILED]
    failed_text = f"[b $text-error]{failed:,} failed[/]" if failed else "0 failed"
    stalled_text = f"[b $text-warning]{stalled:,} stalled[/]" if stalled else "0 stalled"
    line1 = (
        f"[b]{progress.done:,}[/b] done ({counts[STATUS_UPLOADED]:,} uploaded, "
        f"{skipped:,} skipped)  {failed_text}  {max(progress.in_flight - stalled, 0):,} in flight  "
        f"{stalled_text}  {progress.missing:,} missing  of {progress.total:,} days"
    )
    p50, p95 = percentiles
    times = (
        f"download p50 {human_seconds(p50)}  p95 {human_seconds(p95)}"
        if p50 is not None and p95 is not None
        else ""
    )
    line2 = (
        f"attempts {state.total_attempts:,} (retries {state.retries:,})  "
        f"records {human_count(state.records_downloaded)}  "
        f"csv {human_size(state.csv_mb)}  cdf {human_size(state.cdf_mb)}  {times}"
    )
    return f"{line1}\n{line2.rstrip()}"


class DownloadPercentiles:
    """p50 and p95 of download times, recomputed at most every ``every`` seconds.

    Exact percentiles sort every download seen: on a 1M-row file that is a
    sizeable fraction of a frame, and they barely move between two rows.
    """

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self._at = -math.inf
        self._count = -1
        self._state: BackfillState | None = None
        self._values: tuple[float | None, float | None] = (None, None)

    def of(self, state: BackfillState) -> tuple[float | None, float | None]:
        """``(p50, p95)`` of ``state``'s downloads, or ``(None, None)`` without any."""
        stats = state.durations["download"]
        count = stats.recorded
        now = time.monotonic()
        fresh = state is self._state and (count == self._count or now - self._at < self.every)
        if not fresh:
            self._state, self._at, self._count = state, now, count
            self._values = (stats.percentile(50), stats.percentile(95))
        return self._values


def rate_markup(state: BackfillState, now: datetime | None = None) -> str:
    """``85.2% done  72 days/h  ETA 2 h 10 min`` beside the progress bar.

    The rate is the last hour's up to ``now``: it falls to 0 when nothing
    finishes, and the ETA reads ``—`` while the writer is quiet.
    """
    progress = state.progress(now=now)
    rate = progress.days_per_hour
    rate_text = "- days/h" if rate is None else f"{rate:,.1f} days/h"
    if progress.total and progress.done >= progress.total:
        eta = "complete"
    elif progress.eta is not None:  # none while the writer is quiet
        eta = f"ETA {human_duration(progress.eta)}"
    else:
        eta = "ETA —"
    inferred = "  [dim](range inferred)[/]" if progress.range_inferred else ""
    return f"{progress.fraction:.1%} done  {rate_text}  {eta}{inferred}"


def last_line(message: str) -> str:
    """The last non-blank line of an error message (a traceback's exception line)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def day_markup(state: BackfillState, day: date | None, stalled: bool = False) -> str:
    """The selected-day strip: date, status, attempts, last error in one line."""
    if day is None:
        return "no day selected"
    values = state.latest_values(day)
    head = f"[b]{day:%Y-%m-%d %a}[/b]"
    if values is None:
        return f"{head}  missing: never attempted"
    status = values[COLUMN["status"]]
    style = f"b {status_colour(status)}".strip()  # the calendar's colours, bold
    status_text = f"[{style}]{escape(status)}[/]"
    attempts = state.attempts(day)
    parts = [head, status_text, plural(attempts, "attempt")]
    if stalled:
        parts.append("[b $text-warning]stalled[/]")
    error = values[COLUMN["error_type"]]
    message = last_line(values[COLUMN["error_message"]])
    if error or message:
        said = message.split(":", 1)[0]  # "requests.exceptions.HTTPError: 503 ..."
        text = message if error and error in said else f"{error}: {message}".strip(": ")
        parts.append(f"[$text-error]{escape(text)}[/]")
    if attempts > 1 or error:
        parts.append("[dim](Enter: every attempt)[/dim]")
    return "  ".join(parts)
