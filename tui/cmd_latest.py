"""``backfill-monitor latest``: the resume state, one row per day, for scripts."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from pathlib import Path

import click

from telemetry import SCHEMA, VALID_STATUSES, HistoricalTelemetry, TelemetryFormatError, day_runs

from .cli import BadInput


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--status", "statuses", multiple=True, help="Only days with this latest status.")
@click.option("--from", "from_", metavar="DATE", help="First day (YYYY-MM-DD).")
@click.option("--to", metavar="DATE", help="Last day (YYYY-MM-DD).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "dates", "ranges"]),
    default="table",
    show_default=True,
)
def latest(
    file: Path, statuses: tuple[str, ...], from_: str | None, to: str | None, fmt: str
) -> None:
    """Print the latest row per day of FILE (the resume state), in date order.

    \b
    Examples:
      backfill-monitor latest telemetry.csv --status FAILED --format ranges
      backfill-monitor latest telemetry.csv --from 2020-01-01 --to 2020-12-31 --format csv
    """
    first, last = _day(from_, "--from"), _day(to, "--to")
    for status in statuses:
        if status not in VALID_STATUSES:
            raise BadInput(
                f"--status: {status!r} is not one of {', '.join(sorted(VALID_STATUSES))}"
            )
    if not file.is_file():
        raise BadInput(f"{file}: no such telemetry file")
    try:
        state = HistoricalTelemetry(file).load_state()
    except TelemetryFormatError as exc:
        raise BadInput(f"{file}: {exc}") from None
    days = [
        d
        for d in sorted(state)
        if (first is None or d >= first)
        and (last is None or d <= last)
        and (not statuses or state[d].status in statuses)
    ]
    out = sys.stdout
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(SCHEMA)
        for d in days:
            writer.writerow(state[d].to_dict().values())
    elif fmt == "json":
        for d in days:
            out.write(json.dumps(state[d].to_dict()) + "\n")
    elif fmt == "dates":
        out.write("".join(f"{d}\n" for d in days))
    elif fmt == "ranges":
        out.write("".join(f"{a}..{b}\n" if a != b else f"{a}\n" for a, b in day_runs(days)))
    else:
        for d in days:
            row = state[d]
            out.write(f"{d}  {row.status:<17} {row.started_at_utc:<32} {row.error_type}\n")
