"""Search: `/` finds days by their latest row's error, type, run id, status or date;
n / N step through the hits; Esc ends it; rows that arrive while searching count."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from telemetry import HistoricalTelemetry
from tests.monitor_wait import wait_for_rows, wait_until
from tests.test_monitor import make_app, row, text, type_keys, write_rows


def _file(path: Path, days: int) -> int:
    rows = []
    for k in range(days):
        day = date(2019, 1, 1) + timedelta(days=k)
        if k % 97 == 5:
            rows.append(
                row(day, "FAILED", k, error_type="ReadTimeout", error_message="read timed out")
            )
        elif k % 89 == 3:
            rows.append(
                row(day, "FAILED", k, error_type="HTTPError", error_message="503 Server Error")
            )
        else:
            rows.append(row(day, "UPLOADED", k))
    return write_rows(path, rows)


async def test_search_finds_days_and_n_steps_through_them(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = _file(path, 3000)
    expected = {date(2019, 1, 1) + timedelta(days=k) for k in range(3000) if k % 97 == 5}
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, app, rows)
        pane, calendar = app.pane, app.pane.calendar
        await pilot.press("slash")
        await type_keys(pilot, app, "timed OUT")  # case does not matter
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: calendar.search == expected)
        calendar.select_day(date(2019, 1, 1))
        await pilot.press("n")
        assert calendar.cursor == min(expected)
        await pilot.press("n")
        assert calendar.cursor == sorted(expected)[1]
        await pilot.press("N")
        assert calendar.cursor == min(expected)
        assert not calendar.matches(date(2019, 1, 2))  # dimmed
        await pilot.press("escape")
        assert calendar.search is None and pane.query_text == ""
        await pilot.press("n")  # n / N: failed days again
        assert app.state.status_of(calendar.cursor) == "FAILED"
        assert "/ Search" in " ".join(str(k.render()) for k in app.query("FooterKey"))


async def test_rows_that_arrive_while_searching_join_the_hits(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = _file(path, 12_000)  # several batches of the search worker
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, app, rows, timeout=30)
        calendar = app.pane.calendar
        await pilot.press("slash")
        await type_keys(pilot, app, "HTTPError")
        await pilot.press("enter")
        late = date(2019, 1, 1) + timedelta(days=12_000)
        HistoricalTelemetry(path).append_row(row(late, "FAILED", 30_000, error_type="HTTPError"))
        fixed = date(2019, 1, 1) + timedelta(days=3)  # a hit that is retried and uploaded
        HistoricalTelemetry(path).append_row(row(fixed, "UPLOADED", 30_001))
        await wait_for_rows(pilot, app, rows + 2)
        expected = {
            date(2019, 1, 1) + timedelta(days=k)
            for k in range(12_000)
            if k % 89 == 3 and k % 97 != 5
        }
        expected = (expected | {late}) - {fixed}
        assert await wait_until(pilot, lambda: calendar.search == expected, timeout=20)
        assert "match 'HTTPError'" in " ".join(n.message for n in app._notifications)
        assert text(app, "#day")  # still drawn


async def test_v_folds_the_calendar_to_the_months_with_hits(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = _file(path, 1000)
    hits = sorted(date(2019, 1, 1) + timedelta(days=k) for k in range(1000) if k % 97 == 5)
    months = sorted({(d.year, d.month) for d in hits})
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, app, rows)
        calendar = app.pane.calendar
        await pilot.press("v")  # nothing to fold to yet
        assert not calendar.folded and "search (/) or filter (s) first" in notes(app)
        await pilot.press("slash")
        await type_keys(pilot, app, "timed out")
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: calendar.search == set(hits))
        all_months = calendar.month_count
        await pilot.press("v")
        assert calendar.folded and calendar.month_count == len(months) < all_months
        await pilot.pause()
        shown = [calendar.render_line(y).text[:7] for y in range(calendar.month_count)]
        assert shown == [f"{y}-{m:02}" for y, m in months]
        assert calendar.line_of(calendar.cursor) >= 0  # the cursor is on a shown month
        assert "their months only" in text(app, "#legend")
        assert f"'timed out': {len(hits)} days" in text(app, "#legend")
        calendar.select_day(hits[0])
        await pilot.press("down")  # one shown line down: the next month with a hit
        assert (calendar.cursor.year, calendar.cursor.month) == months[1]
        # A day that starts to match brings its month in, in calendar order.
        late = next(
            date(2019, 1, 1) + timedelta(days=k)
            for k in range(1000)
            if (
                (date(2019, 1, 1) + timedelta(days=k)).year,
                (date(2019, 1, 1) + timedelta(days=k)).month,
            )
            not in months
        )
        HistoricalTelemetry(path).append_row(
            row(late, "FAILED", 5000, error_type="ReadTimeout", error_message="read timed out")
        )
        expected = sorted(set(months) | {(late.year, late.month)})
        assert await wait_until(pilot, lambda: calendar.month_count == len(expected))
        assert [calendar.ordinal_at(k) for k in range(len(expected))] == [
            y * 12 + m - 1 for y, m in expected
        ]
        await pilot.press("escape")  # the search ends: every month again
        assert calendar.month_count == all_months
        await pilot.press("s")  # a status filter folds too (v is still on)
        assert calendar.status_filter != "all" and calendar.month_count < all_months
        await pilot.press("v")
        assert not calendar.folded and calendar.month_count == all_months


def notes(app) -> str:  # type: ignore[no-untyped-def]
    return " | ".join(n.message for n in app._notifications)


async def test_a_search_goes_on_over_a_file_replaced_under_it(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = _file(path, 400)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(pilot, app, rows)
        calendar = app.pane.calendar
        await pilot.press("slash")
        await type_keys(pilot, app, "timed out")
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: bool(calendar.search))
        other = tmp_path / "other.csv"
        write_rows(
            other,
            [
                row(date(2024, 5, 1), "FAILED", 1, error_message="read timed out"),
                row(date(2024, 5, 2), "FAILED", 2, error_message="503"),
            ],
        )
        other.replace(path)
        await wait_for_rows(pilot, app, 2)
        # Only the new file's hit: none of the old file's days linger.
        assert await wait_until(pilot, lambda: calendar.search == {date(2024, 5, 1)})
        assert "1 day" in text(app, "#legend")
