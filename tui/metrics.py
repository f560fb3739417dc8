"""The state of many backfills as Prometheus metrics (``backfill-monitor metrics``).

One :class:`FileFollower` per telemetry file runs the engine on it
(:class:`~telemetry.LiveFile`: a bulk catch-up, then row changes),
woken by the process's one :class:`~tui.follow.WakeHub` (one watcher per
directory, or one poll loop for every file), so a scrape reads figures the
state keeps up to date: its cost does not grow with the file, and the
threads do not grow with the files. :class:`BackfillCollector` turns every follower's figures
into metric families at each scrape, for ``prometheus_client``'s HTTP server
and its textfile writer alike.

Names follow Prometheus's conventions: a ``backfill_`` prefix, base units
(seconds), ``_total`` for counters, ``_ratio`` for fractions. A UTC day of
the backfill is a *chunk* (``chunk_date_utc``): "days" would read as a unit
of time. Every series carries ``file``, ``sensor_id`` and ``descriptor`` (of
the file's newest row).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from telemetry import VALID_STATUSES, BackfillState, LiveFile
from telemetry.snapshot import StateCache

from .follow import hub

LABELS = ("file", "sensor_id", "descriptor")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class FileFollower:
    """Follows one telemetry file; its figures are read under :attr:`lock`.

    ``on_change`` is called (from a hub thread) after every update that
    changed something; ``on_error`` with a message when the file stops or
    starts being telemetry, or cannot be read (``None`` when it is
    telemetry again). A file that cannot be read is exported as down.
    """

    def __init__(
        self,
        path: Path,
        *,
        stale_after: timedelta,
        start: date | None = None,
        end: date | None = None,
        poll: bool = False,
        on_change: Callable[[], None] = lambda: None,
        on_error: Callable[[Path, str | None], None] = lambda path, error: None,
        cache: StateCache | None = None,
    ) -> None:
        self.path = path
        self.lock = threading.Lock()
        self._options = {"stale_after": stale_after, "expected_start": start, "expected_end": end}
        self.state = self._new_state()
        self.resets = 0
        self.exists = True
        self.error: str | None = None
        self.source = ("", "")
        self._poll = poll
        self._on_change = on_change
        self._on_error = on_error
        self._live = LiveFile(path, self._new_state, cache=cache, two_cores=True)
        self._reading = threading.Lock()  # one catch-up at a time (watch and poll threads)
        self._unsubscribe: Callable[[], None] = lambda: None

    def start(self) -> None:
        """Read what the file holds now (before returning), then follow it."""
        self.catch_up()
        self._unsubscribe = hub().subscribe(self.path, self.catch_up, poll=self._poll)

    def stop(self) -> None:
        self._unsubscribe()

    def catch_up(self) -> None:
        """Apply everything new in the file (a few MiB at a time); never raises.

        A file that cannot be read is down (its figures kept) until it reads.
        """
        with self._reading:
            self._catch_up()

    def _new_state(self) -> BackfillState:
        return BackfillState(**self._options)  # type: ignore[arg-type]

    def _catch_up(self) -> None:
        """Step the engine until caught up. A catch-up (at the start, after a reset)
        folds into a state of its own, shown once whole; later steps change the
        shown state under the lock."""
        live = self._live
        changed = False
        while True:
            if live.loaded:
                with self.lock:
                    step = live.step()
            else:
                step = live.step()
            with self.lock:
                if step.exists != self.exists:
                    self.exists, changed = step.exists, True
                if step.reset:
                    self.state = self._new_state()  # empty until the new file is read
                    self.resets += 1
                    changed = True
                if step.trouble != self.error:
                    self.error, changed = step.trouble, True
                    self._on_error(self.path, step.trouble)
                if step.loaded:
                    # A file's labels are set once it is read (through); they
                    # change only when it is reset, so its series stay the same.
                    self.state, changed = live.state, True
                    self.source = live.state.source
                elif step.records or (step.malformed and not step.loading):
                    changed = True
                    if self.source == ("", ""):  # the first row that names them
                        self.source = live.state.source
            if step.caught_up:
                break
        if changed:
            self._on_change()


class BackfillCollector(Collector):
    """Metric families of every follower, computed at each scrape."""

    def __init__(self, followers: Callable[[], list[FileFollower]], clock: Clock = utc_now) -> None:
        self._followers = followers
        self._clock = clock

    def describe(self) -> list[Metric]:
        return []  # families are known only at a scrape; skip the registry's dry run

    def collect(self) -> Iterator[Metric]:
        now = self._clock()

        def gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=[*LABELS, *extra])

        def counter(name: str, doc: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=list(LABELS))

        up = gauge("backfill_up", "1 when the file exists and is telemetry, else 0.")
        days = gauge(
            "backfill_chunks", "Days (chunks) by the status of their latest row.", ("status",)
        )
        phase = gauge(
            "backfill_phase_chunks", "Days (chunks) by the phase of their latest row.", ("phase",)
        )
        expected = gauge("backfill_expected_chunks", "Days (chunks) in the expected range.")
        inferred = gauge(
            "backfill_range_inferred",
            "1 when the expected range is the days seen so far (no --start and --end).",
        )
        missing = gauge(
            "backfill_missing_chunks", "Days (chunks) of the expected range never attempted."
        )
        progress_ratio = gauge(
            "backfill_progress_ratio", "Share of the expected range uploaded or skipped."
        )
        failed = gauge(
            "backfill_failed_chunks",
            "Days whose latest row is FAILED, by error_type.",
            ("error_type",),
        )
        stalled = gauge(
            "backfill_stalled_chunks", "Days (chunks) PENDING for longer than --stale-after."
        )
        attempts = counter("backfill_attempts", "Download attempts, summed over days (chunks).")
        retries = counter("backfill_retries", "Download attempts beyond each day's first.")
        rows = counter("backfill_rows", "Rows read from the file.")
        malformed = counter("backfill_malformed_rows", "Records every reader skips.")
        resets = counter("backfill_file_resets", "Times the file was truncated or replaced.")
        last_row = gauge(
            "backfill_last_row_timestamp_seconds", "Newest started/finished time of any row."
        )
        quiet = gauge("backfill_writer_quiet", "1 while the writer is quiet (the monitor's rule).")
        polling = GaugeMetricFamily(
            "backfill_watch_polling",
            "1 when files are polled with stat because the kernel refused a watcher.",
        )
        polling.add_metric([], 1.0 if hub().fallback is not None else 0.0)
        quiet_after = gauge(
            "backfill_writer_quiet_after_seconds", "How long without a row counts as quiet."
        )
        rate = gauge(
            "backfill_chunks_finished_per_second",
            "Days (chunks) reaching UPLOADED or SKIPPED per second, over the recent window.",
        )
        eta = gauge("backfill_eta_seconds", "Time left at the recent rate (absent when unknown).")
        for follower in self._followers():
            with follower.lock:
                state = follower.state
                labels = [str(follower.path), *follower.source]
                ok = follower.exists and follower.error is None
                up.add_metric(labels, 1.0 if ok else 0.0)
                resets.add_metric(labels, follower.resets)
                if not ok:
                    continue
                counts = state.status_counts
                for status in sorted(VALID_STATUSES):
                    days.add_metric([*labels, status], counts.get(status, 0))
                for name, statuses in state.phase_counts().items():
                    phase.add_metric([*labels, name], sum(statuses.values()))
                progress = state.progress(now=now)
                expected.add_metric(labels, progress.total)
                inferred.add_metric(labels, 1.0 if progress.range_inferred else 0.0)
                missing.add_metric(labels, progress.missing)
                progress_ratio.add_metric(labels, progress.fraction)
                for error_type, count in sorted(state.failed_counts().items()):
                    failed.add_metric([*labels, error_type], count)
                stalled.add_metric(labels, len(state.stalled(now)))
                attempts.add_metric(labels, state.total_attempts)
                retries.add_metric(labels, state.retries)
                rows.add_metric(labels, state.rows)
                malformed.add_metric(labels, len(state.malformed))
                live = state.liveness(now)
                if state.last_row_at is not None:
                    last_row.add_metric(labels, state.last_row_at.timestamp())
                quiet.add_metric(labels, 1.0 if live.quiet else 0.0)
                quiet_after.add_metric(labels, live.limit.total_seconds())
                if progress.days_per_hour is not None:
                    rate.add_metric(labels, progress.days_per_hour / 3600)
                if progress.eta is not None and not live.quiet:
                    eta.add_metric(labels, progress.eta.total_seconds())
        yield from (up, days, phase, expected, inferred, missing, progress_ratio, failed, stalled)
        yield from (attempts, retries, rows, malformed, resets, last_row, quiet, quiet_after)
        yield from (rate, eta, polling)
