"""A cold load on two cores gives the one-process answer, always: split at any line
end (inside a quoted field too), with times the latest-row rule orders or not."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from telemetry import twofold
from telemetry.file import TelemetryFile
from telemetry.schema import SCHEMA
from telemetry.snapshot import backfill_state
from telemetry.state import BackfillState
from telemetry.store import encode_row
from tests.bench.generate import generate
from tests.test_reference import _HOSTILE, HEADER, rows
from tests.test_snapshot import answer

_STARTED = SCHEMA.index("started_at_utc")
# Writer-format times, both lengths, one instant written both ways.
_WRITER_TIMES = st.sampled_from(
    [
        "2026-01-01T00:00:00.000000+00:00",
        "2026-01-01T01:00:00.000000+00:00",
        "2026-01-01T01:00:00+00:00",
        "2026-01-01T00:30:00+00:00",
        "2025-12-31T23:00:00.500000+00:00",
        "",  # below every instant
    ]
)

# Times the latest-row rule compares by instant or by text, not as one order:
# 01:00+00:00 then 03:00+05:00 then 02:xx gives 02:xx in one fold, but the
# later part's own latest (03:00+05:00, as text) loses to 01:00+00:00.
_ODD_TIMES = st.sampled_from(
    ["2026-01-01T01:00:00+00:00", "2026-01-01T03:00:00+05:00", "2026-01-01T02:xx"]
)


@st.composite
def split_files(draw: st.DrawFn) -> bytes:
    """A hostile telemetry file whose rows' times are all the writer's, or not."""
    writer = draw(st.booleans())
    end = draw(st.sampled_from([b"\n", b"\r\n"]))
    out = [HEADER + end]
    for piece in draw(st.lists(st.one_of(rows(), rows(), _HOSTILE), min_size=1, max_size=30)):
        if isinstance(piece, bytes):
            out.append(piece + end)
            continue
        piece[_STARTED] = draw(_WRITER_TIMES if writer else st.one_of(_ODD_TIMES, _WRITER_TIMES))
        out.append(encode_row(piece)[:-2] + end)
    if draw(st.booleans()):
        out.append(draw(st.sampled_from([b"y,2020-01-03,,,FAI", b'y,2020-01-03,,,FAILED,"ab'])))
    return b"".join(out)


def everything(state: BackfillState, file: TelemetryFile) -> tuple[Any, ...]:
    """All a state and its read say: what the commands print, each day's attempts,
    rows and runs, the figures, and what proves the bytes read (the state is
    emptied: :func:`answer` last)."""
    return (
        {d: (state.attempts(d), state.row_count(d), state.runs(d)) for d in state.days},
        state.total_attempts,
        state.in_time_order,
        state.gaps.median(),
        state.last_row_at,
        {phase: list(map(repr, stats.values)) for phase, stats in state.durations.items()},
        repr(round(state.csv_mb, 6)),
        repr(round(state.cdf_mb, 6)),
        state.records_downloaded,
        state.failures(),
        file.read_to,
        file.proof.digest(),
        answer(state),
    )


@pytest.fixture
def splittable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[int, int], Path]:
    """Makes generated files of ``rows`` rows, which are split however small."""
    monkeypatch.setattr(twofold, "MIN_BYTES", 1 << 10)
    return lambda rows, seed: generate(tmp_path / f"t{seed}.csv", rows, seed=seed)


def one_core(path: Path) -> tuple[Any, ...]:
    """What a live engine on one core holds of ``path`` once it is read through."""
    from telemetry import LiveFile

    live = LiveFile(path)
    live.drain()
    return answer(live.state)


def test_a_split_anywhere_gives_the_one_process_answer(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    merged: list[bool] = []

    @settings(
        max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(data=split_files(), cut=st.floats(0, 1), figures=st.booleans())
    # A stray quote held back at the split, which is the file's end: the read
    # went on past it (to find the end), and did not stop there.
    @example(data=HEADER + b'\nx,"2020-01-02,,,FAILED' + b"," * 19 + b"\n", cut=1.0, figures=True)
    def check(data: bytes, cut: float, figures: bool) -> None:
        path = tmp_path_factory.mktemp("two") / "t.csv"
        path.write_bytes(data)
        ends = [i + 1 for i, byte in enumerate(data) if byte == 10]
        at = ends[int(cut * (len(ends) - 1))]
        two, two_file = twofold.cold_fold(path, at=at, figures=figures)
        one, one_file = twofold.cold_fold(path, two=False, figures=figures)
        if figures:
            assert everything(two, two_file) == everything(one, one_file)
        else:  # no figures: the latest rows, the reports and the read
            assert answer(two)[1:] == answer(one)[1:]
            assert (two_file.read_to, two_file.proof.digest()) == (
                one_file.read_to,
                one_file.proof.digest(),
            )
        merged.append(two_file.stopped_at is not None)

    check()
    # The inputs exercise the merge: most splits are proven and merged.
    assert sum(merged) >= len(merged) // 3, (sum(merged), len(merged))


def test_a_big_file_is_read_on_two_cores_by_the_commands(
    splittable: Callable[[int, int], Path],
) -> None:
    path = splittable(4000, 3)
    at = twofold.split_point(path, min_bytes=1 << 10)
    assert at is not None and path.stat().st_size // 2 < at < path.stat().st_size
    two, file = twofold.cold_fold(path, at=at)
    assert file.stopped_at is not None  # split, proven and merged
    one, one_file = twofold.cold_fold(path, two=False)
    assert answer(backfill_state(path, None)) == answer(twofold.cold_fold(path, two=False)[0])
    assert everything(two, file) == everything(one, one_file)


def test_a_child_that_fails_leaves_the_one_process_answer_and_no_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = generate(tmp_path / "t.csv", 2000, seed=4)

    def fail(*_: object) -> bytes:
        raise MemoryError

    monkeypatch.setattr(twofold, "_fold_later", fail)
    at = twofold.split_point(path, min_bytes=0)
    assert at is not None
    two, file = twofold.cold_fold(path, at=at)
    assert file.stopped_at is None  # read again in one process
    one, one_file = twofold.cold_fold(path, two=False)
    assert everything(two, file) == everything(one, one_file)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left, reaped or not


@pytest.mark.parametrize("memory", [True, False], ids=["memfd", "temp file"])
def test_the_child_s_answer_written_in_short_pieces_is_merged_whole(
    splittable: Callable[[int, int], Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    memory: bool,
) -> None:
    path = splittable(3000, 5)
    write = os.write

    def short(fd: int, data: Any) -> int:  # a write takes at most 1000 bytes
        return write(fd, bytes(data[:1000]))

    monkeypatch.setattr(os, "write", short)
    if not memory:  # no memfd_create: an unnamed file in the temp directory
        monkeypatch.delattr(os, "memfd_create", raising=False)
        monkeypatch.setattr(twofold.tempfile, "tempdir", str(tmp_path))
    two, file = twofold.cold_fold(path, at=twofold.split_point(path))
    monkeypatch.undo()
    assert file.stopped_at is not None  # the child's part was merged
    one, one_file = twofold.cold_fold(path, two=False)
    assert everything(two, file) == everything(one, one_file)
    assert not list(tmp_path.glob("backfill-monitor-part-*"))  # never left behind


def test_a_child_that_cannot_write_its_answer_leaves_the_one_process_answer(
    splittable: Callable[[int, int], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = splittable(3000, 6)
    write = os.write

    def full(fd: int, data: Any) -> int:  # room for the first 4 KB only
        if os.fstat(fd).st_size + len(data) > 4096:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(fd, data)

    monkeypatch.setattr(os, "write", full)
    two, file = twofold.cold_fold(path, at=twofold.split_point(path))
    monkeypatch.undo()
    assert file.stopped_at is None  # read on from the split in one process
    one, one_file = twofold.cold_fold(path, two=False)
    assert everything(two, file) == everything(one, one_file)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left


def test_no_split_where_it_cannot_be_proven(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(HEADER.replace(b"\n", b"") + b"\r" + b"x,2020-01-01\r" * 10)  # CR-only
    assert twofold.split_point(path, min_bytes=0) is None
    path.write_bytes(b"")
    assert twofold.split_point(path, min_bytes=0) is None
    quoted = HEADER + b'\nx,2020-01-01,,,FAILED,"' + b"line\n" * 20_000 + b'"\n'
    path.write_bytes(quoted)
    assert twofold.split_point(path, min_bytes=0) is None  # no line like a row near the middle


def _row(day: str, minute: int) -> bytes:
    values = [""] * len(SCHEMA)
    values[0], values[1], values[4] = "r1", day, "UPLOADED"
    values[_STARTED] = f"2026-01-01T00:{minute:02}:00+00:00"
    return encode_row(values)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (["2020-01-01", "2020-01-02"], ["2020-01-01"]),  # the day's run does not go on
        (["2020-01-01"], ["2020-01-01"]),  # it goes on across the split
        (["2020-01-01", "a,b,c"], ["2020-01-01"]),  # across a report too
        (["2020-01-02"], ["2020-01-01", "2020-01-02"]),
    ],
)
def test_a_day_s_runs_across_the_split(tmp_path: Path, before: list[str], after: list[str]) -> None:
    def part(days: list[str], start: int) -> bytes:
        return b"".join(
            _row(d, start + k) if d[0].isdigit() else d.encode() + b"\r\n"
            for k, d in enumerate(days)
        )

    head = HEADER + b"\r\n" + part(before, 0)
    path = tmp_path / "t.csv"
    path.write_bytes(head + part(after, 10))
    two, file = twofold.cold_fold(path, at=len(head))
    assert file.stopped_at is not None
    one, one_file = twofold.cold_fold(path, two=False)
    assert everything(two, file) == everything(one, one_file)


def test_the_live_engine_reads_a_big_file_on_two_cores_then_follows_it(
    tmp_path: Path, splittable: Callable[[int, int], Path]
) -> None:
    from telemetry import LiveFile
    from telemetry.live import Step

    path = splittable(3000, 6)
    live = LiveFile(path, two_cores=True)
    steps: list[Step] = []
    live.drain(steps.append)
    assert [s.joined for s in steps].count(True) == 1  # the later part came from a child
    assert live.loaded and live.reopened_from == -1
    more = generate(tmp_path / "more.csv", 40, seed=8).read_bytes().split(b"\n", 1)[1]
    with open(path, "ab") as fh:
        fh.write(more)
    assert len(live.step().records) == 40  # then followed row by row
    assert answer(live.state) == one_core(path)
    with open(path, "r+b") as fh:  # and reset as ever
        fh.truncate(path.stat().st_size // 2)
    assert live.step().reset == "truncated"


@given(times=st.lists(_WRITER_TIMES, min_size=1, max_size=12), cut=st.integers(0, 12))
def test_over_orderly_times_the_latest_of_two_parts_is_the_latest_of_all(
    times: list[str], cut: int
) -> None:
    from telemetry.latest import orderly_times, replaces

    def latest(whens: list[str]) -> int:  # the index of the latest, as the fold keeps it
        best = 0
        for k in range(1, len(whens)):
            if replaces(whens[k], whens[best]):
                best = k
        return best

    assert orderly_times(times)
    first, second = times[:cut], times[cut:]
    if not first or not second:
        return
    a, b = latest(first), len(first) + latest(second)
    merged = b if replaces(times[b], times[a]) else a
    assert merged == latest(times)
    assert not orderly_times([*times, "2026-01-01T02:xx"])


_KILLED_MID_LOAD = r"""
import os, sys, time
from pathlib import Path
from telemetry import twofold
real = twofold._fold_later

def slow(*args):
    Path(sys.argv[2]).write_text(str(os.getpid()))  # the child says who it is
    time.sleep(30)  # still folding when its parent is killed
    return real(*args)

twofold._fold_later = slow
path = Path(sys.argv[1])
twofold.cold_fold(path, at=twofold.split_point(path, min_bytes=0))
"""


def test_a_child_dies_with_its_parent(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.polling import wait

    path = generate(tmp_path / "t.csv", 2000, seed=5)
    said = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", _KILLED_MID_LOAD, str(path), str(said)],
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert wait(lambda: said.exists() and said.read_text().strip() != "", 20)
        child = int(said.read_text())
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)

        def gone() -> bool:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return True
            try:
                with open(f"/proc/{child}/stat") as stat:  # a zombie waiting for init
                    return stat.read().split(") ")[1].startswith("Z")
            except FileNotFoundError:
                return True

        assert wait(gone, 10), "the child folds on alone"
    finally:
        parent.kill()
        parent.wait(10)


def test_the_live_engine_split_anywhere_follows_as_one_process_does(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from telemetry import LiveFile
    from telemetry.live import Step

    joined: list[bool] = []

    @settings(
        max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(data=split_files(), cut=st.floats(0, 1), figures=st.booleans(), more=split_files())
    def check(data: bytes, cut: float, figures: bool, more: bytes) -> None:
        path = tmp_path_factory.mktemp("live") / "t.csv"
        path.write_bytes(data)
        ends = [i + 1 for i, byte in enumerate(data) if byte == 10]
        at = ends[int(cut * (len(ends) - 1))]
        with pytest.MonkeyPatch.context() as patch:
            real = twofold._split
            patch.setattr(twofold, "_split", lambda path, **_: real(path, at=at))
            two = LiveFile(path, lambda: BackfillState(figures=figures), two_cores=True)
            steps: list[Step] = []
            two.drain(steps.append)
        one = LiveFile(path, lambda: BackfillState(figures=figures))
        one.drain()
        assert (two.tail.offset, two.tail.decoder.next_line) == (
            one.tail.offset,
            one.tail.decoder.next_line,
        )
        rows = more.split(b"\n", 1)[1] if b"\n" in more else b""  # appended: rows
        with open(path, "ab") as fh:
            fh.write(rows)
        changed = [two.step().changed, one.step().changed]
        assert changed[0] == changed[1]
        if figures:
            assert answer(two.state) == answer(one.state)
        else:  # no figures: no attempts either, whatever the path; the rows and reports
            assert answer(two.state)[1:] == answer(one.state)[1:]
        joined.append(any(s.joined for s in steps))

    check()
    # Most splits merge (not those inside a quoted field, or at times that
    # do not order): the inputs exercise the join.
    print(f"joined {sum(joined)} of {len(joined)}")
    assert sum(joined) >= len(joined) // 3, (sum(joined), len(joined))


def test_a_later_part_read_from_other_bytes_is_not_merged(
    splittable: Callable[[int, int], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import marshal

    from telemetry import LiveFile

    path = splittable(3000, 7)
    real = twofold._fold_later

    def elsewhere(*args: Any) -> bytes:  # as if the child had read another file
        plain, ended, (crc, size, edge) = marshal.loads(real(*args))
        return marshal.dumps((plain, ended, (crc, size, edge[:-1] + b"?")))

    monkeypatch.setattr(twofold, "_fold_later", elsewhere)
    live = LiveFile(path, two_cores=True)
    live.drain()
    assert live.joins == 0  # the steps read on alone
    assert answer(live.state) == one_core(path)
    monkeypatch.setattr(twofold, "_fold_later", real)
    again = LiveFile(path, two_cores=True)
    again.drain()
    assert again.joins == 1


def test_a_reader_that_does_not_fold_is_not_split(
    splittable: Callable[[int, int], Path],
) -> None:
    from telemetry import LiveFile

    path = splittable(2000, 9)
    reader = LiveFile(path, two_cores=True)
    rows = 0
    while True:
        step = reader.read()  # read only: the state is another thread's to apply
        rows += sum(len(s.keeps) for s in step.segments)
        if step.caught_up:
            break
    assert reader.joins == 0 and not reader.state.days
    assert rows == 2000
