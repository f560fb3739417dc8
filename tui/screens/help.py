"""Help: the monitor's keys and the calendar's glyph legend."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from ..actions import MAIN, SCREENS, bindings, help_rows
from ..palette import STATUS_LEGEND

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


def key_table(keys: Sequence[tuple[str, str]], width: int = 16, wrap: int = 57) -> Text:
    """Keys and what they do, one per line, keys in bold; a long meaning wraps at
    ``wrap`` characters under itself, not under the keys."""
    text = Text()
    for i, (key, meaning) in enumerate(keys):
        if i:
            text.append("\n")
        text.append(key.ljust(width), style="bold")
        text.append(("\n" + " " * width).join(textwrap.wrap(meaning, wrap)))
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

    BINDINGS: ClassVar[list[BindingType]] = bindings("help")

    def __init__(self, legend: Sequence[tuple[str, str, str]] = DEFAULT_LEGEND) -> None:
        super().__init__()
        self.legend = tuple(legend)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("Keys", classes="help-heading")
            yield Static(key_table(help_rows(MAIN)), id="help-keys")
            yield Static("On other screens", classes="help-heading")
            yield Static(key_table(help_rows(SCREENS)), id="help-screen-keys")
            yield Static("Calendar", classes="help-heading")
            yield Static(legend_text(self.legend), id="help-legend")
            yield Static(
                "The command palette (ctrl+p) offers the same actions; themes change colours.",
                classes="help-heading",
            )
        yield Footer()
