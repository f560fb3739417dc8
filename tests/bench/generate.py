"""Generate realistic backfill telemetry files for the benchmarks.

A day goes DOWNLOAD_PENDING -> FAILED (with a multi-line stack trace, and a
retry) or DOWNLOADED / SKIPPED_NO_DATA -> PROCESS_PENDING -> PROCESSED ->
UPLOAD_PENDING -> UPLOADED, about 6.3 rows per day, so 1M rows cover about
160k days. Rows are written with ``csv.writer`` in one go (the writer's fsync
per row would make a million-row file take minutes) in exactly the format
``append_row`` produces.

    python -m tests.bench.generate OUT.csv ROWS [SEED]
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from telemetry.schema import SCHEMA

_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/opt/udl/orchestrator.py", line {n}, in download_day\n'
    "    resp = session.get(url, params=params, timeout=120)\n"
    '  File "/usr/lib/python3.11/site-packages/requests/sessions.py", line 602, in get\n'
    '    return self.request("GET", url, **kwargs)\n'
    "{exc}: {msg}"
)
_ERRORS = [
    ("HTTPError", "requests.exceptions.HTTPError", "503 Server Error: Service Unavailable"),
    ("Timeout", "requests.exceptions.ReadTimeout", "Read timed out. (read timeout=120)"),
    ("ValueError", "ValueError", 'unexpected field "obTime", value "2020-01-01T00:00:00, Z"'),
]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def rows_for(n_rows: int, seed: int = 0, start: date = date(2000, 1, 1)):
    """Yield ``n_rows`` rows (lists in SCHEMA order) of a plausible backfill."""
    rng = random.Random(seed)
    clock = datetime(2026, 1, 1, tzinfo=timezone.utc)
    day = start
    produced = 0
    run_id = "run-0001"
    while True:
        tries = 1 + (rng.random() < 0.08) + (rng.random() < 0.02)
        for attempt in range(tries):
            last = attempt == tries - 1
            clock += timedelta(seconds=rng.uniform(0.5, 3))
            started = _iso(clock)
            base = [""] * len(SCHEMA)
            base[0] = run_id
            base[1] = day.isoformat()
            base[2] = f"{day.isoformat()}T00:00:00+00:00"
            base[3] = f"{(day + timedelta(days=1)).isoformat()}T00:00:00+00:00"
            base[11] = "SENSOR-7"
            base[12] = "EOObservation"
            base[13] = "cdf"
            base[16] = started
            steps: list[list[str]] = []
            pending = base.copy()
            pending[4] = "DOWNLOAD_PENDING"
            steps.append(pending)
            dl = rng.lognormvariate(2.5, 0.6)
            if not last or rng.random() < 0.03:
                err_type, exc, msg = rng.choice(_ERRORS)
                failed = base.copy()
                failed[4] = "FAILED"
                failed[8] = f"{dl:.3f}"
                failed[14] = err_type
                failed[15] = _TRACE.format(n=rng.randint(100, 900), exc=exc, msg=msg)
                failed[17] = _iso(clock + timedelta(seconds=dl))
                steps.append(failed)
            elif rng.random() < 0.04:
                skipped = base.copy()
                skipped[4] = "SKIPPED_NO_DATA"
                skipped[5] = "0"
                skipped[8] = f"{dl:.3f}"
                skipped[17] = _iso(clock + timedelta(seconds=dl))
                steps.append(skipped)
            else:
                expected = rng.randint(20_000, 90_000)
                got = expected if rng.random() < 0.85 else int(expected * rng.uniform(0.3, 1))
                done = base.copy()
                done[4] = "DOWNLOADED"
                done[5] = str(got)
                done[6] = str(expected)
                done[7] = f"{100 * got / expected:.2f}"
                done[8] = f"{dl:.3f}"
                done[9] = f"{got * 0.00021:.3f}"
                done[10] = f"/data/udl/csv/{day:%Y/%m}/eoobs_{day:%Y%m%d}.csv"
                done[17] = _iso(clock + timedelta(seconds=dl))
                steps.append(done)
                proc = rng.lognormvariate(1.5, 0.4)
                for status, extra in (
                    ("PROCESS_PENDING", {}),
                    (
                        "PROCESSED",
                        {
                            18: f"{proc:.3f}",
                            19: f"{got * 0.00008:.3f}",
                            20: f"/data/udl/cdf/{day:%Y/%m}/eoobs_{day:%Y%m%d}.cdf",
                        },
                    ),
                    ("UPLOAD_PENDING", {}),
                    (
                        "UPLOADED",
                        {
                            21: f"{rng.uniform(0.2, 2):.3f}",
                            22: "udl-archive",
                            23: f"eoobs/{day:%Y/%m}/eoobs_{day:%Y%m%d}.cdf",
                        },
                    ),
                ):
                    row = done.copy()
                    row[4] = status
                    for col, value in extra.items():
                        row[col] = value
                    steps.append(row)
            for row in steps:
                yield row
                produced += 1
                if produced >= n_rows:
                    return
        day += timedelta(days=1)


def generate(path: Path | str, n_rows: int, seed: int = 0) -> Path:
    """Write a telemetry file of ``n_rows`` rows to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(SCHEMA)
        writer.writerows(rows_for(n_rows, seed))
    return path


if __name__ == "__main__":
    generate(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
