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

from telemetry import COLUMN, STATUS_FAILED, VALID_STATUSES, Record
from telemetry.rules import phase_of

from ..palette import status_colour
from .summary import human_seconds

#: Lines the feed keeps unless told (``feed_lines`` in the config).
FEED_ROWS = 200
#: Characters of an error message a feed line shows at most (one line each).
MESSAGE_CHARS = 60

_STATUS = COLUMN["status"]
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
    line.append(f"{status or '(none)':<16}", style=status_colour(status))
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

    def __init__(self, *, lines: int = FEED_ROWS, id: str | None = None) -> None:
        super().__init__(id=id)
        #: Whether only failed attempts are shown (the newest ``lines`` of them).
        self.failures_only = False
        self._rows: deque[tuple[date, list[str]]] = deque(maxlen=lines)
        self._failures: deque[tuple[date, list[str]]] = deque(maxlen=lines)
        self._title()

    @property
    def lines(self) -> int:
        """How many attempts (and, apart, failed attempts) the feed keeps."""
        return self._rows.maxlen or 0

    def _title(self) -> None:
        self.border_title = "latest failures (x: all)" if self.failures_only else "latest attempts"

    def add(self, records: Iterable[Record], *, redraw: bool = True) -> None:
        """Note rows read (only the newest :attr:`lines` are kept); redraw if ``redraw``.

        A big file's first load adds its batches without redrawing, then
        calls :meth:`redraw` once.
        """
        self.add_rows(((r.day, r.values) for r in records), redraw=redraw)

    def add_rows(
        self,
        rows: Iterable[tuple[date, list[str]]],
        *,
        failed: list[tuple[date, list[str]]] | None = None,
        redraw: bool = True,
    ) -> None:
        """Like :meth:`add`, for rows given as their day and values.

        ``failed`` gives the failed attempts among newer rows than ``rows``
        shows (a bulk load hands over only the newest rows); by default the
        failed ones of ``rows``.
        """
        tail = list(rows)
        self._rows.extend(tail[-self.lines :])
        if failed is None:
            failed = [row for row in tail if row[1][_STATUS] == STATUS_FAILED]
        self._failures.extend(failed[-self.lines :])
        if redraw and (failed if self.failures_only else tail):
            self.redraw()

    def show_failures_only(self, on: bool) -> None:
        """Show only failed attempts (``on``) or every attempt."""
        self.failures_only = on
        self._title()
        self.redraw()

    def clear_feed(self) -> None:
        """Forget every line (the file was reset)."""
        self._rows.clear()
        self._failures.clear()
        self.redraw()

    def redraw(self) -> None:
        """Show the kept lines, newest first (the highlighted line stays where it was)."""
        highlighted = self.highlighted
        self.clear_options()
        rows = self._failures if self.failures_only else self._rows
        self.add_options(
            Option(feed_line(values), id=f"{k}:{day.isoformat()}")
            for k, (day, values) in enumerate(reversed(rows))
        )
        if highlighted is not None and self.option_count:
            self.highlighted = min(highlighted, self.option_count - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.DayChosen(date.fromisoformat(event.option.id.split(":")[1])))
