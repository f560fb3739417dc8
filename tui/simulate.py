"""A simulated orchestrator for the demo: real rows through the real writer."""

from __future__ import annotations

import random
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from telemetry import HistoricalTelemetry, utcnow_iso

_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "orchestrator.py", line 212, in download_day\n'
    "    resp.raise_for_status()\n"
    "{exc}"
)


def simulate(
    path: Path,
    stop: threading.Event,
    *,
    speed: float = 1.0,
    seed: int = 0,
    start: date = date(2019, 1, 1),
    days: int = 3 * 365,
) -> None:
    """Backfill ``days`` days from ``start`` into ``path`` until done or ``stop`` is set.

    Uses :class:`HistoricalTelemetry`: HTTP 503s and timeouts with multi-line
    tracebacks and retries, skipped days, partial availability, the process and
    upload phases, and one day left stalled in UPLOAD_PENDING.
    """
    rng = random.Random(seed)
    store = HistoricalTelemetry(path)
    pause = 0.01 / max(speed, 0.01)
    stall_day = start + timedelta(days=40)
    for n in range(days):
        if stop.is_set():
            return
        day = start + timedelta(days=n)
        base = {
            "run_id": f"demo-{seed}",
            "chunk_date_utc": day.isoformat(),
            "window_start_utc": f"{day}T00:00:00+00:00",
            "window_end_utc": f"{day + timedelta(days=1)}T00:00:00+00:00",
            "sensor_id": "SENSOR-7",
            "descriptor": "EOObservation",
            "output_format": "cdf",
        }
        for attempt in range(3):
            started = utcnow_iso()
            store.append_row({**base, "status": "DOWNLOAD_PENDING", "started_at_utc": started})
            time.sleep(pause)
            roll = rng.random()
            if roll < 0.08 and attempt < 2:
                exc = rng.choice(
                    [
                        "HTTPError: 503 Server Error: Service Unavailable",
                        "ReadTimeout: Read timed out. (read timeout=120)",
                    ]
                )
                store.append_row(
                    {
                        **base,
                        "status": "FAILED",
                        "started_at_utc": started,
                        "finished_at_utc": utcnow_iso(),
                        "error_type": exc.split(":")[0],
                        "error_message": _TRACE.format(exc=exc),
                        "download_seconds": f"{rng.uniform(1, 120):.2f}",
                    }
                )
                continue
            break
        else:
            continue
        if rng.random() < 0.04:
            store.append_row(
                {
                    **base,
                    "status": "SKIPPED_NO_DATA",
                    "started_at_utc": started,
                    "finished_at_utc": utcnow_iso(),
                    "records_downloaded": "0",
                }
            )
            continue
        expected = rng.randint(20_000, 90_000)
        got = expected if rng.random() < 0.85 else int(expected * rng.uniform(0.3, 1))
        done = {
            **base,
            "started_at_utc": started,
            "records_downloaded": got,
            "expected_records": expected,
            "availability_pct": f"{100 * got / expected:.1f}",
            "download_seconds": f"{rng.lognormvariate(2.5, 0.5):.2f}",
            "csv_size_mb": f"{got * 0.0002:.2f}",
            "csv_path": f"/data/csv/{day:%Y/%m}/eo_{day:%Y%m%d}.csv",
        }
        store.append_row({**done, "status": "DOWNLOADED", "finished_at_utc": utcnow_iso()})
        store.append_row({**done, "status": "PROCESS_PENDING"})
        time.sleep(pause)
        done.update(
            process_seconds=f"{rng.uniform(1, 9):.2f}",
            cdf_size_mb=f"{got * 8e-5:.2f}",
            cdf_path=f"/data/cdf/{day:%Y/%m}/eo_{day:%Y%m%d}.cdf",
        )
        store.append_row({**done, "status": "PROCESSED", "finished_at_utc": utcnow_iso()})
        store.append_row({**done, "status": "UPLOAD_PENDING"})
        if day == stall_day:
            continue  # the stall: no outcome ever arrives
        time.sleep(pause)
        store.append_row(
            {
                **done,
                "status": "UPLOADED",
                "finished_at_utc": utcnow_iso(),
                "upload_seconds": f"{rng.uniform(0.2, 3):.2f}",
                "s3_bucket": "udl-archive",
                "s3_key": f"eo/{day:%Y/%m}/eo_{day:%Y%m%d}.cdf",
            }
        )
