"""Day detail: every attempt of one day, read on demand from the file.

The rows come from :meth:`BackfillState.history`, which seeks to the day's
byte offsets; nothing about a day's attempts is held in memory beyond this
screen's lifetime, so opening a day costs the same on a 1M-row file as on a
small one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TextArea
from textual.worker import get_current_worker

from telemetry import COLUMN, BackfillState, Record, attempt_numbers

from ..actions import bindings
from ..pager import day_report, keep_text, page, report_path
from ..palette import status_colour
from ..spans import plural
from .tables import fill_table

#: Column titles of the attempts table, in display order.
_COLUMNS: tuple[str, ...] = (
    "row",
    "try",
    "status",
    "started",
    "finished",
    "dl s",
    "proc s",
    "up s",
    "records",
    "expected",
    "avail %",
    "csv MB",
    "cdf MB",
    "error_type",
    "csv_path",
    "cdf_path",
    "s3",
    "byte offset",
)

NO_MESSAGE = "(no error message on this attempt)"

#: How often an open screen checks the live state for new rows.
LIVE_CHECK_SECONDS = 1.0


def _short_instant(text: str) -> str:
    """``2020-01-03T10:00:00.000000+00:00`` -> ``2020-01-03 10:00:00`` (unparsed text as is)."""
    if len(text) >= 19 and text[10] == "T":
        return f"{text[:10]} {text[11:19]}"
    return text


def _s3(values: Sequence[str]) -> str:
    bucket, key = values[COLUMN["s3_bucket"]], values[COLUMN["s3_key"]]
    if bucket and key:
        return f"s3://{bucket}/{key}"
    return bucket or key


def attempt_cells(record: Record, number: int, attempt: int) -> tuple[str | Text, ...]:
    """The table cells of the day's ``number``-th row (1-based), part of ``attempt``.

    Rows are identified by their byte offset, not a line number: a row read
    on its own from its offset does not know how many lines precede it.
    """
    v = record.values
    status = v[COLUMN["status"]]
    status_cell = Text(status, style=status_colour(status))  # the calendar's colours
    return (
        str(number),
        str(attempt),
        status_cell,
        _short_instant(v[COLUMN["started_at_utc"]]),
        _short_instant(v[COLUMN["finished_at_utc"]]),
        v[COLUMN["download_seconds"]],
        v[COLUMN["process_seconds"]],
        v[COLUMN["upload_seconds"]],
        v[COLUMN["records_downloaded"]],
        v[COLUMN["expected_records"]],
        v[COLUMN["availability_pct"]],
        v[COLUMN["csv_size_mb"]],
        v[COLUMN["cdf_size_mb"]],
        v[COLUMN["error_type"]],
        v[COLUMN["csv_path"]],
        v[COLUMN["cdf_path"]],
        _s3(v),
        str(record.offset),
    )


class DayDetailScreen(Screen[None]):
    """Every attempt (row) of ``day`` in file order, and the selected one's error message.

    Keys: ``escape`` back, ``y`` send the selected attempt's error message to
    the terminal's clipboard, ``o`` every row and full message in ``$PAGER``,
    ``w`` the same into a file beside the telemetry, ``r`` re-read the day. The rows are read in a
    thread worker when the screen mounts, and again whenever the live state
    has applied new rows of the day; if the file changed under the state
    (rows no longer decode, or the file is gone) a warning line says so.
    """

    DEFAULT_CSS = """
    DayDetailScreen #detail-title { height: 1; padding: 0 1; background: $panel; color: $text; }
    DayDetailScreen #detail-warning {
        height: auto; padding: 0 1; background: $warning; color: $text; display: none;
    }
    DayDetailScreen #detail-warning.-shown { display: block; }
    DayDetailScreen #attempts { height: 1fr; min-height: 5; }
    DayDetailScreen #message-pane { height: 1fr; min-height: 6; }
    DayDetailScreen #message-title {
        height: 1; padding: 0 1; background: $panel; color: $text-muted;
    }
    DayDetailScreen #message { height: 1fr; border: none; }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings("detail")

    def __init__(self, state: BackfillState, path: Path | str, day: date) -> None:
        super().__init__()
        self.state = state
        self.path = Path(path)
        self.day = day
        #: The rows shown, in file order (empty until the worker has read them).
        self.records: list[Record] = []
        #: The day's rows have been read from the file (once).
        self.read_once = False
        #: ``None`` while the file and the state agree, else why they do not.
        self.warning: str | None = None
        self._rows_read = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="detail-title")
        yield Static("", id="detail-warning")
        table: DataTable[str | Text] = DataTable(
            id="attempts", cursor_type="row", zebra_stripes=True
        )
        table.add_columns(*_COLUMNS)
        yield table
        with Vertical(id="message-pane"):
            yield Static("error message", id="message-title")
            yield TextArea("", id="message", read_only=True, soft_wrap=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"day {self.day.isoformat()}"
        self._rows_read = self.state.row_count(self.day)
        self.read_day()
        self.set_interval(LIVE_CHECK_SECONDS, self._follow_state)

    def _follow_state(self) -> None:
        """Re-read the day when the (live) state has applied new rows of it."""
        rows = self.state.row_count(self.day)
        if rows != self._rows_read:
            self._rows_read = rows
            self.read_day()

    def _title(self) -> str:
        status = self.state.status_of(self.day) or "never attempted"
        if status == "FAILED":
            status += f" in {self.state.phase_of(self.day)}"
        attempts = self.state.attempts(self.day)
        rows = self.state.row_count(self.day)
        return (
            f"{self.day.isoformat()}  latest {status}  "
            f"{plural(attempts, 'attempt')}, {plural(rows, 'row')}"
        )

    # -- reading ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="day-detail")
    def read_day(self) -> None:
        """Read the day's rows from the file (in a thread) and show them."""
        expected = self.state.row_count(self.day)
        try:
            records = self.state.history(self.path, self.day)
        except (OSError, ValueError) as error:
            records = []
            warning: str | None = (
                f"The file changed under this view: could not read {self.path.name} ({error})."
            )
        else:
            warning = None
            if len(records) < expected:
                warning = (
                    f"The file changed under this view: {len(records):,} of "
                    f"{plural(expected, 'row')} of this day could be read. "
                    "Reload the monitor to re-read the file."
                )
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_records, records, warning)

    def show_records(self, records: list[Record], warning: str | None = None) -> None:
        """Fill the table with ``records`` (file order) and show or hide ``warning``."""
        if not self.is_attached:
            return  # popped while the worker was reading
        table: DataTable[str | Text] = self.query_one("#attempts", DataTable)
        # Follow the newest row unless the operator has moved away from it.
        keep = table.cursor_row if 0 <= table.cursor_row < len(self.records) - 1 else None
        self.records = records
        self.read_once = True
        self.warning = warning
        self.query_one("#detail-title", Static).update(self._title())
        banner = self.query_one("#detail-warning", Static)
        banner.update(warning or "")
        banner.set_class(warning is not None, "-shown")
        numbers = attempt_numbers(r.values for r in records)
        numbered = enumerate(zip(records, numbers, strict=True), start=1)
        fill_table(
            table,
            _COLUMNS,
            [attempt_cells(record, number, attempt) for number, (record, attempt) in numbered],
            keys=[str(record.offset) for record in records],
        )
        if records:
            # Open on the latest row: the one that decides the day's status.
            row = len(records) - 1 if keep is None else min(keep, len(records) - 1)
            table.move_cursor(row=row)
        self._show_message()

    # -- the selected attempt -----------------------------------------------------

    @property
    def selected(self) -> Record | None:
        """The row under the table cursor, if any."""
        table: DataTable[str | Text] = self.query_one("#attempts", DataTable)
        row = table.cursor_row
        if not self.records or not 0 <= row < len(self.records):
            return None
        return self.records[row]

    @property
    def selected_message(self) -> str:
        """The full ``error_message`` of the selected row (``""`` when it has none)."""
        record = self.selected
        return "" if record is None else record.values[COLUMN["error_message"]]

    def _show_message(self) -> None:
        record = self.selected
        title = self.query_one("#message-title", Static)
        area = self.query_one("#message", TextArea)
        if record is None:
            title.update("error message")
            area.load_text("")
            return
        message = record.values[COLUMN["error_message"]]
        error_type = record.values[COLUMN["error_type"]]
        lines = message.count("\n") + 1 if message else 0
        number = self.query_one("#attempts", DataTable).cursor_row + 1
        title.update(
            Text(
                f"error message of row {number} ({record.values[COLUMN['status']]}"
                f"{', ' + error_type if error_type else ''}): {plural(lines, 'line')}"
                "   y clipboard, o pager, w file"
            )
        )
        area.load_text(message or NO_MESSAGE)
        # Open at the end: a traceback's telling line (the exception) is its last.
        area.move_cursor((area.document.line_count - 1, 0))
        self.call_after_refresh(area.scroll_end, animate=False, immediate=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Moving the cursor shows that row's message."""
        event.stop()
        self._show_message()

    # -- actions --------------------------------------------------------------------

    def action_copy_message(self) -> None:
        """Send the selected attempt's full error message to the terminal's clipboard.

        By OSC 52, which a terminal may ignore without telling: the toast
        says so and names ``w``, which writes it to a file instead.
        """
        message = self.selected_message
        if not message:
            self.notify("This attempt has no error message.", severity="warning")
            return
        self.app.copy_to_clipboard(message)
        self.notify(
            f"Sent the error message ({len(message):,} characters) to the terminal's "
            "clipboard (OSC 52: some terminals ignore it). w writes it to a file instead."
        )

    def report(self) -> str:
        """The day's rows as shown, every column and full message (:func:`day_report`)."""
        return day_report(self.state, self.path, self.day, self.records)

    def _still_reading(self) -> bool:
        """Whether the day's rows are still being read (then say so): a report now
        would claim the day has none."""
        if not self.read_once:
            self.notify("still reading the day's rows from the file: try again in a moment")
        return not self.read_once

    def action_page(self) -> None:
        """Show every row of the day and its full error message in ``$PAGER``."""
        if self._still_reading():
            return
        why = page(self.app, self.report())
        if why is not None:
            self.write_report(f"{why}: ")

    def action_write(self) -> None:
        """Write every row of the day and its full error message to a file."""
        if not self._still_reading():
            self.write_report("")

    def write_report(self, prefix: str) -> None:
        """Write the report beside the telemetry file (else to the temporary directory).

        Served to a browser, the browser downloads it instead (:func:`keep_text`).
        """
        try:
            target = keep_text(self.app, self.report(), report_path(self.path, self.day))
        except OSError as exc:
            self.notify(f"{prefix}could not write the day: {exc}", severity="error")
            return
        self.notify(f"{prefix}wrote the day's {len(self.records):,} rows to {target}")

    def action_reload(self) -> None:
        """Re-read the day's rows from the file."""
        self.read_day()
