"""The fast paths for long quoted fields (a 20 MB traceback) give what the general
paths give: each is held equal to its general path on every input, with the size
at which it takes over lowered so that small generated inputs take it."""

from __future__ import annotations

import csv
import io
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from telemetry import RecordDecoder, fields, framing
from telemetry.fields import STATUS_COL, quoted_fields
from telemetry.schema import SCHEMA, VALID_STATUSES

STATUSES = sorted(s for s in VALID_STATUSES if s)

# Texts made of what matters here: quotes (pairs and lone ones), commas, line
# ends, capitals (statuses are made of them) and a few other bytes.
_PIECES = st.sampled_from(
    [
        '"',
        '""',
        ",",
        "\n",
        "\r\n",
        "a",
        "x.py",
        " ",
        "AB",
        "_",
        *STATUSES,
        *(f",{s}," for s in STATUSES),
    ]
)
texts = st.lists(_PIECES, max_size=40).map("".join)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(texts, min_size=1, max_size=6), damage=st.one_of(st.none(), texts))
def test_one_quoted_field_splits_as_csv_reader_or_declines(
    cells: list[str], damage: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    text = out.getvalue() if damage is None else out.getvalue() + damage
    general = quoted_fields(text.split('"')) if '"' in text else text.split(",")
    monkeypatch.setattr(fields, "_LONG_TEXT", 0)
    fast = fields._one_quoted_field(text) if '"' in text else None
    if fast is not None:
        assert fast == general  # never a different answer, only none
    if general is not None and damage is None:
        assert general == cells


def test_one_quoted_field_is_taken_for_one_long_quoted_field() -> None:
    message = 'File ""x.py"", line 1\n' * 5000
    text = f'r,2020-01-01,,,FAILED,"{message}",b'
    assert fields._one_quoted_field(text) == [
        "r",
        "2020-01-01",
        "",
        "",
        "FAILED",
        message.replace('""', '"'),
        "b",
    ]
    assert fields._one_quoted_field('a,"x""y","z"') is None  # two quoted fields
    assert fields._one_quoted_field('a,"x"y"') is None  # a lone quote inside


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(_PIECES, max_size=80).map("".join), cut=st.integers(0, 400))
@pytest.mark.parametrize(
    ("stepped", "window"), [(0, 1), (0, 2), (0, 3), (0, 4096), (1, 5), (8, 64)]
)
def test_content_end_is_the_content_pattern(
    text: str, cut: int, stepped: int, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(framing, "_STEPPED_QUOTES", stepped)  # 0: pairs blanked at once
    monkeypatch.setattr(framing, "_CONTENT_WINDOW", window)  # small: pairs across windows
    buf = text.encode()
    start = min(cut, len(buf))
    content = re.compile(rb'[^"]*(?:""[^"]*)*').match(buf, start)
    assert content is not None
    assert framing._content_end(buf, start) == content.end()


_ROW_LINE = "r,2020-01-02,,,UPLOADED,\n"


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pieces=st.lists(
        st.sampled_from(['"', '""', ",", "\n", "\r", "\r\n", "a", "bc", '"x,y"']), max_size=30
    ),
    cut=st.integers(0, 6),
)
def test_a_record_framed_field_by_field_ends_where_the_record_pattern_says(
    pieces: list[str], cut: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(framing, "_STEPPED_QUOTES", 0)
    monkeypatch.setattr(framing, "_CONTENT_WINDOW", 2)
    buf = "".join(pieces).encode()
    pos = min(cut, len(buf))
    assert framing._record_end(buf, pos) == framing._matched_end(buf, pos)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(text=f'x"\n{_ROW_LINE}a\n{_ROW_LINE}', start=0, length=600, status_at=STATUS_COL)
@example(text=f"a\nFAILED,\n{_ROW_LINE}", start=0, length=600, status_at=0)
@example(text=f"a\n{_ROW_LINE}", start=0, length=len(f"a\n{_ROW_LINE}") - 2, status_at=STATUS_COL)
@given(
    text=st.lists(_PIECES, max_size=120).map("".join),
    start=st.integers(0, 600),
    length=st.integers(0, 600),
    status_at=st.integers(0, STATUS_COL + 1),
)
def test_row_starts_are_the_row_start_pattern_s(
    text: str, start: int, length: int, status_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    buf = text.encode()
    start = min(start, len(buf))
    limit = min(start + length, len(buf))
    general = [m.span() for m in framing._row_start(status_at).finditer(buf, start, limit)]
    monkeypatch.setattr(framing, "_SEARCH_BY_STATUS", 0)  # the fast path, whatever the size
    fast = [m.span() for m in framing._row_starts(buf, start, limit, status_at)]
    assert fast == general
    if _ROW_LINE in text and status_at == STATUS_COL and (start, limit) == (0, len(buf)):
        assert general  # the inputs reach the rows


def test_the_row_start_search_finds_a_row_inside_a_long_field() -> None:
    """A stray quote before a 1 MB run of traceback lines then a row: the row is found."""
    header = ",".join(SCHEMA) + "\r\n"
    row = ",".join(
        "r"
        if c == "run_id"
        else "2020-01-02"
        if c == "chunk_date_utc"
        else "UPLOADED"
        if c == "status"
        else ""
        for c in SCHEMA
    )
    lines = "  File x.py, line 1, in f\n" * 40_000
    data = (header + f'r,2020-01-01,,,FAILED,"oops\n{lines}{row}\r\n').encode()
    decoder = RecordDecoder()
    batch = decoder.decode(data, 0, final=True)
    assert [r.day.isoformat() for r in batch.records] == ["2020-01-02"]
    assert [m.reason for m in batch.malformed] == [framing._STRAY_QUOTE]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pieces=st.lists(
        st.sampled_from(
            [
                _ROW_LINE,
                '"',
                '""',
                ",",
                "\n",
                "\r\n",
                "a",
                'x,"y\nz",w\n',
                "r,2020-01-03,,,FAILED,\r\n",
            ]
        ),
        max_size=40,
    ),
    cut=st.integers(0, 400),
)
def test_framing_by_quote_search_is_framing_line_by_line(pieces: list[str], cut: int) -> None:
    from telemetry.framing import FrameMemo
    from telemetry.records import RecordDecoder, _frame_lines

    buf = "".join(pieces).encode()
    buf = buf[: min(cut, len(buf))] if cut < 300 else buf  # cut inside a record too
    assert b"\x00" not in buf and not framing.has_bare_cr(buf)
    assert RecordDecoder.frame(buf, memo=FrameMemo()) == _frame_lines(buf, FrameMemo(), 0)
