"""The one rule for a quiet writer, as every reader applies it."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from telemetry import BackfillState, HistoricalTelemetry, TelemetryTail

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _write(path: Path, rows: int, gap: timedelta) -> None:
    store = HistoricalTelemetry(path)
    for i in range(rows):
        started = T0 + gap * i
        store.append_row(
            {
                "chunk_date_utc": f"2020-01-{1 + i % 28:02d}",
                "status": "UPLOADED",
                "started_at_utc": started.isoformat(),
                "finished_at_utc": (started + gap / 2).isoformat(),
            }
        )


def test_quiet_after_ten_usual_gaps_never_before_two_minutes_whatever_stale_after(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.csv"
    _write(path, 300, timedelta(minutes=1))
    state = BackfillState.from_path(path, stale_after=timedelta(minutes=5))
    last = T0 + timedelta(minutes=299, seconds=30)
    assert state.liveness(last + timedelta(minutes=9)).quiet is False
    live = state.liveness(last + timedelta(minutes=11))
    assert live.quiet is True and live.limit == timedelta(minutes=10)
    assert live.since == timedelta(minutes=11)
    # A fast writer: the floor is two minutes, not ten gaps of a second, and
    # not --stale-after (that is for stalled days).
    fast = tmp_path / "fast.csv"
    _write(fast, 50, timedelta(seconds=1))
    quick = BackfillState.from_path(fast, stale_after=timedelta(minutes=15))
    last_fast = T0 + timedelta(seconds=49)
    assert quick.liveness(last_fast + timedelta(seconds=119)).quiet is False
    assert quick.liveness(last_fast + timedelta(seconds=121)).quiet is True
    assert BackfillState().liveness(T0).since is None


def test_a_followed_state_and_a_cold_load_agree_on_liveness(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _write(path, 500, timedelta(seconds=7))
    cold = BackfillState.from_path(path)
    live = BackfillState()
    tail = TelemetryTail(path)
    while True:
        update = tail.read_new(max_bytes=4096)
        live.apply(update.records, update.malformed)
        if tail.caught_up(update):
            break
    now = T0 + timedelta(hours=2)
    assert cold.gaps.median() == live.gaps.median() == timedelta(seconds=7)
    assert cold.liveness(now) == live.liveness(now)


def test_the_recent_rate_falls_to_zero_when_nothing_finishes(tmp_path: Path) -> None:
    from tui.widgets.summary import rate_markup

    path = tmp_path / "t.csv"
    _write(path, 61, timedelta(minutes=1))  # a day finished every minute for an hour
    state = BackfillState.from_path(
        path, expected_start=date(2020, 1, 1), expected_end=date(2020, 12, 31)
    )
    last = T0 + timedelta(minutes=60, seconds=30)
    assert state.throughput(now=last) == 60.0
    going = state.progress(now=last)
    assert going.days_per_hour == 60.0 and going.eta is not None
    assert "60.0 days/h" in rate_markup(state, last) and "ETA " in rate_markup(state, last)
    stopped = last + timedelta(hours=2)
    assert state.throughput(now=stopped) == 0.0
    assert state.progress(now=stopped).eta is None
    assert "0.0 days/h  ETA —" in rate_markup(state, stopped)
    # Quiet, but rows finished within the hour: the rate stands, the ETA does not.
    quiet = last + timedelta(minutes=30)
    assert state.liveness(quiet).quiet and state.throughput(now=quiet) > 0
    assert "ETA —" in rate_markup(state, quiet)


def test_days_finished_per_hour_counts_each_finish_in_its_hour(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _write(path, 28, timedelta(minutes=7))  # 28 days, a finish every 7 minutes
    state = BackfillState.from_path(path)
    now = T0 + timedelta(hours=4)
    hourly = state.finished_per_hour(6, now)
    finishes = [T0 + timedelta(minutes=7) * i + timedelta(minutes=3.5) for i in range(28)]
    expected = [
        sum(now - timedelta(hours=h + 1) < f <= now - timedelta(hours=h) for f in finishes)
        for h in range(5, -1, -1)
    ]
    assert hourly == expected and sum(hourly) == 28
    assert BackfillState().finished_per_hour(3) == [0, 0, 0]


def test_days_finished_over_the_run_fall_to_zero_once_nothing_finishes(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _write(path, 28, timedelta(minutes=7))  # finishes from T0 + 3.5 min, every 7 minutes
    state = BackfillState.from_path(path)
    width, counts = state.finished_over_run(48)  # ends at the last finish
    assert width == timedelta(minutes=5)  # 189 minutes in at most 48 spans
    assert len(counts) == 38 and sum(counts) == 28 and counts[-1] == 1
    later = T0 + timedelta(hours=12)  # the writer stopped long ago
    width, counts = state.finished_over_run(48, later)
    assert width == timedelta(minutes=15) and sum(counts) == 28
    assert counts[-20:] == [0] * 20  # the end of the run shows as nothing finishing
    assert BackfillState().finished_over_run(10) == (timedelta(seconds=10), [0])


def _stamp(path: Path, day: str, started: str, finished: str = "") -> None:
    HistoricalTelemetry(path).append_row(
        {
            "chunk_date_utc": day,
            "status": "UPLOADED",
            "started_at_utc": started,
            "finished_at_utc": finished,
        }
    )


def test_the_newest_row_is_the_latest_instant_whatever_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _write(path, 30, timedelta(seconds=20))  # UTC, 20 s apart, the last at T0 + 9:50
    newer = (T0 + timedelta(minutes=20)).astimezone(timezone(timedelta(hours=-5)))
    _stamp(path, "2020-02-01", newer.isoformat())  # as text it sorts before the UTC rows
    now = T0 + timedelta(minutes=21)
    for state in (BackfillState.from_path(path), _followed(path)):
        assert state.last_row_at == T0 + timedelta(minutes=20)
        live = state.liveness(now)
        assert live.since == timedelta(minutes=1) and live.quiet is False


def test_timestamps_that_do_not_parse_are_skipped_not_taken_for_the_newest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.csv"
    _write(path, 30, timedelta(seconds=20))
    _stamp(path, "2020-02-01", "n/a", "n/a")  # sorts after every digit as text
    _stamp(path, "2020-02-02", "2026-01-01T23:59:60+00:00")  # a leap second
    expected = T0 + timedelta(seconds=20 * 29 + 10)  # the last parseable row's finish
    for state in (BackfillState.from_path(path), _followed(path)):
        assert state.last_row_at == expected
        assert state.liveness(expected + timedelta(hours=1)).quiet is True
        assert state.liveness(expected + timedelta(seconds=30)).quiet is False


def _followed(path: Path) -> BackfillState:
    """The state as a live follower builds it, row batch by row batch."""
    state = BackfillState()
    tail = TelemetryTail(path)
    while True:
        update = tail.read_new(max_bytes=300)
        state.apply(update.records, update.malformed)
        if tail.caught_up(update):
            return state
