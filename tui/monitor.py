"""A first Textual monitor: summary, progress and a month-by-day calendar, live."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, ProgressBar, Static

from telemetry import BackfillState, TailUpdate, TelemetryFormatError, TelemetryTail

from .follow import wakeups

# Glyph and colour per latest status: reads without colour too (Okabe-Ito palette).
STYLE: dict[str | None, tuple[str, str]] = {
    "UPLOADED": ("■", "#009E73"),
    "PROCESSED": ("▪", "#56B4E9"),
    "DOWNLOADED": ("▫", "#0072B2"),
    "SKIPPED_NO_DATA": ("~", "#999999"),
    "SKIPPED_NO_INPUT": ("~", "#999999"),
    "FAILED": ("✗", "#D55E00"),
    "DOWNLOAD_PENDING": ("…", "#E69F00"),
    "PROCESS_PENDING": ("…", "#E69F00"),
    "UPLOAD_PENDING": ("…", "#E69F00"),
    None: ("·", "#555555"),
}
MONTHS_SHOWN = 36


def render_calendar(state: BackfillState, stalled: set[date]) -> str:
    """Rich markup: one line per month (newest last), one glyph per day."""
    days = state.days
    if not days:
        return "waiting for rows…"
    first, last = days[0], days[-1]
    months = []
    y, m = last.year, last.month
    for _ in range(MONTHS_SHOWN):
        months.append((y, m))
        if (y, m) == (first.year, first.month):
            break
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    lines = []
    for y, m in reversed(months):
        cells = []
        day = date(y, m, 1)
        while day.month == m:
            glyph, colour = STYLE.get(state.status_of(day), STYLE[None])
            if day in stalled:
                glyph, colour = "!", "#CC79A7"
            cells.append(f"[{colour}]{glyph}[/]")
            day += timedelta(days=1)
        lines.append(f"{y}-{m:02d} " + "".join(cells))
    legend = "  ".join(
        f"[{c}]{g}[/] {s.lower()}"
        for s, (g, c) in STYLE.items()
        if s
        in ("UPLOADED", "PROCESSED", "DOWNLOADED", "SKIPPED_NO_DATA", "FAILED", "DOWNLOAD_PENDING")
    )
    return "\n".join([*lines, "", legend + "  [#CC79A7]![/] stalled  [#555555]·[/] missing"])


class MonitorApp(App[None]):
    """Follows one telemetry file and shows where its backfill stands."""

    TITLE = "backfill-monitor"
    CSS = """
    #banner { background: $error; color: $text; display: none; padding: 0 1; }
    #summary { padding: 0 1; height: auto; }
    #progress { padding: 0 1; }
    #calendar { padding: 1 1; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("q", "quit", "Quit"),
        Binding("p", "pause", "Pause"),
    ]

    def __init__(
        self, path: Path, *, poll: bool = False, stale_after: timedelta = timedelta(minutes=15)
    ) -> None:
        super().__init__()
        self.path = path
        self.poll = poll
        self.stale_after = stale_after
        self.state = BackfillState(stale_after=stale_after)
        self.paused = False
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="banner")
        yield Static("loading…", id="summary")
        yield ProgressBar(total=1, id="progress", show_eta=False)
        yield Static(id="calendar")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.path)
        self.follow()
        self.set_interval(1.0, self.refresh_view)

    def on_unmount(self) -> None:
        self._stop.set()

    @work(thread=True, exclusive=True)
    def follow(self) -> None:
        tail = TelemetryTail(self.path)
        for _ in wakeups(self.path, self._stop, poll=self.poll, interval=0.5):
            try:
                while True:
                    update = tail.read_new(max_bytes=16 << 20)
                    self.call_from_thread(self.apply_update, update)
                    if tail.caught_up(update):
                        break
            except TelemetryFormatError as exc:
                self.call_from_thread(self.show_banner, str(exc))

    def apply_update(self, update: TailUpdate) -> None:
        if update.reset:
            self.state = BackfillState(stale_after=self.stale_after)
            self.show_banner(f"file {update.reset}: reloading")
        if update.records or update.malformed:
            self.state.apply(update.records, update.malformed)
            if not self.paused:
                self.refresh_view()

    def show_banner(self, text: str) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(text)
        banner.display = True

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.sub_title = f"{self.path}  {'PAUSED' if self.paused else ''}"

    def refresh_view(self) -> None:
        if self.paused:
            return
        state = self.state
        progress = state.progress()
        counts = state.status_counts
        since = state.since_last_row()
        rate = f"{progress.days_per_hour:,.0f} days/h" if progress.days_per_hour else "- days/h"
        eta = str(progress.eta).split(".")[0] if progress.eta else "-"
        p50 = state.durations["download"].percentile(50)
        stalled = state.stalled()
        lines = [
            f"[b]{progress.done:,}[/] done  [#D55E00]{counts['FAILED']:,} failed[/]  "
            f"{counts['SKIPPED_NO_DATA'] + counts['SKIPPED_NO_INPUT']:,} skipped  "
            f"{progress.in_flight:,} in flight  {progress.missing:,} missing  "
            f"of {progress.total:,} days ({progress.fraction:.1%})",
            f"{rate}  ETA {eta}  retries {state.retries:,}  p50 download {p50:.1f} s  "
            if p50 is not None
            else f"{rate}  ETA {eta}",
            f"last row {since.total_seconds():.0f} s ago  stalled {len(stalled)}  "
            f"malformed {len(state.malformed)}"
            if since is not None
            else "no rows yet",
        ]
        self.query_one("#summary", Static).update("\n".join(lines))
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=max(progress.total, 1), progress=progress.done)
        self.query_one("#calendar", Static).update(render_calendar(state, set(stalled)))
