"""Sending what is due: claim, check, send, record. Each text goes out at most once.

A row is claimed (status `sending`, attempt counted) and committed before the API call; its
provider SID is stored after. On PostgreSQL claims skip rows another dispatcher has locked, so
several can run side by side. A row a crash left in `sending` becomes `unknown` for staff.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from .careplan import IMMEDIATE, quiet
from .models import CADENCE_STATUSES, Appointment, Message, Service
from .sms import SendError, SmsSender
from .tx import dialect, writing

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)
#: A claim older than this without an answer was interrupted: longer than any send can take.
STALE_CLAIM = timedelta(minutes=10)
BATCH = 50

Render = Callable[[Message], str]


def send_due(session: Session, *, now: datetime, sender: SmsSender, render: Render,
             tz: ZoneInfo, stop: threading.Event | None = None,
             rng: random.Random | None = None) -> Counter:
    """Sends every text due by `now`, batch by batch; returns counts by outcome."""
    counts: Counter = Counter()
    rng = rng or random.Random()
    while not (stop and stop.is_set()):
        claimed = claim(session, now=now, limit=BATCH)
        for position, message_id in enumerate(claimed):
            if stop and stop.is_set():
                release(session, claimed[position:], now=now)
                return counts
            counts[deliver(session, message_id, now=now, sender=sender, render=render, tz=tz,
                           rng=rng)] += 1
        if len(claimed) < BATCH:
            break
    return counts


def claim(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Marks up to `limit` due rows as `sending` and commits, before any is sent."""
    query = (select(Message).where(Message.status == "scheduled", Message.due_at <= now)
             .order_by(Message.due_at, Message.id).limit(limit))
    with writing(session):
        if dialect(session) == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        for row in rows:
            row.status, row.claimed_at, row.updated_at = "sending", now, now
            row.attempts += 1
    session.commit()
    return [row.id for row in rows]


def release(session: Session, ids: list[int], *, now: datetime) -> None:
    """Hands back claimed rows not yet sent (a stop between two sends)."""
    with writing(session):
        for row in session.scalars(select(Message).where(Message.id.in_(ids),
                                                         Message.status == "sending")):
            row.status, row.attempts, row.updated_at = "scheduled", row.attempts - 1, now
    session.commit()


def deliver(session: Session, message_id: int, *, now: datetime, sender: SmsSender,
            render: Render, tz: ZoneInfo, rng: random.Random) -> str:
    message = session.get(Message, message_id)
    reason = _reason_not_to_send(session, message, now)
    if reason:
        return _finish(session, message, now, "skipped", note=reason)
    message.body = render(message)
    to = message.client.phone
    session.commit()  # the body as it will be sent; the row stays claimed
    try:
        sent = sender.send(to, message.body)
    except SendError as exc:
        return _failed(session, message, exc, now=now, tz=tz, rng=rng)
    message.provider_sid, message.sent_at = sent.sid, now
    return _finish(session, message, now, "sent")


def recover_stuck(session: Session, *, now: datetime) -> int:
    """Rows left in `sending` by a crash: `unknown`, for staff to check, never resent blindly."""
    with writing(session):
        rows = list(session.scalars(select(Message).where(
            Message.status == "sending", Message.claimed_at < now - STALE_CLAIM)))
        for row in rows:
            row.status, row.updated_at = "unknown", now
            row.note = "interrupted while sending: check before resending"
    session.commit()
    return len(rows)


def backoff(attempt: int, rng: random.Random) -> timedelta:
    """Capped exponential backoff with jitter: half fixed, half random."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * rng.random()


def schedule_retry(message: Message, *, now: datetime, tz: ZoneInfo, rng: random.Random,
                   why: str) -> str:
    """Puts a failed send back in line, or gives up after five attempts or past its moment."""
    if message.attempts >= MAX_ATTEMPTS:
        message.status, message.note = "failed", f"{why}; gave up after {message.attempts} attempts"
        return "failed"
    due = now + backoff(message.attempts, rng)
    if message.kind not in IMMEDIATE:
        due = quiet(due, tz)
    if message.not_after and due >= message.not_after:
        message.status, message.note = "failed", f"{why}; a retry would arrive after the visit"
        return "failed"
    message.status, message.due_at, message.note = "scheduled", due, f"{why}; retrying"
    return "retry"


def _reason_not_to_send(session: Session, message: Message, now: datetime) -> str | None:
    client, appt = message.client, message.appointment
    if client.opted_out_at:
        return "client opted out"
    if client.undeliverable_at:
        return "number cannot receive texts"
    if message.not_after and now >= message.not_after:
        return "too late: the visit has started"
    if appt.status == "cancelled" and message.kind != "confirmation":
        return "visit cancelled"
    if message.kind == "rebook" and _has_later_extraction(session, appt):
        return "client has already booked again"
    return None


def _has_later_extraction(session: Session, appt: Appointment) -> bool:
    return session.scalar(select(exists().where(
        Appointment.client_id == appt.client_id, Appointment.start_at > appt.start_at,
        Appointment.status.in_(CADENCE_STATUSES), Appointment.service_id == Service.id,
        Service.includes_extraction)))


def _failed(session: Session, message: Message, exc: SendError, *, now: datetime, tz: ZoneInfo,
            rng: random.Random) -> str:
    message.error_code = exc.code
    outcome = exc.outcome
    log.warning("send of message %s failed: %s (%s)", message.id, exc, outcome)
    if outcome == "opted_out":
        message.client.opted_out_at = now
        return _finish(session, message, now, "failed", note="number has opted out (21610)")
    if outcome == "undeliverable":
        message.client.undeliverable_at = now
        return _finish(session, message, now, "failed", note=f"undeliverable ({exc.code})")
    if outcome == "retry":
        result = schedule_retry(message, now=now, tz=tz, rng=rng, why=str(exc))
        message.updated_at = now
        session.commit()
        return result
    return _finish(session, message, now, "failed", note=str(exc))


def _finish(session: Session, message: Message, now: datetime, status: str,
            note: str | None = None) -> str:
    message.status, message.updated_at = status, now
    if note:
        message.note = note
    session.commit()
    return status
