"""A writer killed with SIGKILL mid-row loses only that row, and the next one lands.

Each kill lands inside a row by construction: the writer process stops once
its row is partly on disk (after a given number of its bytes) and waits to
be killed; the test asserts the file really ends mid-row before the next
writer, a fresh process, appends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from telemetry import HistoricalTelemetry
from telemetry.store import encode_row, row_values

ROOT = Path(__file__).resolve().parent.parent

_MESSAGE = "row {i}\n" + 'trace line, "quoted"\n' * 200

# The writer appends rows; at the row to be cut it writes only ``cut`` bytes
# of what append_row writes, says so on stdout, and waits to be killed.
_WRITER = """
import os, sys, time
import telemetry.store as store
path, rows, cut = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
real_write_all = store._write_all
written = 0

def write_all(fd, data):
    global written
    if written == rows:
        os.write(fd, data[:cut])
        print("cut", flush=True)
        time.sleep(60)
    real_write_all(fd, data)
    written += 1

store._write_all = write_all
telemetry = store.HistoricalTelemetry(path)
for i in range(rows + 1):
    telemetry.append_row({"chunk_date_utc": "2020-01-01", "status": "FAILED",
                          "run_id": f"w{i}", "error_message": MESSAGE.format(i=i)})
""".replace("MESSAGE", repr(_MESSAGE))


def _row_bytes(i: int) -> int:
    values = {"chunk_date_utc": "2020-01-01", "status": "FAILED", "run_id": f"w{i}"}
    return len(encode_row(row_values(values | {"error_message": _MESSAGE.format(i=i)})))


@pytest.mark.parametrize(
    "where",
    ["first byte", "inside the quoted field", "after an escaped quote", "before CRLF", "before LF"],
)
def test_sigkill_mid_row_never_garbles_the_next_row(tmp_path: Path, where: str) -> None:
    path = tmp_path / "t.csv"
    rows = 3
    size = _row_bytes(rows)
    cut = {
        "first byte": 1,
        "inside the quoted field": size // 2,
        "after an escaped quote": size - 30,
        "before CRLF": size - 2,
        "before LF": size - 1,
    }[where]
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), str(rows), str(cut)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "cut\n"
        before_kill = path.stat().st_size
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert path.stat().st_size == before_kill
    # The kill landed mid-row: the file does not end where a row ends.
    assert not path.read_bytes().endswith(b"\r\n")
    next_writer = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from telemetry import HistoricalTelemetry; "
            "HistoricalTelemetry(sys.argv[1]).append_row("
            "{'chunk_date_utc': '2020-02-01', 'status': 'UPLOADED', 'run_id': 'next'})",
            str(path),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )
    assert next_writer.returncode == 0
    store = HistoricalTelemetry(path)
    ids = [r.run_id for r in store.iter_rows()]
    complete = ["w0", "w1", "w2"]
    if where == "before LF":  # only the final line end was missing: completed, kept
        assert ids == [*complete, "w3", "next"]
        assert store.malformed() == []
    else:
        assert ids == [*complete, "next"]
        assert [m.reason for m in store.malformed()] == [
            "torn record (closed off by a later write)"
        ]
    for row in store.iter_rows():
        if row.status == "FAILED":
            assert row.error_message.endswith('trace line, "quoted"\n' * 3)
