"""``backfill-monitor watch`` and ``backfill-monitor demo``."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import click

from .cli import BadInput


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--poll", is_flag=True, help="Poll with stat (NFS, EFS, SMB mounts).")
def watch(file: Path, poll: bool) -> None:
    """Open the live monitor on FILE.

    \b
    Example:
      backfill-monitor watch telemetry.csv
    """
    if file.is_dir():
        raise BadInput(f"{file} is a directory, not a telemetry file")
    if not file.parent.is_dir():
        raise BadInput(f"no such directory: {file.parent}")
    from .monitor import MonitorApp

    MonitorApp(file, poll=poll).run()


@click.command()
@click.option("--speed", default=1.0, show_default=True, help="Simulation speed factor.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--no-tui", is_flag=True, help="Only write telemetry, until interrupted.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Telemetry file.")
def demo(speed: float, seed: int, no_tui: bool, out: Path | None) -> None:
    """Run a simulated backfill and watch it live in the monitor.

    \b
    Examples:
      backfill-monitor demo
      backfill-monitor demo --speed 5 --seed 7
      backfill-monitor demo --no-tui --out /tmp/demo.csv
    """
    from .simulate import simulate

    if out is None:
        out = Path(tempfile.mkdtemp(prefix="backfill-demo-")) / "telemetry.csv"
    stop = threading.Event()
    writer = threading.Thread(
        target=simulate, args=(out, stop), kwargs={"speed": speed, "seed": seed}, daemon=True
    )
    writer.start()
    try:
        if no_tui:
            click.echo(f"writing {out} (Ctrl-C stops)", err=True)
            while writer.is_alive():
                time.sleep(0.2)
        else:
            from .monitor import MonitorApp

            MonitorApp(out).run()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        writer.join(5)
