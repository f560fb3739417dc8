"""Malformed rows: every record the readers skipped, with where it is and why."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from telemetry import BackfillState, Malformed

from ..spans import plural
from .detail import LIVE_CHECK_SECONDS
from .tables import fill_table

_COLUMNS = ("line", "reason", "byte offset")

#: Most reports listed; a file that is mostly garbage needs the check command.
MAX_SHOWN = 10_000


class MalformedScreen(Screen[None]):
    """The malformed rows of the state's file in file order: line, reason, byte offset.

    Keys: ``escape`` back, ``r`` refresh from the state (also done every
    second when the live state has gained reports). At most
    :data:`MAX_SHOWN` are listed.
    """

    DEFAULT_CSS = """
    MalformedScreen #malformed-title {
        height: 1; padding: 0 1; background: $panel; color: $text;
    }
    MalformedScreen #malformed-empty {
        height: 1fr; content-align: center middle; color: $success; display: none;
    }
    MalformedScreen.-empty #malformed-empty { display: block; }
    MalformedScreen.-empty #malformed { display: none; }
    MalformedScreen #malformed { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "refresh_rows", "Refresh"),
    ]

    def __init__(self, state: BackfillState) -> None:
        super().__init__()
        self.state = state
        #: The reports shown, in table order.
        self.rows: list[Malformed] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="malformed-title")
        yield Static("no malformed rows", id="malformed-empty")
        table: DataTable[str] = DataTable(id="malformed", cursor_type="row", zebra_stripes=True)
        table.add_columns(*_COLUMNS)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "malformed rows"
        self.refresh_rows()
        self.set_interval(LIVE_CHECK_SECONDS, self._follow_state)

    def _follow_state(self) -> None:
        """Show reports the (live) state has gained since."""
        if len(self.state.malformed) != len(self.rows):
            self.refresh_rows()

    def refresh_rows(self) -> None:
        """Show the state's current malformed-row reports."""
        self.rows = list(self.state.malformed)
        count = len(self.rows)
        shown = f" (the first {MAX_SHOWN} listed)" if count > MAX_SHOWN else ""
        self.query_one("#malformed-title", Static).update(
            f"{plural(count, 'malformed row')}{shown}: skipped by every reader, "
            "never counted as attempts"
        )
        self.set_class(not self.rows, "-empty")
        table: DataTable[str] = self.query_one("#malformed", DataTable)
        fill_table(
            table,
            _COLUMNS,
            [(str(r.line), r.reason, str(r.offset)) for r in self.rows[:MAX_SHOWN]],
            max_width=120,
        )

    def action_refresh_rows(self) -> None:
        """Re-read the reports from the live state."""
        self.refresh_rows()
