"""APScheduler 3 setup: the blocking dispatcher process and the demo's embedded one."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from .jobs import JOBS, STOP

log = logging.getLogger(__name__)

#: A run missed by more than this (the process was paused or busy) is skipped, not replayed;
#: the next run sends everything due anyway.
MISFIRE_GRACE = 30

_embedded: BackgroundScheduler | None = None


def build(app: Flask, scheduler_cls: type[BaseScheduler]) -> BaseScheduler:
    scheduler = scheduler_cls(timezone="UTC", job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE})
    for job, seconds in JOBS:
        scheduler.add_job(job, "interval", seconds=seconds, args=[app], id=job.__name__,
                          coalesce=True, max_instances=1, misfire_grace_time=MISFIRE_GRACE,
                          next_run_time=datetime.now(UTC))
    return scheduler


def run_blocking(app: Flask, on_ready=None) -> None:
    """The dispatcher process: runs until SIGTERM or SIGINT, then stops after the text in flight.

    `on_ready` is called once the scheduler runs and the signal handlers are in place.
    """
    scheduler = build(app, BlockingScheduler)
    running = threading.Event()

    def started(_event):
        running.set()
        if on_ready:
            on_ready()

    def stop_when_asked():
        STOP.wait()
        running.wait()
        log.info("stopping after the message in flight")
        scheduler.shutdown(wait=True)  # the running job stops at its next text

    # The handler only sets an event: it may interrupt the scheduler while it holds a lock,
    # so the shutdown itself happens on this thread.
    STOP.clear()
    threading.Thread(target=stop_when_asked, name="dispatcher-stop", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: STOP.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: STOP.set())
    scheduler.add_listener(started, EVENT_SCHEDULER_STARTED)
    scheduler.start()  # returns once shut down


def start_embedded(app: Flask) -> BackgroundScheduler | None:
    """The demo's scheduler: started once per process, whatever calls this."""
    global _embedded
    if _embedded is None:
        _embedded = build(app, BackgroundScheduler)
        _embedded.start()
    return _embedded
