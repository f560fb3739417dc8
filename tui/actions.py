"""Every key of the monitor, once: bindings, the command palette, help and README come from here.

Each :class:`Keys` is one line of the help screen (and of the README's key
table): the keys as shown, what they do, where they work, the Textual
bindings behind them, and the command palette entries that run the same
actions. The widgets take their ``BINDINGS`` from :func:`bindings`, the
app's palette from :func:`commands`, the help screen from :func:`help_rows`;
a test holds the README's table equal to :func:`markdown_table`.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

#: Where a key works: the main screen's app, pane and calendar, or a secondary screen.
MAIN = ("pane", "calendar", "app")
SCREENS = ("detail", "failures", "malformed")


@dataclass(frozen=True)
class Keys:
    """One line of help: ``shown`` keys do ``does`` on the widgets or screens ``where``."""

    shown: str
    does: str
    where: tuple[str, ...]
    bindings: tuple[Binding, ...]
    #: (palette title, action) pairs: the same actions in the command palette.
    commands: tuple[tuple[str, str], ...] = ()


def _b(
    keys: str, action: str, label: str = "", *, show: bool = True, priority: bool = False
) -> Binding:
    """A binding; one without a label is not shown in the Footer."""
    return Binding(keys, action, label, show=show and bool(label), priority=priority)


#: The keys, in the order help and the README list them. A pane's Footer
#: shows its labelled bindings in this order and cuts what does not fit, so
#: the keys an operator needs first come first.
KEYS: tuple[Keys, ...] = (
    Keys(
        "q / Ctrl-C",
        "quit",
        # On the pane too: the Footer lists the focused widget's keys first.
        ("app", "pane"),
        (
            _b("q", "app.quit", "Quit"),
            _b("ctrl+c", "app.quit", show=False, priority=True),
        ),
    ),
    Keys(
        "?",
        "these keys and the calendar legend",
        ("pane",),
        (_b("question_mark", "help", "Help"),),
        (("Keys", "help"),),
    ),
    Keys(
        "f",
        "failures grouped by error type: phase, days, last failure",
        ("pane",),
        (_b("f", "failures", "Failures"),),
        (("Failures", "failures"),),
    ),
    Keys(
        "g",
        "go to a day or a month (YYYY-MM-DD or YYYY-MM, then Enter)",
        ("pane",),
        (_b("g", "goto", "Go to"),),
        (("Go to date", "goto"),),
    ),
    Keys(
        "/",
        "search the latest rows: messages, types, run ids, statuses, days",
        ("pane",),
        (_b("slash", "search", "Search"),),
        (("Search", "search"),),
    ),
    Keys(
        "*",
        "search every attempt of each day, not only the latest",
        ("pane",),
        (_b("asterisk", "search_all", show=False),),
        (("Search every attempt", "search_all"),),
    ),
    Keys(
        "n / N",
        "next / previous hit (else filtered day, else failed day)",
        ("pane",),
        (
            _b("n", "next_failed(1)", "Next"),
            _b("N", "next_failed(-1)", show=False),
        ),
        (("Next day", "next_failed(1)"), ("Previous day", "next_failed(-1)")),
    ),
    Keys(
        "s",
        "filter by status: failed, stalled, pending, missing, skipped, done",
        ("pane",),
        (_b("s", "cycle_filter", "Filter"),),
        (("Status filter", "cycle_filter"),),
    ),
    Keys(
        "t",
        "live feed and trends: show / hide the side panel",
        ("pane",),
        (_b("t", "toggle_side", "Feed"),),
        (("Live feed", "toggle_side"),),
    ),
    Keys(
        "x",
        "live feed: only failures / every attempt",
        ("pane",),
        (_b("x", "feed_failures", show=False),),
        (("Feed failures only", "feed_failures"),),
    ),
    Keys(
        "c",
        "colour by status, availability, duration, tries",
        ("pane",),
        (_b("c", "cycle_mode", "Colour"),),
        (("Colour mode", "cycle_mode"),),
    ),
    Keys(
        "e",
        "export the resume plan (failed, missing, stalled days) to a file",
        ("pane",),
        (_b("e", "export", "Export"),),
        (("Export resume plan", "export"),),
    ),
    Keys(
        "p",
        "pause / resume following the file (rows are kept)",
        ("pane",),
        (_b("p", "pause", "Pause"),),
        (("Pause / resume", "pause"),),
    ),
    Keys(
        "o",
        "the selected day's rows and errors in $PAGER",
        ("pane",),
        (_b("o", "page", show=False),),
        (("Open day in pager", "page"),),
    ),
    Keys(
        "v",
        "only the months with hits or filtered days / every month",
        ("pane",),
        (_b("v", "fold", show=False),),
        (("Only matching months", "fold"),),
    ),
    Keys(
        "m",
        "malformed rows: line, reason, the raw text",
        ("pane",),
        (_b("m", "malformed", show=False),),
        (("Malformed rows", "malformed"),),
    ),
    Keys(
        "Esc",
        "close the prompt, else end the search",
        ("pane",),
        (_b("escape", "cancel_goto", show=False),),
    ),
    Keys(
        "Enter / click",
        "day detail: every attempt and its error message",
        ("calendar",),
        (_b("enter", "select", "Detail"),),
        (("Day detail", "select"),),
    ),
    Keys(
        "← → / h l",
        "previous / next day",
        ("calendar",),
        (
            _b("left,h", "move(-1)", show=False),
            _b("right,l", "move(1)", show=False),
        ),
    ),
    Keys(
        "↑ ↓ / k j",
        "previous / next month, the same day of month",
        ("calendar",),
        (
            _b("up,k", "month(-1)", show=False),
            _b("down,j", "month(1)", show=False),
        ),
    ),
    Keys(
        "PgUp / PgDn",
        "a screenful of months up / down",
        ("calendar",),
        (
            _b("pageup", "page(-1)", show=False),
            _b("pagedown", "page(1)", show=False),
        ),
    ),
    Keys(
        "Home / End",
        "first / last day of the calendar",
        ("calendar",),
        (
            _b("home", "edge(-1)", show=False),
            _b("end", "edge(1)", show=False),
        ),
    ),
    Keys(
        "[ ] / 1-9",
        "previous / next tab, the N-th tab (several files)",
        ("app",),
        (
            _b("left_square_bracket", "tab(-1)", show=False),
            _b("right_square_bracket", "tab(1)", show=False),
            *(_b(str(n), f"tab_number({n})", show=False) for n in range(1, 10)),
        ),
    ),
    Keys("Esc", "back to the previous screen", SCREENS, (_b("escape", "app.pop_screen", "Back"),)),
    Keys("r", "read the file again", SCREENS, (_b("r", "reload", "Reload"),)),
    Keys(
        "y",
        "day detail: the error message to the clipboard",
        ("detail",),
        (_b("y", "copy_message", "Copy message"),),
    ),
    Keys(
        "o / w",
        "day detail: every row in $PAGER / in a file",
        ("detail",),
        (
            _b("o", "page", "Pager"),
            _b("w", "write", "Write file"),
        ),
    ),
    Keys(
        "Enter",
        "failures: a group's days, then open the day",
        ("failures",),
        (
            # A priority binding, so the Footer shows it and DataTable's own
            # (hidden) enter binding does not swallow it.
            _b("enter", "open", "Open", priority=True),
        ),
    ),
    Keys(
        "O",
        "failures: order by most recent failure / by count",
        ("failures",),
        (_b("O", "order", "Order"),),
    ),
    Keys(
        "Esc / ?",
        "close this help",
        ("help",),
        (
            _b("escape", "app.pop_screen", "Close"),
            _b("question_mark", "app.pop_screen", show=False),
        ),
    ),
)


def bindings(where: str) -> list[BindingType]:
    """The bindings of the widget or screen ``where``, in table order."""
    return [binding for keys in KEYS if where in keys.where for binding in keys.bindings]


def commands(where: str) -> list[tuple[str, str, str]]:
    """``(title, help, action)`` of the command palette entries of ``where``."""
    return [
        (title, f"{keys.does} ({keys.shown})", action)
        for keys in KEYS
        if where in keys.where
        for title, action in keys.commands
    ]


def help_rows(places: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(keys, what they do)`` of the lines of help of ``places``, in table order.

    Lines with the same keys and text (a shared Esc) are listed once.
    """
    rows: list[tuple[str, str]] = []
    for keys in KEYS:
        row = (keys.shown, keys.does)
        if set(keys.where) & set(places) and row not in rows:
            rows.append(row)
    return rows


def markdown_table() -> str:
    """The README's key table: the main screen's keys, then the other screens'."""
    lines = ["| keys | |", "|---|---|"]
    for shown, does in [*help_rows(MAIN), ("**other screens**", ""), *help_rows(SCREENS)]:
        if not shown.startswith("**"):
            shown = " ".join(part if part == "/" else f"`{part}`" for part in shown.split(" "))
        lines.append(f"| {shown} | {does} |".replace("  |", " |"))
    return "\n".join(lines)
