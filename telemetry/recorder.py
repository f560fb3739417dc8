"""Record one attempt at one phase of one day: a PENDING row, then its outcome.

An orchestrator wraps each phase of each day in :func:`record_attempt`::

    with record_attempt(store, day, "download", run_id=run) as dl:
        dl.records_downloaded = fetch(day, into=csv_path)
        dl.csv_path = csv_path
    with record_attempt(store, day, "process", run_id=run, carry=dl.row) as pr:
        pr.cdf_path = convert(dl.row.csv_path)

On entry the phase's ``*_PENDING`` row is written; on exit the outcome row
(``DOWNLOADED``/``PROCESSED``/``UPLOADED``, a skip status, or ``FAILED``).
Both rows share one ``started_at_utc``, so by the ``load_state`` rule the
outcome replaces the PENDING row, and a crash between the two leaves the
PENDING row behind, which is exactly what the resume plan calls stalled.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

from .schema import (
    PHASES,
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
    TelemetryRow,
    utcnow_iso,
)
from .store import HistoricalTelemetry, storable_text

#: phase -> (status written on entry, status written on success)
PHASE_STATUSES: dict[str, tuple[str, str]] = {
    "download": (STATUS_DOWNLOAD_PENDING, STATUS_DOWNLOADED),
    "process": (STATUS_PROCESS_PENDING, STATUS_PROCESSED),
    "upload": (STATUS_UPLOAD_PENDING, STATUS_UPLOADED),
}

SKIP_STATUSES: frozenset[str] = frozenset({STATUS_SKIPPED_NO_DATA, STATUS_SKIPPED_NO_INPUT})

# Columns the recorder owns: a caller cannot set them, and ``carry`` never
# copies them (they describe one attempt, not the day).
_MANAGED: frozenset[str] = frozenset(
    {"chunk_date_utc", "status", "started_at_utc", "finished_at_utc"}
)
_PER_ATTEMPT: frozenset[str] = frozenset(
    {"status", "started_at_utc", "finished_at_utc", "error_type", "error_message"}
)


class Attempt:
    """One attempt being recorded; returned by :func:`record_attempt`.

    Inside the ``with`` block, set any ``SCHEMA`` column as an attribute
    (``attempt.csv_path = ...``; values are written with ``str()``, ``None``
    as empty) or several with :meth:`update`. Call :meth:`skip` or
    :meth:`fail` to choose the outcome instead of success.

    After the block, ``status`` is the outcome status written, ``row`` the
    outcome row exactly as written (pass it as ``carry`` to the next phase)
    and ``seconds`` the attempt's duration.
    """

    # Declared for type checkers; the values live in ``_values``.
    run_id: Any
    window_start_utc: Any
    window_end_utc: Any
    records_downloaded: Any
    expected_records: Any
    availability_pct: Any
    download_seconds: Any
    csv_size_mb: Any
    csv_path: Any
    sensor_id: Any
    descriptor: Any
    output_format: Any
    error_type: Any
    error_message: Any
    process_seconds: Any
    cdf_size_mb: Any
    cdf_path: Any
    upload_seconds: Any
    s3_bucket: Any
    s3_key: Any

    def __init__(
        self, store: HistoricalTelemetry, day: date, phase: str, values: dict[str, Any]
    ) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_t0", 0.0)
        self.day = day
        self.phase = phase
        object.__setattr__(self, "started_at_utc", "")
        object.__setattr__(self, "status", PHASE_STATUSES[phase][0])
        self.seconds: float | None = None
        self.row: TelemetryRow | None = None
        self._outcome: str | None = None

    # -- columns as attributes ---------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not set on the instance: the columns.
        values = self.__dict__.get("_values")
        if values is not None and name in SCHEMA:
            return values.get(name, "")
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SCHEMA and name not in _MANAGED:
            self._values[name] = value
        elif name in _MANAGED:
            raise AttributeError(f"{name} is set by the recorder")
        else:
            object.__setattr__(self, name, value)

    def update(self, **columns: Any) -> None:
        """Set several columns at once; unknown or recorder-owned columns raise ``ValueError``."""
        for name, value in columns.items():
            if name not in SCHEMA or name in _MANAGED:
                raise ValueError(f"cannot set telemetry column {name!r}")
            self._values[name] = value

    # -- choosing the outcome ------------------------------------------------------

    def skip(self, status: str | None = None) -> None:
        """End the attempt as skipped instead of done.

        ``status`` is ``SKIPPED_NO_DATA`` or ``SKIPPED_NO_INPUT``; by default
        ``SKIPPED_NO_DATA`` for the download phase and ``SKIPPED_NO_INPUT``
        for the others. A skipped day is done: the resume plan never retries it.
        """
        if status is None:
            status = STATUS_SKIPPED_NO_DATA if self.phase == "download" else STATUS_SKIPPED_NO_INPUT
        if status not in SKIP_STATUSES:
            raise ValueError(f"{status!r} is not a skip status")
        self._outcome = status

    def fail(self, error_type: str, error_message: str = "") -> None:
        """End the attempt as ``FAILED`` without raising (an error the caller handled)."""
        self._outcome = STATUS_FAILED
        self._values["error_type"] = error_type
        self._values["error_message"] = error_message

    # -- the context manager ---------------------------------------------------------

    def __enter__(self) -> Attempt:
        if self.started_at_utc:
            raise RuntimeError("an Attempt records one attempt; call record_attempt again")
        object.__setattr__(self, "started_at_utc", utcnow_iso())
        self._write(PHASE_STATUSES[self.phase][0], pending=True)
        object.__setattr__(self, "_t0", time.monotonic())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.seconds = time.monotonic() - self._t0
        seconds_col = f"{self.phase}_seconds"
        if self._values.get(seconds_col) in (None, ""):
            self._values[seconds_col] = f"{self.seconds:.3f}"
        self._values["finished_at_utc"] = utcnow_iso()
        if exc is not None:
            # Any exception, KeyboardInterrupt and SystemExit included: the
            # attempt is over, and a FAILED row lets the next run retry it at
            # once instead of waiting for a PENDING row to go stale.
            self._values["error_type"] = type(exc).__name__
            self._values["error_message"] = "".join(
                traceback.format_exception(exc_type, exc, tb)
            ).rstrip("\n")
            status = STATUS_FAILED
        else:
            status = self._outcome or PHASE_STATUSES[self.phase][1]
        self._write(status, pending=False)
        # Returning None re-raises the exception, if any.

    def _write(self, status: str, *, pending: bool) -> None:
        row = dict(self._values)
        if pending:
            row.pop("finished_at_utc", None)
        row["chunk_date_utc"] = self.day.isoformat()
        row["status"] = status
        row["started_at_utc"] = self.started_at_utc
        # Text a file cannot hold (a NUL, a lone surrogate from an undecodable
        # path in an OSError) is stored escaped: the row is always written.
        written = TelemetryRow.from_dict(
            {k: "" if v is None else storable_text(str(v)) for k, v in row.items() if k in SCHEMA}
        )
        self._store.append_row(written)
        object.__setattr__(self, "status", status)
        self.row = written


def record_attempt(
    store: HistoricalTelemetry | Path | str,
    day: date | str,
    phase: str,
    *,
    run_id: str = "",
    carry: TelemetryRow | Mapping[str, Any] | None = None,
    **columns: Any,
) -> Attempt:
    """Return a context manager that records one attempt at ``phase`` of ``day``.

    * On entry the ``*_PENDING`` row of ``phase`` (``"download"``,
      ``"process"`` or ``"upload"``) is appended, with ``started_at_utc`` now.
      If that append raises, the block does not run.
    * On a normal exit the outcome row is appended: ``DOWNLOADED``,
      ``PROCESSED`` or ``UPLOADED``, or what :meth:`Attempt.skip` /
      :meth:`Attempt.fail` chose, with ``finished_at_utc`` and
      ``<phase>_seconds`` (unless the block set it).
    * When the block raises *anything* (``KeyboardInterrupt`` and
      ``SystemExit`` too), a ``FAILED`` row is appended with ``error_type``
      the exception's class name and ``error_message`` its formatted
      traceback, and the exception propagates unchanged. If that append
      itself fails, its ``OSError`` propagates, chained to the original.
    * Every value is written with ``str()``; text a telemetry file cannot
      hold (a NUL, a lone surrogate) is stored escaped (``\\x00``,
      ``\\udcff``), so the outcome row is written whatever the exception
      says, and ``Attempt.row`` holds the escaped text.

    Both rows share ``started_at_utc``. ``columns`` (any ``SCHEMA`` column but
    ``chunk_date_utc``, ``status`` and ``started_at_utc``) go into both rows.
    ``carry`` is the day's previous row (e.g. the last phase's ``Attempt.row``,
    or ``load_state()[day]`` on resume): its values are repeated in both rows
    so the day's latest row always holds the paths and sizes of earlier
    phases; its status, timestamps and error columns are not carried.
    """
    if phase not in PHASE_STATUSES:
        raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
    if not isinstance(store, HistoricalTelemetry):
        store = HistoricalTelemetry(store)
    if isinstance(day, str):
        day = date.fromisoformat(day)
    values: dict[str, Any] = {}
    if carry is not None:
        carried = carry.to_dict() if isinstance(carry, TelemetryRow) else dict(carry)
        values.update(
            (k, v)
            for k, v in carried.items()
            if k in SCHEMA
            and k not in _PER_ATTEMPT
            and k != "chunk_date_utc"
            and k != f"{phase}_seconds"
            and v not in (None, "")
        )
    if run_id:
        values["run_id"] = run_id
    for name in columns:
        if name not in SCHEMA or name in _MANAGED:
            raise ValueError(f"cannot set telemetry column {name!r}")
    values.update(columns)
    return Attempt(store, day, phase, values)
