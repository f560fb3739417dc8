"""The live monitor: one :class:`MonitorPane` per telemetry file, as tabs.

``backfill-monitor watch`` and ``demo`` run :class:`MonitorApp`. Every key
of the main screen lives on the pane (so each tab answers for its own
file); the command palette offers the same actions for the active tab.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from telemetry import BackfillState

from .config import MonitorConfig
from .widgets.pane import Clock, MonitorPane, utc_now


class MonitorApp(App[None]):
    """Follows one or more telemetry files and shows where each backfill stands.

    ``paths`` is one file or several (one tab each). ``clock`` returns "now"
    as an aware datetime: pass a constant for deterministic snapshots.
    ``start``/``end`` fix the expected range of days of every file.
    """

    TITLE = "backfill-monitor"
    CSS_PATH = "monitor.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("left_square_bracket", "tab(-1)", "Previous tab", show=False),
        Binding("right_square_bracket", "tab(1)", "Next tab", show=False),
        *(Binding(str(n), f"tab_number({n})", f"Tab {n}", show=False) for n in range(1, 10)),
    ]

    def __init__(
        self,
        paths: Path | Sequence[Path],
        *,
        poll: bool = False,
        stale_after: timedelta = timedelta(minutes=15),
        start: date | None = None,
        end: date | None = None,
        clock: Clock = utc_now,
        config: MonitorConfig | None = None,
        bell: bool | None = None,
    ) -> None:
        super().__init__()
        self.config = config or MonitorConfig()
        self.bell_on_alert = self.config.bell if bell is None else bell
        self.paths = [paths] if isinstance(paths, Path) else list(paths)
        self.poll = poll
        self.stale_after = stale_after
        self.start = start
        self.end = end
        self.clock = clock

    def _pane(self, path: Path, index: int) -> MonitorPane:
        return MonitorPane(
            path,
            poll=self.poll,
            stale_after=self.stale_after,
            start=self.start,
            end=self.end,
            clock=self.clock,
            alert_on=self.config.alert_on,
            bell=self.bell_on_alert,
            colour_mode=self.config.colour_mode,
            id=f"pane-{index}",
        )

    def compose(self) -> ComposeResult:
        yield Header()
        if len(self.paths) == 1:
            yield self._pane(self.paths[0], 0)
        else:
            with TabbedContent(id="tabs"):
                for index, path in enumerate(self.paths):
                    with TabPane(path.name, id=f"tab-{index}"):
                        yield self._pane(path, index)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.paths[0]) if len(self.paths) == 1 else f"{len(self.paths)} files"
        theme = self.config.theme
        if theme is not None:
            if theme in self.available_themes:
                self.theme = theme
            else:
                self.notify(f"config: no theme {theme!r}; kept {self.theme}", severity="warning")
        if not self.is_headless:
            self._exit_on_signals()

    def _exit_on_signals(self) -> None:
        """SIGTERM and SIGHUP (``kill``, a closed SSH session) quit as ``q`` does.

        Their default action ends the process at once, leaving the terminal
        with mouse tracking on and the cursor hidden; quitting through the
        app restores it.
        """
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.exit)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Keys go to the calendar of the tab just opened."""
        if event.tabbed_content.active_pane is not event.pane:
            return  # a late message: focusing would switch back to its tab
        for pane in event.pane.query(MonitorPane):
            if not pane.calendar.has_focus:
                pane.calendar.focus()

    def action_tab(self, step: int) -> None:
        """Show the previous (-1) or next (1) file's tab, round the end."""
        if len(self.paths) > 1:
            tabs = self.query_one(TabbedContent)
            index = int((tabs.active or "tab-0").removeprefix("tab-"))
            tabs.active = f"tab-{(index + step) % len(self.paths)}"

    def action_tab_number(self, number: int) -> None:
        """Show the ``number``-th file's tab (1 is the first), if there is one."""
        if len(self.paths) > 1 and number <= len(self.paths):
            self.query_one(TabbedContent).active = f"tab-{number - 1}"

    def on_monitor_pane_badge_changed(self, event: MonitorPane.BadgeChanged) -> None:
        """A file's failed and stalled counts or liveness changed: show them on its tab."""
        if len(self.paths) > 1:
            pane = event.pane
            index = self.panes.index(pane)
            label = f"{pane.path.name} {event.badge}".rstrip()
            self.query_one(TabbedContent).get_tab(f"tab-{index}").label = label

    @property
    def pane(self) -> MonitorPane:
        """The pane on show (the active tab's)."""
        if len(self.paths) > 1:
            tabs = self.query_one(TabbedContent)
            active = tabs.active_pane
            if active is not None:
                return active.query_one(MonitorPane)
        return self.query(MonitorPane).first()

    @property
    def panes(self) -> list[MonitorPane]:
        """Every pane, in the order of the files."""
        return list(self.query(MonitorPane))

    @property
    def state(self) -> BackfillState:
        """The state of the pane on show."""
        return self.pane.state

    def refresh_view(self) -> None:
        """Redraw the figures of the pane on show now (not at the next tick)."""
        self.pane.refresh_figures()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette: the main screen's keys as commands, then Textual's own."""
        yield from super().get_system_commands(screen)
        if not self.panes:
            return
        pane = self.pane
        commands = (
            ("Go to date", "Jump to a day (YYYY-MM-DD)", pane.action_goto),
            (
                "Search",
                "Find days by error message, type, run id, status or date (/)",
                pane.action_search,
            ),
            (
                "Next failed day",
                "Select the next search hit, filtered or failed day (n)",
                lambda: pane.action_next_failed(1),
            ),
            (
                "Previous failed day",
                "Select the previous search hit, filtered or failed day (N)",
                lambda: pane.action_next_failed(-1),
            ),
            ("Status filter", "Cycle the status filter (s)", pane.action_cycle_filter),
            (
                "Only matching months",
                "Fold the calendar to the months with a search hit or filtered day (v)",
                pane.action_fold,
            ),
            (
                "Open day in pager",
                "The selected day's rows and full error messages in $PAGER (o)",
                pane.action_page,
            ),
            (
                "Colour mode",
                "Cycle status / availability / duration / attempts (c)",
                pane.action_cycle_mode,
            ),
            (
                "Export resume plan",
                "Write what a restart would redo, stalled days included, to a file (e)",
                pane.action_export,
            ),
            ("Pause / resume", "Stop or resume applying new rows (p)", pane.action_pause),
            ("Failures", "Failed days grouped by error type (f)", pane.action_failures),
            ("Malformed rows", "Rows every reader skipped (m)", pane.action_malformed),
            (
                "Day detail",
                "Every attempt of the selected day (Enter)",
                pane.calendar.action_select,
            ),
            ("Keys", "Keys and the calendar legend (?)", pane.action_help),
        )
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)
