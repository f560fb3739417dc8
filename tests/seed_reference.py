"""The original module's reading and writing, restated as a test oracle.

This is how orchestrators read and write telemetry today (``csv.DictWriter``
and ``csv.DictReader`` plus one dataclass per row). Tests check that files
written by either side read the same on the other, and the benchmarks use it
as the baseline.
"""

from __future__ import annotations

import csv
from dataclasses import fields
from datetime import date
from pathlib import Path

from telemetry.schema import SCHEMA, TelemetryRow


def seed_append_row(path: Path, data: dict[str, str]) -> None:
    """Append like the original ``append_row`` (no lock, header by size check)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_header = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=SCHEMA)
        if write_header:
            writer.writeheader()
        writer.writerow({col: data.get(col, "") for col in SCHEMA})


def seed_from_dict(raw: dict[str, str]) -> TelemetryRow:
    """The original ``TelemetryRow.from_dict``, line for line (field names per call)."""
    known = {f.name for f in fields(TelemetryRow)}
    return TelemetryRow(**{k: v for k, v in raw.items() if k in known})


def seed_load_state(path: Path) -> dict[date, TelemetryRow]:
    """The original ``load_state``: latest ``started_at_utc`` per day, ties to later rows."""
    if not path.exists():
        return {}
    latest: dict[date, TelemetryRow] = {}
    latest_started: dict[date, str] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            row = seed_from_dict(raw)
            try:
                day = date.fromisoformat(row.chunk_date_utc)
            except ValueError:
                continue
            started = row.started_at_utc
            if day not in latest or started >= latest_started.get(day, ""):
                latest[day] = row
                latest_started[day] = started
    return latest


def seed_iter_rows(path: Path) -> list[TelemetryRow]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [seed_from_dict(raw) for raw in csv.DictReader(fh)]
