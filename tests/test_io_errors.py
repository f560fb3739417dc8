"""An I/O error while a command reads its file is one line on stderr and exit 2, never a
traceback. The fault is injected at the system call: an LD_PRELOAD shim (tests/eio_shim.c,
built here) makes ``read`` of one file fail with EIO after a number of bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from telemetry import HistoricalTelemetry

SHIM = Path(__file__).with_name("eio_shim.c")


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the EIO shim (.ci/run installs one)")
    out = tmp_path_factory.mktemp("shim") / "eio.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(out), str(SHIM), "-ldl"], check=True)
    return out


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file well past the 64 KiB every command sniffs first."""
    path = tmp_path_factory.mktemp("data") / "t.csv"
    store = HistoricalTelemetry(path)
    for k in range(400):
        day = f"{2000 + k // 300}-{k % 12 + 1:02d}-{k % 28 + 1:02d}"
        store.append_row({"chunk_date_utc": day, "status": "FAILED", "error_message": "x" * 900})
    assert path.stat().st_size > 300_000
    return path


@pytest.mark.parametrize(
    "argv",
    [["summary", "--json"], ["latest", "--format", "json"], ["latest", "--plan"], ["check"]],
)
def test_an_io_error_mid_file_is_one_line_and_exit_2(
    shim: Path, big_file: Path, argv: list[str]
) -> None:
    env = {
        **os.environ,
        "LD_PRELOAD": str(shim),
        "EIO_PATH": str(big_file.resolve()),
        "EIO_AFTER": str(150_000),  # past the sniff of the first 64 KiB: mid-fold
    }
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", argv[0], str(big_file), *argv[1:]],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{big_file}: Input/output error" in lines[0]


def test_the_shim_fails_only_past_its_byte_count(shim: Path, big_file: Path) -> None:
    """Without the fault the same command reads the file: the shim is what fails it."""
    env = {**os.environ, "LD_PRELOAD": str(shim), "EIO_PATH": str(big_file.resolve())}
    env["EIO_AFTER"] = str(10**9)
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "summary", str(big_file), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
