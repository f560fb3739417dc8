"""Malformed rows: every record the readers skipped, where it is, why, and its raw text."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from telemetry import BackfillState, Malformed
from telemetry.file import TelemetryFile

from ..actions import bindings
from ..spans import plural
from .detail import LIVE_CHECK_SECONDS
from .tables import fill_table

_COLUMNS = ("line", "reason", "byte offset")

#: Most reports listed; a file that is mostly garbage needs the check command.
MAX_SHOWN = 10_000
#: Bytes of a malformed record shown at most (a record may be megabytes long).
RAW_BYTES = 2000


def raw_text(path: Path, offset: int, limit: int = RAW_BYTES) -> str:
    """The record at byte ``offset`` of ``path`` as it is in the file, up to its line's end.

    Cut at ``limit`` bytes (with ``…``); bytes that are not UTF-8 and control
    characters are shown escaped (``\\x00``), so what is on screen is what
    is in the file. ``OSError`` propagates.
    """
    data = TelemetryFile(path).raw(offset, limit + 1)
    cut = len(data) > limit
    data = data[:limit]
    end = data.find(b"\n")
    if end >= 0:
        data, cut = data[: end + 1], False
    text = data.decode("utf-8", "backslashreplace")
    shown = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    return shown + ("…" if cut else "")


class MalformedScreen(Screen[None]):
    """The malformed rows of the state's file in file order: line, reason, byte offset,
    and below, the highlighted one's raw text as read from ``path``.

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
    MalformedScreen #raw-title { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    MalformedScreen #raw { height: auto; max-height: 8; padding: 0 1; }
    MalformedScreen.-empty #raw, MalformedScreen.-empty #raw-title { display: none; }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings("malformed")

    def __init__(self, state: BackfillState, path: Path | str) -> None:
        super().__init__()
        self.state = state
        self.path = Path(path)
        #: The reports shown, in table order.
        self.rows: list[Malformed] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="malformed-title")
        yield Static("no malformed rows", id="malformed-empty")
        table: DataTable[str] = DataTable(id="malformed", cursor_type="row", zebra_stripes=True)
        table.add_columns(*_COLUMNS)
        yield table
        yield Static("raw text", id="raw-title")
        yield Static("", id="raw")
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

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the highlighted report's record as it is in the file."""
        row = event.cursor_row
        if 0 <= row < len(self.rows):
            self.show_raw(self.rows[row])

    @work(thread=True, exclusive=True, group="raw")
    def show_raw(self, report: Malformed) -> None:
        """Read the report's record from the file (in a thread) and show it."""
        try:
            text = Text(raw_text(self.path, report.offset))
        except OSError as exc:
            text = Text(f"could not read {self.path.name}: {exc.strerror or exc}", style="italic")
        title = f"raw text of line {report.line:,} (byte {report.offset:,}), as in the file"
        self.app.call_from_thread(self._raw, title, text)

    def _raw(self, title: str, text: Text) -> None:
        if self.is_attached:
            self.query_one("#raw-title", Static).update(title)
            self.query_one("#raw", Static).update(text)

    def action_reload(self) -> None:
        """Re-read the reports from the live state."""
        self.refresh_rows()
