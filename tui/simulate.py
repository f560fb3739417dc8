"""A simulated orchestrator for the demo: real rows through the real writer.

It is written the way an orchestrator would use this package: each phase
of each day inside :func:`telemetry.record_attempt`, errors raised as
exceptions (so their tracebacks land in the telemetry), retries of failed
downloads, and the day's previous row carried into the next phase.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from telemetry import Attempt, HistoricalTelemetry, TelemetryRow, record_attempt, utcnow_iso

MAX_ATTEMPTS = 3
#: A run of days the simulated UDL never serves: they end FAILED.
OUTAGE_DAYS = range(100, 104)
#: The range the demo backfills: three years of days, 2019 to 2021 inclusive.
DEMO_START = date(2019, 1, 1)
DEMO_END = date(2021, 12, 31)
DEMO_DAYS = (DEMO_END - DEMO_START).days + 1
#: The day whose upload worker dies: its UPLOAD_PENDING row gets no outcome.
STALL_DAY = 40


class HTTPError(Exception):
    """What the simulated UDL client raises for a 5xx answer."""


class ReadTimeout(Exception):
    """What the simulated UDL client raises when the server goes quiet."""


class ConversionError(Exception):
    """What the simulated CSV-to-CDF step raises for a bad input file."""


class _Udl:
    """The simulated data source: latency, outages and flaky answers."""

    def __init__(self, rng: random.Random, pause: float) -> None:
        self.rng = rng
        self.pause = pause

    def download(self, n: int, day: date) -> tuple[int, int]:
        """Return (records received, records expected) for day number ``n``."""
        time.sleep(self.pause)
        roll = self.rng.random()
        if n in OUTAGE_DAYS or roll < 0.04:
            self._raise_for_status(503, "Service Unavailable")
        if roll < 0.08:
            raise ReadTimeout(f"HTTPSConnectionPool(host='unifieddatalibrary.com'): {day}")
        if roll < 0.12:
            return 0, 0  # no observations that day
        expected = self.rng.randint(20_000, 90_000)
        if self.rng.random() < 0.85:
            return expected, expected
        return int(expected * self.rng.uniform(0.3, 0.99)), expected

    def _raise_for_status(self, code: int, reason: str) -> None:
        raise HTTPError(f"{code} Server Error: {reason} for url: /udl/eoobservation")


def simulate(
    path: Path,
    stop: threading.Event,
    *,
    speed: float = 1.0,
    seed: int = 0,
    start: date = DEMO_START,
    days: int = DEMO_DAYS,
) -> None:
    """Backfill ``days`` days from ``start`` into ``path`` until done or ``stop`` is set.

    Every row goes through :func:`telemetry.record_attempt` and so through
    :class:`telemetry.HistoricalTelemetry`: HTTP 503s (and a few days of
    outage that end FAILED) and read timeouts with multi-line tracebacks,
    retries, skipped days, partial availability, occasional processing
    failures, the process and upload phases, and one day (``STALL_DAY``)
    left stalled in UPLOAD_PENDING as a killed upload worker leaves it.
    """
    rng = random.Random(seed)
    store = HistoricalTelemetry(path)
    pause = 0.01 / max(speed, 0.01)
    udl = _Udl(rng, pause)
    run_id = f"demo-{seed}"
    for n in range(days):
        if stop.is_set():
            return
        day = start + timedelta(days=n)
        common: dict[str, Any] = {
            "window_start_utc": f"{day}T00:00:00+00:00",
            "window_end_utc": f"{day + timedelta(days=1)}T00:00:00+00:00",
            "sensor_id": "SENSOR-7",
            "descriptor": "EOObservation",
            "output_format": "cdf",
        }
        dl = None
        for _ in range(MAX_ATTEMPTS):
            try:
                with record_attempt(store, day, "download", run_id=run_id, **common) as dl:
                    got, expected = udl.download(n, day)
                    dl.update(records_downloaded=got, expected_records=expected)
                    if not got:
                        dl.skip()
                        break
                    dl.update(
                        availability_pct=f"{100 * got / expected:.1f}",
                        csv_size_mb=f"{got * 0.0002:.2f}",
                        csv_path=f"/data/csv/{day:%Y/%m}/eo_{day:%Y%m%d}.csv",
                    )
                break
            except (HTTPError, ReadTimeout):
                continue  # recorded as FAILED; try again
        if dl is None or dl.status != "DOWNLOADED" or dl.row is None:
            continue  # skipped, or failed every attempt
        downloaded: TelemetryRow = dl.row
        try:
            with record_attempt(store, day, "process", carry=downloaded) as pr:
                time.sleep(pause)
                if rng.random() < 0.01:
                    raise ConversionError(f"epoch out of range in {downloaded.csv_path}")
                pr.update(
                    cdf_size_mb=f"{int(downloaded.records_downloaded) * 8e-5:.2f}",
                    cdf_path=f"/data/cdf/{day:%Y/%m}/eo_{day:%Y%m%d}.cdf",
                )
        except ConversionError:
            continue  # recorded as FAILED in the process phase
        if n == STALL_DAY:
            _stall(store, pr)
            continue
        with record_attempt(store, day, "upload", carry=pr.row) as up:
            time.sleep(pause)
            up.update(s3_bucket="udl-archive", s3_key=f"eo/{day:%Y/%m}/eo_{day:%Y%m%d}.cdf")


def _stall(store: HistoricalTelemetry, processed: Attempt) -> None:
    """Write what an upload worker killed mid-upload leaves: UPLOAD_PENDING, no outcome.

    The recorder always writes an outcome, so a stall only happens when the
    process dies. The day shows as stalled once the row is older than the
    monitor's ``stale_after``.
    """
    assert processed.row is not None
    row = processed.row.to_dict()
    row.update(status="UPLOAD_PENDING", started_at_utc=utcnow_iso(), finished_at_utc="")
    store.append_row(row)
