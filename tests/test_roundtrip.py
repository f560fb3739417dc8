"""Any text round-trips through append_row -> iter_rows; load_state is the plain rule."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry import HistoricalTelemetry, TelemetryRow

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=300,
) | st.sampled_from(["a,b", '"q"', "x\r\ny", "\r", "\n", "é ☃ 𝄞", ""])
rows = st.lists(
    st.tuples(
        st.dates(date(2020, 1, 1), date(2020, 1, 10)),
        st.sampled_from(["DOWNLOAD_PENDING", "FAILED", "UPLOADED", ""]),
        st.sampled_from(
            ["2026-01-01T00:00:00.000000+00:00", "2026-01-02T00:00:00.000000+00:00", ""]
        ),
        text,
        text,
    ),
    min_size=1,
    max_size=12,
)


def _reference_latest(written: list[TelemetryRow]) -> dict[date, TelemetryRow]:
    latest: dict[date, TelemetryRow] = {}
    for row in written:
        day = date.fromisoformat(row.chunk_date_utc)
        if day not in latest or row.started_at_utc >= latest[day].started_at_utc:
            latest[day] = row
    return latest


@settings(max_examples=60, deadline=None)
@given(rows)
def test_rows_round_trip_exactly_and_load_state_is_the_rule(data: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = HistoricalTelemetry(Path(tmp) / "t.csv")
        written = []
        for day, status, started, message, path in data:
            row = TelemetryRow(
                chunk_date_utc=day.isoformat(),
                status=status,
                started_at_utc=started,
                error_message=message,
                csv_path=path,
            )
            store.append_row(row)
            written.append(row)
        assert list(store.iter_rows()) == written
        assert store.load_state() == _reference_latest(written)
        assert store.malformed() == []
