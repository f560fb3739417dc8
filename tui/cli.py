"""The ``backfill-monitor`` command line.

Each command lives in its own module and is imported only when it runs, so
headless commands never pay for importing Textual.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__

if TYPE_CHECKING:
    from telemetry import BackfillState

# command name -> "module:attribute" of its click.Command
COMMANDS: dict[str, str] = {
    "check": "tui.cmd_check:check",
    "demo": "tui.cmd_monitor:demo",
    "follow": "tui.cmd_follow:follow",
    "latest": "tui.cmd_latest:latest",
    "metrics": "tui.cmd_metrics:metrics",
    "serve": "tui.cmd_serve:serve",
    "summary": "tui.cmd_summary:summary",
    "upgrade": "tui.cmd_upgrade:upgrade",
    "watch": "tui.cmd_monitor:watch",
}

# Enough to hold any telemetry header (a few hundred bytes) many times over.
_SNIFF_BYTES = 64 << 10


class BadInput(click.ClickException):
    """Bad input: one line on stderr and exit code 2, never a traceback."""

    exit_code = 2


def telemetry_file(path: Path, *, missing_ok: bool = False) -> Path:
    """Return ``path`` if it can be read as telemetry, else raise :class:`BadInput`.

    An empty file (or one holding only the start of a header, as a crash
    while creating it leaves) is a valid, empty telemetry file. With
    ``missing_ok`` a file that does not exist yet in an existing directory
    is accepted too (``follow`` waits for it).
    """
    if path.is_dir():
        raise BadInput(f"{path}: is a directory, not a telemetry file")
    if not path.exists():
        if missing_ok and path.parent.is_dir():
            return path
        if not path.parent.is_dir():
            raise BadInput(f"no such directory: {path.parent}")
        raise BadInput(f"{path}: no such telemetry file")
    if not path.is_file():
        raise BadInput(f"{path}: not a regular file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise BadInput(f"{path}: {exc.strerror or exc}") from None
    _check_header(path, head)
    return path


def _check_header(path: Path, head: bytes) -> None:
    from telemetry import SCHEMA, RecordDecoder, TelemetryFormatError
    from telemetry.framing import cr_only_line_ends

    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if cr_only_line_ends(body):
        body = body.replace(b"\r", b"\n")  # an old editor's line ends: read as the readers do
    body = body.lstrip(b"\r\n")
    if not body:
        return  # empty: a valid, empty state
    first, newline, _ = body.partition(b"\n")
    try:
        first.decode("utf-8")
        binary = b"\x00" in first
    except UnicodeDecodeError:
        binary = bool(newline) or len(head) < _SNIFF_BYTES
    if binary:
        raise BadInput(f"{path}: binary data, not a telemetry file")
    if not newline:
        if len(head) < _SNIFF_BYTES and ",".join(SCHEMA).startswith(first.decode("utf-8")):
            return  # a torn header and nothing else: empty
        raise BadInput(f"{path}: not a telemetry file (no header line)")
    decoder = RecordDecoder()
    try:
        decoder.decode(first + b"\n", 0)
    except TelemetryFormatError as exc:
        raise BadInput(f"{path}: {exc}") from None
    if decoder.header is None:
        raise BadInput(f"{path}: not a telemetry file (no header line)")


#: What a command read, kept until the process ends when :func:`tui.cli.run`
#: ends it (``None`` otherwise): a state is not freed one object at a time
#: when its command returns, only for the process to end next.
KEPT_TO_THE_END: list[object] | None = None


def read_state(file: Path, no_cache: bool, *, whole: bool = True, **options: Any) -> BackfillState:
    """The state of the telemetry ``file`` for a command (``backfill_state``,
    from the saved state unless ``no_cache``; not ``whole`` if it reads the
    figures alone); :class:`~tui.cli.BadInput` for a file that is not telemetry."""
    from telemetry import TelemetryFormatError
    from telemetry.snapshot import backfill_state

    from .options import state_cache

    try:
        # Under run(), saved by a process of its own: the output does not wait.
        detached = KEPT_TO_THE_END is not None
        cache = state_cache(no_cache)
        state = backfill_state(file, cache, detached=detached, whole=whole, **options)
    except TelemetryFormatError as exc:
        raise BadInput(f"{file}: {exc}") from None
    if KEPT_TO_THE_END is not None:
        KEPT_TO_THE_END.append(state)
    return state


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run a command; every usage, input or I/O error becomes one line and exit code 2.

        Output cut short by its reader (``| head``) ends the command quietly
        with exit code 0, as ``cat`` and ``grep`` do.
        """
        from telemetry import TelemetryFormatError
        from telemetry.snapshot import SavedStateError

        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return result
        except BrokenPipeError:
            # Piped into head, which has read enough: stop quietly, exit 0.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0) from None
        except click.UsageError as exc:
            raise BadInput(exc.format_message()) from None
        except (TelemetryFormatError, SavedStateError) as exc:
            raise BadInput(str(exc)) from None
        except OSError as exc:  # a missing or unreadable file, an I/O error while reading
            where = f"{exc.filename}: " if exc.filename else ""
            raise BadInput(f"{where}{exc.strerror or exc}") from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backfill-monitor")
def main() -> None:
    """Watch and query the telemetry of a UDL backfill.

    Every command exits 2 with one line on stderr for bad input (a missing
    file, a directory, binary data, a CSV that is not telemetry, a bad option).
    An empty file is a valid, empty backfill.

    \b
    Examples:
      backfill-monitor demo
      backfill-monitor watch telemetry.csv
      backfill-monitor summary telemetry.csv --fail-on failed,stalled
      backfill-monitor latest telemetry.csv --plan --from 2019-01-01 --to 2021-12-31
    """


def run() -> NoReturn:
    """The ``backfill-monitor`` program: :func:`main`, then the process ends.

    A command that leaves no other thread running ends with :func:`os._exit`
    once its output is flushed: freeing a million rows' state one object at a
    time would cost a tenth of a reopen, and nothing is left to do. ``main``
    itself (as tests call it) returns as a click command does.
    """
    global KEPT_TO_THE_END
    KEPT_TO_THE_END = []
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if threading.active_count() > 1 or not isinstance(code, int | None):
        sys.exit(code)  # the interpreter's own way: joins threads, prints a message
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a reader gone, a stream closed
        pass
    os._exit(code or 0)


if __name__ == "__main__":  # pragma: no cover
    run()
