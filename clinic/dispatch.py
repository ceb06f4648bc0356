"""Sending what is due: claim, check, send, record. Each text goes out at most once.

A row is claimed (status `sending`, attempt counted) and committed before the API call; its
provider SID is stored after. On PostgreSQL claims skip rows another dispatcher has locked, so
several can run side by side. A row a crash left in `sending` becomes `unknown` for staff.
Every write happens in a write transaction (`tx.writing`), and every step reads the clock anew:
a run during a slow outage must not act on a stale "now".
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
from .models import CADENCE_STATUSES, CHANGEABLE_STATUSES, Appointment, Message, Service
from .sms import SendError, SmsSender
from .tx import dialect, writing

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)
#: A claim older than this without an answer was interrupted. A batch's sends, each bounded by
#: the Twilio timeout, finish well within it.
STALE_CLAIM = timedelta(minutes=10)
BATCH = 20
PRE_VISIT = ("confirmation", "pre_visit_pause", "reminder")

Render = Callable[[Message], str]
Clock = Callable[[], datetime]


def send_due(session: Session, *, clock: Clock, sender: SmsSender, render: Render,
             tz: ZoneInfo, stop: threading.Event | None = None,
             rng: random.Random | None = None) -> Counter:
    """Sends every text due, batch by batch, until none is due or `stop` is set."""
    counts: Counter = Counter()
    rng = rng or random.Random()
    while not (stop and stop.is_set()):
        claimed = claim(session, now=clock(), limit=BATCH)
        for position, message_id in enumerate(claimed):
            if stop and stop.is_set():
                release(session, claimed[position:], now=clock())
                return counts
            counts[deliver(session, message_id, clock=clock, sender=sender, render=render,
                           tz=tz, rng=rng)] += 1
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


def deliver(session: Session, message_id: int, *, clock: Clock, sender: SmsSender,
            render: Render, tz: ZoneInfo, rng: random.Random) -> str:
    """One claimed text: checked and rendered under the write lock, sent, recorded."""
    with writing(session):
        message = _locked(session, message_id)
        if message is None or message.status != "sending":
            session.rollback()
            return "gone"  # a stale claim already recovered as unknown
        now = clock()
        outcome = _hold_back(session, message, now, tz)
        if outcome is None:
            try:
                message.body = render(message)
            except Exception:  # a broken template must not strand the batch
                log.exception("message %s could not be rendered", message_id)
                outcome = schedule_retry(message, now=now, tz=tz, rng=rng,
                                         why="could not be prepared")
        message.updated_at = now
        to, body = message.client.phone, message.body
    session.commit()
    if outcome is not None:
        return outcome
    try:
        sent = sender.send(to, body, ref=str(message_id))
    except SendError as exc:
        return _record(session, message_id, clock,
                       lambda m, now, error=exc: _failed(m, error, now, tz, rng))
    except Exception:  # it may or may not have gone out: staff decide, nothing resends it
        log.exception("message %s: unexpected error while sending", message_id)
        return _record(session, message_id, clock, lambda m, now: _unknown(m))
    return _record(session, message_id, clock, lambda m, now: _sent(m, sent.sid, now))


def recover_stuck(session: Session, *, now: datetime) -> int:
    """Rows left in `sending` by a crash: `unknown`, for staff to check, never resent blindly."""
    with writing(session):
        rows = list(session.scalars(select(Message).where(
            Message.status == "sending", Message.claimed_at < now - STALE_CLAIM)))
        for row in rows:
            _unknown(row)
            row.updated_at = now
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


def _locked(session: Session, message_id: int) -> Message | None:
    """The row as it is now, locked against other writers until this transaction ends."""
    query = select(Message).where(Message.id == message_id).execution_options(
        populate_existing=True)
    if dialect(session) == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def _hold_back(session: Session, message: Message, now: datetime, tz: ZoneInfo) -> str | None:
    """Checks right before a send; the outcome when the text must not go out now."""
    reason = _reason_not_to_send(session, message, now)
    if reason:
        message.status, message.note = "skipped", reason
        return "skipped"
    if message.kind not in IMMEDIATE and quiet(now, tz) != now:
        # Due before 20:00 but reached after it (a backlog, a restart): wait for the morning.
        later = quiet(now, tz)
        if message.not_after and later >= message.not_after:
            message.status, message.note = "skipped", "quiet hours until the visit"
            return "skipped"
        message.status, message.due_at, message.attempts = "scheduled", later, message.attempts - 1
        message.note = "held for quiet hours"
        return "held"
    return None


def _reason_not_to_send(session: Session, message: Message, now: datetime) -> str | None:
    client, appt = message.client, message.appointment
    if client.opted_out_at:
        return "client opted out"
    if client.undeliverable_at:
        return "number cannot receive texts"
    if message.not_after and now >= message.not_after:
        return "too late: the visit has started"
    if message.kind in PRE_VISIT:
        if appt.status not in CHANGEABLE_STATUSES:
            return f"visit {appt.status.replace('_', ' ')}"
        if message.not_after != appt.start_at:
            return "visit moved"
    elif appt.status != "completed":
        return f"visit {appt.status.replace('_', ' ')}"
    if message.kind == "rebook" and _has_later_extraction(session, appt):
        return "client has already booked again"
    return None


def _has_later_extraction(session: Session, appt: Appointment) -> bool:
    return session.scalar(select(exists().where(
        Appointment.client_id == appt.client_id, Appointment.start_at > appt.start_at,
        Appointment.status.in_(CADENCE_STATUSES), Appointment.service_id == Service.id,
        Service.includes_extraction)))


def _record(session: Session, message_id: int, clock: Clock, change) -> str:
    with writing(session):
        message = _locked(session, message_id)
        now = clock()
        outcome = change(message, now)
        message.updated_at = now
    session.commit()
    return outcome


def _sent(message: Message, sid: str, now: datetime) -> str:
    message.provider_sid, message.sent_at = sid, now
    if message.status in ("sending", "unknown"):  # a callback may already have moved it on
        message.status = "sent"
    return "sent"


def _unknown(message: Message) -> str:
    message.status = "unknown"
    message.note = "interrupted while sending: check before resending"
    return "unknown"


def _failed(message: Message, exc: SendError, now: datetime, tz: ZoneInfo,
            rng: random.Random) -> str:
    log.warning("send of message %s failed: %s (%s)", message.id, exc, exc.outcome)
    return record_failure(message, exc.outcome, code=exc.code, why=str(exc), now=now, tz=tz,
                          rng=rng)


def record_failure(message: Message, outcome: str, *, code: int | None, why: str,
                   now: datetime, tz: ZoneInfo, rng: random.Random) -> str:
    """What a failed send means, whether Twilio refused it or a carrier did later (SPEC 4)."""
    message.error_code = code
    if outcome == "retry":
        return schedule_retry(message, now=now, tz=tz, rng=rng, why=why)
    if outcome == "opted_out":
        message.client.opted_out_at = now
        why = f"number has opted out ({code})"
    elif outcome == "undeliverable":
        message.client.undeliverable_at = now
        why = f"undeliverable ({code})"
    message.status, message.note = "failed", why
    return "failed"
