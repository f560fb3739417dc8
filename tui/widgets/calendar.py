"""The backfill calendar: one line per month, one cell per day, drawn with the Line API.

Only the lines on screen are rendered, and each month's line is cached as a
:class:`~textual.strip.Strip` until one of its days changes, the cursor
enters or leaves it, or the colour mode or status filter changes. A 1M-row
file covers about 160k days (450 years of months): scrolling and live
updates cost the visible lines, never the whole range.
"""

from __future__ import annotations

import calendar as _calendar
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from telemetry import (
    COLUMN,
    FINAL_STATUSES,
    PENDING_STATUSES,
    STATUS_FAILED,
    STATUS_SKIPPED_NO_DATA,
    STATUS_SKIPPED_NO_INPUT,
    BackfillState,
)

from ..actions import bindings
from ..palette import STALLED, STATUS_LEGEND, STYLE
from .summary import human_seconds

#: A sequential, colour-blind-safe ramp (viridis, without its darkest end so
#: the low bins stay visible on dark themes); the glyph height repeats the
#: bin so the value modes read without colour too.
RAMP: tuple[tuple[str, str], ...] = (
    ("▁", "#3E4A89"),
    ("▂", "#26828E"),
    ("▄", "#35B779"),
    ("▆", "#90D743"),
    ("█", "#FDE725"),
)

#: Value modes draw days without a value (failed, pending, missing...) with
#: their status glyph in this grey.
NO_VALUE = "#7F7F7F"
NO_VALUE_GLYPHS = "✗…·"

#: Colour modes cycled by ``c``, in order.
MODES: tuple[str, ...] = ("status", "availability", "duration", "attempts")
MODE_TITLES: dict[str, str] = {
    "status": "status",
    "availability": "availability %",
    "duration": "download time",
    "attempts": "attempts",
}

#: Status filters cycled by ``s``: name -> which latest statuses match
#: (``None`` in a set stands for a missing day; "all" matches every day and
#: "stalled" the days marked stalled). Days that do not match are dimmed.
FILTERS: dict[str, frozenset[str | None] | None] = {
    "all": None,
    "failed": frozenset({STATUS_FAILED}),
    "stalled": None,  # pending for longer than stale-after: the days marked stalled
    "pending": frozenset(PENDING_STATUSES),
    "missing": frozenset({None}),
    "skipped": frozenset({STATUS_SKIPPED_NO_DATA, STATUS_SKIPPED_NO_INPUT}),
    "done": frozenset(FINAL_STATUSES),
}

_PLAIN = Style()


@lru_cache(maxsize=256)
def _style(colour: str, dim: bool) -> Style:
    """One shared Style per (colour, dimmed): equal cells share the object."""
    return Style(color=colour, dim=dim or None)


LABEL_WIDTH = 8  # "2020-01 "
CELL_WIDTH = 2  # glyph and a space: easy to read and to click


def month_ordinal(day: date) -> int:
    """Months since year 0: consecutive months have consecutive ordinals."""
    return day.year * 12 + day.month - 1


def month_start(ordinal: int) -> date:
    """The first day of the month with ``ordinal`` (see :func:`month_ordinal`)."""
    return date(ordinal // 12, ordinal % 12 + 1, 1)


def month_length(ordinal: int) -> int:
    """Days in the month with ``ordinal``."""
    return _calendar.monthrange(ordinal // 12, ordinal % 12 + 1)[1]


def _number(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def availability(values: list[str]) -> float | None:
    """Availability of a day in percent: ``availability_pct``, else records / expected."""
    pct = _number(values[COLUMN["availability_pct"]])
    if pct is not None:
        return pct
    got = _number(values[COLUMN["records_downloaded"]])
    expected = _number(values[COLUMN["expected_records"]])
    if got is None or not expected:
        return None
    return 100 * got / expected


@dataclass(frozen=True)
class Scale:
    """Bin edges of a value mode: ``value < edges[i]`` falls in bin ``i``."""

    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def bin(self, value: float) -> int:
        """The ramp bin of ``value`` (0 .. len(RAMP) - 1)."""
        for i, edge in enumerate(self.edges):
            if value < edge:
                return i
        return len(self.edges)


AVAILABILITY_SCALE = Scale((20, 40, 60, 80), ("<20%", "<40%", "<60%", "<80%", "≥80%"))
ATTEMPTS_SCALE = Scale((2, 3, 4, 5), ("1", "2", "3", "4", "5+"))


def duration_scale(state: BackfillState) -> Scale:
    """Download-time bins at the 20/40/60/80th percentiles of the file's downloads.

    When durations are alike the percentiles coincide, and bins would all
    read ``<12s``: then the edges are spread evenly between the shortest and
    the longest (around the value, when all are equal), and the labels get
    the digits that tell them apart.
    """
    stats = state.durations["download"]
    if not stats.count:
        edges: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0)
    else:
        edges = tuple(stats.percentile(q) or 0.0 for q in (20, 40, 60, 80))
        if len(set(edges)) < len(edges):
            low, high = stats.min, stats.max
            if high - low < 1e-9:  # all the same: the middle bin holds them
                low, high = low * 0.5, low * 1.5 if low else 1.0
            edges = tuple(low + (high - low) * k / 5 for k in range(1, 5))
    names = _distinct(edges)
    return Scale(edges, (*(f"<{n}" for n in names), f"≥{names[-1]}"))


def _distinct(edges: tuple[float, ...]) -> list[str]:
    """The edges in a few characters (:func:`human_seconds`), with more digits if
    that is what it takes for no two to read the same."""
    names = [human_seconds(e) for e in edges]
    digits = 2
    while len(set(names)) < len(names) and digits < 9:
        names = [f"{e:.{digits}g}s" for e in edges]
        digits += 1
    return names


class CalendarView(ScrollView, can_focus=True):
    """Days of a backfill as a month-by-day grid with a cursor.

    Give it the :class:`BackfillState` it draws and call :meth:`days_changed`
    with the days :meth:`BackfillState.apply` returned; only their month
    lines are redrawn. ``clock`` is not used here: stalled days are set by
    the owner through :meth:`set_stalled`.

    Posts :class:`CursorMoved` when the selected day changes and
    :class:`DaySelected` on ``Enter`` or a click on the selected day.
    """

    DEFAULT_CSS = """
    CalendarView { height: 1fr; min-height: 3; }
    CalendarView > .calendar--label { color: $text-muted; }
    CalendarView > .calendar--label-cursor { color: $text; text-style: bold; }
    CalendarView > .calendar--cursor { text-style: reverse bold; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "calendar--label",
        "calendar--label-cursor",
        "calendar--cursor",
    }
    BINDINGS: ClassVar[list[BindingType]] = bindings("calendar")

    class CursorMoved(Message):
        """The selected day changed."""

        def __init__(self, calendar: CalendarView, day: date) -> None:
            super().__init__()
            self.calendar = calendar
            self.day = day

    class DaySelected(Message):
        """The user asked for the detail of a day (``Enter`` or a click on it)."""

        def __init__(self, calendar: CalendarView, day: date) -> None:
            super().__init__()
            self.calendar = calendar
            self.day = day

    def __init__(
        self,
        state: BackfillState,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._lines: dict[int, Strip] = {}
        self._growing = False
        self._styled_with: tuple[Style, ...] = ()
        self.cursor: date | None = None
        self._follow_frontier = True  # the cursor tracks the newest day until moved
        self.mode = "status"
        self.status_filter = "all"
        #: Days a search found (``None``: no search); the others are dimmed.
        self.search: frozenset[date] | None = None
        self._scale: Scale | None = None
        self.stalled: frozenset[date] = frozenset()
        self._fold = False
        self._shown: list[int] | None = None  # the months shown while folded
        self.set_state(state)

    # -- the data --------------------------------------------------------------

    def set_state(self, state: BackfillState) -> None:
        """Draw ``state`` from scratch (after a reset or reload)."""
        self.state = state
        self._first: date | None = None
        self._last: date | None = None
        self._scale = None
        if state.expected_start is not None and state.expected_end is not None:
            self._first, self._last = state.expected_start, state.expected_end
        self._newest: date | None = None
        days = state.latest
        if days:
            self._newest = max(days)
            self._extend(min(days), self._newest)
        self._shown = None
        self._refold()
        self._lines.clear()
        self._resize()
        self.refresh()
        frontier = self.frontier
        if frontier is not None and (self._follow_frontier or self.cursor is None):
            self._set_cursor(frontier, user=False)
        elif self.cursor is not None:
            self._set_cursor(self.cursor, user=False)

    @property
    def frontier(self) -> date | None:
        """The newest day seen (the cursor follows it until the user moves it)."""
        return self._newest if self._newest is not None else self._last

    def on_mount(self) -> None:
        """Scroll to the cursor once there is a size to scroll in."""
        super().on_mount()
        self.call_after_refresh(self.scroll_to_cursor)

    def on_resize(self) -> None:
        """Keep the cursor in view when the terminal is resized."""
        self.call_after_refresh(self.scroll_to_cursor)

    def scroll_to_cursor(self) -> None:
        """Scroll the least needed to show the selected day."""
        if self.cursor is None or self._first is None:
            return
        line = self.line_of(self.cursor)
        if line < 0:
            return
        x = LABEL_WIDTH + (self.cursor.day - 1) * CELL_WIDTH
        self.scroll_to_region(
            Region(x, line, CELL_WIDTH, 1), animate=False, immediate=True, force=True
        )

    @property
    def first_day(self) -> date | None:
        """First day of the range drawn (first day seen, or the expected start)."""
        return self._first

    @property
    def last_day(self) -> date | None:
        """Last day of the range drawn (last day seen, or the expected end)."""
        return self._last

    def _extend(self, low: date, high: date) -> bool:
        """Grow the range to cover ``low..high``; True if the first month moved."""
        moved = self._first is None or month_ordinal(low) < month_ordinal(self._first)
        if self._first is None or low < self._first:
            self._first = low
        if self._last is None or high > self._last:
            self._last = high
        return moved

    @property
    def _first_month(self) -> int:
        return month_ordinal(self._first) if self._first else 0

    @property
    def month_count(self) -> int:
        """Lines of the calendar: months from the first to the last day."""
        if self._first is None or self._last is None:
            return 0
        if self._shown is not None:
            return len(self._shown)
        return month_ordinal(self._last) - month_ordinal(self._first) + 1

    # -- folding: only the months with a matching day ------------------------------

    def line_of(self, day: date) -> int:
        """The line of ``day``'s month (0 = the first shown), or -1 while it is folded away."""
        ordinal = month_ordinal(day)
        if self._shown is None:
            return ordinal - self._first_month
        at = bisect_left(self._shown, ordinal)
        return at if at < len(self._shown) and self._shown[at] == ordinal else -1

    def ordinal_at(self, line: int) -> int:
        """The month (:func:`month_ordinal`) drawn on ``line``."""
        return self._first_month + line if self._shown is None else self._shown[line]

    @property
    def folded(self) -> bool:
        """True while only the months with a matching day are shown (``set_folded``)."""
        return self._fold

    def set_folded(self, fold: bool) -> None:
        """Show only the month lines holding a day that :meth:`matches` (``True``), or all.

        Folding counts only while a search or a status filter is on; the
        cursor moves to a shown month if its own is folded away.
        """
        self._fold = fold
        self._refold(force=True)
        self._lines.clear()
        self._resize()
        self.refresh()
        if self.cursor is not None and self.line_of(self.cursor) < 0:
            target = self.find(1, self.matches) or self.find(-1, self.matches)
            if target is not None:
                self._set_cursor(target, user=True)
        elif self.cursor is not None:
            self.call_after_refresh(self.scroll_to_cursor)

    def _refold(self, *, force: bool = False) -> bool:
        """Recompute the months shown; True (lines cleared, resized) if they changed."""
        shown: list[int] | None = None
        filtering = self.search is not None or self.status_filter != "all"
        if self._fold and filtering and self._first is not None and self._last is not None:
            months = set()
            day, last, one = self._first, self._last, timedelta(days=1)
            while day <= last:
                if self.matches(day):
                    months.add(month_ordinal(day))
                day += one
            shown = sorted(months)
        if shown == self._shown and not force:
            return False
        self._shown = shown
        self._lines.clear()
        self._resize()
        self.refresh()
        return True

    #: While ``growing`` (a cold load), the scrollable height grows in steps
    #: of this many months: a new height means a layout pass of the screen.
    GROWTH_STEP = 120

    def _resize(self) -> None:
        rows = height = self.month_count
        if self._growing and rows:
            current = self.virtual_size.height
            height = (
                current if rows <= current <= rows + self.GROWTH_STEP else rows + self.GROWTH_STEP
            )
        size = Size(LABEL_WIDTH + 31 * CELL_WIDTH, height)
        if size != self.virtual_size:
            self.virtual_size = size

    @property
    def growing(self) -> bool:
        """True while the owner loads a file: the height grows in steps."""
        return self._growing

    @growing.setter
    def growing(self, value: bool) -> None:
        self._growing = value
        self._resize()

    def days_changed(self, days: Iterable[date]) -> None:
        """Redraw the month lines of ``days`` (the days an ``apply`` changed)."""
        days = set(days)
        if not days:
            return
        old_count = self.month_count
        old_last = self._last
        newest = max(days)
        if self._newest is None or newest > self._newest:
            self._newest = newest
        if self._extend(min(days), newest):
            self._refold()
            self._lines.clear()
            self._resize()
            self.refresh()
        else:
            if self.month_count != old_count:
                self._resize()
            # A grown range turns the gap days in the old last month to "missing".
            if old_last is not None and self._last != old_last:
                days.add(old_last)
            if self._refold():
                self._after_change()
                return
            for line in {self.line_of(d) for d in days}:
                self._invalidate(line)
        self._after_change()

    def _after_change(self) -> None:
        frontier = self.frontier
        if frontier is not None and (
            self.cursor is None or (self._follow_frontier and frontier != self.cursor)
        ):
            self._set_cursor(frontier, user=False)

    def set_stalled(self, days: Iterable[date]) -> None:
        """Mark ``days`` as stalled (redraws only months whose marks changed)."""
        new = frozenset(days)
        if new == self.stalled:
            return
        changed = new ^ self.stalled
        self.stalled = new
        if self.status_filter == "stalled":
            self._refold()
            self.redraw()
        elif self.mode == "status":
            for line in {self.line_of(d) for d in changed}:
                self._invalidate(line)

    def set_mode(self, mode: str) -> None:
        """Colour the cells by ``mode`` (one of :data:`MODES`)."""
        if mode not in MODES:
            raise ValueError(f"unknown colour mode {mode!r}")
        self.mode = mode
        self._scale = None
        self.redraw()

    def cycle_mode(self) -> str:
        """Switch to the next colour mode and return it."""
        self.set_mode(MODES[(MODES.index(self.mode) + 1) % len(MODES)])
        return self.mode

    def set_filter(self, name: str) -> None:
        """Dim the days whose status does not match filter ``name`` (see :data:`FILTERS`)."""
        if name not in FILTERS:
            raise ValueError(f"unknown status filter {name!r}")
        self.status_filter = name
        self._refold()
        self.redraw()

    def cycle_filter(self) -> str:
        """Switch to the next status filter and return it."""
        names = list(FILTERS)
        self.set_filter(names[(names.index(self.status_filter) + 1) % len(names)])
        return self.status_filter

    def redraw(self) -> None:
        """Drop every cached line (a new mode, filter or scale) and repaint."""
        self._lines.clear()
        self.refresh()

    @property
    def scale(self) -> Scale | None:
        """The bins of the current value mode, or ``None`` in status mode."""
        if self.mode == "status":
            return None
        if self._scale is None:
            if self.mode == "availability":
                self._scale = AVAILABILITY_SCALE
            elif self.mode == "attempts":
                self._scale = ATTEMPTS_SCALE
            else:
                self._scale = duration_scale(self.state)
        return self._scale

    def rescale(self) -> None:
        """Recompute the duration bins; redraw only if they moved."""
        if self.mode != "duration":
            return
        new = duration_scale(self.state)
        if new != self._scale:
            self._scale = new
            self.redraw()

    def matches(self, day: date, name: str | None = None) -> bool:
        """True if ``day`` is a search hit (when searching) and passes status filter ``name``."""
        if self.search is not None and day not in self.search:
            return False
        name = name or self.status_filter
        if name == "stalled":
            return day in self.stalled
        statuses = FILTERS[name]
        return statuses is None or self.state.status_of(day) in statuses

    def set_search(self, days: frozenset[date] | None) -> None:
        """Dim the days not in ``days`` (``None`` ends the search) and repaint."""
        self.search = days
        self._refold()
        self.redraw()

    # -- the cursor --------------------------------------------------------------

    def _clamp(self, day: date) -> date:
        if self._first is None or self._last is None:
            return day
        return min(max(day, self._first), self._last)

    def select_day(self, day: date) -> bool:
        """Move the cursor to ``day``; False if it is outside the calendar's range."""
        if self._first is None or self._clamp(day) != day:
            return False
        self._set_cursor(day, user=True)
        return True

    def _set_cursor(self, day: date, *, user: bool) -> None:
        day = self._clamp(day)
        if user:
            self._follow_frontier = day == self.frontier
        old = self.cursor
        self.cursor = day
        if old is not None and self._first is not None:
            self._invalidate(self.line_of(old))
        if self._first is not None:
            self._invalidate(self.line_of(day))
            self.scroll_to_cursor()
        if old != day:
            self.post_message(self.CursorMoved(self, day))

    def action_move(self, days: int) -> None:
        """Move the cursor ``days`` days (negative: back)."""
        if self.cursor is None:
            return
        day = self.cursor + timedelta(days=days)
        if self._shown and self.line_of(day) < 0:  # folded: on to the next shown month
            line = self.line_of(self.cursor) + (1 if days > 0 else -1)
            if not 0 <= line < len(self._shown):
                return
            start = month_start(self._shown[line])
            day = start if days > 0 else start + timedelta(days=month_length(self._shown[line]) - 1)
        self._set_cursor(day, user=True)

    def action_month(self, months: int) -> None:
        """Move the cursor ``months`` months, keeping the day of month where it exists."""
        if self.cursor is None:
            return
        ordinal = month_ordinal(self.cursor) + months
        line = self.line_of(self.cursor)
        if self._shown and line >= 0:  # folded: one shown line up or down
            ordinal = self._shown[max(0, min(len(self._shown) - 1, line + months))]
        day = min(self.cursor.day, month_length(ordinal))
        self._set_cursor(month_start(ordinal) + timedelta(days=day - 1), user=True)

    def action_page(self, direction: int) -> None:
        """Move the cursor a screenful of month lines up (-1) or down (1)."""
        self.action_month(direction * max(1, self.size.height - 1))

    def action_edge(self, direction: int) -> None:
        """Move the cursor to the first (-1) or last (1) day of the range."""
        target = self._first if direction < 0 else self._last
        if target is not None:
            self._set_cursor(target, user=True)

    def action_select(self) -> None:
        """Ask for the detail of the selected day."""
        if self.cursor is not None:
            self.post_message(self.DaySelected(self, self.cursor))

    def find(
        self, direction: int, predicate: Callable[[date], bool], *, wrap: bool = False
    ) -> date | None:
        """The nearest day after (1) or before (-1) the cursor for which ``predicate`` holds.

        With ``wrap``, a search that finds none past the cursor goes on from
        the other end of the calendar (and may end on the cursor's own day).
        """
        if self.cursor is None or self._first is None or self._last is None:
            return None
        found = self._find_from(self.cursor + timedelta(days=direction), direction, predicate)
        if found is None and wrap:
            edge = self._first if direction > 0 else self._last
            found = self._find_from(edge, direction, predicate)
        return found

    def _find_from(
        self, day: date, direction: int, predicate: Callable[[date], bool]
    ) -> date | None:
        assert self._first is not None and self._last is not None
        step = timedelta(days=direction)
        while self._first <= day <= self._last:
            if predicate(day):
                return day
            day += step
        return None

    def day_at(self, x: int, y: int) -> date | None:
        """The day under content offset ``(x, y)`` of the widget, or ``None``."""
        vx = x + round(self.scroll_x)
        vy = y + round(self.scroll_y)
        if vx < LABEL_WIDTH or not 0 <= vy < self.month_count:
            return None
        index = (vx - LABEL_WIDTH) // CELL_WIDTH
        ordinal = self.ordinal_at(vy)
        if index >= month_length(ordinal):
            return None
        day = month_start(ordinal) + timedelta(days=index)
        return day if self._in_range(day) else None

    def on_click(self, event: events.Click) -> None:
        """A click selects a day; a click on the selected day opens it."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        day = self.day_at(offset.x, offset.y)
        if day is None:
            return
        if day == self.cursor or event.chain > 1:
            self._set_cursor(day, user=True)
            self.post_message(self.DaySelected(self, day))
        else:
            self._set_cursor(day, user=True)

    # -- drawing -----------------------------------------------------------------

    def _invalidate(self, line: int) -> None:
        self._lines.pop(line, None)
        if 0 <= line < self.month_count:
            self.refresh_line(line)

    def _in_range(self, day: date) -> bool:
        return (
            self._first is not None and self._last is not None and self._first <= day <= self._last
        )

    def cell(self, day: date) -> tuple[str, str]:
        """Glyph and colour of ``day`` in the current mode (before filter and cursor)."""
        state = self.state
        status = state.status_of(day)
        if self.mode == "status":
            if day in self.stalled:
                return STALLED
            return STYLE.get(status, STYLE[None])
        if status == STATUS_FAILED and self.mode != "attempts":
            return STYLE[STATUS_FAILED]  # a failed day has no availability or time to show
        values = state.latest_values(day)
        value: float | None = None
        if values is not None:
            if self.mode == "availability":
                value = availability(values)
            elif self.mode == "duration":
                value = _number(values[COLUMN["download_seconds"]])
            else:
                value = float(state.attempts(day))
        scale = self.scale
        if value is None or scale is None:
            glyph, _ = STYLE.get(status, STYLE[None])
            return glyph, NO_VALUE
        return RAMP[min(scale.bin(value), len(RAMP) - 1)]

    def render_month(self, line: int) -> Strip:
        """The full-width strip of month ``line`` (0 = first month), cached."""
        cached = self._lines.get(line)
        if cached is not None:
            return cached
        ordinal = self.ordinal_at(line)
        first = month_start(ordinal)
        cursor = self.cursor
        on_cursor_line = cursor is not None and month_ordinal(cursor) == ordinal
        label_style = self.get_component_rich_style(
            "calendar--label-cursor" if on_cursor_line else "calendar--label"
        )
        cursor_style = self.get_component_rich_style("calendar--cursor")
        segments = [Segment(f"{first:%Y-%m} ", label_style)]
        filtering = self.status_filter != "all" or self.search is not None
        pad = " " * (CELL_WIDTH - 1)
        # Neighbouring days mostly look alike: one segment per run of equal
        # styles keeps the strip short (cheaper to crop, style and paint).
        run: list[str] = []
        run_style: Style | None = None
        for index in range(month_length(ordinal)):
            day = first + timedelta(days=index)
            if not self._in_range(day):
                glyph, style = " ", _PLAIN
            else:
                glyph, colour = self.cell(day)
                style = _style(colour, filtering and not self.matches(day))
            if day == cursor:
                if run:
                    segments.append(Segment("".join(run), run_style))
                segments.append(Segment(glyph, style + cursor_style))
                run, run_style = [pad], _PLAIN
                continue
            if style is not run_style and run:
                segments.append(Segment("".join(run), run_style))
                run = []
            run.append(glyph + pad)
            run_style = style
        if run:
            segments.append(Segment("".join(run), run_style))
        strip = Strip(segments).apply_style(self.rich_style)
        self._lines[line] = strip
        return strip

    def drawn_glyph(self, day: date) -> str | None:
        """The glyph of ``day`` as last drawn, or ``None`` while its month line is not drawn."""
        strip = self._lines.get(self.line_of(day))
        if strip is None:
            return None
        text = strip.text
        index = LABEL_WIDTH + (day.day - 1) * CELL_WIDTH
        return text[index] if index < len(text) else None

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the viewport: the cached month strip, cropped to the view."""
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y
        width = self.size.width
        if not 0 <= line < self.month_count:
            return Strip.blank(width, self.rich_style)
        strip = self.render_month(line)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _style_key(self) -> tuple[Style, ...]:
        return (
            self.rich_style,
            *(self.get_component_rich_style(name) for name in sorted(self.COMPONENT_CLASSES)),
        )

    def notify_style_update(self) -> None:
        """A theme change restyles every line (other style updates keep the cache)."""
        super().notify_style_update()
        try:
            key = self._style_key()
        except KeyError:  # component styles not set up yet (mounting)
            key = ()
        if not key or key != self._styled_with:
            self._styled_with = key
            self._lines.clear()


def legend(calendar: CalendarView) -> list[tuple[str, str, str]]:
    """(glyph, colour, meaning) entries for the calendar's current mode."""
    scale = calendar.scale
    if scale is None:
        return list(STATUS_LEGEND)
    failed = [] if calendar.mode == "attempts" else [(*STYLE[STATUS_FAILED], "failed")]
    return [
        *((g, c, label) for (g, c), label in zip(RAMP, scale.labels, strict=True)),
        *failed,
        (NO_VALUE_GLYPHS, NO_VALUE, "no value (status glyph)"),
    ]
