"""Rows as columns: the segments the cold loads fold, a run of one day's rows at a time."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import chain, compress, islice, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .fields import STATUS_COL, WIDTH, row_values
from .schema import COLUMN

if TYPE_CHECKING:
    from .fields import Record

_K = TypeVar("_K")
_STARTED_COL = COLUMN["started_at_utc"]

#: Cells per row in :attr:`Segment.fields`.
STRIDE = WIDTH - 1


class Segment(NamedTuple):
    """Consecutive rows of a file as columns (a ``segments`` decoder's output).

    Rows come in *runs* of adjacent rows of one day: run ``r`` holds rows
    ``ends[r - 1]`` (0 for the first) up to ``ends[r]``, its day is
    ``days[r]``, its first row starts at byte ``offsets[r]`` on line
    ``lines[r]``. Two adjacent runs may share a day (a day's rows split by a
    chunk boundary, or written as different texts of one date).

    ``keeps`` holds what a fold keeps of each row (:func:`keep_of`): its
    :attr:`Record.text`, or its values. ``fields`` holds the cells of every
    row, ``STRIDE`` per row: :meth:`column` reads one column of every row
    from it without Python code per row. Rows decoded one by one (quoted
    fields, other columns) also have their values in ``careful``, by index;
    the other rows' text split on commas gives their values. ``offsets``
    and ``lines`` are empty from a decoder made with ``positions=False``. A
    segment made of records already decoded has their values in ``rows``
    instead of ``fields`` and ``careful``.
    """

    ends: list[int]
    days: list[date]
    keeps: list[Any]
    fields: list[str]
    careful: dict[int, list[str]]
    offsets: list[int]
    lines: list[int]
    rows: list[list[str]] | None = None

    def column(self, col: int) -> list[str]:
        """Column ``col`` (``1 <= col < STRIDE``, in ``SCHEMA`` order) of every row."""
        if not 1 <= col < STRIDE:
            raise IndexError(f"column {col} is not kept in segment fields")
        if self.rows is not None:
            return list(map(itemgetter(col), self.rows))
        return self.fields[col::STRIDE]

    def cells(self, col: int, mask: Iterable[object]) -> Iterator[str]:
        """Column ``col`` of the rows where ``mask`` is true (any truthy value, such as byte 1)."""
        if self.rows is not None:
            return map(itemgetter(col), compress(self.rows, mask))
        return compress(self.column(col), mask)

    @property
    def whens(self) -> list[str]:
        """``started_at_utc`` of every row."""
        return self.column(_STARTED_COL)

    @property
    def statuses(self) -> list[str]:
        """``status`` of every row (valid statuses; equal, not always shared, strings)."""
        return self.column(STATUS_COL)

    @property
    def firsts(self) -> list[int]:
        """The index of each run's first row."""
        return run_firsts(self.ends)

    def row_days(self) -> list[date]:
        """The day of every row."""
        counts = map(operator.sub, self.ends, self.firsts)
        return list(chain.from_iterable(map(repeat, self.days, counts)))

    def values(self, k: int) -> list[str]:
        """Row ``k``'s values, in ``SCHEMA`` order."""
        if self.rows is not None:
            return self.rows[k]
        values = self.careful.get(k)
        return row_values(self.keeps[k]) if values is None else values


#: Records longer than this (characters) are kept as their values, not their text.
LONG_KEEP = 1 << 16


def keep_of(record: Record) -> Any:
    """What a fold keeps of ``record`` (a :attr:`Segment.keeps` item): its text;
    its values for a file whose columns are not ``SCHEMA`` (no text), or for a
    long record (a traceback), whose values are at hand and would cost as much
    as reading it to split again."""
    text = record.text
    return record.values if text is None or len(text) > LONG_KEEP else text


def runs_of(keys: list[_K]) -> tuple[list[int], list[_K]]:
    """Split rows whose days (or day texts) are ``keys`` into maximal runs of equal ones.

    Returns where each run ends (as :attr:`Segment.ends`) and its key, with
    no Python code per row.
    """
    n = len(keys)
    ends = list(compress(range(1, n), map(operator.ne, islice(keys, 1, None), keys)))
    run_keys = list(map(keys.__getitem__, [0, *ends])) if n else []
    ends.append(n)
    return ends, run_keys


def run_firsts(ends: list[int]) -> list[int]:
    """The index of each run's first row, from where each run ends."""
    return [0, *islice(ends, len(ends) - 1)]


class SegmentBuilder:
    """The runs and columns of one chunk's rows, collected piece by piece.

    What a ``segments`` decoder builds a chunk's :class:`Segment` from.
    """

    def __init__(self) -> None:
        self.ends: list[int] = []
        self.days: list[date] = []
        self.keeps: list[Any] = []
        self.fields: list[str] = []
        self.careful: dict[int, list[str]] = {}
        self.offsets: list[int] = []
        self.lines: list[int] = []

    def add_runs(self, ends: list[int], days: list[date]) -> None:
        """Add runs ending at ``ends`` (counted from the first row not added yet)."""
        base = len(self.keeps)
        self.ends += map(operator.add, ends, repeat(base)) if base else ends
        self.days += days

    def add_records(self, records: list[Record], positions: bool) -> None:
        """Add rows decoded one by one (their values are kept in ``careful``)."""
        if not records:
            return
        ends, days = runs_of([r.day for r in records])
        if positions:
            firsts = run_firsts(ends)
            self.offsets += [records[k].offset for k in firsts]
            self.lines += [records[k].line for k in firsts]
        self.add_runs(ends, days)
        first = len(self.keeps)
        for k, r in enumerate(records, first):
            self.careful[k] = r.values
            self.fields += r.values[:STRIDE]
        self.keeps += map(keep_of, records)
        records.clear()

    def segment(self) -> Segment:
        return Segment(
            self.ends,
            self.days,
            self.keeps,
            self.fields,
            self.careful,
            self.offsets,
            self.lines,
        )
