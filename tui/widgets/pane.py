"""One followed telemetry file: header, summary, progress, calendar, selected day.

:class:`MonitorPane` runs its file on a :class:`~telemetry.LiveFile`: a
thread worker waits for wake-ups and has the UI thread, which owns the
state, read and apply each step; the pane redraws only the month lines whose
days changed: a big file fills the calendar in as it loads, and input is
handled between steps. The figures (summary, header) are redrawn on a short timer,
not per step.
"""

from __future__ import annotations

import contextlib
import operator
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from itertools import compress, repeat
from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.markup import escape
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.widgets import Input, ProgressBar, Sparkline, Static

from telemetry import (
    COLUMN,
    STATUS_FAILED,
    BackfillState,
    DurationTrend,
    LiveFile,
    Step,
    cold_load,
    resume_plan,
)
from telemetry.file import TelemetryFile
from telemetry.segments import Segment
from telemetry.snapshot import Prefix, StateCache

from ..actions import bindings
from ..follow import hub, wakeups
from ..pager import day_report, keep_text, page, report_path
from ..palette import STATUS_LEGEND
from ..spans import human_duration, plural
from .calendar import LABEL_WIDTH, MODE_TITLES, CalendarView, legend
from .feed import FEED_ROWS, LiveFeed
from .summary import (
    DownloadPercentiles,
    day_markup,
    head_markup,
    rate_markup,
    summary_markup,
)
from .trend import DurationChart, chart_label

#: Bytes read per step while reading the file through, decoded and folded in
#: the UI thread at once (about ten milliseconds a megabyte; input is handled
#: between steps).
BULK_BYTES = 4 << 20
#: Seconds between two redraws of the calendar while reading a file through.
BULK_FIGURES_EVERY = 1.0
#: Seconds between redraws of the figures while rows arrive.
FIGURES_EVERY = 0.25
#: From this many columns the live feed stands beside the calendar.
WIDE = 140
#: Bars of the sparkline under the feed, at most (one per span of the run).
TREND_BARS = 160
#: Buckets of the duration chart, at most (their width adapts to the run).
DURATION_BUCKETS = 48
#: Seconds between two recomputations of the duration chart while rows arrive.
DURATIONS_EVERY = 10.0
#: Bytes the every-attempt search reads per step.
SEARCH_BYTES = 4 << 20
#: Seconds a reset banner stays up.
BANNER_SECONDS = 30.0

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MONTH = re.compile(r"^\d{4}-\d{2}$")
#: The search box's prompt: the latest rows (False) or every attempt (True).
SEARCH_PROMPTS = {
    False: "search the latest rows: messages, types, run ids, statuses, days; Enter",
    True: "search EVERY attempt of each day: messages, types, run ids, statuses; Enter",
}

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock (the default of :class:`MonitorPane`)."""
    return datetime.now(timezone.utc)


def ruler() -> str:
    """Day-of-month numbers over the calendar's columns (every 5th day)."""
    cells = [" "] * (31 * 2)
    for day in (1, 5, 10, 15, 20, 25, 30):
        text = str(day)
        at = (day - 1) * 2
        cells[at : at + len(text)] = list(text)
    return " " * LABEL_WIDTH + "".join(cells).rstrip()


def _days(days: list[date]) -> str:
    """``2020-01-05`` or ``3 days (2020-01-05, 2020-01-06, ...)``."""
    if len(days) == 1:
        return str(days[0])
    shown = ", ".join(map(str, days[:3])) + (", ..." if len(days) > 3 else "")
    return f"{len(days):,} days ({shown})"


def search_matches(needle: str, day: date, values: list[str]) -> bool:
    """Whether a day's latest row holds ``needle`` (lower case) in its day, status,
    error type, error message or run id (case-insensitive)."""
    return needle in day.isoformat() or any(
        needle in values[COLUMN[name]].lower()
        for name in ("status", "error_type", "error_message", "run_id")
    )


def tab_badge(failed: int, stalled: int, quiet: bool, trouble: str = "") -> str:
    """What a file's tab label adds to its name: ``✗3 !1 ⏸`` (failed, stalled, quiet),
    or ``⚠`` and what is wrong with the file (``trouble``: "not telemetry", "unreadable")."""
    if trouble:
        return f"⚠ {trouble}"
    parts = [f"✗{failed:,}"] if failed else []
    if stalled:
        parts.append(f"!{stalled:,}")
    if quiet:
        parts.append("⏸")
    return " ".join(parts)


def export_path(path: Path) -> Path:
    """Where ``e`` writes the resume plan: ``<stem>.resume-plan.txt`` beside the file."""
    return path.with_name(f"{path.stem}.resume-plan.txt")


class MonitorPane(Vertical):
    """The live view of one telemetry file (one tab of the monitor).

    ``clock`` returns the current time as an aware datetime; pass a fixed one
    for deterministic screenshots. ``start``/``end`` set the expected range of
    days (missing days are counted against it).
    """

    # The footer shows these in this order and cuts what does not fit: the
    # keys an operator needs first come first (all are in help and the palette).
    BINDINGS: ClassVar[list[BindingType]] = bindings("pane")

    class BadgeChanged(Message):
        """The pane's badge (failed and stalled days, a quiet writer) changed."""

        def __init__(self, pane: MonitorPane, badge: str) -> None:
            super().__init__()
            self.pane = pane
            self.badge = badge

    def __init__(
        self,
        path: Path,
        *,
        poll: bool = False,
        stale_after: timedelta = timedelta(minutes=15),
        start: date | None = None,
        end: date | None = None,
        clock: Clock = utc_now,
        alert_on: frozenset[str] = frozenset({"stalled", "quiet"}),
        bell: bool = True,
        colour_mode: str = "status",
        feed_lines: int = FEED_ROWS,
        cache: StateCache | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.path = path
        self.feed_lines = feed_lines
        #: The side panel shown (True) or hidden (False) by ``t``; None: by the width.
        self.side: bool | None = None
        #: Whether the search looks at every attempt of each day, not only the latest.
        self.search_every = False
        self._search_cursor: date | None = None  # where the search last put the cursor
        #: Events that raise an alert (a toast, and the bell if ``bell``):
        #: "failed" (a day turns FAILED), "stalled" (a day stalls), "quiet".
        self.alert_on = alert_on
        self.bell = bell
        self.colour_mode = colour_mode
        self._stalled_seen: set[date] = set()
        self.query_text = ""  # the search, while there is one
        self._search_id = 0
        self._hits: set[date] = set()
        self._was_quiet = False
        self.poll = poll
        self.stale_after = stale_after
        self.start = start
        self.end = end
        self.clock = clock
        # A big file's later part is folded by a second process meanwhile: the
        # calendar fills in with the rest as it is read, then takes it whole.
        self.live = LiveFile(
            path, self._new_state, catch_up_bytes=BULK_BYTES, cache=cache, two_cores=True
        )
        self.paused = False
        self.exists = True
        self.loaded = False  # caught up with the file once
        self._waiting: list[Step] = []
        self._stop = threading.Event()
        self._figures_due = True
        self._stalled: list[date] = []
        self._shown: dict[str, str] = {}
        self._changed: set[date] = set()
        self._newest = NewestRows(feed_lines)  # read in bulk, for the feed once loaded
        self._drawn_at = 0.0
        self._load_shown_at = 0.0
        self.percentiles = DownloadPercentiles()
        self._figures_at = 0.0
        self._banner_timer: Timer | None = None
        self._told_fallback = False  # the wake-up hub fell back to polling, and we said so
        # Rows folded in bulk whose figures are not derived yet (from the start:
        # the first read, a saved state's or one on two cores, is under way).
        self._unsettled = True
        self._badge = ""
        self._error: str | None = None  # why the file is not telemetry or unreadable, while so
        self._trouble = ""  # that, in a word or two, for the tab
        #: Seconds between two recomputations of the duration chart.
        self.durations_every = DURATIONS_EVERY
        self._forget_durations()

    def _put(
        self, selector: str, markup: str, *, layout: bool = False, wraps: bool = False
    ) -> None:
        """Update a Static only if its text changed; no layout pass unless asked.

        Most lines of the pane have a fixed size, and a layout pass per update
        would redraw the whole screen several times a second during a load.
        A line that ``wraps`` on a narrow terminal gets one when its length
        changes (it may need another line): rarely, as figures grow by digits.
        """
        before = self._shown.get(selector)
        if before == markup:
            return
        self._shown[selector] = markup
        layout = layout or (wraps and len(markup) != len(before or ""))
        self.query_one(selector, Static).update(markup, layout=layout)

    def _forget_durations(self) -> None:
        self._durations_at = -DURATIONS_EVERY  # monotonic time of the last chart update
        self._durations_rows = -1  # rows applied when the chart was last computed
        self._durations_loaded = False  # whether that was after the file was read through
        #: Rows applied when the duration chart on show was computed (-1: none yet).
        self.durations_rows = -1

    @property
    def state(self) -> BackfillState:
        """The state of the file (the UI thread's: workers get what they need from it)."""
        return self.live.state

    def _new_state(self) -> BackfillState:
        return BackfillState(
            expected_start=self.start, expected_end=self.end, stale_after=self.stale_after
        )

    # -- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="head")
        yield Static(id="banner")
        with Horizontal(id="loading"):
            yield Static("loading", id="loading-label")
            yield ProgressBar(total=1, id="load", show_eta=False)
        yield Static("loading…", id="summary")
        with Horizontal(id="progress-row"):
            yield ProgressBar(total=1, id="progress", show_eta=False, show_percentage=False)
            yield Static(id="rate")
            yield Static(id="malformed")
        yield Static(id="legend")
        yield Static(ruler(), id="ruler")
        with Horizontal(id="body"):
            yield CalendarView(self.state, id="calendar")
            with Vertical(id="side"):
                yield LiveFeed(lines=self.feed_lines, id="feed")
                yield Static(id="trend-label")
                yield Sparkline([], id="trend")
                yield Static(chart_label(None), id="durations-label")
                yield DurationChart(id="durations")
        yield Static(id="day")
        yield Input(placeholder="go to YYYY-MM-DD, Enter", id="goto")
        yield Input(placeholder=SEARCH_PROMPTS[False], id="search")

    @property
    def calendar(self) -> CalendarView:
        """The calendar widget of this pane."""
        return self.query_one(CalendarView)

    @property
    def feed(self) -> LiveFeed:
        """The live feed of this pane (shown from :data:`WIDE` columns)."""
        return self.query_one(LiveFeed)

    def on_resize(self, event: events.Resize) -> None:
        """The side panel (live feed, trend) takes the right of the calendar on wide terminals."""
        self._place_side()

    def _place_side(self) -> None:
        """Show the side panel beside the calendar when wide (or asked), or in its
        place when asked for on a narrow terminal."""
        wide = self.size.width >= WIDE
        shown = wide if self.side is None else self.side
        alone = shown and not wide
        was = self.query_one("#side").display
        self.query_one("#side").display = shown
        self.set_class(shown and wide, "-wide")
        self.set_class(alone, "-side-only")
        if alone and self.calendar.has_focus:
            self.feed.focus()  # arrows move through the attempts, Enter opens a day
        elif not alone and self.feed.has_focus and not wide:
            self.calendar.focus()
        if shown and not was:
            self.feed.redraw()
            self._figures_due = True

    def on_live_feed_day_chosen(self, event: LiveFeed.DayChosen) -> None:
        """A line of the live feed was chosen: open its day."""
        self.open_day(event.day)

    def on_mount(self) -> None:
        self.query_one("#goto", Input).display = False
        self.query_one("#search", Input).display = False
        self.query_one("#banner", Static).display = False
        if self.colour_mode != "status":
            self.calendar.set_mode(self.colour_mode)
        self.refresh_legend()
        self.refresh_figures()
        self.follow()
        self.set_interval(FIGURES_EVERY, self._tick)

    def on_unmount(self) -> None:
        self._stop.set()

    # -- following the file ------------------------------------------------------

    @work(thread=True, exclusive=True, group="follow")
    def follow(self) -> None:
        """Wait for wake-ups; at each, have the UI thread step the file until caught up.

        The UI thread owns the state and reads and applies each step itself
        (:meth:`take_step`), the rows folded as they are decoded, as every
        consumer of a :class:`LiveFile` does; input and redraws are handled
        between steps. This worker only waits. Until the file has been read
        through (at the start, after a reset) steps come in the cold load's
        bulk form, with the figures derived now and then; after that, as rows
        whose changes are shown one by one.
        """
        self._reopen()
        if not self._catch_up():  # first paint now, not at the first wake-up
            return
        for _ in wakeups(self.path, self._stop, poll=self.poll, interval=0.5):
            if not self._catch_up():
                return

    def _reopen(self) -> None:
        """Start from the file's saved state, if there is one (worker: it reads and
        decodes here what the UI thread then only adopts).

        The feed's rows are what the saved state does not hold: the newest
        rows and failures before its end are read back from the file.
        """
        found = self.live.find_prefix()
        recent = [] if found is None else self._rows_before(found.state, found.offset, None)
        with contextlib.suppress(RuntimeError, NoMatches):  # the app closed meanwhile
            self.app.call_from_thread(self._adopt, found, recent)

    def _rows_before(
        self, state: BackfillState, offset: int, header: list[str] | None
    ) -> list[Segment]:
        """The newest rows and failures of ``state`` before ``offset`` (where a fold
        made elsewhere ends), read back from the file for the feed; ``header``
        the file's, if ``state`` does not hold it yet."""
        lines = self.feed_lines
        starts = sorted((o, line) for d in state.days for o, line, _ in state.runs(d))

        def enough(segments: list[Segment]) -> bool:
            rows = sum(len(s.keeps) for s in segments)
            failed = sum(s.statuses.count(STATUS_FAILED) for s in segments)
            return rows >= lines and failed >= lines

        header = header or state.header
        if header is None:
            return []
        return TelemetryFile(self.path).segments_before(starts, offset, header, enough)

    def _adopt(self, found: Prefix | None, recent: list[Segment]) -> None:
        """Take the saved state found by :meth:`_reopen` (UI thread), before the first step."""
        self.live.reopen(found)
        if found is not None and self.live.reopened_from >= 0:
            self.calendar.set_state(self.state)  # every day of it, drawn from scratch
            self._folded(recent)  # the newest rows before it, for the feed

    def _catch_up(self) -> bool:
        """Step until caught up (in the UI thread); False once the app is gone."""
        try:
            while not self._stop.is_set():
                if self.app.call_from_thread(self.take_step):
                    break
        except (RuntimeError, NoMatches):  # the app closed (or is closing) between two steps
            return False
        return not self._stop.is_set()

    def take_step(self) -> bool:
        """Read the next step and apply it, or hold it while paused; True once caught up.

        While paused, rows appended are read and held (counted as waiting);
        reading a file through waits for the resume instead, so that nothing
        of it is held in memory.
        """
        if self.paused and not self.live.loaded:
            return True
        with cold_load():  # a step allocates many objects that live on, and no cycles
            step = self.live.read(fold=True, folded=self._folded)
            self.receive(step)
        return step.caught_up

    @work(thread=True, group="read-on")
    def read_on(self) -> None:
        """Step until caught up now (after a pause), not at the file's next change."""
        self._catch_up()

    def receive(self, step: Step) -> None:
        """Take one step (UI thread): apply it, or hold it while paused."""
        if step.exists != self.exists:
            self.exists = step.exists
            self._figures_due = True
        if step.starts_over:
            self._waiting.clear()
            self.live.apply(step)
            self.reset(step.reset or "replaced")
        if step.trouble is not None:
            if self._error != step.trouble:
                self._error = step.trouble
                if step.error is not None:
                    self._trouble, then = "not telemetry", "showing nothing until it is one"
                else:  # unreadable: what was read stays
                    self._trouble = "unreadable"
                    then = "showing what was read; trying again as it changes"
                self.show_banner(f"✗ {step.trouble}: {then}", sticky=True)
                self._figures_due = True  # the tab's mark
        elif self._error is not None:
            self._error, self._trouble = None, ""  # telemetry (or readable) again
            self.hide_banner()
            self._figures_due = True
        if self.paused and (step.records or step.malformed):  # rows appended (loaded)
            self._waiting.append(step)
            self.refresh_figures(full=False)  # the count of rows waiting
        elif not step.starts_over:
            self.apply(step)
        self._show_load(step.position, step.size, step.caught_up)

    def apply(self, step: Step) -> None:
        """Apply one step and redraw the month lines it changed."""
        if step.loading:
            self._fold_bulk(step)
            return
        if not (step.records or step.malformed):
            return
        self.settle()  # rows are added to derived figures: derive them first
        changes = self.live.apply(step).changed
        changed = set(changes)
        if self.calendar.search is not None and (changed or self.search_every):
            # Every row counts when every attempt is searched, even one that is
            # not its day's latest (an older started_at_utc).
            self._search_live(changed, [(r.day, r.values) for r in step.records])
        self.feed.add(step.records, redraw=self.loaded)
        if self.loaded and "failed" in self.alert_on:
            failed = sorted(
                day
                for day, before in changes.items()
                if before != STATUS_FAILED and self.state.status_of(day) == STATUS_FAILED
            )
            if failed:
                self.alert(f"{_days(failed)} turned FAILED", severity="error")
        self._changed |= changed
        if self.loaded or time.monotonic() - self._drawn_at >= FIGURES_EVERY:
            self.flush()
        self._figures_due = True

    def _fold_bulk(self, step: Step) -> None:
        """Apply a step of the first read (or a re-read) through the file, in bulk."""
        self.live.apply(step)
        if step.joined:  # the file's later part, folded by a second process
            self._newest.clear()
            self._folded(self._rows_before(self.state, step.position, self.live.tail.header))
            self.calendar.set_state(self.state)
            if self.calendar.search is not None and self.query_text:
                self._search_again()
        self._unsettled = not step.loaded  # the last step derives the figures
        if self.calendar.search is not None:
            self.calendar.set_search(frozenset(self._hits))
            self.refresh_legend()
        if step.loaded:
            last, failed = self._newest.take()
            self.feed.add_rows(last, failed=failed, redraw=False)
        if step.loaded or time.monotonic() - self._drawn_at >= BULK_FIGURES_EVERY:
            self.flush()
        self._figures_due = True

    def _folded(self, segments: list[Segment]) -> None:
        """Note rows just folded in bulk: their days, search hits, the newest rows."""
        days = {day for segment in segments for day in segment.days}
        self._changed |= days
        if self.calendar.search is not None and days:
            self._search_live(days, segments, show=False)
        self._newest.add(segments)

    def settle(self) -> None:
        """Derive the figures of the rows folded in bulk, before they are shown or added to.

        While the file is read through they are not derived (a count of part
        of a file is no figure to act on, and deriving costs more the more
        days there are): once it is read, and when a view needs them.
        """
        if self._unsettled:
            self._unsettled = False
            self.state.finish_fold()

    def flush(self) -> None:
        """Hand the days changed since the last flush to the calendar.

        Live rows are flushed at once; while the file is read through, at
        most every ``BULK_FIGURES_EVERY`` seconds, so the calendar fills in as
        the file loads without redrawing (and laying out) the screen for
        every batch.
        """
        self._drawn_at = time.monotonic()
        if not self._changed:
            return
        changed, self._changed = self._changed, set()
        self.calendar.days_changed(changed)
        if self.calendar.cursor in changed:
            self.refresh_day()

    def reset(self, reason: str) -> None:
        """The file is not the one read so far: start over from an empty state, with a banner."""
        self._changed.clear()
        self._newest.clear()
        self._stalled_seen.clear()
        self._was_quiet = False
        self.feed.clear_feed()
        self._forget_durations()
        self._unsettled = False
        self.loaded = False
        if self.calendar.search is not None:
            # The search goes on over the new file: its hits come in with its rows.
            self._search_id += 1
            self._hits = set()
            self.calendar.search = frozenset()
        self.calendar.set_state(self.state)
        empty = self.state.duration_trend(DURATION_BUCKETS)
        self.query_one(DurationChart).show(empty)
        self._put("#durations-label", chart_label(empty))
        self.refresh_legend()
        self.show_banner(f"⟳ file {reason}: reloading it from the start")
        self._figures_due = True

    def _show_load(self, offset: int, size: int, caught_up: bool) -> None:
        loading = self.query_one("#loading")
        if caught_up:
            if self._unsettled:
                self.settle()  # the figures of the whole file, then the live rows
                self.flush()
            if not self.loaded:
                self.loaded = True
                # What the first read finds is the state of things, not news:
                # no alert for a writer already quiet or days already stalled.
                now = self.clock()
                self._was_quiet = self.state.liveness(now).quiet
                self._stalled_seen.update(self.state.stalled(now))
                loading.display = False
                self.calendar.growing = False
                self.feed.redraw()
            return
        self.calendar.growing = True
        if time.monotonic() - self._load_shown_at < FIGURES_EVERY and loading.display:
            return
        self._load_shown_at = time.monotonic()
        loading.display = True
        self.query_one("#load", ProgressBar).update(total=max(size, 1), progress=offset)
        self._put("#loading-label", f"loading {offset / max(size, 1):.0%} of {size / 1e6:,.1f} MB")

    def alert(self, text: str, *, severity: SeverityLevel = "warning") -> None:
        """An alert: a toast, and the terminal bell if the bell is on."""
        self.notify(f"{self.path.name}: {text}", severity=severity, timeout=10)
        if self.bell:
            self.app.bell()

    def _alert_on_time(self, stalled: list[date], quiet: bool) -> None:
        """Alert once per day that stalls and once each time the writer goes quiet.

        Only once the file has been read through: what the first load finds
        is the state of things, not news.
        """
        new = [day for day in stalled if day not in self._stalled_seen]
        self._stalled_seen.update(new)
        went_quiet = quiet and not self._was_quiet
        self._was_quiet = quiet
        if not self.loaded:
            return
        if new and "stalled" in self.alert_on:
            self.alert(f"{_days(new)} stalled")
        if went_quiet and "quiet" in self.alert_on:
            self.alert("the writer went quiet", severity="error")

    def show_banner(self, text: str, *, sticky: bool = False) -> None:
        """Show ``text`` above the summary, in place of any banner before it.

        Gone after ``BANNER_SECONDS`` unless ``sticky``; the banner it
        replaces takes its timer with it.
        """
        self.hide_banner()
        banner = self.query_one("#banner", Static)
        banner.update(text)
        banner.display = True
        if not sticky:
            self._banner_timer = self.set_timer(BANNER_SECONDS, self.hide_banner)

    def hide_banner(self) -> None:
        """Hide the banner (and forget its timer)."""
        if self._banner_timer is not None:
            self._banner_timer.stop()
            self._banner_timer = None
        self.query_one("#banner", Static).display = False

    # -- drawing -------------------------------------------------------------------

    def _tick(self) -> None:
        if self.loaded or time.monotonic() - self._drawn_at >= BULK_FIGURES_EVERY:
            self.flush()
        fallback = hub().fallback
        if fallback is not None and not self._told_fallback:
            self._told_fallback = True  # said once: the file is followed all the same
            self.show_banner(f"⚠ {fallback}")
        # While a big file loads the figures are redrawn once a second (each
        # redraw costs more the more days there are, and the batches come
        # first); when nothing arrives, every few seconds for stalls.
        since = time.monotonic() - self._figures_at
        period = FIGURES_EVERY if self.loaded else 1.0
        self.refresh_figures(full=(self._figures_due and since >= period) or since >= 5.0)

    def refresh_figures(self, full: bool = True) -> None:
        """Redraw the header (always: the clock moves) and, if ``full``, the figures."""
        now = self.clock()
        live = self.state.liveness(now)
        # Complete only by the whole file's figures (not derived while it is read).
        progress = None if self._unsettled else self.state.progress(now=now)
        self._put(
            "#head",
            head_markup(
                self.path.name,
                " / ".join(p for p in self.state.source if p),
                live,
                paused=self.paused,
                waiting=sum(len(u.records) for u in self._waiting),
                exists=self.exists,
                complete=progress is not None and 0 < progress.total <= progress.done,
                reading=self._unsettled,
            ),
            wraps=True,  # a quiet writer's warning takes a second line at 80 columns
        )
        if not full:
            return
        if self._unsettled:  # reading the file through: the figures come once it is read
            self._put("#summary", f"reading the file: {self.state.rows:,} rows so far…")
            self._put("#rate", "[dim]progress, rate and ETA once it is read[/]")
            self._figures_due = False
            self._figures_at = time.monotonic()
            return
        stalled = self.state.stalled(now)
        if stalled != self._stalled:
            self._stalled = stalled
            self.calendar.set_stalled(stalled)
        self._alert_on_time(stalled, live.quiet)
        self._figures_due = False
        self._figures_at = time.monotonic()
        state = self.state
        if not state.rows and not state.malformed:
            self._put(
                "#summary",
                "waiting for rows…" if self.exists else f"waiting for {self.path} to appear…",
            )
        else:
            markup = summary_markup(state, len(stalled), self.percentiles.of(state))
            self._put("#summary", markup, wraps=True)
        progress = state.progress()
        self.query_one("#progress", ProgressBar).update(
            total=max(progress.total, 1), progress=progress.done
        )
        self._put("#rate", rate_markup(state, now), wraps=True)
        bad = len(state.malformed)
        self._put(
            "#malformed",
            f"[b $text-warning]{bad:,} malformed ▸[/]" if bad else "0 malformed",
            layout=True,  # its width changes, rarely
        )
        self.calendar.rescale()
        self.refresh_day()
        if self.query_one("#side").display:
            self.refresh_trend(now)
            self.refresh_durations()
        failed = state.status_counts[STATUS_FAILED]
        badge = tab_badge(failed, len(stalled), live.quiet, self._trouble)
        if badge != self._badge:
            self._badge = badge
            self.post_message(self.BadgeChanged(self, badge))

    def refresh_trend(self, now: datetime) -> None:
        """Redraw the sparkline of days finished per span over the run (one bar per span)."""
        sparkline = self.query_one("#trend", Sparkline)
        buckets = min(max(sparkline.content_size.width, 12), TREND_BARS)
        width, counts = self.state.finished_over_run(buckets, now)
        peak = max(counts, default=0)
        # Textual draws one value as full bars, and all-equal values as the
        # floor: with nothing to compare, an empty line says it best.
        sparkline.data = counts if peak and len(counts) > 1 else []
        if not peak:
            self._put("#trend-label", "days finished over the run: none yet")
            return
        self._put(
            "#trend-label",
            f"days finished per {human_duration(width)} over the run:"
            f" now {counts[-1]:,}, peak {peak:,}",
        )

    def refresh_durations(self) -> None:
        """Recompute the duration chart in a worker when rows came in since the last time.

        At most every :data:`DURATIONS_EVERY` seconds; during a cold load
        once early on, then as soon as the file has been read through.
        """
        rows = self.state.rows
        if rows == self._durations_rows:
            return
        first_after_load = self.loaded and not self._durations_loaded
        if not first_after_load:
            if not self.loaded and self._durations_rows >= 0:
                return
            if time.monotonic() - self._durations_at < self.durations_every:
                return
        self._durations_loaded = self.loaded
        self._durations_at = time.monotonic()
        self._durations_rows = rows
        self.compute_durations(self.state, list(self.state.days), rows)

    @work(thread=True, exclusive=True, group="durations")
    def compute_durations(self, state: BackfillState, days: list[date], rows: int) -> None:
        """Compute the duration trend off the UI thread (one pass over the days)."""
        trend = state.duration_trend(DURATION_BUCKETS, days)
        try:
            self.app.call_from_thread(self._show_durations, state, trend, rows)
        except (RuntimeError, NoMatches):  # the app closed, or is closing
            return

    def _show_durations(self, state: BackfillState, trend: DurationTrend, rows: int) -> None:
        # Not a state since replaced (reset), nor older than the chart on show
        # (a replaced worker that finished after the one that replaced it).
        if state is self.state and rows >= self.durations_rows:
            self.durations_rows = rows
            self.query_one(DurationChart).show(trend)
            self._put("#durations-label", chart_label(trend))

    def refresh_legend(self) -> None:
        """Redraw the legend line for the calendar's colour mode and filter."""
        calendar = self.calendar
        entries = "  ".join(
            f"[{colour}]{glyph}[/] {meaning}" for glyph, colour, meaning in legend(calendar)
        )
        mode = f"[b]{MODE_TITLES[calendar.mode]}[/b]"
        shown = "" if calendar.status_filter == "all" else f"  [b]only {calendar.status_filter}[/b]"
        if calendar.search is not None:
            hits = plural(len(calendar.search), "day")
            shown += f"  [b]{escape(repr(self.query_text))}: {hits}[/b]"
        if calendar.folded and (calendar.search is not None or calendar.status_filter != "all"):
            shown += "  [b]their months only[/b]"
        self._put("#legend", f"{mode}{shown}  {entries}", layout=True)

    def refresh_day(self) -> None:
        """Redraw the selected-day strip."""
        day = self.calendar.cursor
        self._put(
            "#day",
            day_markup(self.state, day, stalled=day is not None and day in self.calendar.stalled),
        )

    def on_calendar_view_cursor_moved(self, event: CalendarView.CursorMoved) -> None:
        """The selected day moved: redraw its strip."""
        self.refresh_day()

    def on_calendar_view_day_selected(self, event: CalendarView.DaySelected) -> None:
        """Enter or a click on a day: open its detail."""
        self.open_day(event.day)

    @on(events.Click, "#malformed")
    def malformed_clicked(self) -> None:
        """A click on the malformed count opens the list of malformed rows."""
        self.action_malformed()

    # -- actions -------------------------------------------------------------------

    def open_day(self, day: date) -> None:
        """Push the detail screen of ``day``."""
        from ..screens import DayDetailScreen

        self.app.push_screen(DayDetailScreen(self.state, self.path, day))

    def action_goto(self) -> None:
        """Ask for a date to jump to."""
        goto = self.query_one("#goto", Input)
        goto.value = ""
        goto.display = True
        goto.focus()

    def action_cancel_goto(self) -> None:
        """Esc: close the date or search input, else end the search."""
        for selector in ("#goto", "#search"):
            box = self.query_one(selector, Input)
            if box.display:
                box.display = False
                self.calendar.focus()
                return
        if self.calendar.search is not None:
            self.end_search()

    # -- search ----------------------------------------------------------------------

    def action_search(self, every: bool = False) -> None:
        """Ask for a text to search the days' latest rows for (``every``: all their rows)."""
        self.search_every = every
        box = self.query_one("#search", Input)
        box.placeholder = SEARCH_PROMPTS[every]
        box.value = self.query_text
        box.display = True
        box.focus()

    def action_search_all(self) -> None:
        """Ask for a text to search every attempt of each day for."""
        self.action_search(every=True)

    @on(Input.Submitted, "#search")
    def start_search(self, event: Input.Submitted) -> None:
        """Search for the text typed: hits stream in; n / N step through them."""
        event.input.display = False
        self.calendar.focus()
        text = event.value.strip()
        if not text:
            self.end_search()
            return
        self.query_text = text
        self._search_again()

    def _search_again(self) -> None:
        """Search for :attr:`query_text` from scratch (hits stream in)."""
        text = self.query_text
        self._search_id += 1
        self._hits = set()
        self._search_cursor = None
        self.calendar.set_search(frozenset())
        if self.search_every:
            self.search_rows(text.lower(), self._search_id)
        else:
            self.search_days(text.lower(), self._search_id, list(self.state.days))

    @work(thread=True, exclusive=True, group="search")
    def search_days(self, needle: str, search_id: int, days: list[date]) -> None:
        """Look at each day's latest row in a thread; hand hits to the UI in batches."""
        hits: list[date] = []
        state = self.state
        for k, day in enumerate(days, 1):
            values = state.latest_values(day)
            if values is not None and search_matches(needle, day, values):
                hits.append(day)
            if k % 5000 == 0 or k == len(days):
                try:
                    self.app.call_from_thread(self._add_hits, search_id, hits, k == len(days))
                except (RuntimeError, NoMatches):  # the app closed, or is closing
                    return
                hits = []
        if not days:
            self.app.call_from_thread(self._add_hits, search_id, [], True)

    @work(thread=True, exclusive=True, group="search")
    def search_rows(self, needle: str, search_id: int) -> None:
        """Look at every row of the file in a thread; hand the days of hits to the UI."""
        reader = LiveFile(self.path, catch_up_bytes=SEARCH_BYTES)  # read, never applied
        while True:
            try:
                step = reader.read()
            except OSError as exc:
                self.app.call_from_thread(self.notify, f"search: {exc}", severity="error")
                return
            rows: list[Segment | tuple[date, list[str]]] = [*step.segments]
            rows += ((r.day, r.values) for r in step.records)
            hits = list(matching_days(needle, rows))
            done = step.error is not None or step.caught_up
            try:
                self.app.call_from_thread(self._add_hits, search_id, hits, done)
            except (RuntimeError, NoMatches):  # the app closed, or is closing
                return
            if done or self._stop.is_set():
                return

    def _add_hits(self, search_id: int, hits: list[date], done: bool) -> None:
        if search_id != self._search_id:
            return  # an older search, since replaced
        if self.search_every:
            self._hits.update(hits)  # a row once written stays a hit
        else:
            # The worker read a moment ago: rows applied since may have changed a day.
            self._hits.update(day for day in hits if self._latest_matches(day))
        self.calendar.set_search(frozenset(self._hits))
        self.refresh_legend()
        self._cursor_to_first_hit()
        if done:
            found = len(self._hits)
            rows = "any attempt" if self.search_every else "the latest row"
            self.notify(
                f"{plural(found, 'day')} match {self.query_text!r} in {rows}"
                + (": n / N step through them, Esc ends the search" if found else ""),
                severity="information" if found else "warning",
                timeout=4,
            )

    def _latest_matches(self, day: date) -> bool:
        """Whether ``day``'s latest row (as the state holds it now) matches the search."""
        values = self.state.latest_values(day)
        return values is not None and search_matches(self.query_text.lower(), day, values)

    def _cursor_to_first_hit(self) -> None:
        """Put the cursor on the first hit, as hits stream in, until the operator moves it."""
        calendar = self.calendar
        moved = self._search_cursor is not None and calendar.cursor != self._search_cursor
        if not self._hits or moved:
            return
        first = min(self._hits)
        if first != calendar.cursor and calendar.select_day(first):
            self._search_cursor = first

    def _search_live(
        self,
        days: set[date],
        rows: Iterable[Segment | tuple[date, list[str]]],
        *,
        show: bool = True,
    ) -> None:
        """Rows that came in while searching: their days join or leave the hits.

        Searching every attempt, a day joins when one of ``rows`` (the rows
        applied, as records or segments) matches, and never leaves. The
        calendar shows the hits now if ``show``.
        """
        if self.search_every:
            self._hits.update(matching_days(self.query_text.lower(), rows))
        else:
            for day in days:
                if self._latest_matches(day):
                    self._hits.add(day)
                else:
                    self._hits.discard(day)
        if show:
            self.calendar.set_search(frozenset(self._hits))
            self.refresh_legend()

    def end_search(self) -> None:
        """End the search: every day shows again, n / N step through failed days."""
        self._search_id += 1
        self._hits = set()
        self._search_cursor = None
        self.query_text = ""
        self.calendar.set_search(None)
        self.refresh_legend()

    @on(Input.Submitted, "#goto")
    def jump(self, event: Input.Submitted) -> None:
        """Jump to the date typed; a bad or out-of-range date is a notification."""
        text = event.value.strip()
        event.input.display = False
        self.calendar.focus()
        calendar = self.calendar
        try:
            if _ISO_MONTH.match(text):
                day = date.fromisoformat(f"{text}-01")
                month = (day.year, day.month)
                first = calendar.first_day
                if first is not None and (first.year, first.month) == month:
                    day = first  # the month the calendar starts in, from its first day
            elif _ISO_DAY.match(text):
                day = date.fromisoformat(text)
            else:
                raise ValueError
        except ValueError:
            self.notify(f"not a date: {text!r} (use YYYY-MM-DD or YYYY-MM)", severity="warning")
            return
        if not calendar.select_day(day):
            first, last = calendar.first_day, calendar.last_day
            self.notify(f"{text} is outside the calendar ({first}..{last})", severity="warning")

    def action_next_failed(self, direction: int) -> None:
        """Select the next (1) or previous (-1) day that is shown: a search hit, a day
        of the status filter, or else a failed day."""
        calendar = self.calendar
        state = self.state
        wanted: Callable[[date], bool]
        if calendar.search is not None:
            wanted = calendar.matches
            what = f"day matching {self.query_text!r}"
        elif calendar.status_filter == "all":

            def wanted(day: date) -> bool:
                return state.status_of(day) == STATUS_FAILED

            what = "failed day"
        else:
            wanted = calendar.matches
            what = f"{calendar.status_filter} day"
        cursor = calendar.cursor
        day = calendar.find(direction, wanted, wrap=True)
        if day is None:  # find() only ever returns a wanted day
            self.notify(f"no {what}", timeout=3)
            return
        if cursor is not None and (day - cursor).days * direction <= 0:
            edge = "last" if direction > 0 else "first"
            start = "first" if direction > 0 else "last"
            self.notify(f"past the {edge} {what}: back to the {start}", timeout=3)
        calendar.select_day(day)

    def action_cycle_filter(self) -> None:
        """Show only days of the next status filter (the others are dimmed)."""
        name = self.calendar.cycle_filter()
        self.refresh_legend()
        count = "" if name == "all" else f": n/N step through {name} days"
        self.notify(f"filter: {name}{count}", timeout=2)

    def action_fold(self) -> None:
        """Show only the months with a search hit or filtered day, or every month again."""
        calendar = self.calendar
        if not calendar.folded and calendar.search is None and calendar.status_filter == "all":
            self.notify("nothing to fold to: search (/) or filter (s) first", timeout=3)
            return
        calendar.set_folded(not calendar.folded)
        self.refresh_legend()
        if calendar.folded and not calendar.month_count:
            self.notify("no day matches: no month to show; v shows every month", timeout=4)
        elif calendar.folded:
            self.notify(
                f"showing only the {plural(calendar.month_count, 'month')} with matching days;"
                " v shows every month",
                timeout=3,
            )

    def action_toggle_side(self) -> None:
        """Show or hide the side panel (live feed, trends), whatever the width."""
        shown = self.query_one("#side").display
        self.side = not shown
        self._place_side()
        if self.side and self.size.width < WIDE:
            self.notify("the live feed in place of the calendar; t brings the calendar back")

    def action_feed_failures(self) -> None:
        """Show only failed attempts in the live feed, or every attempt again."""
        self.feed.show_failures_only(not self.feed.failures_only)
        if not self.query_one("#side").display:
            self.action_toggle_side()

    def action_cycle_mode(self) -> None:
        """Colour the calendar by the next mode."""
        self.calendar.cycle_mode()
        self.refresh_legend()

    def action_export(self) -> None:
        """Write what a restart would redo beside the file: the resume plan's ranges.

        The same plan as ``latest --plan`` over the same range (``--from`` /
        ``--to``, else the days seen) with the same stale-after: failed,
        never attempted and stalled days, each with the phase it needs.
        Where the file's directory cannot take it (read-only), the temporary
        directory does; served to a browser, the browser downloads it. The
        toast says where it went.
        """
        if not self.state.days and (self.start is None or self.end is None):
            self.notify("nothing to export yet", severity="warning")
            return
        self.settle()
        plan = resume_plan(
            self.state, self.start, self.end, now=self.clock(), stale_after=self.stale_after
        )
        wanted = export_path(self.path)
        try:
            target = keep_text(self.app, plan.ranges_text(), wanted)
        except OSError as exc:
            self.notify(f"export failed: {exc.strerror or exc}: {wanted}", severity="error")
            return
        why = ", ".join(
            f"{len(days):,} {what}"
            for days, what in (
                (plan.failed, "failed"),
                (plan.stalled, "stalled"),
                (plan.never_attempted, "never attempted"),
            )
            if days
        )
        self.notify(
            f"resume plan: {plural(plan.work, 'day')} to redo"
            + (f" ({why})" if why else "")
            + f" -> {target}"
        )

    def action_page(self) -> None:
        """Show the selected day's rows and full error messages in ``$PAGER``.

        Where no pager can run, they are written to a file beside the
        telemetry instead, and the toast says where.
        """
        day = self.calendar.cursor
        if day is None:
            return
        try:
            records = self.state.history(self.path, day)
        except (OSError, ValueError) as exc:
            self.notify(f"could not read {day}: {exc}", severity="error")
            return
        text = day_report(self.state, self.path, day, records)
        why = page(self.app, text)
        if why is None:
            return
        try:
            target = keep_text(self.app, text, report_path(self.path, day))
        except OSError as exc:
            self.notify(f"{why}, and could not write the day: {exc}", severity="error")
            return
        self.notify(f"{why}: wrote {day}'s {plural(len(records), 'row')} to {target}")

    def action_pause(self) -> None:
        """Stop applying new rows (they are kept); resuming catches up at once."""
        self.paused = not self.paused
        if not self.paused:
            waiting, self._waiting = self._waiting, []
            for update in waiting:
                self.apply(update)
            self.read_on()
        self.refresh_figures()

    def action_failures(self) -> None:
        """Open the failures grouped by error type."""
        from ..screens import FailuresScreen

        self.settle()
        self.app.push_screen(FailuresScreen(self.state, self.path, self.clock))

    def action_malformed(self) -> None:
        """Open the list of malformed rows."""
        from ..screens import MalformedScreen

        self.app.push_screen(MalformedScreen(self.state, self.path))

    def action_help(self) -> None:
        """Open the keys and the legend."""
        from ..screens import HelpScreen

        self.app.push_screen(HelpScreen(STATUS_LEGEND))


class NewestRows:
    """The newest ``lines`` rows read in bulk, and apart the newest failed ones, for the feed.

    Keeps only the segments that hold them (:meth:`add` costs no Python code
    per row); :meth:`take` builds the rows once, at the end of a load.
    """

    def __init__(self, lines: int) -> None:
        self.lines = lines
        self.clear()

    def clear(self) -> None:
        """Forget every row."""
        #: For all rows, then for failed ones: segments holding the newest, with
        #: how many of those rows each holds, and their sum.
        self._kept: tuple[deque[tuple[Segment, int]], ...] = (deque(), deque())
        self._counts = [0, 0]

    def add(self, segments: list[Segment]) -> None:
        """Note ``segments`` (in file order) as the newest rows."""
        for segment in segments:
            counts = (len(segment.keeps), segment.statuses.count(STATUS_FAILED))
            for k, count in enumerate(counts):
                if count:
                    kept = self._kept[k]
                    kept.append((segment, count))
                    self._counts[k] += count
                    while self._counts[k] - kept[0][1] >= self.lines:
                        self._counts[k] -= kept.popleft()[1]

    def take(self) -> tuple[list[tuple[date, list[str]]], list[tuple[date, list[str]]]]:
        """The newest rows and the newest failed rows (day, values), oldest first; forgets them."""
        rows, failed = ([segment for segment, _ in kept] for kept in self._kept)
        self.clear()
        return _last_rows(rows, self.lines), _last_rows(failed, self.lines, failed=True)


def _last_rows(
    segments: list[Segment], count: int, *, failed: bool = False
) -> list[tuple[date, list[str]]]:
    """The day and values of the last ``count`` rows of ``segments`` (only the failed ones
    with ``failed``), oldest first."""
    out: list[tuple[date, list[str]]] = []
    for segment in reversed(segments):
        if len(out) >= count:
            break
        rows: Sequence[int] = range(len(segment.keeps))
        if failed:
            statuses = segment.statuses
            if STATUS_FAILED not in statuses:
                continue
            rows = list(compress(rows, map(operator.eq, statuses, repeat(STATUS_FAILED))))
        days = segment.row_days()
        out += ((days[k], segment.values(k)) for k in reversed(rows[len(out) - count :]))
    return out[::-1]


def matching_days(needle: str, rows: Iterable[Segment | tuple[date, list[str]]]) -> Iterator[date]:
    """The day of each of ``rows`` (segments, or day and values) that
    :func:`search_matches` ``needle`` (lower case), one per matching row.

    A segment's row is first looked for in its text as written (no decoding):
    only rows whose text or day holds the needle are decoded and checked.
    """
    raw = '"' not in needle  # a quote is doubled in the text: decode every row
    for item in rows:
        if not isinstance(item, Segment):
            day, values = item
            if search_matches(needle, day, values):
                yield day
            continue
        days = item.row_days()
        for k, text in enumerate(item.keeps):
            day = days[k]
            if (
                raw
                and isinstance(text, str)
                and needle not in text.lower()
                and needle not in day.isoformat()
            ):
                continue
            if search_matches(needle, day, item.values(k)):
                yield day
