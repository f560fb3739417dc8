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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
kind, path = sys.argv[1], Path(sys.argv[2])
t = time.perf_counter()
if kind == "seed":
    from tests.seed_reference import seed_load_state
    n = len(seed_load_state(path))
elif kind == "load_state":
    from telemetry import HistoricalTelemetry
    n = len(HistoricalTelemetry(path).load_state())
else:
    from telemetry import BackfillState
    n = len(BackfillState.from_path(path).latest)
seconds = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_mb": rss, "days": n}))
"""


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


def cold_load(path: Path) -> None:
    """Print cold-load time and peak RSS of each reader against the seed's."""
    seed = _child("seed", path)
    print(f"  seed (DictReader + dataclass): {seed['seconds']:.2f} s, {seed['rss_mb']:.0f} MB")
    for kind in ("load_state", "from_path"):
        got = _child(kind, path)
        assert got["days"] == seed["days"]
        print(
            f"  {kind:>10}: {got['seconds']:.2f} s, {got['rss_mb']:.0f} MB  ->"
            f" {seed['seconds'] / got['seconds']:.1f}x faster,"
            f" RSS {got['rss_mb'] / seed['rss_mb']:.2f}x of seed"
        )


def follow_latency(path: Path, samples: int = 20) -> float:
    """Median seconds from append_row to the matching ``follow`` line."""
    from telemetry import HistoricalTelemetry

    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "follow", str(path), "--jsonl", "--changes-only"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    store = HistoricalTelemetry(path)
    try:
        time.sleep(2)
        # Let the cold load finish: a marker row must come through first.
        store.append_row({"chunk_date_utc": "2199-01-01", "status": "UPLOADED"})
        while "2199-01-01" not in proc.stdout.readline():
            pass
        waits = []
        for i in range(samples):
            day = f"2199-02-{1 + i:02d}"
            t = time.perf_counter()
            store.append_row({"chunk_date_utc": day, "status": "FAILED"})
            while day not in proc.stdout.readline():
                pass
            waits.append(time.perf_counter() - t)
            time.sleep(0.05)
        return statistics.median(waits)
    finally:
        proc.terminate()
        proc.wait(10)


def burst_ingest(path: Path) -> float:
    """Rows per second the tail + state take in when a burst lands at once."""
    from telemetry import BackfillState, TelemetryTail

    tail = TelemetryTail(path)
    state = BackfillState()
    t = time.perf_counter()
    while True:
        update = tail.read_new(max_bytes=8 << 20)
        state.apply(update.records, update.malformed)
        if tail.caught_up(update):
            break
    return state.rows / (time.perf_counter() - t)


def main() -> None:
    from tests.bench.generate import generate

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = generate(Path(tmp) / "big.csv", args.rows)
        small = generate(Path(tmp) / "small.csv", 10_000)
        print(f"cold load, {args.rows:,} rows ({os.path.getsize(big) / 1e6:.0f} MB):")
        cold_load(big)
        lat_small = follow_latency(small)
        lat_big = follow_latency(big)
        print(
            f"append -> follow line, median: 10k rows {lat_small * 1000:.0f} ms,"
            f" {args.rows:,} rows {lat_big * 1000:.0f} ms ({lat_big / lat_small:.2f}x)"
        )
        print(f"burst ingest: {burst_ingest(big):,.0f} rows/s")


if __name__ == "__main__":
    main()
