"""The staff follow-up inbox: what clients' texts need, staff replies sent as texts, resolving.

Framework-free: each function takes a session and the moment, writes in one
`tx.transaction` block, and refuses bad input with `InboxError`, whose message staff read
as it is. A reply is only queued here (a `staff_reply` row due now); the dispatcher sends it
like every other text, at most once, and skips it if the client opted out since.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..enums import FollowupStatus, MessageKind, MessageStatus, Priority
from ..models import Appointment, Client, StaffUser
from ..rules import Clinic
from ..timeutil import clock_time
from ..tx import lock, transaction
from .bodies import MAX_LENGTH
from .models import Followup, InboundMessage, Message

MAX_NOTE = 1000  #: a resolution note's length, in characters
#: What a typed reply or note may not hold: control characters other than a line break,
#: and lone surrogates, which neither a database nor an SMS can carry.
UNSENDABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

#: A follow-up's reason as staff read it: what the client said, and to which text.
REASONS = {
    "redness bad": "Still red or swollen (redness check-in)",
    "purging bad": "Painful or worsening (purging check-in)",
    "unrecognised reply": "Unrecognised reply",
}


class InboxError(ValueError):
    """An inbox action refused; `message` is what staff read, `field` the form field at fault
    (None: the item itself, such as a client who opted out)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


class NoSuchItem(InboxError):
    """No follow-up has this id."""


@dataclass(frozen=True)
class ThreadItem:
    """One text in an item's thread: the client's (`inbound`) or a staff reply."""

    at: datetime
    inbound: bool
    body: str
    status: MessageStatus | None = None  #: a staff reply's, so staff see sent/failed
    author: str | None = None  #: who wrote a staff reply
    note: str | None = None  #: why a staff reply was skipped or failed
    sent_at: datetime | None = None


# --- Reading ---------------------------------------------------------------------------------


def _with_visit(query):
    return query.options(selectinload(Followup.appointment).selectinload(Appointment.service))


def open_items(session: Session) -> list[Followup]:
    """Open follow-ups: high priority first, then the oldest first."""
    return list(session.scalars(_with_visit(
        select(Followup).where(Followup.status == FollowupStatus.OPEN)
        .order_by(Followup.priority != Priority.HIGH, Followup.created_at, Followup.id))))


def recent_closed(session: Session, limit: int = 20) -> list[Followup]:
    """The most recently resolved follow-ups, newest first."""
    return list(session.scalars(_with_visit(
        select(Followup).where(Followup.status == FollowupStatus.CLOSED)
        .order_by(Followup.closed_at.desc(), Followup.id.desc()).limit(limit))))


def thread(session: Session, followup: Followup) -> list[ThreadItem]:
    """The item's texts in time order: the one that opened it, the client's later texts
    that joined it, and staff replies with their status."""
    return threads(session, [followup])[followup.id]


def threads(session: Session, followups: Iterable[Followup]) -> dict[int, list[ThreadItem]]:
    """`thread` for several items at once, in two queries."""
    followups = list(followups)
    ids = [f.id for f in followups]
    if not ids:
        return {}
    found: dict[int, list[tuple]] = {f.id: [] for f in followups}
    seen: set[int] = set()
    for f in followups:
        if f.inbound is not None:
            found[f.id].append(_inbound(f.inbound))
            seen.add(f.inbound.id)
    for row in session.scalars(select(InboundMessage).where(InboundMessage.followup_id.in_(ids))):
        if row.id not in seen:
            found[row.followup_id].append(_inbound(row))
    replies = list(session.scalars(select(Message).where(
        Message.followup_id.in_(ids), Message.kind == MessageKind.STAFF_REPLY)))
    names = author_names(session, [m.written_by for m in replies])
    for m in replies:
        found[m.followup_id].append(((m.created_at, 1, m.id), ThreadItem(
            at=m.created_at, inbound=False, body=m.body or "", status=m.status,
            author=names.get(m.written_by or "", m.written_by), sent_at=m.sent_at,
            note=m.note if m.status in (MessageStatus.SKIPPED, MessageStatus.FAILED,
                                        MessageStatus.UNKNOWN) else None)))
    return {key: [item for _, item in sorted(rows, key=lambda r: r[0])]
            for key, rows in found.items()}


def _inbound(row: InboundMessage) -> tuple:
    return (row.received_at, 0, row.id), ThreadItem(at=row.received_at, inbound=True,
                                                    body=row.body)


def author_names(session: Session, actors: Iterable[str | None]) -> dict[str, str]:
    """Staff names for actor strings ("staff:<id>"); others are left out."""
    ids = {int(a.split(":", 1)[1]) for a in actors
           if a and a.startswith("staff:") and a.split(":", 1)[1].isdigit()}
    if not ids:
        return {}
    return {f"staff:{i}": name for i, name in
            session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(ids)))}


def reason_words(reason: str) -> str:
    """'redness bad' -> 'Still red or swollen (redness check-in)'."""
    return REASONS.get(reason, reason.replace("_", " ").capitalize())


def age(then: datetime, now: datetime) -> str:
    """How long ago, as staff say it: 'just now', '5 min ago', '2 h ago', '3 days ago'."""
    minutes = int((now - then).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 24 * 60:
        return f"{minutes // 60} h ago"
    days = minutes // (24 * 60)
    return f"{days} day{'s' if days != 1 else ''} ago"


def reply_allowed(clinic: Clinic) -> int:
    """How many characters staff may write: the body is "<clinic name>: <their words>"."""
    return MAX_LENGTH - len(_prefix(clinic))


def cannot_text(followup: Followup) -> str | None:
    """Why a reply to this item cannot go out as a text, or None when it can."""
    client = followup.client
    if client is None:
        phone = followup.inbound.from_phone if followup.inbound else "this number"
        return (f"This text came from a number we don't know ({phone}): call the number "
                "instead. Replies go only to clients on file.")
    if client.opted_out_at is not None:
        return f"{client.name} has opted out of texts (replied STOP): call them instead."
    if client.undeliverable_at is not None:
        return (f"{client.name}'s number cannot receive texts (the carrier refused them): "
                "call them instead.")
    return None


# --- Acting ----------------------------------------------------------------------------------


def reply(session: Session, followup_id: int, text: str | None, *, now: datetime,
          clinic: Clinic, actor: str, seen: int | None = None) -> Message:
    """Queues a staff reply to the item's client; the dispatcher sends it at once, at any hour.

    `seen` is how many texts the thread held when the form was drawn: if it holds more now
    (the same form sent twice, a colleague's reply, the client writing again), nothing is
    sent, so a client never gets a reply twice or one that missed their latest words."""
    words = _typed(text)
    with transaction(session):
        followup = _locked(session, followup_id)
        if followup.status == FollowupStatus.CLOSED:
            raise InboxError(_closed(session, followup, now, clinic) + " The reply was not sent.")
        if seen is not None and len(thread(session, followup)) != seen:
            raise InboxError("The conversation changed since you opened this page (a reply "
                             "went out, or the client wrote again): nothing was sent. Read it "
                             "and reply again if it still needs one.", "body")
        why_not = cannot_text(followup)
        if why_not:
            raise InboxError(why_not)
        if not words:
            raise InboxError("Write a reply before sending it.", "body")
        allowed = reply_allowed(clinic)
        if len(words) > allowed:
            raise InboxError(
                f"A reply can be at most {allowed} characters (the text starts with "
                f"“{_prefix(clinic)}”); this one is {len(words)}. Shorten it by "
                f"{len(words) - allowed}.", "body")
        if UNSENDABLE.search(words):
            raise InboxError("The reply contains characters that can't be sent in a text.",
                             "body")
        appt = followup.appointment or _latest_visit(session, followup.client)
        if appt is None:
            raise InboxError(f"{followup.client.name} has no visit on file to attach a text "
                             "to: call them instead.")
        message = Message(
            kind=MessageKind.STAFF_REPLY, status=MessageStatus.SCHEDULED, due_at=now,
            body=f"{_prefix(clinic)}{words}", written_by=actor, followup_id=followup.id,
            client=followup.client, appointment=appt, created_at=now, updated_at=now)
        session.add(message)
    return message


def resolve(session: Session, followup_id: int, note: str | None, *, now: datetime,
            actor: str, clinic: Clinic | None = None) -> Followup:
    """Closes the item with what staff did; an item already closed is refused, so a stale
    form never acts twice."""
    note = _typed(note)
    with transaction(session):
        followup = _locked(session, followup_id)
        if followup.status == FollowupStatus.CLOSED:
            raise InboxError(_closed(session, followup, now, clinic))
        if len(note) > MAX_NOTE:
            raise InboxError(f"A note can be at most {MAX_NOTE} characters; this one is "
                             f"{len(note)}.", "note")
        if UNSENDABLE.search(note):
            raise InboxError("The note contains characters that can't be stored.", "note")
        followup.status, followup.closed_at, followup.closed_by = (
            FollowupStatus.CLOSED, now, actor)
        followup.note = note or None
    return followup


def _typed(text: str | None) -> str:
    """What staff typed, line breaks made plain and the ends trimmed."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _prefix(clinic: Clinic) -> str:
    return f"{clinic.name}: "


def _locked(session: Session, followup_id: int) -> Followup:
    followup = session.get(Followup, followup_id)
    if followup is None:
        raise NoSuchItem("There is no such inbox item.")
    lock(session, followup)
    return followup


def _closed(session: Session, followup: Followup, now: datetime, clinic: Clinic | None) -> str:
    """'This item was already resolved by Front Desk 5 min ago (Monday 1 March, 8:05 AM).'"""
    by = followup.closed_by or "someone"
    who = author_names(session, [by]).get(by, by)
    when = age(followup.closed_at, now) if followup.closed_at else "earlier"
    if clinic is not None and followup.closed_at is not None:
        local = followup.closed_at.astimezone(clinic.tz)
        when += f" ({local:%A} {local.day} {local:%B}, {clock_time(local)})"
    return f"This item was already resolved by {who} {when}."


def _latest_visit(session: Session, client: Client) -> Appointment | None:
    return session.scalar(select(Appointment).where(Appointment.client_id == client.id)
                          .order_by(Appointment.start_at.desc(), Appointment.id.desc()).limit(1))
