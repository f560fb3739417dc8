"""``backfill-monitor check``: is this telemetry file clean?"""

from __future__ import annotations

from pathlib import Path

import click

from telemetry import SCHEMA, TelemetryFormatError, diagnose
from telemetry.records import read_header

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
    _say_if_older(file)
    if reports:
        click.echo(plural(len(reports), "malformed record"), err=True)
        raise SystemExit(1)
    click.echo(f"{file}: clean")


def _say_if_older(file: Path) -> None:
    """Say so when FILE has the older, shorter header (a prefix of ``SCHEMA``)."""
    with open(file, "rb") as fh:
        header = read_header(fh.read(64 << 10))[0]
    if header is not None and len(header) < len(SCHEMA) and header == list(SCHEMA[: len(header)]):
        click.echo(
            f"{file}: the older format ({len(header)} of {len(SCHEMA)} columns): read as it"
            f" is; `backfill-monitor upgrade {file}` rewrites it with every column"
        )
