"""The live feed: the latest attempts, newest on top, beside the calendar on wide screens.

A bounded history (:data:`FEED_ROWS`) of the rows read, one line each: when,
the day, the phase, the status in its colour, the duration and the error
type. Enter (or a click) on a line opens that day. The history is kept even
while the feed is hidden (narrow terminals), so widening the terminal shows it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import date

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from telemetry import COLUMN, VALID_STATUSES, Record
from telemetry.rules import phase_of

from .summary import human_seconds

#: Lines the feed keeps.
FEED_ROWS = 200
#: Characters of an error message a feed line shows at most (one line each).
MESSAGE_CHARS = 60

_STATUS_STYLE = {
    "UPLOADED": "#009e73",
    "PROCESSED": "#56b4e9",
    "DOWNLOADED": "#56b4e9",
    "SKIPPED_NO_DATA": "grey62",
    "SKIPPED_NO_INPUT": "grey62",
    "FAILED": "bold #d55e00",
    "DOWNLOAD_PENDING": "#e69f00",
    "PROCESS_PENDING": "#e69f00",
    "UPLOAD_PENDING": "#e69f00",
}
_DURATION_COLUMN = {
    "download": COLUMN["download_seconds"],
    "process": COLUMN["process_seconds"],
    "upload": COLUMN["upload_seconds"],
}


def feed_line(values: list[str]) -> Text:
    """One attempt as a feed line: ``12:04:05 2020-01-05 download FAILED 4.0s HTTPError``."""
    status = values[COLUMN["status"]]
    phase = phase_of(values) if status in VALID_STATUSES else ""
    when = values[COLUMN["finished_at_utc"]] or values[COLUMN["started_at_utc"]]
    clock = when[11:19] if len(when) >= 19 else when[:8]
    seconds = values[_DURATION_COLUMN[phase]] if phase else ""
    try:
        duration = human_seconds(float(seconds)) if seconds else ""
    except (ValueError, OverflowError):
        duration = ""
    line = Text(
        f"{clock:<8} {values[COLUMN['chunk_date_utc']]:<10} {phase:<8} ",
        no_wrap=True,
        overflow="ellipsis",
    )
    line.append(f"{status or '(none)':<16}", style=_STATUS_STYLE.get(status, ""))
    line.append(f" {duration:>6} {values[COLUMN['error_type']]}")
    message = values[COLUMN["error_message"]].strip()
    if message:  # its last line says most (a traceback ends with the exception)
        last = message.splitlines()[-1]
        cut = last if len(last) <= MESSAGE_CHARS else last[: MESSAGE_CHARS - 1] + "…"
        line.append(f"  {cut}", style="dim")
    return line


class LiveFeed(OptionList):
    """The newest attempts of a file, newest first; posts :class:`DayChosen` on Enter."""

    DEFAULT_CSS = """
    LiveFeed { height: 1fr; border-left: vkey $foreground 20%; }
    """

    class DayChosen(Message):
        """A feed line was chosen: open its day."""

        def __init__(self, day: date) -> None:
            super().__init__()
            self.day = day

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "latest attempts"
        self._rows: deque[tuple[date, list[str]]] = deque(maxlen=FEED_ROWS)

    def add(self, records: Iterable[Record], *, redraw: bool = True) -> None:
        """Note rows read (only the newest :data:`FEED_ROWS` are kept); redraw if ``redraw``.

        A big file's first load adds its batches without redrawing, then
        calls :meth:`redraw` once.
        """
        tail = list(records)[-FEED_ROWS:]
        self._rows.extend((r.day, r.values) for r in tail)
        if tail and redraw:
            self.redraw()

    def add_rows(self, rows: Iterable[tuple[date, list[str]]], *, redraw: bool = True) -> None:
        """Like :meth:`add`, for rows given as their day and values."""
        tail = list(rows)[-FEED_ROWS:]
        self._rows.extend(tail)
        if tail and redraw:
            self.redraw()

    def clear_feed(self) -> None:
        """Forget every line (the file was reset)."""
        self._rows.clear()
        self.redraw()

    def redraw(self) -> None:
        """Show the kept lines, newest first (the highlighted line stays where it was)."""
        highlighted = self.highlighted
        self.clear_options()
        self.add_options(
            Option(feed_line(values), id=f"{k}:{day.isoformat()}")
            for k, (day, values) in enumerate(reversed(self._rows))
        )
        if highlighted is not None and self.option_count:
            self.highlighted = min(highlighted, self.option_count - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.DayChosen(date.fromisoformat(event.option.id.split(":")[1])))
