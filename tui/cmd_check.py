"""``backfill-monitor check``: is this telemetry file clean?"""

from __future__ import annotations

from pathlib import Path

import click

from telemetry import TelemetryFormatError, diagnose

from .cli import BadInput, telemetry_file
from .spans import plural


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
def check(file: Path) -> None:
    """Validate FILE: header, malformed rows (line and reason), torn tail.

    Exit 0 when clean (an empty file is clean), 1 when not, 2 for a file
    that is missing or not telemetry.

    \b
    Examples:
      backfill-monitor check telemetry.csv && echo clean
      backfill-monitor check telemetry.csv || backfill-monitor latest telemetry.csv --plan
    """
    telemetry_file(file)
    try:
        reports = diagnose(file)
    except TelemetryFormatError as exc:
        raise BadInput(f"{file}: {exc}") from None
    except OSError as exc:
        raise BadInput(f"{file}: {exc.strerror or exc}") from None
    for report in reports:
        click.echo(f"{file}:{report.line}: {report.reason} (byte {report.offset})")
    if reports:
        click.echo(plural(len(reports), "malformed record"), err=True)
        raise SystemExit(1)
    click.echo(f"{file}: clean")
