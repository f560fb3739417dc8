"""``backfill-monitor summary``: where the backfill stands, for people and cron."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from telemetry import BackfillState

from .cli import BadInput, read_state, telemetry_file
from .options import (
    cache_option,
    check_range,
    expected_range_options,
    stale_after_option,
)
from .spans import days_between, human_duration

FAIL_ON = ("failed", "stalled", "malformed", "quiet")


def summarize(state: BackfillState, now: datetime | None = None) -> dict[str, Any]:
    """The summary as plain JSON-ready data, at ``now`` (default: the clock)."""
    now = now or datetime.now(timezone.utc)
    progress = state.progress(now=now)
    stalled = state.stalled(now)
    download = state.durations["download"]
    live = state.liveness(now)
    last = state.last_row_at
    sensor, descriptor = state.source
    return {
        # Of the last row in the file that names either (the metrics' labels).
        "sensor_id": sensor,
        "descriptor": descriptor,
        "last_row_at": last.isoformat() if last else None,
        "last_row_age_seconds": live.since.total_seconds() if live.since is not None else None,
        "quiet": live.quiet,
        "quiet_after_seconds": live.limit.total_seconds(),
        "days_by_status": {s: n for s, n in sorted(state.status_counts.items()) if n},
        "range": [str(progress.start), str(progress.end)] if progress.start else None,
        "range_inferred": progress.range_inferred,
        "total_days": progress.total,
        "done": progress.done,
        "failed": progress.failed,
        "in_flight": progress.in_flight,
        "missing": progress.missing,
        "percent_done": round(100 * progress.fraction, 2),
        "days_per_hour": progress.days_per_hour,
        "eta_hours": progress.eta.total_seconds() / 3600 if progress.eta else None,
        "attempts": state.total_attempts,
        "retries": state.retries,
        "download_seconds_p50": download.percentile(50),
        "download_seconds_p95": download.percentile(95),
        "failures": [
            {
                "error_type": g.error_type,
                "count": g.count,
                "phases": g.phases,
                "first": str(g.first),
                "last": str(g.last),
                "runs": [f"{a}..{b}" if a != b else str(a) for a, b in g.runs],
            }
            for g in state.failures()
        ],
        "stalled": [str(d) for d in stalled],
        "malformed": [{"line": m.line, "reason": m.reason} for m in state.malformed],
    }


def _last_row_line(data: dict[str, Any]) -> str:
    if data["last_row_at"] is None:
        return "last row: none yet"
    age = human_duration(timedelta(seconds=data["last_row_age_seconds"]))
    limit = human_duration(timedelta(seconds=data["quiet_after_seconds"]))
    state = f"writer QUIET (usual < {limit})" if data["quiet"] else "writer live"
    return f"last row: {data['last_row_at']} ({age} ago), {state}"


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--fail-on",
    default="",
    metavar="LIST",
    help="Exit 1 on any of: failed,stalled,malformed,quiet.",
)
@expected_range_options
@stale_after_option()
@cache_option
def summary(
    file: Path,
    as_json: bool,
    fail_on: str,
    start: date | None,
    end: date | None,
    stale_after: timedelta,
    no_cache: bool,
) -> None:
    """Counts by status, progress, throughput, ETA, failures, stalls, malformed
    rows, and whether the writer went quiet.

    The writer is quiet when its newest row is older than ten times the usual
    gap between its rows, and two minutes (the monitor's rule; --stale-after
    is for stalled days).

    \b
    Examples:
      backfill-monitor summary telemetry.csv
      backfill-monitor summary telemetry.csv --json --fail-on failed,stalled,quiet
      backfill-monitor summary telemetry.csv --start 2019-01-01 --end 2021-12-31
    """
    conditions = [c for c in fail_on.split(",") if c]
    for c in conditions:
        if c not in FAIL_ON:
            raise BadInput(f"--fail-on: {c!r} is not one of {','.join(FAIL_ON)}")
    check_range(start, end, "--start", "--end")
    telemetry_file(file)
    state = read_state(
        file,
        no_cache,
        whole=False,  # the figures, each day's status and the failed and pending days' rows
        expected_start=start,
        expected_end=end,
        stale_after=stale_after,
    )
    data = summarize(state)
    if as_json:
        click.echo(json.dumps(data))
    else:
        source = " / ".join(p for p in (data["sensor_id"], data["descriptor"]) if p)
        click.echo(
            (f"{source}: " if source else "")
            + f"{data['done']:,} of {data['total_days']:,} days done ({data['percent_done']}%), "
            f"{data['failed']:,} failed, {data['in_flight']:,} in flight, "
            f"{data['missing']:,} missing"
        )
        if data["range_inferred"] and data["range"]:
            click.echo(
                f"range {data['range'][0]}..{data['range'][1]} inferred from the file "
                "(the days seen so far): give --start and --end for the real one"
            )
        rate = data["days_per_hour"]
        eta = data["eta_hours"]
        if eta is not None:
            when = human_duration(timedelta(hours=eta))
        else:
            when = "- (writer quiet)" if data["quiet"] else "-"
        throughput = f"{rate:,.1f} days/h" if rate else "-"
        click.echo(f"throughput: {throughput}  ETA: {when}")
        for g in data["failures"]:
            first, last = date.fromisoformat(g["first"]), date.fromisoformat(g["last"])
            click.echo(
                f"  {g['error_type'] or '(no type)'}: {days_between(g['count'], first, last)}"
            )
        click.echo(f"stalled: {len(data['stalled']):,}  malformed rows: {len(data['malformed']):,}")
        click.echo(_last_row_line(data))
    tripped = {
        "failed": data["failed"] > 0,
        "stalled": bool(data["stalled"]),
        "malformed": bool(data["malformed"]),
        "quiet": data["quiet"],
    }
    hits = [c for c in conditions if tripped[c]]
    if hits:
        click.echo(f"backfill-monitor summary: --fail-on tripped: {', '.join(hits)}", err=True)
        raise SystemExit(1)
