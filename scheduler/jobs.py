"""The periodic jobs. Each opens an app context (whose end removes the database session) and
calls the domain with a clock and sender."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from contextlib import contextmanager
from datetime import datetime

from flask import Flask

from clinic import clock, visits
from clinic.enums import Outcome
from clinic.extensions import db
from clinic.messaging import bodies, dispatch
from clinic.messaging.senders import close, sender_from_config

log = logging.getLogger(__name__)

#: Set on SIGTERM: the job in flight finishes its current text and stops.
STOP = threading.Event()


def send_due(app: Flask, now: datetime | None = None) -> Counter:
    with app.app_context(), _sender(app) as sender:
        counts = dispatch.send_due(db.session, clock=_clock(now), sender=sender,
                                   render=bodies.render, clinic=clock.clinic(), stop=STOP)
    if counts:
        log.info("sent due messages: %s", _plain(counts))
    return counts


def settle_unsure(app: Flask, now: datetime | None = None) -> Counter:
    with app.app_context(), _sender(app) as sender:
        counts = dispatch.settle_unsure(db.session, clock=_clock(now), sender=sender,
                                        clinic=clock.clinic(), stop=STOP)
    if counts:
        log.info("asked Twilio about sends without an answer: %s", _plain(counts))
    if counts[Outcome.UNKNOWN]:
        log.warning("%d messages are unknown: Twilio could not say whether they went out",
                    counts[Outcome.UNKNOWN])
    return counts


def complete_unclosed(app: Flask, now: datetime | None = None) -> int:
    with app.app_context():
        done = visits.complete_unclosed(db.session, now=now or clock.now(), clinic=clock.clinic())
    if done:
        log.info("completed %d visits nobody closed", done)
    return done


def _plain(counts: Counter) -> dict[str, int]:
    """{'sent': 2}, as log readers and parsers expect."""
    return {str(key): value for key, value in counts.items()}


@contextmanager
def _sender(app: Flask):
    sender = sender_from_config(app.config)
    try:
        yield sender
    finally:
        close(sender)


def _clock(now: datetime | None):
    """A fixed `now` (scheduler dispatch --now) holds for the run; otherwise each step reads
    the clock again."""
    return (lambda: now) if now else clock.now


#: (job, seconds between runs), in the order `scheduler dispatch` runs them once: lost answers
#: settled, then visits completed, then the texts due (completion plans some). Under
#: `scheduler run` each keeps its own interval; their writes are transactions either way.
JOBS = [(settle_unsure, 30), (complete_unclosed, 300), (send_due, 15)]


def run_all_once(app: Flask, now: datetime) -> dict[str, object]:
    """Every job once, in order, as of `now`: what `scheduler dispatch` prints."""
    return {job.__name__: job(app, now) for job, _ in JOBS}
