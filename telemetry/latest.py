"""The resume rule: which of two rows of one day is the day's latest.

Kept in one place so :meth:`HistoricalTelemetry.load_state` and
:class:`telemetry.state.BackfillState` agree by construction.
"""

from __future__ import annotations

import operator
from datetime import datetime, timezone
from functools import lru_cache
from itertools import chain, compress, groupby, islice, repeat, starmap
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from .fields import row_values
from .schema import COLUMN, SCHEMA, TelemetryRow
from .segments import STRIDE

if TYPE_CHECKING:
    from datetime import date

STARTED_COL = COLUMN["started_at_utc"]


@lru_cache(maxsize=8192)
def parse_instant(text: str) -> datetime | None:
    """Parse an ISO-8601 timestamp as an aware datetime (naive means UTC), or ``None``."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def _writer_format(text: str) -> bool:
    # What utcnow_iso() and the original module write: same shape, same
    # offset, so comparing the strings is comparing the instants.
    return len(text) in (25, 32) and text.endswith("+00:00") and text[10] == "T"


#: The latest-row rule's tie: a row started at the same moment as its day's
#: latest replaces it, being later in the file (a PENDING row and its outcome
#: share one ``started_at_utc``). Every path that picks a day's latest row,
#: fast or not, calls :func:`replaces` or derives from this.
TIE_GOES_TO_THE_LATER_ROW = True


def replaces(started: str, current: str) -> bool:
    """True when a row started at ``started`` becomes the latest over ``current``.

    The later instant wins; a tie goes to the new row (it is later in the
    file: :data:`TIE_GOES_TO_THE_LATER_ROW`). When either side does not parse
    as a timestamp both are compared as strings, exactly as the original
    module does. On every file the original module writes this is its
    ``started >= current`` rule.
    """
    tie = TIE_GOES_TO_THE_LATER_ROW
    if started == current:
        return tie
    if len(started) == len(current) and _writer_format(started) and _writer_format(current):
        return started > current
    a = parse_instant(started)
    b = parse_instant(current)
    if a is None or b is None:
        return started > current
    return a > b or (tie and a == b)


_WRITER_LENGTHS = frozenset({25, 32})


def writer_format(whens: list[str]) -> bool:
    """True when every one of ``whens`` is a timestamp in the writer's format.

    That is ``YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`` by length, ``T`` and
    offset: what :func:`~telemetry.schema.utcnow_iso` and the original
    module write. Such strings compare as their instants do. Checked
    without Python code per value: when all have one length, by slicing
    their concatenation column by column.
    """
    lengths = set(map(len, whens))
    if not _WRITER_LENGTHS.issuperset(lengths):
        return False
    if len(lengths) == 1:
        (width,) = lengths
        joined = "".join(whens)
        n = len(whens)
        return joined[10::width] == "T" * n and all(
            joined[width - 6 + k :: width] == c * n for k, c in enumerate("+00:00")
        )
    offsets_ok = all(map(str.endswith, whens, repeat("+00:00")))
    return offsets_ok and set(map(itemgetter(10), whens)) == {"T"}


def orderly_times(whens: list[str]) -> bool:
    """True when each of ``whens`` is empty or a timestamp in the writer's format.

    Among such values :func:`replaces` is an order (a total preorder): the
    instants, with the empty text below every one. So the latest of a
    day's rows is the same whether they are compared in one run or in
    parts, each part's latest then compared.
    """
    times = list(filter(None, whens))
    return not times or writer_format(times)


def in_writer_order(high: str, whens: list[str]) -> bool:
    """True when ``whens`` are writer-format timestamps, rising from ``high``.

    Then, by :func:`replaces`, each row replaces every earlier row of its day:
    the latest row of a day is simply its last row. Rising means
    non-decreasing, as ties go to the later row (strictly increasing if
    :data:`TIE_GOES_TO_THE_LATER_ROW` said otherwise). Checked without Python
    code per row.
    """
    # sorted() of a sorted list is n - 1 C-level comparisons; == then
    # compares the same objects.
    if not (writer_format(whens) and sorted(whens) == whens):
        return False
    if TIE_GOES_TO_THE_LATER_ROW:
        return high <= whens[0]
    return high < whens[0] and all(map(operator.lt, whens, islice(whens, 1, None)))


# Columns whose values repeat across days: one string object per distinct value.
_SHARED_COLUMNS = tuple(
    COLUMN[name]
    for name in (
        "run_id",
        "status",
        "sensor_id",
        "descriptor",
        "output_format",
        "error_type",
        "s3_bucket",
    )
)


def _values_of(keep: Any) -> list[str]:
    return keep if type(keep) is list else row_values(keep)


def build_rows(latest: dict[date, Any]) -> dict[date, TelemetryRow]:
    """Turn ``{day: text or values}`` into rows, emptying ``latest`` as it goes.

    Works a few thousand rows at a time from the end, freeing their text
    as their rows appear; plain rows are split a batch at a time and built
    with C-level maps.
    """
    days = list(latest)
    keeps = list(latest.values())
    latest.clear()
    shared: dict[str, str] = {}
    parts: list[list[TelemetryRow]] = []
    while keeps:
        part = keeps[-_BUILD_BATCH:]
        del keeps[-_BUILD_BATCH:]
        texts = list(map(operator.is_, map(type, part), repeat(str)))
        if not any(texts):  # values already (a file with other columns)
            parts.append(_rows_of(list(zip(*part, strict=True)), shared))
            continue
        # Values (a long record's), or a text with quotes: split one by one.
        quoted = list(map(operator.contains, part, repeat('"')))
        if not all(texts):  # values: ``in`` asked whether one is a quote
            quoted = list(map(operator.or_, map(operator.not_, texts), quoted))
        if not any(quoted):
            parts.append(_rows_of(_plain_columns(part), shared))
            continue
        plain = iter(
            _rows_of(_plain_columns(list(compress(part, map(operator.not_, quoted)))), shared)
        )
        values = map(_values_of, compress(part, quoted))
        others = iter(_rows_of(list(zip(*values, strict=True)), shared))
        parts.append([next(others) if q else next(plain) for q in quoted])
    parts.reverse()
    return dict(zip(days, chain.from_iterable(parts), strict=True))


def _plain_columns(texts: list[str]) -> list[Any]:
    """The columns of rows without quotes (a CR may end each text), split all at once.

    Joined by line ends and split on commas, ``m`` rows give ``STRIDE`` cells
    each and one more: columns 1 to ``STRIDE - 1`` are slices; a row's last
    cell and the next row's first share one cell, cut at the line end.
    """
    if not texts:
        return [[] for _ in SCHEMA]
    cells = "\n".join(texts).split(",")
    ends = cells[0::STRIDE]  # first cell of row 0, the m - 1 shared cells, last cell
    pieces = "\n".join(ends[1:-1]).split("\n") if len(ends) > 2 else []
    firsts = [ends[0], *pieces[1::2]]
    lasts = list(map(str.removesuffix, [*pieces[0::2], ends[-1]], repeat("\r")))
    return [firsts, *(cells[c::STRIDE] for c in range(1, STRIDE)), lasts]


def _rows_of(columns: list[Any], shared: dict[str, str]) -> list[TelemetryRow]:
    """Rows from their columns, with one string object per repeated value (``shared``).

    Values repeat in runs (one run id, sensor or status over many days), so
    each run costs one lookup, not each cell.
    """
    if not columns:
        return []
    share = shared.setdefault
    for col in _SHARED_COLUMNS:
        runs = [(share(value, value), len(list(cells))) for value, cells in groupby(columns[col])]
        columns[col] = chain.from_iterable(starmap(repeat, runs))
    return list(map(TelemetryRow, *columns))


_BUILD_BATCH = 4096
