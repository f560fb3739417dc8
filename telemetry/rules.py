"""The rules of the fold, one home each: which row says what about its day.

What opens an attempt, which outcome row reports which duration and which
volume: the row-by-row fold reads these tables, and the bulk folds read the
status flags derived from them, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

from .fields import CANONICAL_STATUS
from .schema import (
    COLUMN,
    PHASE_OF_STATUS,
    PHASES,
    STATUS_DOWNLOAD_PENDING,
    STATUS_DOWNLOADED,
    STATUS_FAILED,
    STATUS_PROCESSED,
    STATUS_SKIPPED_NO_DATA,
    STATUS_UPLOADED,
)

# A later run of rows opens a new attempt at the day only with one of these.
OPENS_ATTEMPT = frozenset(
    {STATUS_DOWNLOAD_PENDING, STATUS_DOWNLOADED, STATUS_SKIPPED_NO_DATA, STATUS_FAILED}
)

# Which column holds the duration of which phase, and which outcome row
# reports it (a later row of the same day repeats earlier columns; counting
# every row would count one download many times).
DURATION_OF_STATUS: dict[str, tuple[str, int]] = {
    STATUS_DOWNLOADED: ("download", COLUMN["download_seconds"]),
    STATUS_FAILED: ("download", COLUMN["download_seconds"]),
    STATUS_SKIPPED_NO_DATA: ("download", COLUMN["download_seconds"]),
    STATUS_PROCESSED: ("process", COLUMN["process_seconds"]),
    STATUS_UPLOADED: ("upload", COLUMN["upload_seconds"]),
}

# Which outcome row reports which volume: figure -> (that status, its column,
# whole numbers?). The one table both the row-by-row and the bulk measurement
# read (a later row of the day repeats the columns: only this row counts).
VOLUMES: dict[str, tuple[str, int, bool]] = {
    "csv_mb": (STATUS_DOWNLOADED, COLUMN["csv_size_mb"], False),
    "records_downloaded": (STATUS_DOWNLOADED, COLUMN["records_downloaded"], True),
    "cdf_mb": (STATUS_PROCESSED, COLUMN["cdf_size_mb"], False),
}
VOLUMES_OF_STATUS: dict[str, list[tuple[str, int, bool]]] = {}
for _figure, (_reporter, _column, _whole) in VOLUMES.items():
    VOLUMES_OF_STATUS.setdefault(_reporter, []).append((_figure, _column, _whole))

# What a row's status says, as flags: the phase whose duration the row
# reports, which volume it reports (one flag per figure of VOLUMES), whether
# it may open an attempt. Each status has a one-byte code; a batch's statuses
# become one bytes object of codes (one dict lookup per row) and each flag one
# C-level ``translate`` of it (a byte 1 or 0 per row).
FLAG_PHASE = {phase: k for k, phase in enumerate(PHASES)}
FLAG_VOLUME = {figure: len(PHASES) + k for k, figure in enumerate(VOLUMES)}
FLAG_OPENS = len(PHASES) + len(VOLUMES)
_STATUS_FLAGS: dict[str, tuple[bool, ...]] = {
    status: (
        *(
            status in DURATION_OF_STATUS and DURATION_OF_STATUS[status][0] == phase
            for phase in FLAG_PHASE
        ),
        *(status == reporter for reporter, _, _ in VOLUMES.values()),
        status in OPENS_ATTEMPT,
    )
    for status in CANONICAL_STATUS
}
_FLAGS = FLAG_OPENS + 1
_STATUS_CODE = {status: code for code, status in enumerate(_STATUS_FLAGS, 1)}  # 0: unknown
_FLAG_TABLES = [
    bytes(flags[k] for flags in [(False,) * _FLAGS, *_STATUS_FLAGS.values()]).ljust(256, b"\0")
    for k in range(_FLAGS)
]
# Each phase's duration column.
PHASE_COLUMN = {phase: col for phase, col in DURATION_OF_STATUS.values()}


def status_flags(statuses: list[str]) -> list[bytes]:
    """Per flag of :data:`_STATUS_FLAGS`, one byte per row: 1 where the row's status has it."""
    codes = bytes(map(_STATUS_CODE.get, statuses, repeat(0)))
    return [codes.translate(table) for table in _FLAG_TABLES]


_PHASE_TELLS = tuple(
    (COLUMN[name], phase)
    for name, phase in (
        ("upload_seconds", "upload"),
        ("process_seconds", "process"),
        ("download_seconds", "download"),
        ("cdf_path", "upload"),
        ("s3_key", "upload"),
        ("csv_path", "process"),
    )
)


def phase_of(values: Sequence[str]) -> str:
    """The phase a row (values in ``SCHEMA`` order) is in, or for ``FAILED`` failed in.

    The one rule of every view that names a phase, and of the resume plan.
    A status names its phase; a ``FAILED`` row tells it by its columns: the
    attempt recorder writes ``<phase>_seconds`` on every outcome and carries
    earlier phases' columns, so the last phase with a duration is the one
    that failed. Without durations, an output of a phase (``cdf_path`` or
    ``s3_key``, ``csv_path``) says that phase succeeded and the next one
    failed. Failing all that: ``"download"``, the safe answer (it redoes
    everything).
    """
    status = values[COLUMN["status"]]
    if status != STATUS_FAILED:
        return PHASE_OF_STATUS.get(status, "download")
    for col, phase in _PHASE_TELLS:
        if values[col]:
            return phase
    return "download"
