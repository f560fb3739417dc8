"""A plain reference of the engine's rules, written to be read, not to be fast.

Framing walks each record character by character (RFC 4180, as strict as the
documented rules), fields come from :mod:`csv`, then the documented checks;
the fold keeps dicts of everything. ``tests/test_reference.py`` holds every
fast path of ``telemetry`` equal to it on generated files, hostile ones too.
Nothing here imports the engine's decoder or fold: only the format
(``SCHEMA``, the status sets) is shared.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from telemetry.schema import FINAL_STATUSES, PENDING_STATUSES, SCHEMA, VALID_STATUSES

WIDTH = len(SCHEMA)
COL = {name: i for i, name in enumerate(SCHEMA)}
STATUS_TEXTS = VALID_STATUSES | {""}
TORN_MARK_WIDTH = WIDTH  # the writer closes a torn record with this many empty fields

RECORD, PREFIX, BAD = "record", "prefix", "bad"
STRAY_QUOTE = "unclosed quote (a torn or hand-edited row): its field would run over the next row"


@dataclass
class Row:
    offset: int
    line: int
    values: list[str]
    day: date | None  # None: a row whose chunk_date_utc does not parse


@dataclass
class Decoded:
    rows: list[Row] = field(default_factory=list)  # every row, undated ones too
    malformed: list[tuple[int, int, str]] = field(default_factory=list)  # offset, line, reason


def scan(buf: bytes, start: int, eof: bool = False) -> tuple[str, int]:
    """Walk one record from ``start``: ``(RECORD, end)``, ``(PREFIX, -1)`` or ``(BAD, -1)``.

    RECORD: well-formed, ending after its ``\\n``. PREFIX: what there is, up to
    the end of ``buf``, is the start of a well-formed record. BAD: a quote
    not at the start of a field, a closing quote followed by anything but a
    comma or the line end, or a CR outside quotes that does not end the line.
    With ``eof`` the end of ``buf`` is the end of the file: a CR there ends
    the line.
    """
    i, n = start, len(buf)
    field_start, in_quotes, closed = True, False, False
    while i < n:
        c = buf[i : i + 1]
        if in_quotes:
            if c == b'"':
                if i + 1 == n:
                    return PREFIX, -1  # a closing quote, or half of an escaped one
                if buf[i + 1 : i + 2] == b'"':
                    i += 2
                    continue
                in_quotes, closed = False, True
            i += 1
            continue
        if c == b'"':
            if not field_start:
                return BAD, -1
            in_quotes, field_start = True, False
        elif c == b",":
            field_start, closed = True, False
        elif c == b"\n":
            return RECORD, i + 1
        elif c == b"\r":
            if i + 1 == n:
                return (RECORD, n) if eof else (PREFIX, -1)
            return (RECORD, i + 2) if buf[i + 1 : i + 2] == b"\n" else (BAD, -1)
        elif closed:
            return BAD, -1
        else:
            field_start = False
        i += 1
    return PREFIX, -1


def fields_of(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text, newline=""), strict=True))


def may_start_row(
    buf: bytes, at: int, width: int, status_at: int, date_at: int, older: bool = False
) -> bool | None:
    """Whether the line at ``at`` alone starts a row (see the README's stray-quote rule)."""
    end = buf.find(b"\n", at)
    if end < 0:
        return None
    line = buf[at : end + 1]
    cells = line.rstrip(b"\r\n").split(b",")
    if len(cells) <= status_at + 1 or any(b'"' in cell for cell in cells[: status_at + 1]):
        return False
    if cells[status_at].decode("latin-1") not in VALID_STATUSES:
        return False  # an empty status does not make a row start
    if date_at < status_at:
        try:
            date.fromisoformat(cells[date_at].decode("latin-1"))
        except ValueError:
            return False
    kind, _ = scan(line, 0)
    if kind == BAD or b"\x00" in line:
        return False
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # Under an older header (a prefix of SCHEMA) a row of every column is a row too.
    widths = {width, WIDTH} if older else {width}
    if kind == RECORD:
        return len(fields_of(text.removesuffix("\n").removesuffix("\r"))) in widths
    count = len(fields_of(text + '"'))  # the open field closed, to count the fields
    return status_at < count - 1 <= max(widths) - 1


def bare_crs_before_rows(data: bytes, header: list[str]) -> bytes:
    """Each CR not followed by LF that is followed by the start of a row, as an LF.

    A row start: plain cells (no quote) up to a valid (non-empty) status,
    the status followed by a comma, a line end or the end of the file, and a
    day that parses when it comes before the status.
    """
    status_at, date_at = header.index("status"), header.index("chunk_date_utc")
    out = bytearray(data)
    for i in range(len(data) - 1):
        if data[i : i + 1] != b"\r" or data[i + 1 : i + 2] == b"\n":
            continue
        line = data[i + 1 :]
        ends = [e for e in (line.find(b"\r"), line.find(b"\n")) if e >= 0]
        line = line[: min(ends)] if ends else line
        cells = line.split(b",")
        if len(cells) <= status_at:
            continue
        if any(b'"' in c for c in cells[: status_at + 1]):
            continue
        if cells[status_at].decode("latin-1") not in VALID_STATUSES:
            continue
        if date_at < status_at:
            try:
                date.fromisoformat(cells[date_at].decode("latin-1"))
            except ValueError:
                continue
        out[i] = 0x0A
    return bytes(out)


def decode(data: bytes) -> tuple[list[str] | None, Decoded]:
    """Decode a whole file: its header and its rows and malformed reports."""
    out = Decoded()
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    lead = start  # blank lines at the start do not tell the line ends
    while data[lead : lead + 1] == b"\n" or data[lead : lead + 2] == b"\r\n":
        lead += 1 if data[lead : lead + 1] == b"\n" else 2
    first_cr, first_lf = data.find(b"\r", lead), data.find(b"\n", lead)
    if (
        first_cr >= 0
        and (first_lf < 0 or first_cr < first_lf)
        and data[first_cr + 1 :][:1]
        not in (
            b"\n",
            b"",
        )
    ):
        data = data.replace(b"\r", b"\n")  # CR-only line ends
    header: list[str] | None = None
    pos = start
    while pos < len(data):
        line_no = data.count(b"\n", 0, pos) + 1
        nl = data.find(b"\n", pos)
        status_at = header.index("status") if header else -1
        date_at = header.index("chunk_date_utc") if header else -1
        end = -1
        reason = ""
        if header and nl >= 0 and data.count(b'"', pos, nl) % 2:
            at = nl + 1
            while at < len(data):
                kind, _ = scan(data[:at], pos)
                if kind != PREFIX:
                    break
                older = tuple(header) == SCHEMA[: len(header)] and len(header) < WIDTH
                starts_row = may_start_row(data, at, len(header), status_at, date_at, older)
                if starts_row is None:  # the file's last line, unfinished: so is the record
                    end, reason = len(data), "torn final record (no line end)"
                    break
                if starts_row:
                    end, reason = at, STRAY_QUOTE
                    break
                at = data.find(b"\n", at) + 1
        if not reason:
            kind, end = scan(data, pos, eof=True)
            if kind == PREFIX:
                reason = "torn final record (no line end)"
                end = len(data)
            elif kind == BAD:
                end = nl + 1 if nl >= 0 else len(data)
                if nl < 0:
                    reason = "torn final record (no line end)"
                elif b"\x00" in data[pos:end]:
                    reason = "NUL byte"
                else:
                    reason = "stray quote or carriage return outside a quoted field"
        if not reason:
            raw = data[pos:end].removesuffix(b"\n").removesuffix(b"\r")
            if b"\x00" in raw:
                reason = "NUL byte"
            else:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    reason = "invalid UTF-8"
        offset, pos = pos, end
        if reason:
            if header is None and reason in ("NUL byte", "invalid UTF-8"):
                raise ValueError("binary data, not a telemetry file")
            out.malformed.append((offset, line_no, reason))
            continue
        if text == "":
            continue  # a blank line
        cells = fields_of(text)
        if header is None:
            if "chunk_date_utc" not in cells or "status" not in cells:
                raise ValueError("not a telemetry file")
            header = cells
            data = data[:pos] + bare_crs_before_rows(data[pos:], header)
            continue
        # Under an older header (a prefix of SCHEMA) a row holding every
        # column is a row: the original module writes them so.
        whole = tuple(header) == SCHEMA[: len(header)] and len(cells) == WIDTH and any(cells)
        if whole:
            values = cells
        elif len(cells) != len(header):
            if len(cells) > len(header) and not any(cells[-TORN_MARK_WIDTH:]):
                why = "torn record (closed off by a later write)"
            else:
                why = f"expected {len(header)} fields, found {len(cells)}"
            out.malformed.append((offset, line_no, why))
            continue
        else:
            values = [cells[header.index(c)] if c in header else "" for c in SCHEMA]
        status = values[COL["status"]]
        if status not in STATUS_TEXTS:
            why = "repeated header" if cells == header else f"unknown status {status[:40]!r}"
            out.malformed.append((offset, line_no, why))
            continue
        day_text = values[COL["chunk_date_utc"]]
        try:
            day: date | None = date.fromisoformat(day_text)
        except ValueError:
            day = None
            out.malformed.append((offset, line_no, f"unparseable chunk_date_utc {day_text[:40]!r}"))
        out.rows.append(Row(offset, line_no, values, day))
    return header, out


# -- the fold ------------------------------------------------------------------------


def instant(text: str) -> datetime | None:
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def replaces(new: str, current: str) -> bool:
    """The latest-row rule: the later instant; a tie to the later row; strings if unparseable."""
    a, b = instant(new), instant(current)
    if a is None or b is None:
        return new >= current
    return a >= b


DURATION_OF = {
    "DOWNLOADED": "download_seconds",
    "FAILED": "download_seconds",
    "SKIPPED_NO_DATA": "download_seconds",
    "PROCESSED": "process_seconds",
    "UPLOADED": "upload_seconds",
}
PHASE_OF_COLUMN = {
    "download_seconds": "download",
    "process_seconds": "process",
    "upload_seconds": "upload",
}
OPENS_ATTEMPT = {"DOWNLOAD_PENDING", "DOWNLOADED", "SKIPPED_NO_DATA", "FAILED"}


def number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass
class Fold:
    latest: dict[date, list[str]] = field(default_factory=dict)
    attempts: dict[date, int] = field(default_factory=dict)
    row_count: dict[date, int] = field(default_factory=dict)
    durations: dict[str, list[float]] = field(default_factory=dict)
    csv_mb: float = 0.0
    cdf_mb: float = 0.0
    records_downloaded: int = 0
    last_moment: datetime | None = None  # the newest timestamp, as an instant
    rows: int = 0
    source: tuple[str, str] = ("", "")  # sensor and descriptor of the last row naming either

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for values in self.latest.values():
            status = values[COL["status"]]
            counts[status] = counts.get(status, 0) + 1
        return counts

    def failed_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for values in self.latest.values():
            if values[COL["status"]] == "FAILED":
                error_type = values[COL["error_type"]]
                counts[error_type] = counts.get(error_type, 0) + 1
        return counts

    def stalled(self, now: datetime, stale_after: timedelta) -> list[date]:
        out = []
        for day, values in self.latest.items():
            started = instant(values[COL["started_at_utc"]])
            pending = values[COL["status"]] in PENDING_STATUSES
            if pending and started is not None and now - started > stale_after:
                out.append(day)
        return sorted(out)

    def finish_times(self) -> list[float]:
        out = []
        for values in self.latest.values():
            if values[COL["status"]] in FINAL_STATUSES:
                moment = instant(values[COL["finished_at_utc"]] or values[COL["started_at_utc"]])
                if moment is not None:
                    out.append(moment.timestamp())
        return sorted(out)

    def throughput(self, window: timedelta = timedelta(hours=1)) -> float | None:
        """Days reaching a final status per hour over ``window`` ending at the last one."""
        times = self.finish_times()
        if len(times) < 2:
            return None
        end = times[-1]
        inside = [t for t in times if t > end - window.total_seconds()]
        span = min(window.total_seconds(), end - times[0])
        count = len(inside) - (1 if len(inside) == len(times) else 0)
        return None if span <= 0 else count / (span / 3600)


def fold(rows: list[Row]) -> Fold:
    """The latest row per day and every figure, from the dated rows in file order."""
    out = Fold(durations={"download": [], "process": [], "upload": []})
    started_last: dict[date, str] = {}
    for row in rows:
        if row.day is None:
            continue
        values, day = row.values, row.day
        out.rows += 1
        if values[COL["sensor_id"]] or values[COL["descriptor"]]:
            out.source = (values[COL["sensor_id"]], values[COL["descriptor"]])
        status = values[COL["status"]]
        when, finished = values[COL["started_at_utc"]], values[COL["finished_at_utc"]]
        for moment in map(instant, (when, finished)):  # what does not parse is skipped
            if moment is not None and (out.last_moment is None or moment > out.last_moment):
                out.last_moment = moment
        column = DURATION_OF.get(status)
        if column is not None:
            with contextlib.suppress(ValueError):
                out.durations[PHASE_OF_COLUMN[column]].append(float(values[COL[column]]))
        if status == "DOWNLOADED":
            out.csv_mb += number(values[COL["csv_size_mb"]]) or 0.0
            out.records_downloaded += int(number(values[COL["records_downloaded"]]) or 0)
        elif status == "PROCESSED":
            out.cdf_mb += number(values[COL["cdf_size_mb"]]) or 0.0
        out.row_count[day] = out.row_count.get(day, 0) + 1
        if day not in out.latest:
            out.attempts[day] = 1
        elif started_last[day] != when and status in OPENS_ATTEMPT:
            out.attempts[day] += 1
        started_last[day] = when
        current = out.latest.get(day)
        if current is None or replaces(when, current[COL["started_at_utc"]]):
            out.latest[day] = values
    return out
