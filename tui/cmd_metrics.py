"""``backfill-monitor metrics``: many backfills as Prometheus metrics."""

from __future__ import annotations

import socket
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import click

from .cli import BadInput
from .options import (
    POSITIVE_DURATION,
    cache_option,
    check_range,
    expected_range_options,
    parse_listen,
    stale_after_option,
    state_cache,
)

DEFAULT_LISTEN = "127.0.0.1:9464"


def _files(args: tuple[Path, ...]) -> list[Path]:
    """Each FILE as is (it must exist), each DIR's ``*.csv`` files."""
    files: list[Path] = []
    for arg in args:
        if arg.is_dir():
            files.extend(sorted(p.resolve() for p in arg.glob("*.csv") if p.is_file()))
        elif arg.is_file():
            files.append(arg.resolve())
        elif arg.exists():
            raise BadInput(f"{arg}: not a regular file")
        elif not arg.parent.is_dir():
            raise BadInput(f"no such directory: {arg.parent}")
        else:
            raise BadInput(f"{arg}: no such telemetry file")
    return list(dict.fromkeys(files))


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help=f"Serve /metrics here (default {DEFAULT_LISTEN}, unless only --textfile is given). "
    "The endpoint has no authentication: listen beyond loopback only behind a firewall "
    "or a proxy that adds it.",
)
@click.option(
    "--textfile",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the metrics to this .prom file (atomically, at each change) for "
    "node_exporter's textfile collector.",
)
@expected_range_options
@stale_after_option()
@click.option(
    "--interval",
    type=POSITIVE_DURATION,
    default="5s",
    show_default=True,
    metavar="SPAN",
    help="Fallback check of each file, new files in each DIR, and textfile refresh.",
)
@click.option("--poll", is_flag=True, help="Poll with stat (NFS, EFS, SMB mounts).")
@cache_option
def metrics(
    paths: tuple[Path, ...],
    listen: str | None,
    textfile: Path | None,
    start: date | None,
    end: date | None,
    stale_after: timedelta,
    interval: timedelta,
    poll: bool,
    no_cache: bool,
) -> None:
    """Export the state of each backfill in PATHS (files or directories of *.csv) to Prometheus.

    Each file is followed live (a scrape costs the same on a file of ten rows
    or a million); a directory's new *.csv files are picked up as they
    appear. A file that is not telemetry is reported on stderr and exported
    as backfill_up 0, and the others go on. Series carry the labels file,
    sensor_id and descriptor. Each file is read through before the endpoint
    starts (about 4 s per million rows, under 1 s from a saved state), so the
    first scrape sees whole figures. Runs until interrupted.

    \b
    Examples:
      backfill-monitor metrics /data/telemetry/
      backfill-monitor metrics a.csv b.csv --listen 127.0.0.1:9500
      backfill-monitor metrics /data/telemetry/ --textfile /var/lib/node_exporter/backfill.prom
      backfill-monitor metrics /data/telemetry/ --listen 0.0.0.0:9464   # no authentication!
    """
    from prometheus_client import CollectorRegistry, write_to_textfile

    from .exporter import MetricsServer
    from .follow import hub
    from .metrics import BackfillCollector, FileFollower

    check_range(start, end, "--start", "--end")
    if listen is None and textfile is None:
        listen = DEFAULT_LISTEN
    address = parse_listen(listen, DEFAULT_LISTEN) if listen is not None else None
    dirs = [p for p in paths if p.is_dir()]
    files = _files(paths)
    if not files and not dirs:
        raise BadInput("nothing to export: no telemetry files")
    changed = threading.Event()
    cache = state_cache(no_cache)
    followers: dict[Path, FileFollower] = {}

    def report(path: Path, error: str | None) -> None:
        if error is not None:
            click.echo(f"backfill-monitor metrics: {path}: {error} (exported as down)", err=True)
        else:
            click.echo(f"backfill-monitor metrics: {path}: telemetry again", err=True)

    def add(path: Path) -> None:
        follower = FileFollower(
            path,
            stale_after=stale_after,
            start=start,
            end=end,
            poll=poll,
            on_change=changed.set,
            on_error=report,
            cache=cache,
        )
        followers[path] = follower
        follower.start()

    hub().on_fallback.append(
        lambda reason: click.echo(f"backfill-monitor metrics: {reason}", err=True)
    )
    for path in files:
        add(path)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BackfillCollector(lambda: list(followers.values())))

    def write_textfile() -> None:
        assert textfile is not None
        try:
            write_to_textfile(str(textfile), registry)
        except OSError as exc:
            raise click.ClickException(f"--textfile {textfile}: {exc.strerror or exc}") from None

    if textfile is not None:
        write_textfile()  # a directory it cannot write to fails now, not later
    if address is not None:
        host, port = address
        try:
            MetricsServer(host, port, registry).start()
        except (OSError, socket.gaierror) as exc:
            raise click.ClickException(f"--listen {listen}: {exc.strerror or exc}") from None
        click.echo(f"serving metrics on http://{listen}/metrics", err=True)
    try:
        while True:
            changed.wait(interval.total_seconds())
            changed.clear()
            for directory in dirs:
                for path in sorted(directory.glob("*.csv")):
                    if path.resolve() not in followers and path.is_file():
                        add(path.resolve())
            if textfile is not None:
                write_textfile()
    except KeyboardInterrupt:
        pass
    finally:
        for follower in followers.values():
            follower.stop()
        sys.stdout.flush()
