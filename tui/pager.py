"""A day's rows as plain text, for ``$PAGER`` (``o``) and for a file (``w``, ``e``).

No Textual import except in :func:`page`, which suspends the app while the
pager runs, and :func:`keep_text`, which hands text to a browser when the
monitor is served: the report and the file fallback are plain functions.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from telemetry import COLUMN, SCHEMA, BackfillState, Record, attempt_numbers
from telemetry.file import write_atomic

from .spans import plural

if TYPE_CHECKING:
    from textual.app import App

#: The pager when ``$PAGER`` is unset or empty (``-R`` keeps colours, ``-F``
#: quits at once when the text fits the screen, ``-X`` leaves it on screen).
DEFAULT_PAGER = "less -RFX"


def day_report(state: BackfillState, path: Path, day: date, records: Sequence[Record]) -> str:
    """Every row of ``day`` with every column that has a value, then its full error message.

    One block per row, in file order, headed by its row and try number and
    its byte offset: what an operator pastes into a ticket.
    """
    status = state.status_of(day) or "never attempted"
    lines = [
        f"{day}  latest {status}  {plural(state.attempts(day), 'attempt')}, "
        f"{plural(len(records), 'row')}  ({path})",
        "",
    ]
    numbers = attempt_numbers(r.values for r in records)
    message_at = COLUMN["error_message"]
    for n, (record, attempt) in enumerate(zip(records, numbers, strict=True), start=1):
        lines.append(f"── row {n}, try {attempt}, byte offset {record.offset:,} ──")
        width = max(len(name) for name in SCHEMA)
        lines += [
            f"{name:<{width}}  {value}"
            for name, value in zip(SCHEMA, record.values, strict=True)
            if value and name != "error_message"
        ]
        message = record.values[message_at]
        if message:
            lines += ["error_message:", message.rstrip("\n"), ""]
        else:
            lines.append("")
    if not records:
        lines.append("(no rows of this day could be read)")
    return "\n".join(lines) + "\n"


def report_path(path: Path, day: date) -> Path:
    """Where ``w`` writes a day's report: ``<stem>.<day>.txt`` beside the file."""
    return path.with_name(f"{path.stem}.{day}.txt")


def save_text(text: str, target: Path) -> Path:
    """Write ``text`` to ``target``, or to the temporary directory if that fails.

    Returns the path written. The write is atomic (a temporary file then a
    rename), so a reader never sees half a report. Raises ``OSError`` only
    when neither place can be written.
    """
    try:
        return _write_atomic(text, target)
    except OSError:
        return _write_atomic(text, Path(tempfile.gettempdir()) / target.name)


def keep_text(app: App[object], text: str, target: Path) -> str:
    """Give ``text`` to the user; return where it went, for a toast.

    In a terminal it is written to ``target`` (:func:`save_text`, so
    ``OSError`` when it cannot be). In a browser (``backfill-monitor serve``)
    it is downloaded by the browser as ``target``'s name: the server's disk is
    not the user's.
    """
    if app.is_web:
        app.deliver_text(io.StringIO(text), save_filename=target.name, mime_type="text/plain")
        return f"your browser's downloads ({target.name})"
    return str(save_text(text, target))


def _write_atomic(text: str, target: Path) -> Path:
    # A file for people and tools, not a secret.
    write_atomic(target, text.encode("utf-8"), mode=0o644)
    return target


def page(app: App[object], text: str) -> str | None:
    """Show ``text`` in ``$PAGER`` (else ``less``), the app suspended meanwhile.

    ``$PAGER`` is a shell command, as for git and man. Returns ``None`` once
    the pager has exited, else why it could not run (no terminal to hand
    over, the pager missing or failing), for the caller to offer the file.
    """
    from textual.app import SuspendNotSupported

    if app.is_web:
        return "a browser has no pager"
    if app.is_headless:
        return "no terminal to page in"
    pager = os.environ.get("PAGER") or DEFAULT_PAGER
    try:
        with app.suspend():
            done = subprocess.run(pager, shell=True, input=text.encode("utf-8"), check=False)
    except SuspendNotSupported:
        return "this terminal cannot hand over to a pager"
    except OSError as exc:
        return f"the pager {pager!r} could not run: {exc.strerror or exc}"
    if done.returncode not in (0, 141):  # 141: the pager quit before reading it all (SIGPIPE)
        return f"the pager {pager!r} exited with status {done.returncode}"
    return None
