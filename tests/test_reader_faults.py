"""Readers under hostile files: a hand-edited stray quote, dates the original
module's writer never checked, CR-only line ends. Every reader keeps every row
the original module would, and a damaged row loses at most itself."""

from __future__ import annotations

import io
import json
import tempfile
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from telemetry import BackfillState, HistoricalTelemetry, TelemetryTail, diagnose
from telemetry.file import HEADER_LINE
from telemetry.records import RecordDecoder, read_batches
from telemetry.store import encode_row, row_values
from tests.seed_reference import seed_append_row, seed_iter_rows, seed_load_state
from tui.cli import main

_STRAY = "unclosed quote (a torn or hand-edited row): its field would run over the next row"


def _row(i: int, msg: str = "", day: str | None = None) -> dict[str, str]:
    return {
        "run_id": f"r{i}",
        "chunk_date_utc": (date(2020, 1, 1) + timedelta(i)).isoformat() if day is None else day,
        "status": "FAILED" if msg else "UPLOADED",
        "error_message": msg,
        "started_at_utc": f"2024-01-01T00:00:{i % 60:02d}+00:00",
        "s3_key": f"k{i}",
    }


def _file(rows: list[dict[str, str]]) -> tuple[bytes, list[tuple[int, int]]]:
    """The bytes our writer gives ``rows``, and each row's byte span."""
    data = HEADER_LINE
    spans = []
    for row in rows:
        encoded = encode_row(row_values(row))
        spans.append((len(data), len(data) + len(encoded)))
        data += encoded
    return data, spans


def _tail_in_chunks(path: Path, data: bytes, step: int) -> tuple[list[str], BackfillState]:
    """What a tail following ``data`` written ``step`` bytes at a time reads."""
    path.write_bytes(b"")
    tail = TelemetryTail(path)
    state = BackfillState()
    runs: list[str] = []
    for cut in range(0, len(data) + step, step):
        path.write_bytes(data[: cut + step])
        update = tail.read_new()
        state.apply(update.records, update.malformed)
        runs += [r.values[0] for r in update.records]
    return runs, state


def test_one_hand_edited_quote_loses_only_its_own_row(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(999)]
    data, spans = _file(rows)
    start = spans[499][0]
    line = data[start : spans[499][1]]
    at = start + line.index(b",k499")  # s3_key becomes '"k499': a quote opening a field
    path = tmp_path / "t.csv"
    path.write_bytes(data[: at + 1] + b'"' + data[at + 1 :])
    store = HistoricalTelemetry(path)
    kept = [r.run_id for r in store.iter_rows()]
    assert kept == [f"r{i}" for i in range(999) if i != 499]
    assert [(m.line, m.reason) for m in diagnose(path)] == [(501, _STRAY)]
    assert len(store.load_state()) == 998
    cold = BackfillState.from_path(path)
    assert cold.rows == 998 and dict(cold.latest) == store.load_state()
    for size in (333, 4096):  # any chunk size: the decision is the same
        batches = list(read_batches(io.BytesIO(path.read_bytes()), size))
        assert sum(len(b.records) for b in batches) == 998
    followed, live = _tail_in_chunks(tmp_path / "live.csv", path.read_bytes(), 997)
    assert followed == kept and dict(live.latest) == store.load_state()
    # The writer's next append does not make it worse; neither does the
    # original module's, which takes no care of torn tails at all.
    store.append_row(_row(1000))
    seed_append_row(path, _row(1001))
    assert [r.run_id for r in store.iter_rows()] == [*kept, "r1000", "r1001"]


def test_legitimate_multi_line_tracebacks_still_read_whole(tmp_path: Path) -> None:
    traceback = 'Traceback (most recent call last):\n  File "x.py", line 3, in f\nValueError: a, b'
    rows = [_row(i, traceback + "\n" * (i % 3) if i % 2 else "") for i in range(40)]
    # Message lines that look like CSV: empty fields, commas, a day, but no status.
    rows += [_row(40, "bad row:\n,,,,,x\nx,2020-01-02,,,,"), _row(41, "\n,,,,,")]
    path = tmp_path / "t.csv"
    path.write_bytes(_file(rows)[0])
    assert [r.error_message for r in HistoricalTelemetry(path).iter_rows()] == [
        r["error_message"] for r in rows
    ]
    assert diagnose(path) == []


_TEXT = st.text(alphabet=st.sampled_from('ab ,"\n\r\x85é'), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(_TEXT, min_size=2, max_size=7),
    where=st.integers(0, 10**6),
)
@example(messages=["", "", ""], where=10**5)
@example(messages=["\n,,,,,", ""], where=78)  # a message line that must not pass for a row
@example(messages=['a\n"', "", "b"], where=7)
def test_any_single_quote_inserted_loses_at_most_the_row_it_lands_in(
    messages: list[str], where: int
) -> None:
    rows = [_row(i, m) for i, m in enumerate(messages)]
    data, spans = _file(rows)
    header_end = spans[0][0]
    at = header_end + where % (len(data) - header_end)
    touched = next(k for k, (a, b) in enumerate(spans) if a <= at < b)
    damaged = data[:at] + b'"' + data[at:]
    expected = [f"r{i}" for i in range(len(rows)) if i != touched]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(damaged)
        store = HistoricalTelemetry(path)
        kept = [r.run_id for r in store.iter_rows()]
        # Every row but the one the quote landed in is read, exactly; that
        # one may survive too (a quote inside a quoted field, say).
        assert [k for k in kept if k != f"r{touched}"] == expected
        assert len(kept) >= len(rows) - 1  # the file really decodes
        cold = BackfillState.from_path(path)
        assert dict(cold.latest) == store.load_state()
        assert cold.rows == len(kept)
        followed, live = _tail_in_chunks(Path(tmp) / "live.csv", damaged, 41)
        assert followed == kept and dict(live.latest) == store.load_state()
        store.append_row(_row(99))
        assert [r.run_id for r in store.iter_rows()] == [*kept, "r99"]


def test_dates_the_original_writer_never_checked_read_as_it_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    days = ["2020-01-01", "", "not-a-date", "2020-13-01", "2020-01-02", " 2020-01-03"]
    for i, day in enumerate(days):
        seed_append_row(path, _row(i, "boom\nline" if i == 3 else "", day=day))
    store = HistoricalTelemetry(path)
    assert list(store.iter_rows()) == seed_iter_rows(path)
    assert store.load_state() == seed_load_state(path)
    assert dict(BackfillState.from_path(path).latest) == seed_load_state(path)
    assert [m.line for m in diagnose(path)] == [3, 4, 5, 8]  # still reported


def test_cr_only_line_ends_read_as_the_original_module_reads_them(tmp_path: Path) -> None:
    lf = tmp_path / "lf.csv"
    for i in range(30):
        seed_append_row(lf, _row(i, "a, b" if i % 4 else ""))
    path = tmp_path / "old-mac.csv"
    path.write_bytes(lf.read_bytes().replace(b"\r\n", b"\r"))
    store = HistoricalTelemetry(path)
    assert list(store.iter_rows()) == seed_iter_rows(path) != []
    assert store.load_state() == seed_load_state(path)
    cold = BackfillState.from_path(path)
    assert dict(cold.latest) == seed_load_state(path) and cold.rows == 30
    day = min(cold.latest)
    assert [r.values[0] for r in cold.history(path, day)] == ["r0"]
    followed, _ = _tail_in_chunks(tmp_path / "live.csv", path.read_bytes(), 50)
    assert len(followed) == 30
    assert diagnose(path) == []
    store.append_row(_row(30, "x"))  # CRLF after CR lines: still one row each
    assert [r.run_id for r in store.iter_rows()] == [f"r{i}" for i in range(31)]
    assert [r.run_id for r in seed_iter_rows(path)] == [f"r{i}" for i in range(31)]
    assert diagnose(path) == []


def test_frame_decides_stray_quotes_as_the_decoder_does() -> None:
    data, spans = _file([_row(i) for i in range(4)])
    at = data.index(b",k1")
    damaged = data[: at + 1] + b'"' + data[at + 1 :]
    body = damaged[spans[0][0] :]
    decoder = RecordDecoder()
    decoder.decode(damaged[: spans[0][0]], 0)
    assert decoder.header is not None
    batch = decoder.decode(body, spans[0][0])
    assert RecordDecoder.frame(body) == batch.consumed == len(body)
    assert [m.reason for m in batch.malformed] == [_STRAY]


def test_the_commands_read_cr_only_files_too(tmp_path: Path) -> None:
    lf = tmp_path / "lf.csv"
    for i in range(3):
        seed_append_row(lf, _row(i, "boom" if i == 1 else ""))
    path = tmp_path / "old-mac.csv"
    path.write_bytes(lf.read_bytes().replace(b"\r\n", b"\r"))
    runner = CliRunner()
    check = runner.invoke(main, ["check", str(path)])
    assert check.exit_code == 0 and "clean" in check.output
    summary = runner.invoke(main, ["summary", str(path), "--json"])
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.output)["days_by_status"] == {"UPLOADED": 2, "FAILED": 1}


_DAYS = st.sampled_from(
    ["2020-01-01", "2020-01-02", "2021-12-31", "", "not-a-date", "2020-13-01", "2020-1-1", "x,y"]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_DAYS, _TEXT, st.integers(0, 3)), min_size=1, max_size=12))
def test_seed_written_files_with_any_dates_read_as_the_seed_reads_them(
    rows: list[tuple[str, str, int]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        for i, (day, message, second) in enumerate(rows):
            values = _row(i, message, day=day)
            values["started_at_utc"] = f"2024-01-01T00:00:0{second}+00:00"
            seed_append_row(path, values)
        store = HistoricalTelemetry(path)
        assert list(store.iter_rows()) == seed_iter_rows(path)
        assert len(seed_iter_rows(path)) == len(rows)  # every row decoded, none rejected
        assert store.load_state() == seed_load_state(path)
        assert dict(BackfillState.from_path(path).latest) == seed_load_state(path)
