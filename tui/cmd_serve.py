"""``backfill-monitor serve``: the monitor in a browser (see :mod:`tui.serve`)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import sys
from datetime import date, timedelta
from pathlib import Path

import click

from .cmd_monitor import NamesItsConfig, monitor_config, telemetry_files, watch_options
from .options import POSITIVE_DURATION, check_range, parse_listen

DEFAULT_LISTEN = "127.0.0.1:8765"


@click.command(cls=NamesItsConfig)
@watch_options
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    show_default=True,
    metavar="HOST:PORT",
    help="Where to listen (port 0: any free port). Beyond loopback, anyone who can reach "
    "it and has the token can watch, and nothing is encrypted: put a TLS proxy in front.",
)
@click.option(
    "--token",
    envvar="BACKFILL_MONITOR_TOKEN",
    metavar="TOKEN",
    help="The token a browser must give (default: a new random one; also "
    "$BACKFILL_MONITOR_TOKEN, which keeps it out of the process list).",
)
@click.option(
    "--max-sessions",
    default=4,
    show_default=True,
    type=click.IntRange(min=1),
    help="Browser tabs served at once (each runs its own monitor).",
)
@click.option(
    "--heartbeat",
    type=POSITIVE_DURATION,
    default="10s",
    show_default=True,
    metavar="SPAN",
    help="Ping each browser this often; one that has not answered within half of it is "
    "gone, and its monitor ends.",
)
def serve(
    files: tuple[Path, ...],
    start: date | None,
    end: date | None,
    poll: bool,
    stale_after: timedelta | None,
    bell: bool | None,
    no_cache: bool,
    listen: str,
    token: str | None,
    max_sessions: int,
    heartbeat: timedelta,
) -> None:
    """Serve the live monitor of FILES to web browsers, until interrupted.

    Takes what watch takes. Prints the URL to open, with its token
    (http://127.0.0.1:8765/?token=...); a request without the token is
    refused. Each browser tab runs its own monitor, which ends when the tab
    closes or stops answering; SIGTERM ends the server and every monitor.
    In the browser, o, w and e download their text instead of writing
    files on the server.

    \b
    Examples:
      backfill-monitor serve telemetry.csv
      backfill-monitor serve /data/telemetry/ --start 2020-01-01 --end 2024-12-31
      BACKFILL_MONITOR_TOKEN=s3cret backfill-monitor serve a.csv --listen 0.0.0.0:8765
    """
    from .serve import MonitorServer, bind, is_loopback, serve_until_stopped, watch_argv

    monitor_config()  # a bad config file is one line now, not a failed session later
    check_range(start, end, "--start", "--end")
    host, port = parse_listen(listen, DEFAULT_LISTEN, any_port=True)
    paths = telemetry_files(files)
    args = [str(p) for p in paths]
    if start is not None:
        args += ["--start", start.isoformat()]
    if end is not None:
        args += ["--end", end.isoformat()]
    if poll:
        args.append("--poll")
    if stale_after is not None:
        args += ["--stale-after", f"{stale_after.total_seconds():g}"]
    if bell is not None:
        args.append("--bell" if bell else "--no-bell")
    if no_cache:
        args.append("--no-cache")
    token = token or secrets.token_urlsafe(24)

    def log(line: str) -> None:
        click.echo(f"backfill-monitor serve: {line}", err=True)

    try:
        listener = bind(host, port)
    except OSError as exc:
        raise click.UsageError(f"--listen {listen}: {exc.strerror or exc}") from None
    bound = listener.getsockname()[1]
    named = socket.gethostname() if host in ("0.0.0.0", "::") else host  # every address
    shown = f"[{named}]" if ":" in named else named
    if not is_loopback(host):
        log(
            f"listening beyond loopback ({shown}:{bound}): anyone who can reach it and "
            "has the token can watch, unencrypted"
        )
    server = MonitorServer(
        watch_argv(args),
        token=token,
        max_sessions=max_sessions,
        heartbeat=heartbeat.total_seconds(),
        title=f"backfill-monitor — {', '.join(p.name for p in paths)}",
        log=log,
    )

    def ready() -> None:
        click.echo(f"http://{shown}:{bound}/?token={token}")
        sys.stdout.flush()

    asyncio.run(serve_until_stopped(server, listener, ready))
