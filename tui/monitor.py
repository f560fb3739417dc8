"""The live monitor: one :class:`MonitorPane` per telemetry file, as tabs.

``backfill-monitor watch`` and ``demo`` run :class:`MonitorApp`. Every key
of the main screen lives on the pane (so each tab answers for its own
file); the command palette offers the same actions for the active tab.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from telemetry import BackfillState, TelemetryFormatError
from telemetry.records import read_header
from telemetry.snapshot import StateCache

from .actions import bindings, commands
from .config import MonitorConfig
from .widgets.pane import Clock, MonitorPane, utc_now

#: Bytes of a file read to tell whether it is telemetry before opening its tab.
SNIFF_BYTES = 64 << 10

#: Seconds the monitor has to quit on SIGTERM or SIGHUP before it ends anyway.
SIGNAL_GRACE_S = 5.0


def looks_like_telemetry(path: Path) -> bool:
    """Whether ``path``'s first bytes are (or may yet become) a telemetry file.

    False only for a file whose header is there and is not telemetry's; an
    empty, missing or unreadable file may still become one.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
        read_header(head)
    except TelemetryFormatError:
        return False
    except OSError:
        return True
    return True


class MonitorApp(App[None]):
    """Follows one or more telemetry files and shows where each backfill stands.

    ``paths`` is one file or several (one tab each, files that are not
    telemetry last: see :func:`looks_like_telemetry`). ``clock`` returns "now"
    as an aware datetime: pass a constant for deterministic snapshots.
    ``start``/``end`` fix the expected range of days of every file.
    """

    TITLE = "backfill-monitor"
    CSS_PATH = "monitor.tcss"
    BINDINGS: ClassVar[list[BindingType]] = bindings("app")

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
        cache: StateCache | None = None,
    ) -> None:
        super().__init__()
        self.cache = cache
        self.config = config or MonitorConfig()
        self.bell_on_alert = self.config.bell if bell is None else bell
        paths = [paths] if isinstance(paths, Path) else list(paths)
        # The files that are not telemetry go last: never the tab shown first.
        self.paths = sorted(paths, key=lambda path: not looks_like_telemetry(path))
        self.poll = poll
        self.stale_after = stale_after
        self.start = start
        self.end = end
        self.clock = clock
        self._ending: threading.Timer | None = None
        self._handlers: dict[int, Any] = {}  # the signals' handlers before ours

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run the app; once it is over, a quit a signal asked for needs no
        forcing, and the signals' handlers are what they were."""
        try:
            return super().run(*args, **kwargs)
        finally:
            if self._ending is not None:
                self._ending.cancel()
            for sig, handler in self._handlers.items():
                signal.signal(sig, handler)

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
            feed_lines=self.config.feed_lines,
            cache=self.cache,
            id=f"pane-{index}",
        )

    def compose(self) -> ComposeResult:
        # Textual's icon (U+2B58) is in few fonts: a browser without one shows a box.
        yield Header(icon="•") if self.is_web else Header()
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
        if not self.is_headless and not self.is_web:  # served: see tui.served
            self._exit_on_signals()

    def _exit_on_signals(self) -> None:
        """SIGTERM and SIGHUP (``kill``, a closed SSH session) quit as ``q`` does.

        Their default action ends the process at once, leaving the terminal
        with mouse tracking on and the cursor hidden; quitting through the
        app restores it. Should that take more than :data:`SIGNAL_GRACE_S`,
        the process ends anyway (status 128 + the signal): with its terminal
        gone, Textual's output thread dies on its first failed write, and the
        next writes then wait for it forever, the event loop's among them.
        So the handler is a plain one, run in the main thread even while it
        waits, and not the event loop's.
        """
        loop = asyncio.get_running_loop()

        def on_signal(sig: int, _frame: object) -> None:
            if self._ending is None:
                self._ending = threading.Timer(SIGNAL_GRACE_S, os._exit, (128 + sig,))
                self._ending.daemon = True
                self._ending.start()
            loop.call_soon_threadsafe(self.exit)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                self._handlers[sig] = signal.signal(sig, on_signal)

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
        for where, target in (("pane", pane), ("calendar", pane.calendar)):
            for title, help_text, action in commands(where):
                yield SystemCommand(title, help_text, partial(target.run_action, action))
