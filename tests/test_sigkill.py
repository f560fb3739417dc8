"""A writer killed with SIGKILL mid-row loses only that row, and the next one lands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from telemetry import HistoricalTelemetry

_WRITER = """
import sys
from telemetry import HistoricalTelemetry
store = HistoricalTelemetry(sys.argv[1])
i = 0
while True:
    store.append_row({"chunk_date_utc": "2020-01-01", "status": "FAILED",
                      "error_message": f"row {i}\\n" + "trace line, \\"quoted\\"\\n" * 20000})
    i += 1
"""


def test_sigkill_mid_row_never_garbles_the_next_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    for trial in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)])
        time.sleep(0.4 + 0.13 * trial)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        store = HistoricalTelemetry(path)
        store.append_row(
            {"chunk_date_utc": "2020-02-01", "status": "UPLOADED", "run_id": f"t{trial}"}
        )
        rows = list(store.iter_rows())
        assert rows[-1].run_id == f"t{trial}" and rows[-1].status == "UPLOADED"
        for row in rows[:-1]:
            if row.status == "FAILED":
                assert row.error_message.endswith('trace line, "quoted"\n' * 3)
        torn = [m for m in store.malformed() if "torn" in m.reason]
        assert len(torn) <= trial + 1
