"""One table of keys: every binding resolves to an action, and help, palette and README agree."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from textual.app import App

from tui.actions import KEYS, MAIN, SCREENS, bindings, commands, help_rows, markdown_table
from tui.monitor import MonitorApp
from tui.screens import DayDetailScreen, FailuresScreen, HelpScreen, MalformedScreen
from tui.widgets.calendar import CalendarView
from tui.widgets.pane import MonitorPane

README = Path(__file__).resolve().parents[1] / "README.md"
OWNERS = {
    "app": MonitorApp,
    "pane": MonitorPane,
    "calendar": CalendarView,
    "detail": DayDetailScreen,
    "failures": FailuresScreen,
    "malformed": MalformedScreen,
    "help": HelpScreen,
}


def _method(owner: type, action: str) -> object:
    name = action.split("(")[0]
    if name.startswith("app."):
        owner, name = App, name[4:]
    return getattr(owner, f"action_{name}", None)


def test_every_binding_and_command_runs_an_action_of_its_widget() -> None:
    for where, owner in OWNERS.items():
        assert bindings(where) == owner.BINDINGS, where  # the widget takes the table's keys
        for binding in bindings(where):
            assert _method(owner, binding.action) is not None, (where, binding.action)
        for title, help_text, action in commands(where):
            assert _method(owner, action) is not None, (where, title)
            assert help_text.endswith(")"), title  # names its key
    assert all(set(keys.where) <= set(OWNERS) for keys in KEYS)


def test_no_key_is_bound_twice_in_one_place() -> None:
    for where in OWNERS:
        keys = [k for b in bindings(where) for k in b.key.split(",")]
        assert len(keys) == len(set(keys)), where


def test_the_readme_key_table_is_the_table() -> None:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"^\| keys \| \|\n(?:\|.*\n)+", text, re.M)
    assert found is not None, "README has no key table"
    assert found.group(0).rstrip("\n") == markdown_table()
    assert len(markdown_table().splitlines()) == 3 + len(help_rows(MAIN) + help_rows(SCREENS))


def test_help_lists_every_line_of_the_table() -> None:
    from tui.screens.help import key_table

    text = key_table(help_rows(MAIN)).plain + "\n" + key_table(help_rows(SCREENS)).plain
    shown = " ".join(text.split())  # a long meaning wraps onto an indented line
    for keys in KEYS:
        if "help" not in keys.where:
            assert " ".join(keys.does.split()) in shown, keys.shown


def test_every_view_colours_a_status_as_the_calendar_does() -> None:
    from rich.style import Style

    from telemetry import SCHEMA, VALID_STATUSES, Record
    from tui.palette import STATUS_LEGEND, STYLE
    from tui.screens.detail import attempt_cells
    from tui.widgets.feed import feed_line

    for status in VALID_STATUSES:
        colour = Style.parse(STYLE[status][1]).color
        values = [""] * len(SCHEMA)
        values[SCHEMA.index("chunk_date_utc")] = "2020-01-01"
        values[SCHEMA.index("status")] = status
        line = feed_line(values)
        feed_colours = {Style.parse(str(span.style)).color for span in line.spans}
        assert colour in feed_colours, status  # the live feed
        record = Record(0, 1, date(2020, 1, 1), values)
        cell = attempt_cells(record, 1, 1)[2]
        assert Style.parse(str(cell.style)).color == colour, status  # day detail
    legend = {meaning: colour for _, colour, meaning in STATUS_LEGEND}
    assert legend["downloaded"] == STYLE["DOWNLOADED"][1]  # the legends
    assert legend["failed"] == STYLE["FAILED"][1]
