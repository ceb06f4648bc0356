"""Delivery statuses from Twilio's callbacks: they only move forward, and repeat harmlessly."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import true
from sqlalchemy.orm import Session

from ..enums import MessageStatus, Outcome
from ..rules import Clinic
from ..tx import transaction
from .dispatch import locked_messages, record_failure
from .models import Message, MessageEvent
from .senders import classify

#: Twilio's MessageStatus values in our terms; the rest (queued, sending, ...) say nothing new.
TWILIO_STATUS = {"sent": MessageStatus.SENT, "delivered": MessageStatus.DELIVERED,
                 "read": MessageStatus.DELIVERED, "undelivered": MessageStatus.FAILED,
                 "failed": MessageStatus.FAILED}
#: How far along a message is; a callback never moves it back.
RANK = {MessageStatus.UNKNOWN: 1, MessageStatus.SENDING: 1, MessageStatus.SENT: 2,
        MessageStatus.DELIVERED: 3, MessageStatus.FAILED: 3}


def record_status(session: Session, *, sid: str, status: str, error_code: int | None,
                  now: datetime, clinic: Clinic, message_id: int | None = None,
                  attempt: int | None = None, rng: random.Random | None = None) -> str:
    """Applies one status callback; returns what it did.

    `message_id` and `attempt` come from the callback URL: they find a message whose SID the
    dispatcher has not stored yet, because Twilio called back first. A callback about an
    earlier attempt (its SID no longer on the message) changes nothing.
    """
    new = TWILIO_STATUS.get(status.strip().lower())
    if not sid or new is None:
        return "ignored"
    with transaction(session):
        message = _message(session, sid, message_id, attempt)
        if message is None or message.status not in RANK or RANK[new] <= RANK[message.status]:
            return "unchanged"
        message.provider_sid, message.check_at, message.updated_at = sid, None, now
        if new == MessageStatus.FAILED:
            why = f"carrier error {error_code}" if error_code else "failed"
            result = record_failure(message, classify(error_code), code=error_code, why=why,
                                    now=now, clinic=clinic, rng=rng or random.Random())
        else:
            message.status = result = new
            message.sent_at = message.sent_at or now
            message.note = message.error_code = None
        session.add(MessageEvent(message=message, at=now, outcome=Outcome(result),
                                 provider_sid=sid, error_code=error_code, note=message.note))
    return result


def _message(session: Session, sid: str, message_id: int | None,
             attempt: int | None) -> Message | None:
    query = locked_messages(session)
    message = session.scalar(query.where(Message.provider_sid == sid))
    if message is None and message_id is not None:
        current = (Message.attempts == attempt) if attempt is not None else true()
        message = session.scalar(query.where(Message.id == message_id, current,
                                             Message.provider_sid.is_(None)))
    return message

