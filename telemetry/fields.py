"""Decoding a record's fields, and the reasons a record is not a row.

A framed record's text becomes its fields here (without the :mod:`csv`
module, whose process-wide field size limit of 128 KiB would reject long
tracebacks), and the checks that make a record malformed are named here:
field counts, statuses, dates, binary data.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from .schema import COLUMN, SCHEMA, VALID_STATUSES

DATE_COL = COLUMN["chunk_date_utc"]
STATUS_COL = COLUMN["status"]
WIDTH = len(SCHEMA)
# Each valid status text maps to one shared string object (and so does "":
# the original writer accepts an empty status).
CANONICAL_STATUS: dict[str, str] = {s: s for s in VALID_STATUSES}
CANONICAL_STATUS[""] = ""
STATUS_TEXTS = frozenset(CANONICAL_STATUS)
STATUS_BYTES = frozenset(s.encode() for s in STATUS_TEXTS)


class TelemetryFormatError(ValueError):
    """The file is not a telemetry CSV (its header names no telemetry columns, or it is binary)."""


# A first line with NUL bytes or bytes that are not UTF-8: not a CSV at all.
BINARY_REASONS = frozenset({"NUL byte", "invalid UTF-8"})
NOT_TEXT = "binary data, not a telemetry file"


class Record(NamedTuple):
    """One well-formed row, as read from the file.

    ``values`` holds one string per ``SCHEMA`` column, in ``SCHEMA`` order,
    whatever the file's own column order is; ``day`` is the parsed
    ``chunk_date_utc``; ``offset`` the byte offset of the row's first byte;
    ``line`` its 1-based physical line number. ``text`` is the record as
    written, without its ``\\n`` (a ``\\r`` before it may remain), when the
    file's columns are ``SCHEMA``; ``None`` for files with other columns.
    :func:`row_values` turns ``text`` back into ``values``.
    """

    offset: int
    line: int
    day: date
    values: list[str]
    text: str | None = None


class Malformed(NamedTuple):
    """A record the state skips, with where it is and why.

    ``values`` (in ``SCHEMA`` order) is set only for a well-formed row
    whose ``chunk_date_utc`` does not parse: the original module's
    ``iter_rows`` yields such rows (its writer never checked dates), so
    :meth:`~telemetry.HistoricalTelemetry.iter_rows` does too, while
    ``load_state`` and the state skip them, as the original does.
    """

    offset: int
    line: int
    reason: str
    values: list[str] | None = None


def parse_day(text: str) -> date | None:
    """Parse ``chunk_date_utc`` the way the original module does, or ``None``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def split_fields(text: str) -> list[str]:
    """Split one well-formed record (without its line end) into fields.

    Raises :class:`ValueError` for a text that is not one (as the decoders
    never give).
    """
    if '"' not in text:
        return text.split(",")
    if len(text) > _LONG_TEXT:
        fields = _one_quoted_field(text)
        if fields is not None:
            return fields
    fields = quoted_fields(text.split('"'))
    if fields is None:
        raise ValueError(f"not a well-formed record: {text[:60]!r}")
    return fields


#: Records longer than this (characters) try :func:`_one_quoted_field` first.
_LONG_TEXT = 1 << 16


def _one_quoted_field(text: str) -> list[str] | None:
    """The fields of a record whose one quoted field holds every quote of it (a long
    traceback's record), else ``None``.

    In C, whatever the field's size: the field runs from the first quote to
    the last, and is well-formed when each quote inside it is half of an
    escaped pair, which leaves one character less per pair when unescaped.
    """
    first, last = text.find('"'), text.rfind('"')
    head, inner, after = text[:first], text[first + 1 : last], text[last + 1 :]
    if first == last or (head and head[-1] != ",") or "\r" in head:
        return None
    if after and (after[0] != "," or "\r" in after):
        return None
    unescaped = inner.replace('""', '"')
    if inner.count('"') != 2 * (len(inner) - len(unescaped)):
        return None  # a quote inside that is not half of a pair: several quoted fields
    fields = head.split(",")
    fields[-1] = unescaped
    if after:
        fields += after.split(",")[1:]
    return fields


def quoted_fields(parts: list[str]) -> list[str] | None:
    """The fields of a record (without its line end) from its text split on quotes.

    Works on the pieces between quotes, not on characters: outside quotes a
    piece is commas and plain fields; an empty piece between two quoted
    pieces is an escaped quote (``""``). Returns ``None`` when the record is
    not well-formed as the ``_RECORD`` pattern says: a quote opens a field
    only first or right after a comma, closes it only before a comma or the
    end, and no CR stands outside quotes.
    """
    m = len(parts)
    head = parts[0]
    if not m & 1 or (head and not head.endswith(",")) or "\r" in head:
        return None
    fields = head.split(",")
    if not any(parts[2 : m - 1 : 2]):
        # One quoted field (the usual case): the pieces outside quotes
        # between its first and last are all empty, each an escaped quote.
        fields[-1] = '"'.join(parts[1 : m - 1 : 2])
        after = parts[-1]  # outside quotes: "" at the end, else ",..."
        if after:
            if after[0] != "," or "\r" in after:
                return None
            fields += after.split(",")[1:]
        return fields
    i = 1
    while i < m:
        piece = parts[i]  # inside quotes (fields[-1] is the field's empty start)
        i += 1
        while i < m - 1 and not parts[i]:  # an escaped quote
            piece += '"' + parts[i + 1]
            i += 2
        fields[-1] = piece
        after = parts[i]  # outside quotes: "" at the end, else ",..."
        i += 1
        if after:
            if after[0] != "," or "\r" in after or (i < m and after[-1] != ","):
                return None
            fields += after.split(",")[1:]
    return fields


def row_values(text: str) -> list[str]:
    """The values of a record from its :attr:`Record.text`."""
    if text.endswith("\r"):
        text = text[:-1]
    return split_fields(text)


def header_mapping(header: list[str]) -> list[int] | None:
    """Return, per SCHEMA column, its index in ``header`` (-1 if absent).

    ``None`` means the header is ``SCHEMA`` itself (the fast path).
    Raises :class:`TelemetryFormatError` when ``header`` is not a telemetry
    header: it must name ``chunk_date_utc`` and ``status``.
    """
    if tuple(header) == SCHEMA:
        return None
    missing = [c for c in ("chunk_date_utc", "status") if c not in header]
    if missing:
        shown = ",".join(header)[:80]
        raise TelemetryFormatError(
            f"not a telemetry file: header {shown!r} lacks column(s) {', '.join(missing)}"
        )
    return [header.index(c) if c in header else -1 for c in SCHEMA]


def field_count_reason(fields: list[str], header: list[str]) -> str:
    if len(fields) > len(header) and all(not f for f in fields[-WIDTH:]):
        return "torn record (closed off by a later write)"
    return f"expected {len(header)} fields, found {len(fields)}"
