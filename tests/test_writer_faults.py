"""The writer under faults: a file restored under it, a write cut by a full disk,
text a file cannot hold, symlinks, directories it may not read, names near the
limit. Raised means not stored; returned means stored; every row is kept."""

from __future__ import annotations

import csv
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from telemetry import (
    LEGACY_SCHEMA,
    SCHEMA,
    HistoricalTelemetry,
    diagnose,
    record_attempt,
    upgrade_header,
)
from tests.seed_reference import seed_iter_rows

ROOT = Path(__file__).resolve().parent.parent
HEADER = (",".join(SCHEMA) + "\r\n").encode()


def _row(day: str, msg: str = "", status: str = "FAILED", run: str = "r") -> dict[str, str]:
    return {"run_id": run, "chunk_date_utc": day, "status": status, "error_message": msg}


def _messages(path: Path) -> list[str]:
    return [r.error_message for r in HistoricalTelemetry(path).iter_rows()]


def _child(code: str, *, limit: int | None = None, no_dac: bool = False) -> subprocess.Popen[str]:
    """Run ``code`` in a fresh Python process: under a file size limit (the
    write that crosses it is cut short, the next fails with EFBIG), and/or
    without root's power to ignore permission bits."""

    def setup() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        if no_dac and os.geteuid() == 0:
            libc = ctypes.CDLL(None, use_errno=True)
            for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
                if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        preexec_fn=setup,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _legacy_file(path: Path, rows: int = 3) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(LEGACY_SCHEMA)
        for i in range(rows):
            writer.writerow([f"old{i}", f"2019-01-0{i + 1}", "", "", "UPLOADED", *[""] * 13])


# -- a cached end the file no longer proves -------------------------------------


def test_file_restored_in_place_is_checked_again_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row(_row("2024-01-01", "one"))
    store.append_row(_row("2024-01-02", "two"))
    end = path.stat().st_size
    # A backup from elsewhere, longer than what this process wrote, with a
    # line end inside a quoted message exactly where this process's rows
    # ended: trusted blindly, that end looks like a record boundary, and the
    # message's closing quote after it like an open quote to close off.
    backup = tmp_path / "backup.csv"
    head = HEADER + b'b,2023-05-01,,,FAILED,,,,,,,,,,,"'
    message = "x" * (end - 1 - len(head)) + "\n"
    HistoricalTelemetry(backup).append_row(_row("2023-05-01", message, run="b"))
    HistoricalTelemetry(backup).append_row(_row("2023-05-02", "after", run="b"))
    assert backup.read_bytes()[end - 1 : end] == b"\n"
    inode = path.stat().st_ino
    shutil.copyfile(backup, path)  # cp backup.csv telemetry.csv: same inode
    assert path.stat().st_ino == inode
    store.append_row(_row("2024-01-03", "three"))
    assert _messages(path) == [message, "after", "three"]
    assert diagnose(path) == []


# -- raised means not stored -------------------------------------------------------

_APPEND_UNDER_LIMIT = """
    import errno, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    from telemetry import HistoricalTelemetry
    store = HistoricalTelemetry({path!r})
    try:
        store.append_row({{"chunk_date_utc": "2024-01-02", "status": "FAILED",
                           "error_message": "lost " * 200}})
    except OSError as exc:
        print("raised", errno.errorcode[exc.errno])
    else:
        print("returned")
"""


@pytest.mark.parametrize("short_by", [1, 2, 500])
def test_a_write_cut_short_is_rolled_back_and_never_completed_later(
    tmp_path: Path, short_by: int
) -> None:
    path = tmp_path / "t.csv"
    store = HistoricalTelemetry(path)
    store.append_row(_row("2024-01-01", "kept"))
    size = path.stat().st_size
    row_bytes = len(b",2024-01-02,,,FAILED" + b"," * 10 + b"lost " * 200 + b"," * 9 + b"\r\n")
    proc = _child(_APPEND_UNDER_LIMIT.format(path=str(path)), limit=size + row_bytes - short_by)
    code, out, err = _finish(proc)
    assert (code, out.split()) == (0, ["raised", "EFBIG"]), err
    assert path.stat().st_size == size  # nothing of the failed row is left
    store.append_row(_row("2024-01-03", "next"))
    assert _messages(path) == ["kept", "next"]
    assert diagnose(path) == []


# -- the recorder always writes its outcome ----------------------------------------


class BadPathError(Exception):
    pass


def test_exception_text_a_file_cannot_hold_is_stored_escaped_and_reraised(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.csv"
    undecodable = os.fsdecode(b"/data/\xff.csv")  # holds the lone surrogate \udcff
    error = BadPathError(f"cannot read {undecodable}\x00 here")
    attempt = record_attempt(path, date(2024, 1, 1), "download", csv_path=undecodable)
    with pytest.raises(BadPathError) as raised, attempt:
        raise error
    assert raised.value is error
    rows = list(HistoricalTelemetry(path).iter_rows())
    assert [r.status for r in rows] == ["DOWNLOAD_PENDING", "FAILED"]
    assert rows[1].error_type == "BadPathError"
    assert rows[1].error_message.endswith("BadPathError: cannot read /data/\\udcff.csv\\x00 here")
    assert rows[0].csv_path == rows[1].csv_path == "/data/\\udcff.csv"
    assert diagnose(path) == []


def test_append_row_refuses_a_lone_surrogate_with_a_clear_value_error(tmp_path: Path) -> None:
    store = HistoricalTelemetry(tmp_path / "t.csv")
    with pytest.raises(ValueError, match="lone surrogate") as raised:
        store.append_row(_row("2024-01-01", "bad \udcff"))
    assert not isinstance(raised.value, UnicodeError)
    with pytest.raises(ValueError, match="NUL"):
        store.append_row(_row("2024-01-01", "bad \x00"))


# -- symlinks, directories, names ------------------------------------------------------


def test_upgrading_through_a_symlink_upgrades_its_target_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    real = tmp_path / "data" / "telemetry.csv"
    real.parent.mkdir()
    _legacy_file(real)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    HistoricalTelemetry(link).append_row(_row("2024-01-01", "new"))
    assert link.is_symlink() and link.resolve() == real
    assert real.read_bytes().startswith(HEADER)
    assert [r.run_id for r in HistoricalTelemetry(real).iter_rows()] == [
        "old0",
        "old1",
        "old2",
        "r",
    ]
    second = tmp_path / "second.csv"
    _legacy_file(real.with_name("other.csv"))
    second.symlink_to(real.with_name("other.csv"))
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "upgrade", str(second)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert second.is_symlink()
    assert real.with_name("other.csv").read_bytes().startswith(HEADER)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "link.csv", "second.csv"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["other.csv", "telemetry.csv"]


def test_a_new_file_in_a_directory_it_cannot_read_is_stored_and_returns(
    tmp_path: Path,
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    drop.chmod(0o333)  # write and search, no read: the directory cannot be opened
    try:
        proc = _child(
            f"""
            from telemetry import HistoricalTelemetry
            HistoricalTelemetry({str(drop / "t.csv")!r}).append_row(
                {{"chunk_date_utc": "2024-01-01", "status": "UPLOADED"}})
            print("returned")
            """,
            no_dac=True,
        )
        code, out, err = _finish(proc)
    finally:
        drop.chmod(0o755)
    assert (code, out.strip()) == (0, "returned"), err
    assert [r.status for r in HistoricalTelemetry(drop / "t.csv").iter_rows()] == ["UPLOADED"]


def test_an_older_header_with_a_name_near_the_limit_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / ("t" * 246 + ".csv")  # 250 bytes: the longest names still work
    _legacy_file(path)
    HistoricalTelemetry(path).append_row(_row("2024-01-01", "new"))
    assert path.read_bytes().startswith(HEADER)
    assert _messages(path) == ["", "", "", "new"]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_an_older_header_in_a_read_only_directory_fails_with_one_clear_reason(
    tmp_path: Path,
) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    path = locked / "t.csv"
    _legacy_file(path)
    before = path.read_bytes()
    locked.chmod(0o555)
    try:
        proc = _child(
            f"""
            from telemetry import HistoricalTelemetry
            try:
                HistoricalTelemetry({str(path)!r}).append_row(
                    {{"chunk_date_utc": "2024-01-01", "status": "UPLOADED"}})
            except PermissionError as exc:
                print(exc.strerror)
            """,
            no_dac=True,
        )
        code, out, err = _finish(proc)
    finally:
        locked.chmod(0o755)
    assert code == 0, err
    assert "older 18-column format" in out and "make that directory writable" in out
    assert path.read_bytes() == before
    assert [p.name for p in locked.iterdir()] == ["t.csv"]


# -- upgrade on a full disk ------------------------------------------------------------


def test_upgrade_that_runs_out_of_space_is_one_error_line_and_leaves_no_copy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.csv"
    _legacy_file(path, rows=200)
    before = path.read_bytes()

    def limited(code: str, limit: int, sigxfsz: str) -> subprocess.CompletedProcess[str]:
        def setup() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

        script = f"import signal, sys; signal.signal(signal.SIGXFSZ, signal.{sigxfsz})\n{code}"
        return subprocess.run(
            [sys.executable, "-c", script],
            preexec_fn=setup,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )

    argv = ["backfill-monitor", "upgrade", str(path)]
    cli = f"from tui.cli import main; sys.argv = {argv!r}; main()"
    result = limited(cli, len(before) + 100, "SIG_IGN")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: not upgraded"), result.stderr
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["old.csv"]
    # An upgrade killed mid-copy (SIGXFSZ's default action) leaves its copy;
    # the next upgrade of the file removes it.
    killed = limited(
        f"from telemetry import upgrade_header; upgrade_header({str(path)!r})",
        len(before) + 100,
        "SIG_DFL",
    )
    assert killed.returncode == -signal.SIGXFSZ
    assert len(list(tmp_path.iterdir())) == 2
    assert upgrade_header(path) is True
    assert [p.name for p in tmp_path.iterdir()] == ["old.csv"]
    assert len(seed_iter_rows(path)) == 200
