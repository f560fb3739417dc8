"""``backfill-monitor watch`` and ``backfill-monitor demo``."""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from .cli import BadInput
from .config import MonitorConfig, config_path, load_config
from .options import DAY, cache_option, check_range, stale_after_option, state_cache

_F = TypeVar("_F", bound=Callable[..., Any])


def telemetry_files(args: tuple[Path, ...]) -> list[Path]:
    """The files to watch: each FILE as is, each directory's ``*.csv`` files, sorted.

    A FILE that does not exist yet is kept (the monitor waits for it) if its
    directory exists.
    """
    files: list[Path] = []
    for arg in args:
        if arg.is_dir():
            found = sorted(p for p in arg.glob("*.csv") if p.is_file())
            if not found:
                raise BadInput(f"no telemetry files (*.csv) in {arg}")
            files.extend(found)
        elif arg.exists() or arg.parent.is_dir():
            files.append(arg)
        else:
            raise BadInput(f"no such directory: {arg.parent}")
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique


class NamesItsConfig(click.Command):
    """A command whose help ends with the path of the config file it reads."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.epilog = f"Config file: {config_path()}"
        super().format_epilog(ctx, formatter)


def watch_options(command: _F) -> _F:
    """FILES and the options of ``watch`` (``serve`` takes the same)."""
    for option in reversed(
        [
            click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path)),
            click.option(
                "--start", type=DAY, metavar="DATE", help="First day of the backfill (YYYY-MM-DD)."
            ),
            click.option(
                "--end", type=DAY, metavar="DATE", help="Last day of the backfill (YYYY-MM-DD)."
            ),
            click.option("--poll", is_flag=True, help="Poll with stat (NFS, EFS, SMB mounts)."),
            stale_after_option(
                "A pending day older than this is stalled (90s, 15m, 2h, 1d or seconds; "
                "default: the config file's, else 15m).",
                default=None,
            ),
            click.option(
                "--bell/--no-bell",
                default=None,
                help="Ring the terminal bell with each alert (default: the config file's, "
                "else on).",
            ),
            cache_option,
        ]
    ):
        command = option(command)
    return command


@click.command(cls=NamesItsConfig)
@watch_options
def watch(
    files: tuple[Path, ...],
    start: date | None,
    end: date | None,
    poll: bool,
    stale_after: timedelta | None,
    bell: bool | None,
    no_cache: bool,
) -> None:
    """Open the live monitor on FILES (telemetry files or directories of them).

    Several files, or a directory of ``*.csv`` telemetry files, open as one
    tab each. A file that does not exist yet is waited for. A day that
    stalls and a writer that goes quiet raise an alert (a toast and the
    bell); days turning FAILED do too when the config file asks for it.

    Defaults (theme, stale_after, colour_mode, bell, alert_on) come from the
    config file named at the end of this help, an INI file:

    \b
      [monitor]
      theme = textual-light
      stale_after = 30m
      colour_mode = availability
      bell = no
      alert_on = stalled, quiet, failed
      feed_lines = 1000
      start = 2020-01-01
      end = 2024-12-31

    \b
    Examples:
      backfill-monitor watch telemetry.csv
      backfill-monitor watch /data/telemetry/ --start 2020-01-01 --end 2024-12-31
      backfill-monitor watch a.csv b.csv --poll --stale-after 30m --no-bell
    """
    config = monitor_config()
    start, end = start or config.start, end or config.end
    check_range(start, end, "--start", "--end")
    paths = telemetry_files(files)
    from .monitor import MonitorApp

    MonitorApp(
        paths,
        poll=poll,
        stale_after=stale_after or config.stale_after or timedelta(minutes=15),
        start=start,
        end=end,
        config=config,
        bell=config.bell if bell is None else bell,
        cache=state_cache(no_cache),
    ).run()


def monitor_config() -> MonitorConfig:
    """The config file's defaults; a bad file is :class:`BadInput` (one line, exit 2)."""
    try:
        return load_config()
    except ValueError as exc:
        raise BadInput(str(exc)) from None


DEMO_STALE_AFTER_S = 30


@click.command(cls=NamesItsConfig)
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Simulation speed factor.",
)
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--no-tui", is_flag=True, help="Only write telemetry, until interrupted.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Telemetry file (default: a new temporary file); appended to if it exists.",
)
def demo(speed: float, seed: int, no_tui: bool, out: Path | None) -> None:
    """Run a simulated backfill and watch it live in the monitor.

    The simulated orchestrator writes through the real writer and attempt
    recorder: HTTP 503s and timeouts with tracebacks, retries, skipped days,
    partial availability, all three phases, and one day that stalls (shown as
    stalled after 30 seconds in the demo, instead of the usual 15 minutes).

    \b
    Examples:
      backfill-monitor demo
      backfill-monitor demo --speed 5 --seed 7
      backfill-monitor demo --no-tui --out /tmp/demo.csv
    """
    from .cli import telemetry_file
    from .simulate import DEMO_DAYS, DEMO_END, DEMO_START, simulate

    if out is not None:
        telemetry_file(out, missing_ok=True)
    else:
        out = Path(tempfile.mkdtemp(prefix="backfill-demo-")) / "telemetry.csv"
    stop = threading.Event()
    app = None
    if not no_tui:
        from .monitor import MonitorApp

        # Simulated attempts take milliseconds: call a day stalled after
        # seconds, not the quarter of an hour a real backfill needs.
        app = MonitorApp(
            out,
            stale_after=timedelta(seconds=DEMO_STALE_AFTER_S),
            start=DEMO_START,
            end=DEMO_END,
            config=monitor_config(),
        )

    def backfill() -> None:
        simulate(out, stop, speed=speed, seed=seed)
        if app is not None and not stop.is_set():
            with contextlib.suppress(RuntimeError):  # the app already closed
                app.call_from_thread(
                    app.notify,
                    f"The simulated backfill has finished: {DEMO_DAYS:,} days, "
                    f"{DEMO_START}..{DEMO_END}. q quits.",
                    timeout=30,
                )

    writer = threading.Thread(target=backfill, daemon=True)
    writer.start()
    try:
        if app is None:
            click.echo(f"writing {out} (Ctrl-C stops)", err=True)
            while writer.is_alive():
                time.sleep(0.2)
        else:
            app.run()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        writer.join(5)
    click.echo(f"The demo's telemetry is in {out}", err=True)
