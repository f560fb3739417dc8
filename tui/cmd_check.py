"""``backfill-monitor check``: is this telemetry file clean?"""

from __future__ import annotations

from pathlib import Path

import click

from telemetry import TelemetryFormatError, diagnose

from .cli import BadInput


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
def check(file: Path) -> None:
    """Validate FILE: header, malformed rows (line and reason), torn tail.

    Exit 0 when clean, 1 when not, 2 for a file that is missing or not telemetry.

    \b
    Example:
      backfill-monitor check telemetry.csv && echo clean
    """
    if not file.is_file():
        raise BadInput(f"{file}: no such telemetry file")
    try:
        reports = diagnose(file)
    except TelemetryFormatError as exc:
        raise BadInput(f"{file}: {exc}") from None
    except OSError as exc:
        raise BadInput(f"{file}: {exc.strerror or exc}") from None
    for report in reports:
        click.echo(f"{file}:{report.line}: {report.reason} (byte {report.offset})")
    if reports:
        click.echo(f"{len(reports)} malformed record(s)", err=True)
        raise SystemExit(1)
    click.echo(f"{file}: clean")
