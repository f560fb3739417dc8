"""``backfill-monitor upgrade``: give an older telemetry file the full header."""

from __future__ import annotations

from pathlib import Path

import click

from telemetry import SCHEMA, TelemetryFormatError, upgrade_header

from .cli import BadInput, telemetry_file


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
def upgrade(file: Path) -> None:
    """Give FILE, written before the process and upload columns, the full header.

    The upgrade is atomic: every row is copied, new columns empty, to a
    temporary file that then replaces FILE. It is safe while an orchestrator
    appends: writers of this package wait, then write into the new file (they
    also upgrade an older file on their first append; this does it on demand).

    Exit 0 when FILE was upgraded or needed nothing, 1 when the upgrade
    could not be made (FILE is then left as it was), 2 for bad input.

    \b
    Examples:
      backfill-monitor upgrade telemetry.csv
      backfill-monitor check telemetry.csv && backfill-monitor upgrade telemetry.csv
    """
    telemetry_file(file)
    with open(file, "rb") as fh:
        complete_header = b"\n" in fh.readline()
    if not complete_header:
        click.echo(f"{file}: no rows yet, nothing to upgrade")
        return
    try:
        upgraded = upgrade_header(file)
    except TelemetryFormatError as exc:
        raise BadInput(str(exc)) from None
    except OSError as exc:
        # A full disk, a read-only directory: the file is left as it was.
        reason = exc.strerror or str(exc)
        raise click.ClickException(f"{file}: not upgraded, left as it was: {reason}") from None
    if upgraded:
        click.echo(f"{file}: upgraded to the {len(SCHEMA)}-column header")
    else:
        click.echo(f"{file}: already has the {len(SCHEMA)}-column header")
