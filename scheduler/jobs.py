"""The periodic jobs. Each opens an app context (whose end removes the database session) and
calls the domain with a clock and sender."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import datetime

from flask import Flask

from clinic import bodies, clock, dispatch, visits
from clinic.extensions import db
from clinic.sms import close, sender_from_config

log = logging.getLogger(__name__)

#: Set on SIGTERM: the job in flight finishes its current text and stops.
STOP = threading.Event()


def send_due(app: Flask, now: datetime | None = None) -> Counter:
    with app.app_context():
        sender = sender_from_config(app.config)
        try:
            # A fixed `now` (scheduler dispatch --now) holds for the run; otherwise each step
            # reads the clock again.
            counts = dispatch.send_due(db.session, clock=(lambda: now) if now else clock.now,
                                       sender=sender, render=bodies.render, tz=clock.tz(),
                                       stop=STOP)
        finally:
            close(sender)
    if counts:
        log.info("sent due messages: %s", dict(counts))
    return counts


def complete_unclosed(app: Flask, now: datetime | None = None) -> int:
    with app.app_context():
        done = visits.complete_unclosed(db.session, now=now or clock.now(), tz=clock.tz())
    if done:
        log.info("completed %d visits nobody closed", done)
    return done


def recover_stuck(app: Flask, now: datetime | None = None) -> int:
    with app.app_context():
        stuck = dispatch.recover_stuck(db.session, now=now or clock.now())
    if stuck:
        log.warning("%d messages were interrupted mid-send and are marked unknown", stuck)
    return stuck


#: (job, seconds between runs). Visits are completed before the texts that completion plans.
JOBS = [(recover_stuck, 60), (complete_unclosed, 300), (send_due, 15)]


def run_all_once(app: Flask, now: datetime) -> dict[str, object]:
    """Every job once, in order, as of `now`: what `scheduler dispatch` prints."""
    return {job.__name__: job(app, now) for job, _ in JOBS}
