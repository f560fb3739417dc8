"""Failures view: days whose latest status is FAILED, grouped by ``error_type``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from telemetry import COLUMN, BackfillState, FailureGroup

from ..actions import bindings
from ..spans import human_duration, plural
from .detail import LIVE_CHECK_SECONDS, DayDetailScreen
from .tables import fill_table

_MESSAGE = COLUMN["error_message"]
_GROUP_COLUMNS = (
    "error_type",
    "phase",
    "days",
    "last failed",
    "first day",
    "last day",
    "runs",
    "sample message",
)
_DAY_COLUMNS = ("day", "attempts", "failed at", "last error")

#: Longest rendering of a group's runs before it is cut short.
RUNS_WIDTH = 48
#: Longest one-line sample message in the groups table.
SAMPLE_WIDTH = 60


def first_line(message: str, width: int = SAMPLE_WIDTH) -> str:
    """The telling line of ``message``, cut to ``width`` characters with an ellipsis.

    That is the first non-blank line, except for a Python traceback, whose
    telling line is its last (``TimeoutError: read timed out``).
    """
    lines = [part.strip() for part in message.splitlines() if part.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith("Traceback (most recent call last)") else lines[0]
    return line if len(line) <= width else line[: width - 1] + "…"


def failed_when(moment: datetime | None, now: datetime) -> str:
    """When a failure happened, for an operator: ``4 min ago``, ``2020-01-05 12:04``, or ``?``."""
    if moment is None:
        return "?"
    age = now - moment
    if timedelta(0) <= age < timedelta(days=2):
        return f"{human_duration(age)} ago"
    return f"{moment:%Y-%m-%d %H:%M}"


def format_runs(runs: Sequence[tuple[date, date]], width: int = RUNS_WIDTH) -> str:
    """Render runs of consecutive days: ``2020-01-03..2020-01-09, 2020-02-01``.

    Runs that do not fit in ``width`` characters are summed up as
    ``+N more``; the first run is always shown.
    """
    parts = [
        first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"
        for first, last in runs
    ]
    shown: list[str] = []
    for i, part in enumerate(parts):
        rest = len(parts) - i - 1
        candidate = ", ".join([*shown, part])
        tail = f", +{rest} more" if rest else ""
        if shown and len(candidate + tail) > width:
            break
        shown.append(part)
    hidden = len(parts) - len(shown)
    text = ", ".join(shown)
    return f"{text}, +{hidden} more" if hidden else text


class FailuresScreen(Screen[None]):
    """Failure groups and the days of the highlighted group.

    Groups come most recent failure first while the writer is live (its
    newest row is not quiet), else biggest first; ``O`` switches. Keys:
    ``escape`` back; ``enter`` on a group moves to its days, ``enter`` on a
    day pushes :class:`DayDetailScreen` for it; ``tab`` switches tables;
    ``r`` recomputes the groups from the state (also done every second when
    the live state has applied new rows). ``clock`` gives "now" (aware).
    """

    DEFAULT_CSS = """
    FailuresScreen #failures-title {
        height: 1; padding: 0 1; background: $panel; color: $text;
    }
    FailuresScreen #failures-empty {
        height: 1fr; content-align: center middle; color: $success; display: none;
    }
    FailuresScreen.-empty #failures-empty { display: block; }
    FailuresScreen.-empty DataTable, FailuresScreen.-empty #days-title { display: none; }
    FailuresScreen #groups { height: auto; max-height: 50%; }
    FailuresScreen #days-title {
        height: 1; padding: 0 1; background: $panel; color: $text-muted;
    }
    FailuresScreen #days { height: 1fr; min-height: 4; }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings("failures")

    def __init__(
        self,
        state: BackfillState,
        path: Path | str,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        super().__init__()
        self.state = state
        self.path = Path(path)
        self.clock = clock
        #: Groups ordered by their most recent failure (True) or by size (False).
        self.recent_first = state.rows > 0 and not state.liveness(clock()).quiet
        #: The groups shown, in table order.
        self.groups: list[FailureGroup] = []
        self._rows_seen = -1
        self._days_of: str | None = None  # error_type whose days are listed

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="failures-title")
        yield Static("no failed days", id="failures-empty")
        groups: DataTable[str] = DataTable(id="groups", cursor_type="row", zebra_stripes=True)
        groups.add_columns(*_GROUP_COLUMNS)
        yield groups
        yield Static("", id="days-title")
        days: DataTable[str] = DataTable(id="days", cursor_type="row", zebra_stripes=True)
        days.add_columns(*_DAY_COLUMNS)
        yield days
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "failures"
        self.refresh_groups()
        self.set_interval(LIVE_CHECK_SECONDS, self._follow_state)

    def _follow_state(self) -> None:
        """Recompute the groups when the (live) state has applied rows since."""
        if self.state.rows != self._rows_seen:
            self.refresh_groups()

    # -- filling ------------------------------------------------------------------

    def refresh_groups(self) -> None:
        """Recompute the groups from the state, keeping the highlighted group if it remains."""
        table: DataTable[str] = self.query_one("#groups", DataTable)
        previous = self.selected_group
        previous_day = self.selected_day
        self._rows_seen = self.state.rows
        self.groups = self.state.failures(recent_first=self.recent_first)
        total = sum(group.count for group in self.groups)
        order = "most recent failure first" if self.recent_first else "biggest first"
        self.query_one("#failures-title", Static).update(
            f"{plural(total, 'failed day')} in {plural(len(self.groups), 'group')} "
            f"(latest status FAILED, by error_type; {order}, O switches)"
        )
        now = self.clock()
        self.set_class(not self.groups, "-empty")
        fill_table(
            table,
            _GROUP_COLUMNS,
            [
                (
                    group.error_type or "(none)",
                    group.phase_text,
                    str(group.count),
                    failed_when(group.last_failed_at, now),
                    group.first.isoformat(),
                    group.last.isoformat(),
                    format_runs(group.runs),
                    first_line(group.sample_message),
                )
                for group in self.groups
            ],
            keys=[group.error_type for group in self.groups],
        )
        if previous is not None:
            for row, group in enumerate(self.groups):
                if group.error_type == previous.error_type:
                    table.move_cursor(row=row)
                    break
        self._show_days(previous_day)

    @property
    def selected_group(self) -> FailureGroup | None:
        """The group under the groups table's cursor, if any."""
        if not self.groups:
            return None
        row = self.query_one("#groups", DataTable).cursor_row
        return self.groups[row] if 0 <= row < len(self.groups) else None

    @property
    def selected_day(self) -> date | None:
        """The day under the days table's cursor, if any."""
        group = self.selected_group
        if group is None:
            return None
        row = self.query_one("#days", DataTable).cursor_row
        return group.days[row] if 0 <= row < len(group.days) else None

    def _show_days(self, keep: date | None = None) -> None:
        group = self.selected_group
        days: DataTable[str] = self.query_one("#days", DataTable)
        title = self.query_one("#days-title", Static)
        self._days_of = None if group is None else group.error_type
        if group is None:
            days.clear()
            title.update("")
            return
        title.update(
            f"{plural(group.count, 'day')} failing with "
            f"{group.error_type or '(no error_type)'}   enter opens a day, tab switches tables"
        )
        rows = []
        now = self.clock()
        for day in group.days:
            values = self.state.latest_values(day)
            message = "" if values is None else values[_MESSAGE]
            attempts = str(self.state.attempts(day))
            when = failed_when(group.failed_at.get(day), now)
            rows.append((day.isoformat(), attempts, when, first_line(message, 80)))
        fill_table(days, _DAY_COLUMNS, rows, keys=[day.isoformat() for day in group.days])
        if keep is not None and keep in group.days:
            days.move_cursor(row=group.days.index(keep))

    # -- events and actions -------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Highlighting another group lists its days."""
        event.stop()
        group = self.selected_group
        shown = None if group is None else group.error_type
        if event.data_table.id == "groups" and shown != self._days_of:
            self._show_days()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """A click on a selected row: a group goes to its days, a day opens."""
        event.stop()
        if event.data_table.id == "groups":
            self.query_one("#days", DataTable).focus()
        else:
            self.open_selected_day()

    def open_selected_day(self) -> None:
        """Push :class:`DayDetailScreen` for the day under the days table's cursor."""
        day = self.selected_day
        if day is not None:
            self.app.push_screen(DayDetailScreen(self.state, self.path, day))

    def action_open(self) -> None:
        """``enter``: on the groups table, go to the group's days; otherwise open the day."""
        focused = self.focused
        if focused is not None and focused.id == "groups":
            self.query_one("#days", DataTable).focus()
        else:
            self.open_selected_day()

    def action_order(self) -> None:
        """Order the groups by most recent failure, or by size."""
        self.recent_first = not self.recent_first
        self.refresh_groups()

    def action_reload(self) -> None:
        """Recompute the groups from the live state."""
        self.refresh_groups()
