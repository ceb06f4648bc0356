"""APScheduler 3 setup: the blocking dispatcher process and the demo's embedded one."""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime

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


def run_blocking(app: Flask) -> None:
    """The dispatcher process: runs until SIGTERM or SIGINT, then stops after the text in flight."""
    scheduler = build(app, BlockingScheduler)

    def stop(signum, _frame):
        log.info("signal %s: stopping after the message in flight", signum)
        STOP.set()
        scheduler.shutdown(wait=True)  # waits for the running job, which stops at its next text

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    STOP.clear()
    scheduler.start()  # returns once shut down; running jobs end at their next check of STOP


def start_embedded(app: Flask) -> BackgroundScheduler | None:
    """The demo's scheduler: started once per process, whatever calls this."""
    global _embedded
    if _embedded is None:
        _embedded = build(app, BackgroundScheduler)
        _embedded.start()
    return _embedded
