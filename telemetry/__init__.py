"""Telemetry of the historical UDL download orchestrator: format, writer, readers.

Standard library only: orchestrators embed this package. The public names
of the original module are all importable from here.
"""

from .fields import Malformed, Record, TelemetryFormatError, row_values
from .figures import DurationStats, FailureGroup, Progress, attempt_numbers, day_runs
from .latest import parse_instant, replaces
from .live import LiveFile, Step
from .liveness import Liveness, RowGaps
from .plan import ResumePlan, resume_plan
from .recorder import Attempt, record_attempt
from .records import RecordDecoder, cold_load
from .rules import phase_of
from .schema import (
    COLUMN,
    FINAL_STATUSES,
    LEGACY_SCHEMA,
    PENDING_STATUSES,
    PHASE_OF_STATUS,
    SCHEMA,
    STATUS_DOWNLOAD_PENDING,
    STATUS_DOWNLOADED,
    STATUS_FAILED,
    STATUS_PROCESS_PENDING,
    STATUS_PROCESSED,
    STATUS_SKIPPED_NO_DATA,
    STATUS_SKIPPED_NO_INPUT,
    STATUS_UPLOAD_PENDING,
    STATUS_UPLOADED,
    VALID_STATUSES,
    TelemetryRow,
    utcnow_iso,
)
from .state import BackfillState
from .store import HistoricalTelemetry, diagnose, upgrade_header
from .tail import TailUpdate, TelemetryTail
from .trend import DurationTrend, duration_trend

__all__ = [
    "COLUMN",
    "FINAL_STATUSES",
    "LEGACY_SCHEMA",
    "PENDING_STATUSES",
    "PHASE_OF_STATUS",
    "SCHEMA",
    "STATUS_DOWNLOADED",
    "STATUS_DOWNLOAD_PENDING",
    "STATUS_FAILED",
    "STATUS_PROCESSED",
    "STATUS_PROCESS_PENDING",
    "STATUS_SKIPPED_NO_DATA",
    "STATUS_SKIPPED_NO_INPUT",
    "STATUS_UPLOADED",
    "STATUS_UPLOAD_PENDING",
    "VALID_STATUSES",
    "Attempt",
    "BackfillState",
    "DurationStats",
    "DurationTrend",
    "FailureGroup",
    "HistoricalTelemetry",
    "LiveFile",
    "Liveness",
    "Malformed",
    "Progress",
    "Record",
    "RecordDecoder",
    "ResumePlan",
    "RowGaps",
    "Step",
    "TailUpdate",
    "TelemetryFormatError",
    "TelemetryRow",
    "TelemetryTail",
    "attempt_numbers",
    "cold_load",
    "day_runs",
    "diagnose",
    "duration_trend",
    "parse_instant",
    "phase_of",
    "record_attempt",
    "replaces",
    "resume_plan",
    "row_values",
    "upgrade_header",
    "utcnow_iso",
]
