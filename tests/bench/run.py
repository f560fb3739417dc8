"""Benchmarks of the engine, printed as ratios against a baseline from the same run.

    python -m tests.bench.run [--rows 1000000]

Each measurement runs in a fresh child process (so peak RSS is its own):
the baseline is the original module's way of reading (``csv.DictReader``
plus a dataclass per row). Not collected by pytest; no timed assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

# Days the benchmark appends: far past any generated file (1M rows end in 2482),
# so each one is a new day whose row is its latest.
MARKERS = date(9000, 1, 1)
SAMPLES = date(9100, 1, 1)
BURST = date(9200, 1, 1)
LAST = date(9999, 12, 31)

# A child's own peak RSS: VmHWM of its memory map. Not ``ru_maxrss``, which
# Linux carries over from the parent's memory map at exec: a child of a big
# parent would report the parent's peak as its own.
_PEAK_RSS = r"""
def peak_rss_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

_CHILD = (
    _PEAK_RSS
    + r"""
import json, sys, time
from pathlib import Path
kind, path = sys.argv[1], Path(sys.argv[2])
t = time.perf_counter()
if kind == "seed":
    from tests.seed_reference import seed_load_state
    result = seed_load_state(path)
elif kind == "load_state":
    from telemetry import HistoricalTelemetry
    result = HistoricalTelemetry(path).load_state()
elif kind == "monitor":  # from the app running (its start-up excluded) to the file read
    from tests.bench.run import monitor_load
    t, result = monitor_load(path)
elif kind in ("two_cores", "two_cores_resume"):  # the commands' cold load, a child folding half
    from telemetry.twofold import cold_fold
    state, _ = cold_fold(path, figures=kind == "two_cores")
    result = state.latest if kind == "two_cores" else state.latest_rows()
elif kind in ("polars", "duckdb"):  # the latest row per day, by a peer (both cores, no validation)
    from tests.bench.run import peer_latest
    result = range(peer_latest(kind, path))
else:
    from telemetry import BackfillState
    result = BackfillState.from_path(path).latest
seconds = time.perf_counter() - t  # the load, not freeing what it loaded
n = len(result)
import resource  # a forked child's peak (it starts as a copy of this small process)
child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_mb": max(peak_rss_mb(), child_mb), "days": n}))
"""
)


#: Data-frame engines compared with in :func:`cold_load` where installed (the
#: ``bench`` extra): the latest row of each day, in their best plans.
PEERS = ("polars", "duckdb")


def peer_latest(kind: str, path: Path) -> int:
    """Days in ``path``, each day's latest row found by ``kind`` (its rows read as text)."""
    if kind == "polars":
        import polars as pl

        frame = (
            pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy")
            .with_row_index("row")
            .filter(pl.col("row") == pl.col("row").max().over("chunk_date_utc"))
            .collect()
        )
        return int(frame.height)
    import duckdb

    found = duckdb.execute(
        "SELECT count(*) FROM (SELECT chunk_date_utc, arg_max(status, row) FROM"
        " (SELECT *, row_number() OVER () AS row"
        "  FROM read_csv(?, all_varchar = true, header = true))"
        " GROUP BY chunk_date_utc)",
        [str(path)],
    ).fetchone()
    assert found is not None
    return int(found[0])


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _child(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def cold_load(path: Path, rounds: int = 5) -> float:
    """Print cold-load time and peak RSS of each reader against the seed's; return
    the seed's best time.

    Each round runs every reader one after the other, so a slow spell of a
    shared machine hits them alike; each reader's best round counts. The
    two-core loads (``two_cores``: the figures, as ``summary``;
    ``two_cores_resume``: the rows, as ``latest``) report the larger of the
    two processes' peaks.
    """
    kinds = (
        *("seed", "load_state", "from_path", "two_cores", "two_cores_resume"),
        *(k for k in PEERS if _installed(k)),
    )
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind in kinds:
            runs[kind].append(_child(kind, path))
    best = {kind: min(r["seconds"] for r in runs[kind]) for kind in kinds}
    rss = {kind: max(r["rss_mb"] for r in runs[kind]) for kind in kinds}
    days = {r["days"] for kind in kinds for r in runs[kind]}
    assert len(days) == 1, days
    print(
        f"  seed (DictReader + dataclass): {best['seed']:.2f} s, {rss['seed']:.0f} MB"
        f" (best of {rounds})"
    )
    for kind in kinds[1:]:
        print(
            f"  {kind:>10}: {best[kind]:.2f} s, {rss[kind]:.0f} MB  ->"
            f" {best['seed'] / best[kind]:.1f}x faster,"
            f" RSS {rss[kind] / rss['seed']:.2f}x of seed"
            + (
                f"; {best[kind] / best['load_state']:.2f}x load_state's time"
                if kind in PEERS
                else ""
            )
        )
    if not any(kind in PEERS for kind in kinds):
        print("  (polars and duckdb compared where installed: pip install -e '.[bench]')")
    return best["seed"]


class _Follow:
    """A ``follow --changes-only`` child process whose lines are read by a thread."""

    def __init__(self, path: Path) -> None:
        from telemetry import HistoricalTelemetry

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "follow", str(path), "--jsonl", "--changes-only"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        # The cold load is done once a marker row appended after it comes through
        # (markers read during the cold load are part of the initial state).
        store = HistoricalTelemetry(path)
        for i in range(1, 1000):
            day = (MARKERS + timedelta(days=i)).isoformat()
            store.append_row({"chunk_date_utc": day, "status": "UPLOADED"})
            if self.wait_for(day, timeout=1.0):
                return
        raise RuntimeError("follow never caught up")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60.0) -> bool:
        """Drop lines until one contains ``text``; False after ``timeout`` seconds."""
        deadline = time.perf_counter() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.perf_counter(), 0.001))
            except queue.Empty:
                return False
            if text in line:
                return True

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def follow_latency(path: Path, samples: int = 20) -> float:
    """Median seconds from ``append_row`` returning to the matching ``follow`` line."""
    from telemetry import HistoricalTelemetry

    follow = _Follow(path)
    store = HistoricalTelemetry(path)
    try:
        waits = []
        for i in range(samples):
            day = (SAMPLES + timedelta(days=i)).isoformat()
            store.append_row({"chunk_date_utc": day, "status": "FAILED"})
            t = time.perf_counter()
            if not follow.wait_for(day):
                raise RuntimeError(f"no follow line for {day}")
            waits.append(time.perf_counter() - t)
            time.sleep(0.05)
        return statistics.median(waits)
    finally:
        follow.close()


def burst_ingest(path: Path, rows: int = 200_000) -> float:
    """Rows per second ``follow`` takes in when ``rows`` rows land in one write."""
    from telemetry.store import encode_row
    from tests.bench.generate import rows_for

    burst = b"".join(encode_row(r) for r in rows_for(rows, seed=1, start=BURST))
    # The last row: its line means the whole burst was read.
    burst += encode_row(["", LAST.isoformat(), "", "", "UPLOADED"] + [""] * 19)
    follow = _Follow(path)
    try:
        with open(path, "ab") as fh:
            t = time.perf_counter()
            fh.write(burst)
        if not follow.wait_for(LAST.isoformat(), timeout=600):
            raise RuntimeError("the burst never came through")
        return (rows + 1) / (time.perf_counter() - t)
    finally:
        follow.close()


def monitor_load(path: Path) -> tuple[float, list[date]]:
    """Run the monitor headless on ``path`` until it has read the file through.

    Returns when it started reading (``perf_counter``: the app up, as
    ``from_path`` timings leave out the interpreter's start) and the days it holds.
    """
    import asyncio

    from tui.monitor import MonitorApp

    async def run() -> tuple[float, list[date]]:
        app = MonitorApp(path)
        async with app.run_test(size=(180, 48)) as pilot:
            started = time.perf_counter()
            while not app.pane.loaded:
                await pilot.pause(0.01)
            return started, app.pane.state.days

    return asyncio.run(run())


def monitor_latency(path: Path, samples: int = 10) -> dict[str, float]:
    """The monitor on ``path``, headless at 180x48 (the side panel shown).

    First paint: from starting the app until the calendar has drawn the day
    under its cursor.
    Append -> cell / feed: from ``append_row`` returning until the new day's
    cell is in the calendar's rendered line / its line tops the live feed
    (medians). Chart: from the end of the load until the duration chart
    holds every day. Run it in a fresh process (:func:`monitor_figures`) for
    its peak RSS.
    """
    import asyncio

    from telemetry import HistoricalTelemetry
    from tui.monitor import MonitorApp

    async def run() -> dict[str, float]:
        app = MonitorApp(path)
        t0 = time.perf_counter()
        async with app.run_test(size=(180, 48)) as pilot:
            pane = app.pane
            assert pane.query_one("#side").display, "the side panel is not shown"
            # First paint: a day drawn in the calendar (the one under the cursor,
            # which follows the newest day while the file loads).
            calendar = pane.calendar
            while calendar.cursor is None or calendar.drawn_glyph(calendar.cursor) is None:
                await pilot.pause(0.005)
            first_paint = time.perf_counter() - t0
            while not pane.loaded:
                await pilot.pause(0.05)
            load = time.perf_counter() - t0
            while pane.durations_rows != pane.state.rows:
                if time.perf_counter() - t0 - load > 120:
                    raise RuntimeError("the duration chart never showed the whole file")
                await pilot.pause(0.05)
            chart_after = time.perf_counter() - t0 - load
            store = HistoricalTelemetry(path)
            # Warm up the writer (its first append frames the file); the samples
            # come after this day, so the calendar's cursor follows each of them.
            warm_up = SAMPLES + timedelta(days=99)
            store.append_row({"chunk_date_utc": warm_up.isoformat(), "status": "UPLOADED"})
            cells, lines = [], []
            for i in range(samples):
                day = SAMPLES + timedelta(days=100 + i)
                await asyncio.to_thread(
                    store.append_row, {"chunk_date_utc": day.isoformat(), "status": "FAILED"}
                )
                t = time.perf_counter()
                cell = line = None
                while cell is None or line is None:
                    now = time.perf_counter()
                    if now - t > 60:
                        raise RuntimeError(f"{day} never showed in the calendar and the feed")
                    if cell is None and pane.calendar.drawn_glyph(day) == "✗":
                        cell = now - t
                    if line is None and day.isoformat() in str(
                        pane.feed.get_option_at_index(0).prompt
                    ):
                        line = now - t
                    await pilot.pause(0.005)
                cells.append(cell)
                lines.append(line)
            return {
                "first_paint": first_paint,
                "load": load,
                "chart_after_load": chart_after,
                "append_cell": statistics.median(cells),
                "append_feed": statistics.median(lines),
            }

    return asyncio.run(run())


_MONITOR_CHILD = (
    _PEAK_RSS
    + r"""
import json, sys
from pathlib import Path
from tests.bench.run import monitor_latency
figures = monitor_latency(Path(sys.argv[1]))
figures["rss_mb"] = peak_rss_mb()
print(json.dumps(figures))
"""
)


def monitor_figures(path: Path, rows: int) -> None:
    """Print the monitor's figures on ``path``, measured in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _MONITOR_CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    f = json.loads(out.splitlines()[-1])
    print(
        f"monitor on {rows:,} rows, side panel shown: first paint {f['first_paint']:.2f} s,"
        f" full load {f['load']:.1f} s, duration chart {f['chart_after_load']:.1f} s later,"
        f" append -> cell median {f['append_cell'] * 1000:.0f} ms,"
        f" -> feed line {f['append_feed'] * 1000:.0f} ms, peak RSS {f['rss_mb']:.0f} MB"
    )


def scrape_time(path: Path, scrapes: int = 50) -> float:
    """Median seconds of one scrape (``generate_latest``) of a follower of ``path``."""
    from prometheus_client import CollectorRegistry, generate_latest

    from tui.metrics import BackfillCollector, FileFollower

    follower = FileFollower(path, stale_after=timedelta(minutes=15))
    follower.catch_up()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BackfillCollector(lambda: [follower]))
    times = []
    for _ in range(scrapes):
        t = time.perf_counter()
        generate_latest(registry)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def metric_latency(path: Path, samples: int = 10) -> float:
    """Median seconds from ``append_row`` returning to the new row in a scrape of the
    ``metrics`` command, at its default settings."""
    import socket
    import urllib.request

    from telemetry import HistoricalTelemetry

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "metrics", str(path), "--listen", f"127.0.0.1:{port}"],
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2],
    )

    def rows() -> int | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("backfill_rows_total{"):
                return int(float(line.rsplit(" ", 1)[1]))
        return None

    store = HistoricalTelemetry(path)
    try:
        deadline = time.perf_counter() + 600
        while rows() is None:  # the exporter has read the whole file
            if time.perf_counter() > deadline:
                raise RuntimeError("the exporter never answered")
            time.sleep(0.1)
        waits = []
        for i in range(samples):
            before = rows() or 0
            day = (SAMPLES + timedelta(days=500 + i)).isoformat()
            store.append_row({"chunk_date_utc": day, "status": "FAILED"})
            t = time.perf_counter()
            while (rows() or 0) <= before:
                if time.perf_counter() - t > 60:
                    raise RuntimeError("the row never showed in a scrape")
                time.sleep(0.005)
            waits.append(time.perf_counter() - t)
        return statistics.median(waits)
    finally:
        proc.terminate()
        proc.wait(10)


def metrics_figures(small: Path, big: Path, rows: int) -> None:
    """Print the scrape time (10k against ``rows`` rows) and append -> scrape latency."""
    little, large = scrape_time(small), scrape_time(big)
    print(
        f"metrics scrape, median: 10k rows {little * 1000:.2f} ms, {rows:,} rows"
        f" {large * 1000:.2f} ms ({large / little:.2f}x)"
    )
    print(f"append -> metric visible, median: {metric_latency(big) * 1000:.0f} ms")


_LONG_CHILD = r"""
import csv, json, sys, time
from pathlib import Path
from telemetry import HistoricalTelemetry
kind, path = sys.argv[1], Path(sys.argv[2])
t = time.perf_counter()  # the reading, each module imported already
if kind == "read":
    with open(path, "rb") as fh:
        while fh.read(64 << 10):
            pass
elif kind == "csv":  # the stdlib's C reader, its field limit lifted (the seed's stops at 128 KB)
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8") as fh:
        list(csv.reader(fh))
elif kind == "iter_rows":
    list(HistoricalTelemetry(path).iter_rows())
elif kind == "load_state":
    HistoricalTelemetry(path).load_state()
else:  # a fresh process's first append: frames the whole file under the lock
    HistoricalTelemetry(path).append_row({"chunk_date_utc": "2020-01-02", "status": "UPLOADED"})
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def long_record(tmp: Path, megabytes: int = 20) -> None:
    """One quoted traceback of ``megabytes``: each reader against a plain read of the file."""
    import shutil

    from telemetry.file import HEADER_LINE
    from telemetry.store import encode_row, row_values

    path = tmp / "long.csv"
    message = 'Traceback (most recent call last):\n  File "x.py", line 1\n' * (
        megabytes * 1_000_000 // 52
    )
    row = {"chunk_date_utc": "2020-01-01", "status": "FAILED", "error_message": message}
    path.write_bytes(HEADER_LINE + encode_row(row_values(row)))

    def run(kind: str, target: Path) -> float:
        out = subprocess.run(
            [sys.executable, "-c", _LONG_CHILD, kind, str(target)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        ).stdout
        return float(json.loads(out)["seconds"])

    plain = min(run("read", path) for _ in range(5))
    stdlib = min(run("csv", path) for _ in range(3))
    print(
        f"one {megabytes} MB quoted record: plain read {plain * 1000:.1f} ms,"
        f" csv.reader {stdlib:.2f} s (the original module's DictReader cannot read it:"
        " field larger than field limit)"
    )
    for kind in ("iter_rows", "load_state", "append"):
        times = []
        for _ in range(3):
            target = tmp / f"long-{kind}.csv"
            shutil.copy(path, target)
            times.append(run(kind, target))
        best = min(times)
        print(
            f"  {kind:>10}: {best:.2f} s ({best / plain:,.0f}x the plain read,"
            f" {best / stdlib:.1f}x csv.reader)"
        )


def first_append_big_rows(tmp: Path, rows: int = 50, kilobytes: int = 200) -> None:
    """A fresh process's first append to a file of ``rows`` quoted rows of
    ``kilobytes`` each, against one to a file of the same size of 2 KB rows."""
    import shutil

    from telemetry.file import HEADER_LINE
    from telemetry.store import encode_row, row_values

    def made(name: str, size: int, count: int) -> Path:
        path = tmp / name
        line = 'Traceback (most recent call last):\n  File "x.py", line 1, in "f"\n'
        message = line * (size // len(line))
        with open(path, "wb") as fh:
            fh.write(HEADER_LINE)
            for k in range(count):
                day = (date(2020, 1, 1) + timedelta(days=k)).isoformat()
                row = {"chunk_date_utc": day, "status": "FAILED", "error_message": message}
                fh.write(encode_row(row_values(row)))
        return path

    big = made("rows-200k.csv", kilobytes * 1000, rows)
    small = made("rows-2k.csv", 2000, big.stat().st_size // 2000)

    def first_append(path: Path) -> float:
        times = []
        for _ in range(5):
            target = tmp / f"copy-{path.name}"
            shutil.copy(path, target)
            out = subprocess.run(
                [sys.executable, "-c", _LONG_CHILD, "append", str(target)],
                capture_output=True,
                text=True,
                check=True,
                cwd=Path(__file__).resolve().parents[2],
            ).stdout
            times.append(float(json.loads(out)["seconds"]))
        return min(times)

    slow, base = first_append(big), first_append(small)
    print(
        f"first append, {big.stat().st_size / 1e6:.0f} MB: {rows} rows of {kilobytes} KB"
        f" {slow * 1000:.0f} ms, 2 KB rows {base * 1000:.0f} ms ({slow / base:.1f}x)"
    )


_APPENDER = r"""
import json, sys, time
from pathlib import Path
kind, path, rows = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
message = 'Traceback line, "quoted"\n' * 40_000  # 1 MB, multi-line and quoted
row = {"chunk_date_utc": "2020-01-01", "status": "FAILED", "error_message": message}
if kind == "seed":
    from tests.seed_reference import seed_append_row as append
    write = lambda: append(path, row)
else:
    from telemetry import HistoricalTelemetry
    write = lambda: HistoricalTelemetry(path).append_row(row)
waits = []
for _ in range(rows):
    t = time.perf_counter()
    write()
    waits.append(time.perf_counter() - t)
print(json.dumps(waits))
"""


def concurrent_big_rows(tmp: Path, rows: int = 20) -> None:
    """Two processes appending 1 MB rows: median seconds per row, this writer and the seed's."""
    for kind in ("seed", "ours"):
        path = tmp / f"big-{kind}.csv"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _APPENDER, kind, str(path), str(rows)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parents[2],
            )
            for _ in range(2)
        ]
        waits = [w for p in procs for w in json.loads(p.communicate()[0])]
        median = statistics.median(waits) * 1000
        print(f"  two processes appending 1 MB rows, {kind}: median {median:.0f} ms per row")


def _wall(argv: list[str], done: Callable[[subprocess.Popen[str]], bool]) -> float:
    """Seconds from starting ``argv`` until ``done(process)``; the process is then ended."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        if not done(proc):
            raise RuntimeError(f"{argv[3]} never caught up")
        return time.perf_counter() - t
    finally:
        proc.terminate()
        proc.wait(10)


def catch_up_figures(path: Path, rounds: int = 3) -> None:
    """Print how long each live consumer takes to catch up with ``path``, as a ratio to
    a process that loads it with ``BackfillState.from_path``, measured in the same run.

    ``follow --changes-only``: from its start until it prints a row appended just
    after it started. ``metrics``: from its start until the first scrape answers
    (it listens once every file is read through). The monitor: its full load, in
    process, against ``from_path``'s load in process (both without start-up).
    The markers appended meanwhile make the file grow a little each round.
    """
    import urllib.request

    from telemetry import HistoricalTelemetry

    python = sys.executable
    load = (
        "import sys; from telemetry import BackfillState; "
        "BackfillState.from_path(sys.argv[1]); print('done', flush=True)"
    )

    def printed(text: str) -> Callable[[subprocess.Popen[str]], bool]:
        def done(proc: subprocess.Popen[str]) -> bool:
            assert proc.stdout is not None
            return any(text in line for line in proc.stdout)

        return done

    def answers(url: str) -> Callable[[subprocess.Popen[str]], bool]:
        def done(proc: subprocess.Popen[str]) -> bool:
            while proc.poll() is None:
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        return b"backfill_rows_total" in response.read()
                except OSError:
                    time.sleep(0.01)
            return False

        return done

    store = HistoricalTelemetry(path)
    cold, follow, metrics, monitor, fold = [], [], [], [], []
    for k in range(rounds):
        cold.append(_wall([python, "-c", load, str(path)], printed("done")))
        monitor.append(_child("monitor", path)["seconds"])
        fold.append(_child("from_path", path)["seconds"])
        argv = [python, "-m", "tui.cli", "follow", str(path), "--jsonl", "--changes-only"]
        argv.append("--no-cache")  # the catch-up itself, not a reopen

        def append_then_wait(proc: subprocess.Popen[str], k: int = k) -> bool:
            # Markers every 50 ms: those appended after it took the file's size
            # are news; the first one printed ends the wait.
            stop = threading.Event()

            def markers() -> None:
                for i in range(10_000):
                    day = (MARKERS - timedelta(days=1000 * (k + 1) + i)).isoformat()
                    store.append_row({"chunk_date_utc": day, "status": "FAILED"})
                    if stop.wait(0.05):
                        return

            threading.Thread(target=markers, daemon=True).start()
            try:
                return printed('"FAILED"')(proc)
            finally:
                stop.set()

        follow.append(_wall(argv, append_then_wait))
        port = 19464 + k
        argv = [python, "-m", "tui.cli", "metrics", str(path), "--listen", f"127.0.0.1:{port}"]
        argv.append("--no-cache")
        metrics.append(_wall(argv, answers(f"http://127.0.0.1:{port}/metrics")))
    base = min(cold)
    print(f"catch-up on {path.name} (best of {rounds}; a from_path process: {base:.2f} s):")
    print(
        f"  follow --changes-only, append at its start -> line: {min(follow):.2f} s"
        f" ({min(follow) / base:.2f}x)"
    )
    print(f"  metrics, start -> first scrape: {min(metrics):.2f} s ({min(metrics) / base:.2f}x)")
    print(
        f"  the monitor's full load, in process: {min(monitor):.2f} s"
        f" ({min(monitor) / min(fold):.2f}x from_path in process, {min(fold):.2f} s)"
    )


def search_every_attempt(path: Path, rounds: int = 3) -> None:
    """Print the monitor's every-attempt search (``*``) against reading the file through.

    The search reads the file as the worker does and looks for a needle in
    every row; the baseline only reads it. Best of ``rounds`` each.
    """
    from telemetry import LiveFile
    from telemetry.segments import Segment
    from tui.widgets.pane import SEARCH_BYTES, matching_days

    def run(needle: str | None) -> float:
        started = time.perf_counter()
        reader = LiveFile(path, catch_up_bytes=SEARCH_BYTES)
        while True:
            step = reader.read()
            if needle is not None:
                rows: list[Segment | tuple[date, list[str]]] = [*step.segments]
                rows += ((r.day, r.values) for r in step.records)
                for _ in matching_days(needle, rows):
                    pass
            if step.caught_up or step.error:
                return time.perf_counter() - started

    read = min(run(None) for _ in range(rounds))
    for needle in ("timeout", "no such text"):
        took = min(run(needle) for _ in range(rounds))
        print(f"  search every attempt for {needle!r}: {took:.2f} s ({took / read:.2f}x reading)")
    print(f"  reading the file through (baseline): {read:.2f} s")


def reopen_figures(path: Path, seed: float | None, rounds: int = 3) -> None:
    """``summary --json`` as a whole process: cold (``--no-cache``, against the
    seed's best ``load_state`` of ``seed`` seconds, if measured), the first run
    (it saves the state), a reopen, and a reopen after 10k appended rows."""
    import shutil

    from tests.bench.generate import rows_for

    def run(target: Path, *args: str, env: dict[str, str]) -> float:
        argv = [sys.executable, "-m", "tui.cli", "summary", str(target), "--json", *args]
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        return time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / path.name
        shutil.copyfile(path, target)
        env = dict(os.environ, BACKFILL_MONITOR_CACHE_DIR=str(Path(tmp) / "cache"))
        cold = min(run(target, "--no-cache", env=env) for _ in range(rounds))
        first = run(target, env=env)
        # The first run hands its save to a process of its own: reopen once it is done.
        deadline = time.monotonic() + 120
        while not any((Path(tmp) / "cache").glob("*.state")) and time.monotonic() < deadline:
            time.sleep(0.05)
        reopen = min(run(target, env=env) for _ in range(rounds))
        with open(target, "a", encoding="utf-8", newline="") as fh:
            import csv

            csv.writer(fh, lineterminator="\r\n").writerows(rows_for(10_000, 77))
        appended = min(run(target, env=env) for _ in range(rounds))
        size = sum(p.stat().st_size for p in (Path(tmp) / "cache").glob("*.state"))
    print(f"summary --json, whole process, {path.name}:")
    than_seed = f" ({seed / cold:.1f}x faster than the seed's load_state)" if seed else ""
    print(
        f"  cold (--no-cache): {cold:.2f} s{than_seed}; first run, saving its state: {first:.2f} s"
    )
    print(f"  reopened: {reopen:.2f} s ({reopen / cold:.2f}x cold)")
    print(f"  reopened after 10k appended rows: {appended:.2f} s ({appended / cold:.2f}x cold)")
    print(
        f"  saved state on disk: {size / 1e6:.0f} MB ({size / path.stat().st_size:.2f}x the file)"
    )


def main() -> None:
    from tests.bench.generate import generate

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--reopen-only", action="store_true", help="only the saved state's figures (--rows big)"
    )
    args = parser.parse_args()
    # Compiled modules, as an installed tool has them: a process that compiles
    # its imports at every start (PYTHONDONTWRITEBYTECODE, or a tree where
    # they cannot be written) pays tens of milliseconds that no user does.
    import compileall

    root = Path(__file__).resolve().parents[2]
    for package in ("telemetry", "tui", "tests"):
        compileall.compile_dir(root / package, quiet=1)
    if args.reopen_only:
        with tempfile.TemporaryDirectory() as tmp:
            reopen_figures(generate(Path(tmp) / "big.csv", args.rows), None)
        return
    with tempfile.TemporaryDirectory() as tmp:
        big = generate(Path(tmp) / "big.csv", args.rows)
        small = generate(Path(tmp) / "small.csv", 10_000)
        medium = generate(Path(tmp) / "medium.csv", 100_000)
        for path, rows in ((medium, 100_000), (big, args.rows)):
            print(f"cold load, {rows:,} rows ({os.path.getsize(path) / 1e6:.0f} MB):")
            seed = cold_load(path)
        lat_small = follow_latency(small)
        lat_big = follow_latency(big)
        print(
            f"append -> follow line, median: 10k rows {lat_small * 1000:.0f} ms,"
            f" {args.rows:,} rows {lat_big * 1000:.0f} ms ({lat_big / lat_small:.2f}x)"
        )
        print(f"burst ingest while following: {burst_ingest(small):,.0f} rows/s")
        metrics_figures(small, big, args.rows)
        reopen_figures(big, seed)
        long_record(Path(tmp))
        first_append_big_rows(Path(tmp))
        concurrent_big_rows(Path(tmp))
        catch_up_figures(big)
        print(f"every-attempt search (*), {args.rows:,} rows:")
        search_every_attempt(big)
        monitor_figures(big, args.rows)


if __name__ == "__main__":
    main()
