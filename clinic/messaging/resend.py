"""Staff sending a text again that failed for a reason worth retrying (README, "Texts").

Only a text that never reached the client for a passing reason is offered: one that ran out
of attempts on timeouts, rate limits or Twilio's 5xx, or one Twilio could not account for
(`unknown`, after staff checked with the client). A number that opted out or cannot take
texts, or a text whose moment has passed, is never resent. The same row goes back in line,
its history kept, and the dispatcher sends it at most once like any other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..enums import MessageStatus, Outcome, SendFailure
from ..tx import transaction
from .dispatch import locked_messages, reason_not_to_send
from .models import Message, MessageEvent
from .senders import classify


class ResendRefused(ValueError):
    pass


def why_not_resend(session: Session, message: Message, now: datetime) -> str | None:
    """Why this text cannot be sent again now, or None when it can: never one the
    dispatcher would skip (visit cancelled or moved, client rebooked, ...)."""
    if message.status not in (MessageStatus.FAILED, MessageStatus.UNKNOWN):
        return f"It is {message.status}, not failed."
    if message.client.opted_out_at:
        return "The client has opted out of texts."
    if message.client.undeliverable_at:
        return "This number cannot receive texts."
    if message.status == MessageStatus.FAILED and message.error_code is not None \
            and classify(message.error_code) != SendFailure.RETRY:
        return f"Twilio refused it for good (error {message.error_code})."
    if message.not_after and now >= message.not_after:
        return "Its moment has passed: the visit has started."
    skip = reason_not_to_send(session, message, now)
    return f"It would not go out: {skip}." if skip else None


def resend(session: Session, message_id: int, *, now: datetime, actor: str) -> Message:
    """Puts a failed text back in line to go out now; refuses with the reason otherwise."""
    with transaction(session):
        message = session.scalar(locked_messages(session).where(Message.id == message_id))
        if message is None:
            raise ResendRefused("No such text.")
        reason = why_not_resend(session, message, now)
        if reason:
            raise ResendRefused(reason)
        session.add(MessageEvent(message=message, at=now, outcome=Outcome.RESEND,
                                 note=f"sent again by {actor}"))
        message.status, message.due_at, message.attempts = MessageStatus.SCHEDULED, now, 0
        message.provider_sid, message.check_at, message.error_code = None, None, None
        message.note, message.updated_at = f"sent again by {actor}", now
    return message
