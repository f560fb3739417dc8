"""A saved state reopens a file to exactly the state a cold read gives: after appends,
and after every way the file can change under it (edited in place, copied over,
replaced, truncated, a torn tail); a saved state that is damaged is ignored."""

from __future__ import annotations

import errno
import marshal
import os
import shutil
import zlib
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry import BackfillState, LiveFile, snapshot, twofold
from telemetry.snapshot import StateCache, backfill_state
from tests.bench.generate import generate
from tests.test_reference import files
from tui.cmd_summary import summarize

NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)


def answer(state: Any) -> tuple[Any, ...]:
    """What the commands print of a state: the summary, the latest rows, the skipped ones."""
    return (
        summarize(state, now=NOW),
        sorted(state.latest_rows().items()),
        state.malformed,
        state.rows,
        state.source,
    )


def cold(path: Path, **options: Any) -> tuple[Any, ...]:
    return answer(backfill_state(path, None, **options))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(file=files(), cut=st.floats(0, 1), figures=st.booleans())
def test_a_reopened_prefix_plus_what_was_appended_is_the_cold_read(
    file: tuple[bytes, int], cut: float, figures: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data, _ = file
    lines = [i + 1 for i, byte in enumerate(data) if byte == 10]
    prefix = data[: lines[int(cut * (len(lines) - 1))]] if lines else data
    tmp = tmp_path_factory.mktemp("snap")
    path, cache = tmp / "t.csv", StateCache(tmp / "cache")
    path.write_bytes(prefix)
    first = backfill_state(path, cache, figures=figures)
    saved = any(cache.directory.glob("*.state")) if cache.directory.exists() else False
    with open(path, "ab") as fh:
        fh.write(data[len(prefix) :])
    reopened = cache.load(path, figures=figures)
    if saved:
        assert reopened is not None  # the prefix was proven and used
    live = LiveFile(path, lambda: BackfillState(figures=figures), cache=cache)
    live.reopen(live.find_prefix())
    assert (live.reopened_from >= 0) == saved  # the live engine starts from it too
    live.drain()
    again = backfill_state(path, cache, figures=figures)
    if figures:
        assert answer(again) == cold(path)
        fresh = LiveFile(path)  # a torn tail is held back live, not reported
        fresh.drain()
        assert answer(live.state) == answer(fresh.state)
        assert answer(first)[1:] == cold_prefix(prefix, tmp)[1:]
    else:
        assert answer(again)[1:] == cold(path, figures=False)[1:]


def reads(state: BackfillState, start: Any = None, end: Any = None) -> tuple[Any, ...]:
    """What a state answers of its figures and of every day, one day at a time."""
    days = state.days
    per_day = [
        (
            state.status_of(d),
            state.started_of(d),
            state.phase_of(d),
            state.latest_values(d),
            state.attempts(d),
            state.row_count(d),
            state.runs(d),
        )
        for d in days
    ]
    state.expected_start, state.expected_end = start, end
    return (list(days), per_day, state.progress(now=NOW), state.retries)


# Rows that make a day the figures name: failed, and pending long ago (stalled).
_NAMED_ROWS = [
    b"r9,2001-02-03,,,FAILED,,,,,,,,,,Timeout,gone,2001-02-04T00:00:00+00:00" + b"," * 7 + b"\n",
    b"r9,2001-02-04,,,DOWNLOAD_PENDING"
    + b"," * 12
    + b"2001-02-05T00:00:00+00:00"
    + b"," * 7
    + b"\n",
    b"",
]


def test_a_state_reopened_with_nothing_appended_answers_before_its_days_are_made(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A saved state's day slots are made only when first needed whole. Its
    summary (failures, stalled days, progress over any range), every day's
    status and the resume plan read the statuses and the rows of the failed
    and pending days it holds, and equal the cold read's; so do every other
    read, which makes them."""
    from telemetry import resume_plan

    named: list[bool] = []

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        file=files(),
        inside=st.integers(0, 5),
        named_row=st.sampled_from(_NAMED_ROWS),
        figures=st.booleans(),
        done=st.integers(0, 6),
    )
    def check(
        file: tuple[bytes, int], inside: int, named_row: bytes, figures: bool, done: int
    ) -> None:
        tmp = tmp_path_factory.mktemp("frozen")
        path, cache = tmp / "t.csv", StateCache(tmp / "cache")
        # A failed or stalled day first, or not, and days done: a range to cut.
        header, end, rest = file[0].partition(b"\n")
        first = named_row + b"".join(
            b"r8,2001-03-%02d,,,UPLOADED" % (k + 1) + b"," * 19 + b"\n" for k in range(done)
        )
        path.write_bytes(
            header
            + end
            + (first.replace(b"\n", b"\r\n") if header.endswith(b"\r") else first)
            + rest
        )
        cold_state = backfill_state(path, None, figures=figures)
        backfill_state(path, cache, figures=figures)
        reopened = cache.load(path, figures=figures, whole=False)
        if reopened is None:  # nothing saved: a torn tail, or no rows
            return
        state = reopened.state
        days = cold_state.days
        asked_statuses = lambda days: [cold_state.status_of(d) for d in days]  # noqa: E731
        # A range inside them, cut at both ends.
        start = days[min(inside, len(days) - 1)] if days else None
        last = days[max(len(days) - 1 - inside, min(inside, len(days) - 1))] if days else None
        for each in (state, cold_state):
            each.expected_start, each.expected_end = start, last
        if figures:
            assert summarize(state, now=NOW) == summarize(cold_state, now=NOW)
            assert state.failures(recent_first=True) == cold_state.failures(recent_first=True)
        assert state.progress(now=NOW) == cold_state.progress(now=NOW)
        assert resume_plan(state, now=NOW) == resume_plan(cold_state, now=NOW)
        asked = [*days, date(1999, 12, 31)]
        assert list(map(state.status_of, asked)) == list(map(cold_state.status_of, asked))
        assert state.statuses_of(days) == cold_state.statuses_of(days) == asked_statuses(days)
        assert state._frozen is not None  # not made yet
        named.append(any(cold_state.status_of(d) in ("FAILED", "DOWNLOAD_PENDING") for d in days))
        assert reads(state, start, last) == reads(cold_state, start, last)
        frozen = state._frozen  # made once a day not named was read
        assert frozen is None or set(days) <= frozen.named.keys()
        assert answer(state)[1:] == answer(cold_state)[1:]

    check()
    assert sum(named) >= len(named) // 2, named  # failed or stalled days were read


def cold_prefix(prefix: bytes, tmp: Path) -> tuple[Any, ...]:
    other = tmp / "prefix.csv"
    other.write_bytes(prefix)
    return cold(other)


@pytest.fixture
def big(tmp_path: Path) -> Path:
    return generate(tmp_path / "t.csv", 3000, seed=5)


def _reopen_equals_cold(path: Path, cache: StateCache) -> bool:
    """Whether the cache was used, asserting the answer equals a cold read's."""
    used = cache.load(path) is not None
    assert answer(backfill_state(path, cache)) == cold(path)
    return used


def test_appended_rows_are_read_on_top_of_the_saved_state(big: Path, tmp_path: Path) -> None:
    cache = StateCache(tmp_path / "cache")
    backfill_state(big, cache)
    more = generate(tmp_path / "more.csv", 400, seed=9).read_bytes().split(b"\n", 1)[1]
    with open(big, "ab") as fh:
        fh.write(more)
    assert _reopen_equals_cold(big, cache)


@pytest.mark.parametrize("change", ["in place", "cp over", "renamed over", "truncated", "grown"])
def test_a_file_changed_under_its_saved_state_reads_as_it_is_now(
    big: Path, tmp_path: Path, change: str
) -> None:
    cache = StateCache(tmp_path / "cache")
    backfill_state(big, cache)
    data = big.read_bytes()
    middle = data.index(b"UPLOADED", len(data) // 2)
    edited = data[:middle] + b"FAILED\x2c\x2c" + data[middle + 8 :]  # same size, same inode
    assert len(edited) == len(data)
    if change == "in place":
        with open(big, "r+b") as fh:
            fh.seek(middle)
            fh.write(edited[middle : middle + 8])
    elif change == "cp over":  # cp keeps the inode and writes the new bytes
        other = tmp_path / "other.csv"
        other.write_bytes(edited + b"x,2020-01-01,,,UPLOADED" + b"," * 20 + b"\n")
        shutil.copyfile(other, big)
    elif change == "renamed over":
        other = tmp_path / "other.csv"
        other.write_bytes(data)
        os.replace(other, big)  # the same bytes, another inode
    elif change == "truncated":
        with open(big, "r+b") as fh:
            fh.truncate(len(data) // 2)
    else:  # grown by bytes that are not rows after a good prefix: still a prefix
        with open(big, "ab") as fh:
            fh.write(b'x,2020-01-02,,,FAILED,"torn')
    used = _reopen_equals_cold(big, cache)
    assert used == (change == "grown")


def test_a_torn_tail_is_read_cold_each_time_and_saved_once_whole(big: Path, tmp_path: Path) -> None:
    cache = StateCache(tmp_path / "cache")
    data = big.read_bytes()
    cut = data.rindex(b"\n", 0, len(data) - 1) + 40  # partway into the last row
    big.write_bytes(data[:cut])
    backfill_state(big, cache)
    assert not cache.directory.exists()  # a torn tail: nothing saved
    big.write_bytes(data)
    backfill_state(big, cache)
    assert _reopen_equals_cold(big, cache)


@pytest.mark.parametrize(
    "damage", ["garbage", "truncated", "a flipped byte", "other version", "a directory"]
)
def test_a_damaged_saved_state_is_ignored_and_replaced(
    big: Path, tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = StateCache(tmp_path / "cache")
    backfill_state(big, cache)
    [entry] = cache.directory.glob("*.state")
    if damage == "garbage":
        entry.write_bytes(os.urandom(5000))
    elif damage == "truncated":
        entry.write_bytes(entry.read_bytes()[:1000])
    elif damage == "a flipped byte":  # inside a row's text: still a well-formed state
        data = bytearray(entry.read_bytes())
        at = data.index(b"UPLOADED", len(data) // 2)
        data[at] = ord("X")
        entry.write_bytes(bytes(data))
    elif damage == "other version":
        monkeypatch.setattr(snapshot, "FORMAT", snapshot.FORMAT + 1)
    else:
        entry.unlink()
        entry.mkdir()
    assert cache.load(big) is None
    assert answer(backfill_state(big, cache)) == cold(big)
    if damage != "a directory":
        assert cache.load(big) is not None  # saved again


def test_threads_that_read_a_reopened_state_at_once_make_its_days_once(
    big: Path, tmp_path: Path
) -> None:
    """Two threads reading a day not named by the figures (as the monitor's UI
    thread and a search worker may) make the day slots once, and both read them."""
    import threading
    import time

    cache = StateCache(tmp_path / "cache")
    backfill_state(big, cache)
    found = cache.prefix(big)
    assert found is not None and found.state._frozen is not None
    state, frozen = found.state, found.state._frozen
    real, calls = frozen._load, []

    def slow(count: int) -> Any:  # a load slow enough for the other thread to ask too
        calls.append(count)
        time.sleep(0.05)
        return real(count)

    frozen._load = slow
    day = next(d for d in state.days if d not in frozen.named)
    start, answers = threading.Barrier(4), []

    def read() -> None:
        start.wait()
        answers.append((state.attempts(day), state.latest_values(day), len(state.latest)))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fresh = backfill_state(big, None)
    expected = (fresh.attempts(day), fresh.latest_values(day), len(fresh.latest))
    assert calls == [len(state.days)] and answers == [expected] * 4


@pytest.mark.parametrize("slots", [[1, 2], [[]], b"not a marshal"])
@pytest.mark.parametrize("reader", ["latest", "plan", "live engine", "rows appended", "library"])
def test_day_slots_that_do_not_load_are_never_a_traceback(
    big: Path, _private_state_cache: Path, slots: Any, reader: str
) -> None:
    """A saved state whose slots part is whole (its CRC holds) but not day slots:
    written by something else. It is removed when met. A reader that needs
    every day's row (``latest``, the live engine, a reopen with rows
    appended) makes them first and reads the file cold instead; the plan
    reads none; the library, asked for them later, raises one clear
    exception."""
    from click.testing import CliRunner

    from tui.cli import main
    from tui.options import state_cache

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, [*args, str(big)])

    assert run("latest", "--format", "csv").exit_code == 0  # read cold, saved
    [entry] = _private_state_cache.glob("*.state")
    data = entry.read_bytes()
    at = len(snapshot._MAGIC)
    for _ in range(2):  # past the key and the state's head
        at += 12 + int.from_bytes(data[at : at + 8], "big")
    body = slots if isinstance(slots, bytes) else marshal.dumps(slots)
    entry.write_bytes(data[:at] + _whole_part(body))
    cache = state_cache(False)
    assert cache is not None
    if reader in ("latest", "plan"):
        args = ["latest", "--format", "csv"] + (["--plan"] if reader == "plan" else [])
        reopened = run(*args)
        assert reopened.exit_code == 0 and not reopened.stderr
        assert reopened.output == run(*args, "--no-cache").output
    elif reader == "library":
        found = cache.prefix(big, figures=False)
        assert found is not None and found.state.days  # read without the slots
        with pytest.raises(snapshot.SavedStateError, match="damaged") as raised:
            found.state.thaw()
        assert str(entry) in str(raised.value)
    elif reader == "live engine":
        live = LiveFile(big, lambda: BackfillState(figures=False), cache=cache)
        live.reopen(live.find_prefix())
        assert live.reopened_from == -1  # read from the start
        live.drain()
        assert answer(live.state)[1:] == cold(big, figures=False)[1:]
    else:
        with open(big, "ab") as fh:
            fh.write(generate(big.parent / "more.csv", 50, seed=3).read_bytes().split(b"\n", 1)[1])
        assert cache.load(big, figures=False) is None
        assert answer(backfill_state(big, cache, figures=False))[1:] == cold(big, figures=False)[1:]
    damaged = entry.exists() and entry.read_bytes() == data[:at] + _whole_part(body)
    assert damaged == (reader == "plan")  # the plan reads no day slots: never met there


def test_the_day_slots_are_read_when_first_needed_and_their_descriptor_closed(
    big: Path, tmp_path: Path
) -> None:
    """A reopened state reads its day slots' part only when it needs them whole,
    from a descriptor kept open until then: a save meanwhile (a rename over
    the file) changes nothing of what it reads; a part changed in place is
    found damaged then. Either way the descriptor is closed, and so is one
    whose state is dropped unread."""
    import gc

    cache = StateCache(tmp_path / "cache")
    backfill_state(big, cache)
    [entry] = cache.directory.glob("*.state")
    fds = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
    before = fds()
    found = cache.prefix(big)
    assert found is not None and found.state._frozen is not None and fds() == before + 1
    state, file = twofold.cold_fold(big)
    inode = entry.stat().st_ino
    assert file.read_to is not None and cache.save(big, state, file.read_to, file.proof)
    assert entry.stat().st_ino != inode  # saved anew: a rename over the entry
    assert answer(found.state) == cold(big) and fds() == before  # read, then closed
    found = cache.prefix(big)
    assert found is not None and fds() == before + 1
    del found
    gc.collect()
    assert fds() == before  # dropped unread: closed
    found = cache.prefix(big)
    assert found is not None
    data = bytearray(entry.read_bytes())
    data[-100] ^= 0xFF  # in place, inside the slots' part
    with open(entry, "r+b") as fh:
        fh.write(data)
    with pytest.raises(snapshot.SavedStateError, match="damaged"):
        found.state.thaw()
    assert not entry.exists() and fds() == before


def _whole_part(body: bytes) -> bytes:
    """A saved state's part holding ``body``, with its length and its right CRC."""
    return len(body).to_bytes(8, "big") + zlib.crc32(body).to_bytes(4, "big") + body


def test_the_cache_is_private_and_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "KEEP", 3)
    cache = StateCache(tmp_path / "cache")
    for k in range(5):
        backfill_state(generate(tmp_path / f"f{k}.csv", 50, seed=k), cache)
    entries = list(cache.directory.glob("*.state"))
    assert len(entries) == 3
    assert cache.directory.stat().st_mode & 0o777 == 0o700
    assert {e.stat().st_mode & 0o777 for e in entries} == {0o600}
    assert not [p for p in cache.directory.iterdir() if p.name.startswith(".")]  # no temporaries


def test_summary_and_latest_reopen_from_the_cache_and_no_cache_skips_it(
    big: Path, _private_state_cache: Path
) -> None:
    from click.testing import CliRunner

    from tui.cli import main

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    assert run("summary", str(big), "--json", "--no-cache")
    assert run("latest", str(big), "--format", "csv", "--no-cache")
    assert not list(_private_state_cache.glob("*.state"))  # --no-cache saves nothing
    for args in (["latest", str(big), "--format", "csv"], ["latest", str(big), "--plan"]):
        first = run(*args)
        assert first == run(*args) == run(*args, "--no-cache")
    with open(big, "r+b") as fh:  # edited in place: the saved state no longer proves it
        data = fh.read()
        at = data.index(b"UPLOADED", len(data) // 3)
        fh.seek(at)
        fh.write(b"FAILED,,")
    assert run("latest", str(big), "--format", "csv") == run(
        "latest", str(big), "--format", "csv", "--no-cache"
    )
    assert len(list(_private_state_cache.glob("*.state"))) == 1  # the resume kind
    run("summary", str(big), "--json")
    assert len(list(_private_state_cache.glob("*.state"))) == 2  # and the figures kind


def test_a_full_disk_while_saving_loses_nothing_and_leaves_nothing(
    big: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def no_space(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    cache = StateCache(tmp_path / "cache")
    with monkeypatch.context() as patch:
        patch.setattr(snapshot.os, "replace", no_space)
        assert answer(backfill_state(big, cache)) == cold(big)
    assert list(cache.directory.iterdir()) == []  # the temporary file is gone too
    backfill_state(big, cache)
    assert cache.load(big) is not None


def test_the_live_engine_saves_once_caught_up_and_follows_on_from_a_reopen(
    big: Path, tmp_path: Path
) -> None:
    from tests.polling import wait

    cache = StateCache(tmp_path / "cache")
    first = LiveFile(big, cache=cache)
    assert first.find_prefix() is None
    first.drain()
    assert wait(lambda: cache.prefix(big) is not None, 10), "not saved once caught up"
    reopened = LiveFile(big, cache=cache)
    reopened.drain()  # its first step looks for the saved state
    assert reopened.reopened_from == big.stat().st_size
    more = generate(tmp_path / "more.csv", 50, seed=4).read_bytes().split(b"\n", 1)[1]
    with open(big, "ab") as fh:
        fh.write(more)
    changed = reopened.step()
    assert len(changed.records) == 50  # appended rows come as rows, read on from the reopen
    fresh = LiveFile(big)
    fresh.drain()
    assert answer(reopened.state) == answer(fresh.state)
    with open(big, "r+b") as fh:  # truncated under it: a reset, as without a saved state
        fh.truncate(big.stat().st_size // 2)
    assert reopened.step().reset == "truncated"


def test_short_reads_while_proving_a_prefix_prove_it_all_the_same(
    big: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = StateCache(tmp_path / "cache")
    backfill_state(big, cache)
    real = os.preadv

    def short(fd: int, buffers: list[memoryview], offset: int) -> int:
        return int(real(fd, [buffers[0][:4096]], offset))  # a page at most, as FUSE may

    monkeypatch.setattr(snapshot.os, "preadv", short)
    assert cache.prefix(big) is not None
    assert _reopen_equals_cold(big, cache)


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("where", ["the only half", "the first half", "the second half"])
def test_an_io_error_while_proving_a_prefix_reads_the_file_cold(
    big: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """EIO in a thread that hashes the prefix (one, or one of two that take a
    half each): the saved state is not used, and the answer is a cold read's
    (the threads are joined, their errors neither raised nor printed)."""
    cache = StateCache(tmp_path / "cache")
    backfill_state(big, cache)
    size = big.stat().st_size
    if where != "the only half":  # blocks small enough for two halves
        monkeypatch.setattr(snapshot, "_PROOF_BYTES", 4096)
    half = size // 2 if where == "the second half" else 0
    real, calls = os.preadv, []

    def failing(fd: int, buffers: list[memoryview], offset: int) -> int:
        calls.append(offset)
        if offset >= half:
            raise OSError(errno.EIO, "Input/output error")
        return int(real(fd, buffers, offset))

    with monkeypatch.context() as patch:
        patch.setattr(snapshot.os, "preadv", failing)
        assert cache.prefix(big) is None
    assert (min(calls), max(calls)) == ((0, 0) if where == "the only half" else (0, size // 2))
    assert answer(backfill_state(big, cache)) == cold(big)


async def test_the_monitor_reopened_from_a_saved_state_shows_what_a_cold_start_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.monitor_wait import wait_until
    from tests.polling import wait
    from tui.monitor import MonitorApp

    path = generate(tmp_path / "t.csv", 6000, seed=11)
    # A day long before the others, three quarters into the file (in the part a
    # second process folds, and not among the rows the feed reads back).
    data = path.read_bytes()
    middle = data.index(b"\n", len(data) * 3 // 4) + 1
    early = b"r0,1990-06-01,,,UPLOADED," + b"," * 18 + b"\n"
    # The feed's rows and failures are all among the last rows, which name no
    # sensor: the header names the last row that does, read back or not.
    failed = b"".join(
        b"r0,2090-01-%02d,,,FAILED,,,,,,,,," % (k % 28 + 1) + b"," * 10 + b"\n" for k in range(400)
    )
    path.write_bytes(data[:middle] + early + data[middle:] + failed)
    cache = StateCache(tmp_path / "cache")

    async def shown(cache: StateCache | None) -> tuple[Any, ...]:
        app = MonitorApp(path, clock=lambda: NOW, cache=cache)
        async with app.run_test(size=(120, 40)) as pilot:  # no side panel: no chart worker
            pane = app.pane

            def shown_whole() -> bool:  # read through, and its figures on the screen
                summary = pane._shown.get("#summary") or "reading"
                return pane.loaded and "reading" not in summary and "waiting" not in summary

            assert await wait_until(pilot, shown_whole, 20)
            await pilot.pause(0.2)
            calendar = pane.calendar  # its lines as drawn (not its scrollbar, which a
            # loaded machine leaves highlighted or not whatever the state)
            drawn = [calendar.render_line(y).text for y in range(calendar.size.height)]
            return (
                (pane.live.reopened_from, pane.live.joins),
                list(pane.feed._rows),
                list(pane.feed._failures),
                {d: pane.state.status_of(d) for d in pane.state.days},
                pane._shown.get("#summary"),
                pane._shown.get("#head"),
                drawn,
                calendar.virtual_size.height,  # every month from the first day's
            )

    cold_view = await shown(None)
    first = await shown(cache)  # reads cold, then saves
    assert wait(lambda: cache.prefix(path) is not None, 10)
    reopened = await shown(cache)
    assert first[0] == (-1, 0) and reopened[0] == (path.stat().st_size, 0)  # the second reopened
    assert reopened[1:] == cold_view[1:] == first[1:]
    assert len(reopened[1]) > 100 and reopened[2]  # the feed holds rows and failures
    assert "SENSOR-" in reopened[5]  # the label of the rows before the last
    # A file big enough to split: its later part is folded by a second process
    # while the monitor reads the rest, then merged; the same screen.
    monkeypatch.setattr(twofold, "MIN_BYTES", 1 << 10)
    two = await shown(None)
    assert two[0] == (-1, 1)
    assert two[1:] == cold_view[1:]


def test_a_proof_taken_while_reading_is_the_proof_of_the_file(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The same proof however it is taken: as the file is read, in pieces; or
    afterwards, in blocks, by one thread or by two (each a half of the file)."""
    from telemetry.file import PrefixProof

    halves: list[bool] = []

    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(
        piece=st.binary(min_size=1, max_size=3000),
        size=st.integers(0, 300_000),
        cuts=st.lists(st.integers(1, 90_000), max_size=8),
        blocks=st.sampled_from([0, 3, 4, 9]),
    )
    def check(piece: bytes, size: int, cuts: list[int], blocks: int) -> None:
        data = (piece * (size // len(piece) + 1))[:size]
        block = size // blocks + 1 if blocks else 4 << 20  # blocks: the file in that many
        proof, at = PrefixProof(), 0
        for size in [*cuts, len(data)]:
            proof.add(data[at : at + size])
            at += size
        path = tmp_path_factory.mktemp("proof") / "f"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDONLY)
        try:
            assert proof.size == len(data)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(snapshot, "_PROOF_BYTES", block)
                assert proof.digest() == snapshot._proof(fd, len(data))
        finally:
            os.close(fd)
        halves.append(len(data) >= 2 * block)

    check()
    assert sum(halves) >= len(halves) // 5, halves  # taken in two halves, often


def test_a_read_that_takes_no_crc_proves_nothing(big: Path) -> None:
    """The embedded API's cold load hashes nothing; its proof refuses to be used."""
    from telemetry.file import TelemetryFile

    file = TelemetryFile(big, prove=False)
    state = BackfillState()
    file.read_through(state.fold_segments)
    assert file.read_to is not None and state.rows
    with pytest.raises(ValueError, match="proves nothing"):
        file.proof.digest()
    with pytest.raises(ValueError, match="proves nothing"):
        file.proof.part()


@pytest.mark.parametrize("reader", ["command", "live engine"])
def test_an_edit_in_place_while_the_file_is_read_is_never_taken_for_its_state(
    big: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """The state saved is proven by the bytes it was folded from, not by the file as
    it is after the read: an edit made meanwhile is caught at the next open."""
    cache = StateCache(tmp_path / "cache")
    real = BackfillState.fold_segments
    edited = []

    def fold_then_edit(self: BackfillState, *args: Any) -> None:
        real(self, *args)
        if not edited:  # the file's first rows are read: change one of them in place
            data = big.read_bytes()
            at = data.index(b"UPLOADED", 2000)
            with open(big, "r+b") as fh:
                fh.seek(at)
                fh.write(b"FAILED,,")
            edited.append(at)

    monkeypatch.setattr(BackfillState, "fold_segments", fold_then_edit)
    if reader == "command":
        backfill_state(big, cache)
    else:
        from tests.polling import wait

        live = LiveFile(big, cache=cache, catch_up_bytes=64 << 10)
        live.drain()
        wait(lambda: any(cache.directory.glob("*.state")), 10)
    monkeypatch.undo()
    assert edited and cache.load(big) is None  # its bytes changed after they were read
    assert _reopen_equals_cold(big, cache) is False


_HELD_SAVE = """
import os, sys, time
from telemetry import snapshot
real = snapshot.StateCache.save
def held(self, *args, **kwargs):  # the save waits for the test's word
    for _ in range(600):
        if os.path.exists(os.environ["GO"]):
            break
        time.sleep(0.05)
    return real(self, *args, **kwargs)
snapshot.StateCache.save = held
sys.argv = ["backfill-monitor", *sys.argv[1:]]
from tui import cli
cli.run()
"""


@pytest.mark.parametrize("command", ["summary", "latest"])
def test_the_program_prints_and_ends_before_its_state_is_saved(
    big: Path, tmp_path: Path, command: str
) -> None:
    """The state is saved by a process of its own: the command's output and exit do
    not wait for it, and what it saves reopens to the cold answer."""
    import subprocess
    import sys

    from tests.polling import wait

    cache, go = tmp_path / "cache", tmp_path / "go"
    env = dict(os.environ, BACKFILL_MONITOR_CACHE_DIR=str(cache), GO=str(go))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _HELD_SAVE,
            command,
            str(big),
            "--format" if command == "latest" else "--json",
            *(["json"] if command == "latest" else []),
        ],
        capture_output=True,
        env=env,
        timeout=20,  # the save waits 30 s for the word: the command may not
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0 and done.stderr == b"" and done.stdout.endswith(b"\n")
    assert not list(cache.glob("*.state"))  # not saved yet: it waits for the word
    go.touch()
    assert wait(lambda: list(cache.glob("*.state")), 20)
    figures = command == "summary"
    reopened = StateCache(cache).load(big, figures=figures)
    assert reopened is not None and reopened.saved_to == big.stat().st_size
    assert answer(reopened.state) == cold(big, figures=figures)
