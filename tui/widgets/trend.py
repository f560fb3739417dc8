"""The duration chart of the side panel: p50 / p95 per phase over writing time.

Drawn with textual-plotext (Plotext in a Textual widget): one line per
phase for the p50, a fainter one for the p95, and a mark (``✗``) on the time
axis where days failed. The data is a :class:`~telemetry.DurationTrend`.
"""

from __future__ import annotations

from datetime import timedelta

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from telemetry import DurationTrend

from ..spans import human_duration
from .summary import human_seconds

#: Phase -> (short name, colour): the Okabe-Ito blue, green and yellow, which
#: stay apart for colour-blind readers and on light and dark themes.
PHASE_STYLE: dict[str, tuple[str, tuple[int, int, int]]] = {
    "download": ("dl", (0, 114, 178)),
    "process": ("proc", (0, 158, 115)),
    "upload": ("up", (230, 159, 0)),
}
#: The colour of the failure marks (Okabe-Ito vermillion, as FAILED in the calendar).
FAILED_COLOUR = (213, 94, 0)


def tick_label(trend: DurationTrend, k: int) -> str:
    """The time axis label of bucket ``k``: a clock time within a day, else a date."""
    start = trend.starts[k]
    if trend.width < timedelta(days=1):
        span = trend.starts[-1] - trend.starts[0]
        if span < timedelta(hours=1) and trend.width < timedelta(minutes=1):
            return f"{start:%H:%M:%S}"
        return f"{start:%H:%M}" if span < timedelta(days=1) else f"{start:%m-%d %H}h"
    return f"{start:%Y-%m-%d}"


def _runs(series: list[float | None]) -> list[list[tuple[int, float]]]:
    """The runs of consecutive buckets with a value, as ``(bucket, value)`` points."""
    runs: list[list[tuple[int, float]]] = []
    last = -2
    for x, y in enumerate(series):
        if y is None:
            continue
        if x != last + 1:
            runs.append([])
        runs[-1].append((x, y))
        last = x
    return runs


def chart_label(trend: DurationTrend | None) -> str:
    """The line above the chart: what it shows, the legend in the lines' colours."""
    if trend is None or not trend.starts or not trend.has_durations:
        return "phase durations p50 / p95: none recorded yet"
    keys = "  ".join(f"[rgb({r},{g},{b})]{short}[/]" for short, (r, g, b) in PHASE_STYLE.values())
    failed = sum(trend.failed)
    marks = f"  [rgb{FAILED_COLOUR}]✗[/] {failed:,} failed" if failed else ""
    return f"p50 ⣿ / p95 • per {human_duration(trend.width)} of writing: {keys}{marks}"


class DurationChart(PlotextPlot):
    """p50 / p95 of download, process and upload time per bucket of writing time."""

    DEFAULT_CSS = """
    DurationChart { height: 1fr; min-height: 8; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trend: DurationTrend | None = None
        self._version = 0  # counts the trends shown
        self._drawn: tuple[object, ...] = ()
        self._drawing: RenderResult = ""

    def render(self) -> RenderResult:
        """The plot, built again only when its data, size or theme changed.

        Plotext builds the whole canvas on every call; the screen asks for
        it on each repaint of the region (a toast over it, a layout pass).
        """
        key = (self._version, self.size, self.app.theme, self.theme)
        if key != self._drawn:
            self._drawn, self._drawing = key, super().render()
        return self._drawing

    def show(self, trend: DurationTrend) -> None:
        """Draw ``trend`` (the previous one is cleared)."""
        self.trend = trend
        self._version += 1
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        count = len(trend.starts)
        if count == 0 or not trend.has_durations:
            self.refresh()
            return
        top = 0.0
        for phase, (_, colour) in PHASE_STYLE.items():
            for series, marker in ((trend.p50[phase], "braille"), (trend.p95[phase], "dot")):
                for run in _runs(series):  # a gap (no days written) breaks the line
                    top = max(top, max(y for _, y in run))
                    plt.plot([x for x, _ in run], [y for _, y in run], marker=marker, color=colour)
        failed = [x for x in range(count) if trend.failed[x]]
        if failed:
            plt.scatter(failed, [0.0] * len(failed), marker="✗", color=FAILED_COLOUR)
        top = top * 1.05 or 1.0
        plt.ylim(0, top)
        levels = [top * k / 4 for k in range(5)]
        plt.yticks(levels, [human_seconds(v) for v in levels])
        step = max(1, count // 4)
        ticks = list(range(0, count, step))
        plt.xticks([float(k) for k in ticks], [tick_label(trend, k) for k in ticks])
        self.refresh()
