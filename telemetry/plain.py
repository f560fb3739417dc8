"""A :class:`BackfillState` as plain values: what :mod:`marshal` writes, and back.

What a saved state (:mod:`telemetry.snapshot`) and a second process's fold
(:mod:`telemetry.twofold`) are written as. Loading plain values never runs
code: only the kinds tagged here and a few whitelisted classes are rebuilt.
"""

from __future__ import annotations

from array import array
from collections import Counter, deque
from collections.abc import Callable
from datetime import date, datetime, timedelta
from itertools import compress
from typing import Any

from .fields import Malformed
from .figures import DurationStats
from .liveness import Newest, RowGaps
from .rules import DURATION_OF_STATUS
from .schema import PENDING_STATUSES, STATUS_FAILED
from .state import BackfillState, DayFigures, Frozen

#: Bumped whenever what a state holds changes: a saved state of another
#: version is ignored.
FORMAT = 5

_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})

_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (DurationStats, Newest, RowGaps, DayFigures)
}


# -- a state as plain values ------------------------------------------------------


def _plain(value: Any) -> Any:
    """``value`` as values :mod:`marshal` writes, each kind tagged."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str, bytes):
        return value
    if kind is list:
        if _SCALARS.issuperset(map(type, value)):
            return ("L", value)  # marshal writes it as it is
        return ("l", [_plain(v) for v in value])
    if kind is tuple:
        return ("t", [_plain(v) for v in value])
    if kind is Malformed:
        return ("M", [_plain(v) for v in value])
    if kind is date:
        return ("D", value.toordinal())
    if kind is datetime:
        return ("T", value.isoformat())
    if kind is timedelta:
        return ("S", value.total_seconds())
    if kind in (set, frozenset):
        return ("s", [_plain(v) for v in value])
    if kind is Counter:
        return ("C", [(_plain(k), _plain(v)) for k, v in value.items()])
    if kind is dict:
        return ("d", [(_plain(k), _plain(v)) for k, v in value.items()])
    if kind is deque:
        return ("Q", [_plain(v) for v in value], value.maxlen)
    if kind is array:
        return ("A", value.typecode, value.tobytes())
    name = kind.__name__
    if _CLASSES.get(name) is kind:
        slots = getattr(kind, "__slots__", None)
        names = slots if slots is not None else list(vars(value))
        return ("O", name, [(n, _plain(getattr(value, n))) for n in names])
    raise TypeError(f"a saved state cannot hold a {kind.__name__}")


def _value(plain: Any) -> Any:
    """The value :func:`_plain` made ``plain`` of."""
    if type(plain) is not tuple:
        return plain
    tag = plain[0]
    if tag == "L":
        return list(plain[1])
    if tag == "l":
        return [_value(v) for v in plain[1]]
    if tag == "t":
        return tuple(_value(v) for v in plain[1])
    if tag == "M":
        return Malformed(*map(_value, plain[1]))
    if tag == "D":
        return date.fromordinal(plain[1])
    if tag == "T":
        return datetime.fromisoformat(plain[1])
    if tag == "S":
        return timedelta(seconds=plain[1])
    if tag == "s":
        return {_value(v) for v in plain[1]}
    if tag == "C":
        return Counter({_value(k): _value(v) for k, v in plain[1]})
    if tag == "d":
        return {_value(k): _value(v) for k, v in plain[1]}
    if tag == "Q":
        return deque(map(_value, plain[1]), plain[2])
    if tag == "A":
        out = array(plain[1])
        out.frombytes(plain[2])
        return out
    if tag == "O":
        obj: Any = object.__new__(_CLASSES[plain[1]])
        for name, v in plain[2]:
            if name.startswith("__"):
                raise ValueError(f"no field {name!r}")
            object.__setattr__(obj, name, _value(v))
        return obj
    raise ValueError(f"unknown tag {tag!r}")


# The state's own fields that are not saved: rebuilt (``_measure`` points into
# ``durations``), or empty once a fold is finished, or the day slots (a part
# of their own).
_REBUILT = ("_measure", "_newest_segments", "_sorted_days", "_table", "_frozen")


def state_plain(
    state: BackfillState, *, saved: bool = True
) -> tuple[tuple[Any, ...], list[list[Any]]]:
    """``state`` (a finished fold) as values :mod:`marshal` writes, in two parts
    that :func:`state_from_plain` reads back: the state without its day slots
    (and, to be ``saved``, with each day's latest status and the slots of the
    failed and pending days: what a reopened state reads before its slots;
    not for a fold to be merged at once), and the slots."""
    if state._newest_segments:
        raise ValueError("only a finished fold can be saved")
    if saved:
        for stats in state.durations.values():
            stats.sort()  # saved sorted: read without sorting
    fields = [(n, _plain(v)) for n, v in vars(state).items() if n not in _REBUILT]
    slots = state._slots
    days = state.days
    statuses = state.statuses_of(days) if saved else []
    table = sorted(set(statuses))
    code = {status: k for k, status in enumerate(table)}
    named = list(compress(days, map(_NAMED.__contains__, statuses)))
    head = (
        FORMAT,
        state.has_figures,
        fields,
        [day.toordinal() for day in days],
        (table, bytes(map(code.__getitem__, statuses))),
        [day.toordinal() for day in named],
        [slots[day] for day in named],
        [day.toordinal() for day in slots],  # the slots' order
    )
    return head, list(map(list, slots.values()))


#: The latest statuses whose days' slots a saved state holds whole (what its
#: figures and plan read of them: the phase failed in, when pending began).
_NAMED = frozenset({STATUS_FAILED, *PENDING_STATUSES})


def state_from_plain(
    head: Any, slots: list[list[Any]] | Callable[[int], list[list[Any]]]
) -> BackfillState:
    """The state :func:`state_plain` made ``head`` and ``slots`` of; ``ValueError``
    for anything else.

    ``slots`` may be a function that returns them (given their number, it
    checks it): called when the state first needs every day's slot (its
    figures are read without them).
    """
    try:
        version, figures, fields, days, statuses, named_days, named, order = head
        if version != FORMAT:
            raise ValueError(f"saved state format {version}, not {FORMAT}")
        state = BackfillState(figures=figures)
        for name, plain in fields:
            if name not in vars(state) or name in _REBUILT:
                raise ValueError(f"no field {name!r}")
            setattr(state, name, _value(plain))
        if not {list}.issuperset(map(type, named)):
            raise ValueError("a day's slot is not a list")
        dates = list(map(date.fromordinal, days))
        if dates != sorted(dates):
            raise ValueError("the days are not sorted")
        held = dates if order == days else list(map(date.fromordinal, order))
        if callable(slots):
            named_slots = dict(zip(map(date.fromordinal, named_days), named, strict=True))
            state.freeze(Frozen(dates, statuses, named_slots, held, slots))
        elif {list}.issuperset(map(type, slots)):
            state._table = dict(zip(held, slots, strict=True))
        else:
            raise ValueError("a day's slot is not a list")
        state._sorted_days = list(dates)  # grows with new days, once thawed
        if figures:  # the durations' arrays, as the constructor points to them
            state._measure = {
                status: (state.durations[phase].values, col)
                for status, (phase, col) in DURATION_OF_STATUS.items()
            }
    except (TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise ValueError(f"not a saved state: {exc}") from None
    return state
