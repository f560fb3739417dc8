"""``backfill-monitor latest``: the resume state, one row per day, for scripts."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, timedelta
from json.encoder import encode_basestring_ascii
from pathlib import Path

import click

from telemetry import (
    COLUMN,
    SCHEMA,
    VALID_STATUSES,
    BackfillState,
    ResumePlan,
    day_runs,
    phase_of,
    resume_plan,
)
from telemetry.plan import PHASES

from .cli import BadInput, read_state, telemetry_file
from .options import DAY, cache_option, check_range, stale_after_option
from .spans import plural


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--status", "statuses", multiple=True, help="Only days with this latest status.")
@click.option("--from", "first", type=DAY, metavar="DATE", help="First day (YYYY-MM-DD).")
@click.option("--to", "last", type=DAY, metavar="DATE", help="Last day (YYYY-MM-DD).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "jsonl", "dates", "ranges"]),
    default="table",
    show_default=True,
    help="json: one array; jsonl: one object per line.",
)
@click.option(
    "--plan",
    is_flag=True,
    help="Print the resume plan instead: which days need which phase next.",
)
@stale_after_option(
    "With --plan: a PENDING day older than this (90s, 15m, 2h, 1d or seconds) is "
    "stalled (work), else in flight."
)
@cache_option
def latest(
    file: Path,
    statuses: tuple[str, ...],
    first: date | None,
    last: date | None,
    fmt: str,
    plan: bool,
    stale_after: timedelta,
    no_cache: bool,
) -> None:
    """Print the latest row per day of FILE (the resume state), in date order.

    With --plan, print the resume plan for --from..--to (default: the days
    seen) instead: for each phase (download, process, upload) the days that
    need it next (never attempted, failed, stalled PENDING, or waiting for
    the next phase), then the days in flight and done. Formats: table (each
    phase with its count, then one range per line), ranges and dates ("PHASE
    DAY" lines), csv (phase,date), json (one object: phase -> ranges) and
    jsonl (one {"phase", "first", "last"} object per range).

    Without --plan: table (with a header line), csv (schema columns), json
    (one array of rows), jsonl (one row object per line), dates, ranges.

    \b
    Examples:
      backfill-monitor latest telemetry.csv --status FAILED --format ranges
      backfill-monitor latest telemetry.csv --from 2020-01-01 --to 2020-12-31 --format csv
      backfill-monitor latest telemetry.csv --plan --from 2019-01-01 --to 2021-12-31
      backfill-monitor latest telemetry.csv --plan --format ranges | grep ^download
    """
    check_range(first, last, "--from", "--to")
    if plan and statuses:
        raise BadInput("--status cannot be combined with --plan")
    for status in statuses:
        if status not in VALID_STATUSES:
            raise BadInput(
                f"--status: {status!r} is not one of {', '.join(sorted(VALID_STATUSES))}"
            )
    telemetry_file(file)
    # load_state()'s fold; each day's row is split into values only if printed.
    # Every day's row is read but for the plan and the days alone (dates, ranges):
    # those read each day's status, and the rows of failed and pending days.
    whole = not plan and fmt not in ("dates", "ranges")
    state = read_state(file, no_cache, whole=whole, figures=False)
    if plan:
        _print_plan(resume_plan(state, first, last, stale_after=stale_after), fmt)
        return
    days = [d for d in state.days if (first is None or d >= first) and (last is None or d <= last)]
    if statuses:
        days = [d for d in days if state.status_of(d) in statuses]
    out = sys.stdout
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(SCHEMA)  # a telemetry file again: the schema's columns only
        writer.writerows(_values(state, d) for d in days)
    elif fmt == "json":  # one array, written a slice at a time (never whole in memory)
        out.write("[")
        for k in range(0, len(days), JSON_SLICE):
            part = ", ".join([_json_row(_values(state, d)) for d in days[k : k + JSON_SLICE]])
            out.write((", " if k else "") + part)
        out.write("]\n")
    elif fmt == "jsonl":
        for d in days:
            out.write(_json_row(_values(state, d)) + "\n")
    elif fmt == "dates":
        out.write("".join(f"{d}\n" for d in days))
    elif fmt == "ranges":
        out.write("".join(f"{a}..{b}\n" if a != b else f"{a}\n" for a, b in day_runs(days)))
    else:
        out.write(f"{'date':<10}  {'status':<17} {'phase':<8} {'started_at_utc':<32} error_type\n")
        for d in days:
            values = _values(state, d)
            status, started = values[_STATUS], values[COLUMN["started_at_utc"]]
            error_type = values[COLUMN["error_type"]]
            out.write(f"{d}  {status:<17} {phase_of(values):<8} {started:<32} {error_type}\n")


_STATUS = COLUMN["status"]


def _values(state: BackfillState, day: date) -> list[str]:
    values = state.latest_values(day)
    assert values is not None  # a day of state.days
    return values


#: Rows of ``--format json`` built and written at a time.
JSON_SLICE = 1000


# One row as ``json.dumps`` writes a dict of its columns and ``phase``: the keys
# are plain names, so only the values need encoding (by json's own C encoder).
_JSON_ROW = "{" + ", ".join(f'"{name}": %s' for name in (*SCHEMA, "phase")) + "}"


def _json_row(values: list[str]) -> str:
    """A row's columns and ``phase`` (the one it is in, or for FAILED failed in), as
    the JSON object ``json.dumps`` makes of them."""
    return _JSON_ROW % (
        *map(encode_basestring_ascii, values),
        encode_basestring_ascii(phase_of(values)),
    )


def _run_text(a: date, b: date) -> str:
    return f"{a}..{b}" if a != b else str(a)


def _print_plan(plan: ResumePlan, fmt: str) -> None:
    out = sys.stdout
    if fmt == "jsonl":
        for phase in PHASES:
            for a, b in plan.ranges(phase):
                out.write(json.dumps({"phase": phase, "first": str(a), "last": str(b)}) + "\n")
    elif fmt == "json":
        data: dict[str, object] = {
            "range": None if plan.start is None else [str(plan.start), str(plan.end)],
        }
        for phase in PHASES:
            data[phase] = [_run_text(a, b) for a, b in plan.ranges(phase)]
        for name in ("in_flight", "done", "never_attempted", "failed", "stalled"):
            data[name] = [_run_text(a, b) for a, b in day_runs(getattr(plan, name))]
        out.write(json.dumps(data) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["phase", "date"])
        for phase in PHASES:
            writer.writerows((phase, str(d)) for d in getattr(plan, phase))
    elif fmt == "dates":
        for phase in PHASES:
            out.write("".join(f"{phase} {d}\n" for d in getattr(plan, phase)))
    elif fmt == "ranges":
        out.write(plan.ranges_text())
    else:
        if plan.start is None:
            out.write("nothing to plan: no days in the file and no --from/--to\n")
            return
        out.write(
            f"{plan.start}..{plan.end}: {plan.work:,} days need work, "
            f"{len(plan.in_flight):,} in flight, {len(plan.done):,} done "
            f"({len(plan.never_attempted):,} never attempted, {len(plan.failed):,} failed, "
            f"{len(plan.stalled):,} stalled)\n"
        )
        for phase in PHASES:
            days = getattr(plan, phase)
            out.write(f"{phase}: {plural(len(days), 'day')}\n")
            out.write("".join(f"  {_run_text(a, b)}\n" for a, b in plan.ranges(phase)))
