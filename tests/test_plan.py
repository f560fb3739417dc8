"""The resume plan: which days of a range need which phase after a restart."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from telemetry import BackfillState, HistoricalTelemetry, record_attempt, resume_plan
from telemetry.plan import failed_phase
from telemetry.schema import TelemetryRow

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
OLD = (NOW - timedelta(hours=2)).isoformat(timespec="microseconds")
FRESH = (NOW - timedelta(minutes=1)).isoformat(timespec="microseconds")


def d(n: int) -> date:
    return date(2020, 1, n)


def _file(path: Path) -> Path:
    """Days 1..12 of January 2020, one per situation; day 4 is never attempted."""
    store = HistoricalTelemetry(path)
    rows = [
        (1, "UPLOADED", OLD, {}),
        (2, "SKIPPED_NO_DATA", OLD, {}),
        (3, "SKIPPED_NO_INPUT", OLD, {}),
        (5, "FAILED", OLD, {"error_type": "HTTPError", "download_seconds": "3"}),
        (6, "FAILED", OLD, {"download_seconds": "3", "process_seconds": "1", "csv_path": "/a"}),
        (7, "FAILED", OLD, {"cdf_path": "/b", "upload_seconds": "2"}),
        (8, "DOWNLOADED", OLD, {}),
        (9, "PROCESSED", OLD, {}),
        (10, "DOWNLOAD_PENDING", OLD, {}),
        (11, "UPLOAD_PENDING", OLD, {}),
        (12, "PROCESS_PENDING", FRESH, {}),
    ]
    for day, status, started, extra in rows:
        store.append_row(
            {"chunk_date_utc": str(d(day)), "status": status, "started_at_utc": started, **extra}
        )
    return path


def test_every_situation_maps_to_its_phase(tmp_path: Path) -> None:
    latest = HistoricalTelemetry(_file(tmp_path / "t.csv")).load_state()
    plan = resume_plan(latest, d(1), d(14), now=NOW)
    assert plan.done == [d(1), d(2), d(3)]
    assert plan.download == [d(4), d(5), d(10), d(13), d(14)]
    assert plan.process == [d(6), d(8)]
    assert plan.upload == [d(7), d(9), d(11)]
    assert plan.in_flight == [d(12)]
    assert plan.never_attempted == [d(4), d(13), d(14)]
    assert plan.failed == [d(5), d(6), d(7)]
    assert plan.stalled == [d(10), d(11)]
    assert plan.work == 10
    assert plan.phase_of(d(8)) == "process" and plan.phase_of(d(12)) is None
    assert plan.ranges("download") == [(d(4), d(5)), (d(10), d(10)), (d(13), d(14))]


def test_every_day_of_the_range_is_in_exactly_one_list(tmp_path: Path) -> None:
    latest = HistoricalTelemetry(_file(tmp_path / "t.csv")).load_state()
    plan = resume_plan(latest, date(2019, 12, 30), d(20), now=NOW)
    lists = [plan.download, plan.process, plan.upload, plan.in_flight, plan.done]
    every = sorted(day for days in lists for day in days)
    assert every == [date(2019, 12, 30) + timedelta(days=n) for n in range(22)]


def test_backfill_state_and_load_state_give_the_same_plan(tmp_path: Path) -> None:
    path = _file(tmp_path / "t.csv")
    from_state = resume_plan(BackfillState.from_path(path), d(1), d(14), now=NOW)
    assert from_state == resume_plan(HistoricalTelemetry(path).load_state(), d(1), d(14), now=NOW)


def test_range_defaults_to_days_seen_and_out_of_range_days_are_ignored(tmp_path: Path) -> None:
    latest = HistoricalTelemetry(_file(tmp_path / "t.csv")).load_state()
    plan = resume_plan(latest, now=NOW)
    assert (plan.start, plan.end) == (d(1), d(12))
    narrow = resume_plan(latest, d(8), d(9), now=NOW)
    assert (narrow.process, narrow.upload, narrow.download) == ([d(8)], [d(9)], [])
    empty = resume_plan({})
    assert (empty.start, empty.work) == (None, 0)
    assert resume_plan({}, d(1), d(3)).download == [d(1), d(2), d(3)]


def test_stale_after_zero_retries_every_pending_day(tmp_path: Path) -> None:
    latest = HistoricalTelemetry(_file(tmp_path / "t.csv")).load_state()
    plan = resume_plan(latest, d(1), d(12), now=NOW, stale_after=timedelta(0))
    assert plan.in_flight == [] and plan.stalled == [d(10), d(11), d(12)]
    assert d(12) in plan.process


@pytest.mark.parametrize(
    ("columns", "phase"),
    [
        ({}, "download"),
        ({"download_seconds": "1"}, "download"),
        ({"download_seconds": "1", "process_seconds": "2", "csv_path": "/a"}, "process"),
        ({"csv_path": "/a"}, "process"),
        ({"csv_path": "/a", "cdf_path": "/b"}, "upload"),
        ({"upload_seconds": "1"}, "upload"),
    ],
)
def test_failed_phase_is_read_from_durations_then_outputs(
    columns: dict[str, str], phase: str
) -> None:
    assert failed_phase(TelemetryRow(status="FAILED", **columns)) == phase


def test_recorder_failures_are_retried_from_the_phase_that_failed(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with record_attempt(path, d(1), "download") as dl:
        dl.csv_path = "/a.csv"
    with pytest.raises(RuntimeError), record_attempt(path, d(1), "process", carry=dl.row):
        raise RuntimeError("cdf conversion crashed")
    with pytest.raises(OSError), record_attempt(path, d(2), "download") as dl2:
        dl2.csv_path = "/partial.csv"
        raise OSError("disk full")
    plan = resume_plan(HistoricalTelemetry(path).load_state(), d(1), d(2))
    assert (plan.process, plan.download) == ([d(1)], [d(2)])


def test_a_state_plans_as_its_rows_do_on_any_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The plan read from a state's slots (no row built) is the plan of ``load_state()``."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tests.test_reference import files

    kinds: set[str] = set()

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(
        files(min_rows=4),
        st.sampled_from([None, date(2019, 12, 30), date(2020, 1, 2)]),
        st.sampled_from([None, date(2020, 1, 2), date(2022, 1, 1)]),
        st.sampled_from([timedelta(0), timedelta(hours=1), timedelta(days=9999)]),
    )
    def check(
        file: tuple[bytes, int], start: date | None, end: date | None, stale: timedelta
    ) -> None:
        path = tmp_path_factory.mktemp("plan") / "t.csv"
        path.write_bytes(file[0])
        now = datetime(2026, 1, 2, tzinfo=timezone.utc)
        plan = resume_plan(BackfillState.from_path(path), start, end, now=now, stale_after=stale)
        rows = HistoricalTelemetry(path).load_state()
        assert plan == resume_plan(rows, start, end, now=now, stale_after=stale)
        kinds.update(name for name in ("failed", "stalled", "in_flight") if getattr(plan, name))

    check()
    assert kinds == {"failed", "stalled", "in_flight"}  # each kind of day was planned


def test_day_runs_are_the_runs_of_consecutive_days_however_the_days_come() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from telemetry import day_runs

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(0, 40).map(lambda n: date(2020, 1, 1) + timedelta(n))))
    def check(days: list[date]) -> None:
        expected: list[tuple[date, date]] = []
        for day in sorted(set(days)):
            if expected and day - expected[-1][1] == timedelta(1):
                expected[-1] = (expected[-1][0], day)
            else:
                expected.append((day, day))
        assert day_runs(days) == expected
        assert day_runs(iter(days)) == expected
        assert day_runs(sorted(set(days))) == expected

    check()
