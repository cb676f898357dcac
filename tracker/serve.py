"""``tracker serve``: the long-running daemon on APScheduler 3.x.

Jobs (all with ``coalesce=True``, ``max_instances=1`` and a misfire grace time,
so a late or overlapping run is harmless; a failing job is logged with its
traceback and the scheduler carries on):

* ``tick`` every ``[schedule] tick``: check the listings that are due (under
  leases, like ``tracker run --due``), then re-render what changed and write the
  feed;
* ``report`` on ``[schedule] report_cron`` in the report's time zone: the
  editors' report since the last one (written to ``report_output`` and/or
  e-mailed when ``[report.email]`` is set);
* ``housekeeping`` daily: prune the fetch log older than ``prune_after``.

SIGTERM or SIGINT: no new check starts, checks in flight finish and are
recorded, unused leases are released, and the process exits 0 within
``stop_timeout``.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tracker.config import Config
from tracker.pipeline import Clock, RunSummary, run_due, utc_now
from tracker.publish import publish
from tracker.store import Store, open_store

__all__ = ["NextJob", "Status", "next_jobs", "serve", "status_of"]

log = logging.getLogger("tracker.serve")


@dataclass(frozen=True, slots=True)
class NextJob:
    name: str
    at: datetime | None


def next_jobs(config: Config, *, now: datetime) -> list[NextJob]:
    """When the daemon's jobs fire next (for ``tracker status``)."""
    s = config.schedule
    jobs = [NextJob("tick (check due listings)", now + s.tick)]
    if s.report_cron:
        trigger = CronTrigger.from_crontab(s.report_cron, timezone=ZoneInfo(config.report.timezone))
        jobs.append(NextJob("report", trigger.get_next_fire_time(None, now)))
    jobs.append(NextJob("housekeeping", None))
    return jobs


class Daemon:
    def __init__(self, config: Config, store: Store, *, now: Clock, stop: threading.Event) -> None:
        self.config, self.store, self.now, self.stop = config, store, now, stop

    def tick(self) -> None:
        if self.stop.is_set():
            return
        summary: RunSummary = run_due(self.config, store=self.store, now=self.now, stop=self.stop)
        if summary.checked:
            log.info(
                "tick: checked %d (%d changed, %d new, %d held, %d failed)",
                summary.checked,
                summary.changed,
                summary.new,
                summary.held,
                summary.failed,
            )
        published = publish(
            self.config, self.store, now=self.now(), changed=bool(summary.changed or summary.new)
        )
        for line in published.lines():
            log.info(line)

    def report(self) -> None:
        from tracker.reporting import make_report

        s = self.config.schedule
        output = None
        if s.report_output is not None:
            stamp = self.now().astimezone(ZoneInfo(self.config.report.timezone))
            output = s.report_output.with_name(
                s.report_output.name.replace("{date}", stamp.strftime("%Y-%m-%d"))
            )
        if output is None and self.config.report.email is None:
            log.warning("report: set [schedule] report_output or [report.email] to keep it")
            return
        result = make_report(
            self.config,
            since_last=True,
            fmt=s.report_format,
            output=output,
            email=self.config.report.email is not None,
            now=self.now,
        )
        for line in result.lines:
            log.info("report: %s", line)

    def housekeeping(self) -> None:
        pruned = self.store.prune_fetch_log(before=self.now() - self.config.schedule.prune_after)
        log.info("housekeeping: pruned %d fetch-log rows", pruned)


def _log_error(event: JobExecutionEvent) -> None:
    log.error("job %s failed; the scheduler carries on", event.job_id, exc_info=event.exception)


def serve(config: Config, *, now: Clock = utc_now, stop: threading.Event | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT (or ``stop``); returns the exit code."""
    stop = stop or threading.Event()
    s = config.schedule
    with open_store(config.tracker.database) as store:
        daemon = Daemon(config, store, now=now, stop=stop)
        scheduler = BackgroundScheduler(
            timezone=ZoneInfo(config.report.timezone),
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(s.misfire_grace.total_seconds()),
            },
        )
        scheduler.add_listener(_log_error, EVENT_JOB_ERROR)
        scheduler.add_job(
            daemon.tick,
            IntervalTrigger(seconds=s.tick.total_seconds()),
            id="tick",
            next_run_time=now(),
        )
        if s.report_cron:
            scheduler.add_job(
                daemon.report,
                CronTrigger.from_crontab(s.report_cron, timezone=ZoneInfo(config.report.timezone)),
                id="report",
            )
        scheduler.add_job(daemon.housekeeping, IntervalTrigger(days=1), id="housekeeping")

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: finishing the checks in flight", signal.Signals(signum).name)
            stop.set()

        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, on_signal)
        scheduler.start()
        log.info(
            "serving: tick every %ss, report %s", s.tick.total_seconds(), s.report_cron or "off"
        )
        try:
            while not stop.wait(0.5):
                pass
        finally:
            waiter = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True})
            waiter.start()
            waiter.join(s.stop_timeout.total_seconds())
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if waiter.is_alive():
            log.error(
                "jobs still running after %ss; exiting anyway", s.stop_timeout.total_seconds()
            )
            return 3
        log.info("stopped cleanly")
    return 0


@dataclass(frozen=True, slots=True)
class Status:
    last_run: datetime | None
    last_run_status: str | None
    last_finished: datetime | None
    due_now: int
    failing: int
    stale: int
    listings: int
    jobs: list[NextJob]
    healthy: bool
    problem: str | None


def status_of(config: Config, store: Store, *, now: datetime) -> Status:
    """What ``tracker status`` shows; unhealthy when the last finished run is too old."""
    store.sync_config(config, now=now)
    last, done = store.last_runs()
    alert = config.schedule.alert_after
    problem = None
    if done is None:
        problem = "no run has finished yet"
    elif done.finished_at is not None and now - done.finished_at > alert:
        problem = (
            f"the last finished run was {_ago(now - done.finished_at)} ago "
            f"(alert_after is {_ago(alert)})"
        )
    return Status(
        last_run=last.started_at if last else None,
        last_run_status=last.status if last else None,
        last_finished=done.finished_at if done else None,
        due_now=store.due_count(now=now),
        failing=store.failing_count(),
        stale=len(store.stale(before=now - config.report.stale_after)),
        listings=len(store.active_listings()),
        jobs=next_jobs(config, now=now),
        healthy=problem is None,
        problem=problem,
    )


def _ago(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds // 60} min"
