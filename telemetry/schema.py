"""The telemetry file format: column order, status values and the row type.

This module is the contract shared with every orchestrator already running:
files they wrote must read the same here, and files written here must read
the same there. Change nothing in ``SCHEMA`` except by appending columns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any

# Column order is the source of truth for the CSV header. New columns are
# only ever appended: older files (whose header stops after
# ``finished_at_utc``) stay readable and are upgraded, never re-ordered.
SCHEMA: tuple[str, ...] = (
    "run_id",
    "chunk_date_utc",
    "window_start_utc",
    "window_end_utc",
    "status",
    # Download columns
    "records_downloaded",
    "expected_records",
    "availability_pct",
    "download_seconds",
    "csv_size_mb",
    "csv_path",
    "sensor_id",
    "descriptor",
    "output_format",
    "error_type",
    "error_message",
    "started_at_utc",
    "finished_at_utc",
    # Processing columns
    "process_seconds",
    "cdf_size_mb",
    "cdf_path",
    # Upload columns
    "upload_seconds",
    "s3_bucket",
    "s3_key",
)

#: Where each column is in a row's values (``SCHEMA`` order): the one map every
#: reader and view uses.
COLUMN: dict[str, int] = {name: i for i, name in enumerate(SCHEMA)}

#: The header of files written before the processing and upload columns
#: existed. Such files are upgraded in place by the writer.
LEGACY_SCHEMA: tuple[str, ...] = SCHEMA[: COLUMN["finished_at_utc"] + 1]

#: The phases of a day, in the order a day goes through them.
PHASES: tuple[str, ...] = ("download", "process", "upload")

# Status values of the download phase.
STATUS_DOWNLOAD_PENDING = "DOWNLOAD_PENDING"
STATUS_DOWNLOADED = "DOWNLOADED"
STATUS_SKIPPED_NO_DATA = "SKIPPED_NO_DATA"
STATUS_FAILED = "FAILED"
# Status values of the process and upload phases.
STATUS_PROCESS_PENDING = "PROCESS_PENDING"
STATUS_PROCESSED = "PROCESSED"
STATUS_UPLOAD_PENDING = "UPLOAD_PENDING"
STATUS_UPLOADED = "UPLOADED"
STATUS_SKIPPED_NO_INPUT = "SKIPPED_NO_INPUT"

VALID_STATUSES: frozenset[str] = frozenset(
    {
        STATUS_DOWNLOAD_PENDING,
        STATUS_DOWNLOADED,
        STATUS_SKIPPED_NO_DATA,
        STATUS_FAILED,
        STATUS_PROCESS_PENDING,
        STATUS_PROCESSED,
        STATUS_UPLOAD_PENDING,
        STATUS_UPLOADED,
        STATUS_SKIPPED_NO_INPUT,
    }
)

#: Statuses that say an attempt is still in flight: no outcome yet.
PENDING_STATUSES: frozenset[str] = frozenset(
    {STATUS_DOWNLOAD_PENDING, STATUS_PROCESS_PENDING, STATUS_UPLOAD_PENDING}
)

#: Statuses after which nothing more is expected for the day.
FINAL_STATUSES: frozenset[str] = frozenset(
    {STATUS_UPLOADED, STATUS_SKIPPED_NO_DATA, STATUS_SKIPPED_NO_INPUT}
)

#: Which phase each status belongs to.
PHASE_OF_STATUS: dict[str, str] = {
    STATUS_DOWNLOAD_PENDING: "download",
    STATUS_DOWNLOADED: "download",
    STATUS_SKIPPED_NO_DATA: "download",
    STATUS_FAILED: "download",
    STATUS_PROCESS_PENDING: "process",
    STATUS_PROCESSED: "process",
    STATUS_SKIPPED_NO_INPUT: "process",
    STATUS_UPLOAD_PENDING: "upload",
    STATUS_UPLOADED: "upload",
}


@dataclass
class TelemetryRow:
    """One attempt, as one row of the telemetry CSV.

    Every field is a string and defaults to ``""``, so a caller fills only the
    columns that mean something for the status it records (a ``*_PENDING``
    row has no ``finished_at_utc`` yet, a skipped day has no ``csv_path``).
    Field order is ``SCHEMA`` order.
    """

    run_id: str = ""
    chunk_date_utc: str = ""
    window_start_utc: str = ""
    window_end_utc: str = ""
    status: str = ""
    # Download columns
    records_downloaded: str = ""
    expected_records: str = ""
    availability_pct: str = ""
    download_seconds: str = ""
    csv_size_mb: str = ""
    csv_path: str = ""
    sensor_id: str = ""
    descriptor: str = ""
    output_format: str = ""
    error_type: str = ""
    error_message: str = ""
    started_at_utc: str = ""
    finished_at_utc: str = ""
    # Processing columns
    process_seconds: str = ""
    cdf_size_mb: str = ""
    cdf_path: str = ""
    # Upload columns
    upload_seconds: str = ""
    s3_bucket: str = ""
    s3_key: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return ``{column: str}`` in ``SCHEMA`` order; ``None`` becomes ``""``."""
        return {name: _text(getattr(self, name)) for name in SCHEMA}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TelemetryRow:
        """Build a row from a ``{column: value}`` mapping, ignoring unknown columns."""
        return cls(**{k: v for k, v in raw.items() if k in _FIELD_NAMES})


_FIELD_NAMES: frozenset[str] = frozenset(f.name for f in fields(TelemetryRow))
assert tuple(f.name for f in fields(TelemetryRow)) == SCHEMA, "TelemetryRow drifted from SCHEMA"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def utcnow_iso() -> str:
    """Return the current UTC time as ISO-8601 text with microseconds.

    The format is always ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` (microseconds are
    written even when they are zero), so values sort lexicographically in time
    order and parse with :meth:`datetime.datetime.fromisoformat`.
    """
    return datetime.now(tz=timezone.utc).isoformat(timespec="microseconds")
