"""The job worker: APScheduler triggers the poll; the job table holds every bit of state.

`tourflow worker` runs one; `tourflow serve` starts one beside the web server. Any number
may run at once against one database (engine/run/jobs.py makes acquisition safe). APScheduler
owns nothing: its jobs are two interval triggers (poll, housekeeping) and one-off wake-ups
at the next due time, all in memory, rebuilt at every start. Calendar work such as the
month-end report is a BPMN timer start event whose next run is a row of the job table, so
it survives restarts and runs once however many workers there are.

SIGTERM or SIGINT: the worker takes no new job, finishes the step it is in, gives back
the leases it has not started and exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, or_, select

from engine.outbox.delivery import Deliverer
from engine.outbox.settings import RetryPolicy
from engine.run.jobs import JobRunner, wall_clock, worker_name
from engine.store.models import Job
from engine.store.states import JobState

if TYPE_CHECKING:
    from engine.run.runtime import Runtime

log = logging.getLogger("tourflow.worker")

DEFAULT_POLL_SECONDS = 1.0
DEFAULT_HOUSEKEEPING_SECONDS = 30.0


class Worker:
    def __init__(self, runtime: Runtime, *, name: str | None = None, poll_seconds: float = DEFAULT_POLL_SECONDS,
                 housekeeping_seconds: float = DEFAULT_HOUSEKEEPING_SECONDS, lease_seconds: float | None = None):
        self.runtime = runtime
        self.runner = JobRunner(runtime, owner=name or worker_name())
        if lease_seconds is not None:
            self.runner.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.housekeeping_seconds = housekeeping_seconds
        self.stopping = threading.Event()
        self.fired = 0
        self.sent = 0
        self._poll_lock = threading.Lock()
        # The outbox is polled on its own trigger (a scheduler thread): a slow mail server never delays a timer.
        self.deliverer = Deliverer(runtime.db, owner=self.runner.owner, policy=RetryPolicy.from_env())
        self.scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )

    @property
    def name(self) -> str:
        return self.runner.owner

    # ---- the scheduled work --------------------------------------------------------------
    def poll(self) -> None:
        """Run every due job, then arrange to wake exactly when the next one falls due."""
        if self.stopping.is_set() or not self._poll_lock.acquire(blocking=False):
            return  # a poll is running already: it drains everything due
        try:
            fired = self.runner.run_due(should_stop=self.stopping.is_set)
            self.fired += len(fired)
            self._wake_at_next_due()
        except Exception:  # noqa: BLE001 - the database may be away for a moment: the next poll retries
            log.exception("poll failed")
        finally:
            self._poll_lock.release()

    def send_messages(self) -> None:
        """Deliver the outbox's due messages (engine/outbox/delivery.py)."""
        if self.stopping.is_set():
            return
        try:
            self.sent += len(self.deliverer.send_due(should_stop=self.stopping.is_set))
        except Exception:  # noqa: BLE001 - the database may be away for a moment: the next poll retries
            log.exception("outbox delivery failed")

    def housekeeping(self) -> None:
        if self.stopping.is_set():
            return
        try:
            result = self.runtime.housekeeping()
            if any(result.values()):
                log.info("housekeeping: %s", result)
        except Exception:  # noqa: BLE001
            log.exception("housekeeping failed")

    def next_due(self) -> datetime | None:
        now = wall_clock()
        with self.runtime.db.read() as session:
            due = session.execute(
                select(func.min(Job.due_at)).where(Job.state == JobState.PENDING,
                                                   or_(Job.lease_until.is_(None), Job.lease_until < now))
            ).scalar()
        return due

    def _wake_at_next_due(self) -> None:
        """Between two polls, a job falling due gets a one-off wake-up at its own time."""
        due = self.next_due()
        if due is None or self.stopping.is_set():
            return
        now = wall_clock()
        if due - now < timedelta(seconds=self.poll_seconds):
            self.scheduler.add_job(self.poll, DateTrigger(run_date=max(due, now) + timedelta(milliseconds=5)),
                                   id="wake", replace_existing=True)

    # ---- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        now = datetime.now(UTC)
        self.scheduler.add_job(self.poll, IntervalTrigger(seconds=self.poll_seconds), id="poll", next_run_time=now)
        self.scheduler.add_job(self.send_messages, IntervalTrigger(seconds=self.poll_seconds), id="outbox",
                               next_run_time=now)
        self.scheduler.add_job(self.housekeeping, IntervalTrigger(seconds=self.housekeeping_seconds),
                               id="housekeeping")
        self.scheduler.start()
        log.info("worker %s polling every %ss", self.name, self.poll_seconds)

    def stop(self) -> None:
        """Take no new job; wait for the step in progress to commit."""
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        log.info("worker %s stopped after %d job(s) and %d message(s)", self.name, self.fired, self.sent)

    def run_forever(self, ready: threading.Event | None = None) -> None:
        """Run until SIGTERM/SIGINT (main thread only), then stop gracefully."""
        done = threading.Event()

        def on_signal(signum, _frame):
            log.info("worker %s: signal %s, finishing the current step", self.name, signum)
            done.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            if ready is not None:
                ready.set()
            while not done.wait(0.5):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


__all__ = ["Worker", "DEFAULT_POLL_SECONDS"]
