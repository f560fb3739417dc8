"""The duration trend: p50 / p95 per phase per bucket of writing time, failures counted."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry import (
    BackfillState,
    DurationTrend,
    HistoricalTelemetry,
    Record,
    duration_trend,
)
from telemetry.store import row_values
from telemetry.trend import WIDTHS, pick_width
from tui.widgets.trend import chart_label, tick_label

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def _row(day: date, status: str, at: datetime, dl: str = "", up: str = "") -> dict[str, str]:
    return {
        "chunk_date_utc": day.isoformat(),
        "status": status,
        "started_at_utc": (at - timedelta(seconds=30)).isoformat(),
        "finished_at_utc": at.isoformat(),
        "download_seconds": dl,
        "upload_seconds": up,
    }


def test_each_day_counts_once_by_its_latest_row_in_the_hour_it_was_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    first = date(2020, 1, 1)
    # Hour 0: downloads of 1..10 s; hour 2: 100..109 s and one failed day.
    for k in range(10):
        store.append_row(
            _row(
                first + timedelta(days=k),
                "UPLOADED",
                T0 + timedelta(minutes=k),
                dl=str(k + 1),
                up="2",
            )
        )
    for k in range(10):
        at = T0 + timedelta(hours=2, minutes=k)
        store.append_row(_row(first + timedelta(days=10 + k), "UPLOADED", at, dl=str(100 + k)))
    # A retried day: its first (FAILED) row is not its latest, so it does not count.
    store.append_row(_row(first + timedelta(days=30), "FAILED", T0 + timedelta(minutes=1)))
    store.append_row(
        _row(first + timedelta(days=30), "FAILED", T0 + timedelta(hours=2, minutes=30))
    )
    state = BackfillState.from_path(path)
    trend = duration_trend(state, buckets=4)
    assert trend.width == timedelta(hours=1)
    assert trend.starts == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert trend.days == [10, 0, 11]
    assert trend.failed == [0, 0, 1]
    assert trend.p50["download"] == [5.0, None, 104.0]  # nearest rank
    assert trend.p95["download"] == [10.0, None, 109.0]
    assert trend.p50["upload"] == [2.0, None, None]
    assert trend.p50["process"] == [None, None, None]
    assert state.duration_trend(4) == trend
    # Finer buckets when asked for more of them.
    assert duration_trend(state, buckets=48).width == timedelta(minutes=5)


def test_widths_are_the_narrowest_that_spans_the_run() -> None:
    assert pick_width(timedelta(seconds=30), 48) == timedelta(seconds=10)
    assert pick_width(timedelta(hours=3), 48) == timedelta(minutes=5)
    assert pick_width(timedelta(days=20), 48) == timedelta(days=1)
    assert pick_width(timedelta(days=300), 48) == timedelta(weeks=1)
    assert pick_width(timedelta(days=400), 48) == timedelta(days=30)
    assert pick_width(timedelta(days=365 * 40), 48) == WIDTHS[-1]
    # Times centuries apart (edited by hand): still at most 48 buckets.
    huge = timedelta(days=365 * 8000)
    assert huge < pick_width(huge, 48) * 48 <= huge + WIDTHS[-1] * 48


def test_times_at_the_edges_of_the_calendar_make_a_trend_of_few_buckets() -> None:
    """Hand-edited times in year 1 and year 9999: no overflow, at most the buckets asked."""
    state = BackfillState()
    edges = ("0001-01-01T00:00:10+00:00", "9999-12-31T00:00:10+00:00")
    state.apply(
        [
            Record(k * 10, k + 2, date(2020, 1, 1 + k), row_values(_row_at(k, moment)))
            for k, moment in enumerate(edges)
        ]
    )
    trend = duration_trend(state, 48)
    assert sum(trend.days) == 2 and len(trend.starts) <= 49
    _, counts = state.finished_over_run(48)
    assert sum(counts) == 2 and len(counts) <= 48


def _row_at(k: int, finished: str) -> dict[str, str]:
    return {
        "chunk_date_utc": f"2020-01-0{1 + k}",
        "status": "UPLOADED",
        "started_at_utc": finished,
        "finished_at_utc": finished,
        "download_seconds": "3",
    }


def test_an_empty_state_has_an_empty_trend_and_says_so() -> None:
    trend = duration_trend(BackfillState())
    assert trend.starts == [] and not trend.has_durations
    assert "none recorded yet" in chart_label(trend)


instants = st.integers(min_value=0, max_value=30 * 86400).map(lambda s: T0 + timedelta(seconds=s))
cells = st.one_of(
    st.floats(min_value=-5, max_value=1e5, allow_nan=False).map(repr),
    st.sampled_from(["", "nan", "inf", "x"]),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 60),
            st.sampled_from(["UPLOADED", "FAILED", "DOWNLOADED", "DOWNLOAD_PENDING"]),
            instants,
            cells,
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 60),
)
def test_every_day_lands_in_one_bucket_and_percentiles_hold_its_values(
    rows: list[tuple[int, str, datetime, str]], buckets: int
) -> None:
    state = BackfillState()
    records = []
    for n, (k, status, at, dl) in enumerate(rows):
        day = date(2020, 1, 1) + timedelta(days=k)
        values = row_values(_row(day, status, at, dl))
        records.append(Record(n * 100, n + 2, day, values))
    state.apply(records)
    trend = duration_trend(state, buckets)
    assert sum(trend.days) == len(state.days) > 0  # every day, once
    assert len(trend.starts) <= buckets + 1
    assert all(b - a == trend.width for a, b in pairwise(trend.starts))
    latest = state.latest
    for k, start in enumerate(trend.starts):
        inside = [
            day
            for day in state.days
            if start <= datetime.fromisoformat(latest[day].finished_at_utc) < start + trend.width
        ]
        assert len(inside) == trend.days[k]
        assert trend.failed[k] == sum(latest[d].status == "FAILED" for d in inside)
        values = sorted(
            max(float(latest[d].download_seconds), 0.0)
            for d in inside
            if latest[d].download_seconds and math.isfinite(_float(latest[d].download_seconds))
        )
        p50, p95 = trend.p50["download"][k], trend.p95["download"][k]
        if values:
            assert p50 in values and p95 in values and p50 <= p95
            assert sum(v <= p50 for v in values) >= len(values) / 2
        else:
            assert p50 is None and p95 is None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def test_tick_labels_read_as_clock_times_or_dates() -> None:
    def trend(width: timedelta, count: int) -> DurationTrend:
        none: list[float | None] = [None] * count
        return DurationTrend(
            width,
            [T0 + width * k for k in range(count)],
            [0] * count,
            [0] * count,
            {"download": none},
            {"download": none},
        )

    assert tick_label(trend(timedelta(seconds=10), 30), 1) == "10:00:10"
    assert tick_label(trend(timedelta(minutes=5), 30), 1) == "10:05"
    assert tick_label(trend(timedelta(hours=1), 40), 30) == "03-03 16h"
    assert tick_label(trend(timedelta(days=1), 10), 2) == "2026-03-04"
