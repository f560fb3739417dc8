"""Help: the monitor's keys and the calendar's glyph legend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from ..palette import STATUS_LEGEND

#: (keys, what they do) of the main screen, in the order the help lists them.
MONITOR_KEYS: tuple[tuple[str, str], ...] = (
    ("← → / h l", "previous / next day"),
    ("↑ ↓ / k j", "previous / next month, same day of month"),
    ("PgUp / PgDn", "a screenful of months up / down"),
    ("Home / End", "first / last day of the calendar"),
    ("g", "go to a date (YYYY-MM-DD, then Enter)"),
    ("/", "search error messages, types, run ids, statuses, days"),
    ("n / N", "next / previous hit (else filtered, else failed day)"),
    ("Esc", "end the search"),
    ("s", "filter by status"),
    ("v", "only the months with matches / every month"),
    ("c", "colour by status, availability, duration, tries"),
    ("e", "export the resume plan (failed, missing, stalled days)"),
    ("Enter / click", "day detail: every attempt and its error message"),
    ("o", "the selected day's rows and errors in $PAGER"),
    ("f", "failures grouped by error_type"),
    ("m", "malformed rows"),
    ("p", "pause / resume following the file"),
    ("[ ] / 1-9", "previous / next tab, the N-th tab (several files)"),
    ("?", "this help"),
    ("q / Ctrl-C", "quit"),
)

#: Keys of the secondary screens.
SCREEN_KEYS: tuple[tuple[str, str], ...] = (
    ("Escape", "back to the previous screen"),
    ("y", "day detail: the error message to the clipboard"),
    ("o / w", "day detail: every row in $PAGER / in a file"),
    ("Enter", "failures: a group's days, then open the day"),
)

_LONGER = {
    "skipped": "skipped (no data / no input)",
    "pending": "pending (download / process / upload)",
    "stalled": "stalled (pending too long)",
    "missing": "missing (never attempted)",
}
#: The calendar's legend (glyph, colour, meaning): the monitor's own, spelled out.
DEFAULT_LEGEND: tuple[tuple[str, str, str], ...] = tuple(
    (glyph, colour, _LONGER.get(meaning, meaning)) for glyph, colour, meaning in STATUS_LEGEND
)


def key_table(keys: Sequence[tuple[str, str]], width: int = 20) -> Text:
    """Keys and what they do, one per line, keys in bold."""
    text = Text()
    for i, (key, meaning) in enumerate(keys):
        if i:
            text.append("\n")
        text.append(key.ljust(width), style="bold")
        text.append(meaning)
    return text


def legend_text(legend: Sequence[tuple[str, str, str]]) -> Text:
    """The glyph legend, one glyph (in its colour) and its meaning per line."""
    text = Text()
    for i, (glyph, colour, meaning) in enumerate(legend):
        if i:
            text.append("\n")
        text.append(f" {glyph} ", style=f"bold {colour}")
        text.append(f" {meaning}")
    return text


class HelpScreen(ModalScreen[None]):
    """The keys of the monitor and the calendar legend, over the current screen.

    Keys: ``escape`` or ``?`` close it (``q`` still quits, as everywhere).
    ``legend`` is a sequence of ``(glyph, colour, meaning)``; by default
    :data:`DEFAULT_LEGEND`.
    """

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help {
        width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen .help-heading { text-style: bold; color: $accent; margin-top: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("question_mark", "app.pop_screen", "Close", show=False),
    ]

    def __init__(self, legend: Sequence[tuple[str, str, str]] = DEFAULT_LEGEND) -> None:
        super().__init__()
        self.legend = tuple(legend)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("Keys", classes="help-heading")
            yield Static(key_table(MONITOR_KEYS), id="help-keys")
            yield Static("On other screens", classes="help-heading")
            yield Static(key_table(SCREEN_KEYS), id="help-screen-keys")
            yield Static("Calendar", classes="help-heading")
            yield Static(legend_text(self.legend), id="help-legend")
            yield Static(
                "The command palette (ctrl+p) offers the same actions; themes change colours.",
                classes="help-heading",
            )
        yield Footer()
