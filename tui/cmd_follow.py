"""``backfill-monitor follow``: the live engine as JSON lines, for alerting pipes."""

from __future__ import annotations

import json
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import click

from telemetry import BackfillState, LiveFile, Step
from telemetry.schema import COLUMN

from .cli import telemetry_file
from .options import POSITIVE_DURATION, cache_option, stale_after_option, state_cache

_FIELDS = ("run_id", "started_at_utc", "error_type", "error_message")


def _liveness_event(state: BackfillState, quiet: bool) -> dict[str, object]:
    last = state.last_row_at
    event: dict[str, object] = {
        "event": "quiet" if quiet else "resumed",
        "last_row_at": last.isoformat() if last else None,
    }
    if quiet:
        since = state.liveness().since
        event["since_seconds"] = round(since.total_seconds(), 3) if since else None
    return event


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _day_line(day: date, values: list[str], previous: str | None) -> dict[str, object]:
    line: dict[str, object] = {
        "date": day.isoformat(),
        "status": values[COLUMN["status"]],
        "previous": previous,
    }
    for name in _FIELDS:
        line[name] = values[COLUMN[name]]
    return line


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--jsonl", is_flag=True, help="One JSON object per line (the only format).")
@click.option(
    "--changes-only",
    is_flag=True,
    help="Skip the initial state (what FILE holds at start); print every change after it.",
)
@click.option("--poll", is_flag=True, help="Poll with stat instead of inotify (NFS, EFS, SMB).")
@click.option(
    "--interval",
    type=POSITIVE_DURATION,
    default="1s",
    show_default=True,
    metavar="SPAN",
    help="Fallback check (and liveness check) period (0.5s, 1s, 2m or seconds).",
)
@stale_after_option("The writer is quiet after at least this long without a row.")
@cache_option
def follow(
    file: Path,
    jsonl: bool,
    changes_only: bool,
    poll: bool,
    interval: timedelta,
    stale_after: timedelta,
    no_cache: bool,
) -> None:
    """Follow FILE and print each day whose latest row changes, as JSON lines.

    A FILE that does not exist yet (in an existing directory) is waited for,
    like ``tail -F``; Ctrl-C stops. When the writer goes quiet (its newest
    row older than --stale-after, two minutes and ten usual gaps between
    rows: the monitor's rule) a "quiet" event is printed, and "resumed"
    when rows come again; while the file has no rows (gone, emptied),
    nothing is said of the writer.

    \b
    A changed day:  {"date": "2020-01-05", "status": "FAILED", "previous": ...}
    A lifecycle event: {"event": "reset", "reason": "truncated|replaced|deleted|created"}
                    {"event": "not_telemetry", "error": ...} (followed on; also on stderr)
                    {"event": "unreadable", "error": ...} (permissions, I/O; also on stderr)
                    {"event": "telemetry"} (read again: from its start after not_telemetry)
    The writer:     {"event": "quiet", "last_row_at": ..., "since_seconds": ...}
                    {"event": "resumed", "last_row_at": ...}

    \b
    Examples:
      backfill-monitor follow telemetry.csv --jsonl
      backfill-monitor follow /mnt/efs/telemetry.csv --jsonl --changes-only --poll
    """
    from .follow import hub, wakeups

    telemetry_file(file, missing_ok=True)
    hub().on_fallback.append(
        lambda reason: click.echo(f"backfill-monitor follow: {reason}", err=True)
    )
    # With --changes-only, the initial state is what the file holds now:
    # every row appended past this offset is a change, even one appended
    # while the rows before it are still being read.
    live = LiveFile(
        file,
        lambda: BackfillState(stale_after=stale_after),
        until=_size(file) if changes_only else None,
        cache=state_cache(no_cache),
        two_cores=True,
    )
    quiet_now = [False]
    stop = threading.Event()
    out = sys.stdout

    def emit(lines: list[dict[str, object]]) -> None:
        if lines:
            out.write("".join(json.dumps(line) + "\n" for line in lines))
            out.flush()

    # The first catch-up is the initial state: every day of it is printed,
    # unless only changes are asked for; after a reset the new file is news.
    print_load = [not changes_only]

    error_now: list[str | None] = [None]

    def on_step(step: Step) -> None:
        lines: list[dict[str, object]] = []
        if step.trouble != error_now[0]:
            # One policy: the file is followed on, and the change is said once.
            error_now[0] = step.trouble
            if step.error is not None:
                print_load[0] = True  # once telemetry again, all of it is news
                lines.append({"event": "not_telemetry", "error": step.error})
            elif step.unreadable is not None:
                lines.append({"event": "unreadable", "error": step.unreadable})
            else:
                lines.append({"event": "telemetry"})
            if step.trouble is not None:
                click.echo(f"backfill-monitor follow: {file}: {step.trouble}", err=True)
        if step.reset:
            lines.append({"event": "reset", "reason": step.reset})
            print_load[0] = True
        state = live.state
        if step.loaded and print_load[0]:
            changed: dict[date, str | None] = dict.fromkeys(state.days)
        else:
            changed = step.changed
        for day in sorted(changed):
            values = state.latest_values(day)
            if values is not None:
                lines.append(_day_line(day, values, changed[day]))
        emit(lines)

    def check_quiet() -> None:
        live_now = live.state.liveness()
        if live_now.since is None:
            return  # no rows (a file gone or emptied): nothing is said of the writer
        if live_now.quiet != quiet_now[0]:
            quiet_now[0] = live_now.quiet
            emit([_liveness_event(live.state, live_now.quiet)])

    try:
        live.drain(on_step)
        check_quiet()
        for _ in wakeups(file, stop, poll=poll, interval=interval.total_seconds()):
            live.drain(on_step)
            check_quiet()
    except KeyboardInterrupt:
        stop.set()
    except BrokenPipeError:
        stop.set()
