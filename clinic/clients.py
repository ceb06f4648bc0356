"""Client records for staff: search by name or any form of a phone number, everything known
about one client, and editing their name and email with an audit trail.

Framework-free: views hand in a session, the clinic's region, `now` and the actor, and render
what comes back. An edit is refused if the record changed since the form was opened (the form
carries the id of the latest audit entry it saw), so nobody overwrites a colleague unseen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from .enums import FollowupStatus, MessageKind, MessageStatus, ReplyAction, VisitStatus
from .messaging.models import Followup, InboundMessage, Message
from .models import Appointment, AuditEntry, Client, StaffUser
from .phones import normalise_phone
from .timeutil import now_utc
from .tx import transaction
from .validation import EMAIL, Refused, name_problem, printable

NAME_MAX = 120
EMAIL_MAX = 254
SEARCH_LIMIT = 50  #: results on one page
MIN_PHONE_DIGITS = 4  #: fewer digits than this match too many numbers to be a search
SHOWN = 100  #: texts and replies listed on a record, newest first
STAFF_ACTOR = re.compile(r"staff:([0-9]{1,9})")
STALE = "Someone else changed this client's details meanwhile; here they are now."
NOTHING_CHANGED = "Nothing changed: the name and email were already these."

KIND_WORDS = {
    MessageKind.CONFIRMATION: "Booking confirmation",
    MessageKind.PRE_VISIT_PAUSE: "Pause your topicals",
    MessageKind.REMINDER: "Reminder",
    MessageKind.AFTERCARE: "Aftercare",
    MessageKind.REDNESS_CHECKIN: "Redness check-in",
    MessageKind.PURGING_CHECKIN: "Purging check-in",
    MessageKind.REBOOK: "Invitation to rebook",
    MessageKind.CANCELLATION: "Cancellation",
    MessageKind.STAFF_REPLY: "Reply from staff",
}
MESSAGE_STATUS_WORDS = {
    MessageStatus.SCHEDULED: "Scheduled",
    MessageStatus.SENDING: "Sending",
    MessageStatus.SENT: "Sent",
    MessageStatus.DELIVERED: "Delivered",
    MessageStatus.FAILED: "Failed",
    MessageStatus.CANCELLED: "Cancelled",
    MessageStatus.SKIPPED: "Skipped",
    MessageStatus.UNKNOWN: "Unknown: check before resending",
}
REPLY_WORDS = {
    ReplyAction.OPT_OUT: "Opted out of texts",
    ReplyAction.OPT_IN: "Opted back in to texts",
    ReplyAction.HELP: "Asked for help",
    ReplyAction.CONFIRM: "Confirmed the visit",
    ReplyAction.CHECKIN_OK: "All is well",
    ReplyAction.REDNESS_BAD: "Redness: not well",
    ReplyAction.PURGING_BAD: "Purging: not well",
    ReplyAction.FOLLOWUP: "Sent to the inbox",
    ReplyAction.DUPLICATE: "Repeated text, ignored",
}
VISIT_STATUS_WORDS = {
    VisitStatus.BOOKED: "Booked",
    VisitStatus.CONFIRMED: "Confirmed",
    VisitStatus.CHECKED_IN: "Checked in",
    VisitStatus.COMPLETED: "Completed",
    VisitStatus.CANCELLED: "Cancelled",
    VisitStatus.NO_SHOW: "No-show",
}
FIELD_WORDS = {"name": "Name", "email": "Email"}


class ClientError(Refused):
    """An edit that was refused; `fields` maps a form field to what is wrong with it."""


class StaleEdit(ClientError):
    """The record changed since the form was opened: nothing was written."""

    def __init__(self) -> None:
        super().__init__(STALE)


class UnknownClient(LookupError):
    pass


# --- Search ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """One search result."""

    client: Client
    visits: int  #: visits not cancelled
    next_at: datetime | None  #: the earliest visit not cancelled starting from now
    last_at: datetime | None  #: the latest visit not cancelled that has started
    exact: bool = False  #: the number typed is this client's, whole


def search(session: Session, q: str | None, *, region: str, limit: int = SEARCH_LIMIT,
           now: datetime | None = None) -> list[Found]:
    """Clients whose name contains `q` (any case), or whose number holds the digits typed.

    A number typed whole, in any form ("(415) 555-2671", "+1 415 555 2671"), also matches
    exactly and comes first; four or more digits ("2671") match anywhere in the number. An
    empty `q` gives the clients seen most recently, latest visit first.
    """
    now = now or now_utc()
    q = " ".join((q or "").split())
    if not q:
        ids = _recently_seen(session, now, limit)
        clients = {c.id: c for c in session.scalars(select(Client).where(Client.id.in_(ids)))}
        ordered = [clients[i] for i in ids if i in clients]
        exact_phone = None
    else:
        ordered, exact_phone = _matching(session, q, region, limit)
    stats = _visit_stats(session, [c.id for c in ordered], now)
    return [Found(c, *stats.get(c.id, (0, None, None)), exact=c.phone == exact_phone)
            for c in ordered]


def _matching(session: Session, q: str, region: str,
              limit: int) -> tuple[list[Client], str | None]:
    digits = re.sub(r"\D", "", q)
    by_phone = not any(ch.isalpha() for ch in q) and len(digits) >= MIN_PHONE_DIGITS
    lowered = q.lower()
    exact_phone = None
    if by_phone:
        try:
            exact_phone = normalise_phone(q, region)
        except ValueError:
            exact_phone = None
        matches = [Client.phone.contains(digits, autoescape=True)]
        if exact_phone:
            matches.append(Client.phone == exact_phone)
        where = or_(*matches)
    else:
        where = func.lower(Client.name).contains(lowered, autoescape=True)
    name = func.lower(Client.name)
    order = [
        case((Client.phone == exact_phone, 0), else_=1) if exact_phone else None,
        case((name.startswith(lowered, autoescape=True), 0), else_=1) if not by_phone else None,
        name, Client.id,
    ]
    stmt = select(Client).where(where).order_by(*(o for o in order if o is not None))
    return list(session.scalars(stmt.limit(limit))), exact_phone


def _recently_seen(session: Session, now: datetime, limit: int) -> list[int]:
    """Clients of the latest visits that have started, newest first. Walks visits back from
    now by start time (indexed) and stops at `limit` clients: the cost follows the page."""
    result = session.execute(
        select(Appointment.client_id)
        .where(Appointment.start_at <= now, Appointment.status != VisitStatus.CANCELLED)
        .order_by(Appointment.start_at.desc(), Appointment.id.desc())
        .execution_options(yield_per=200))
    seen: dict[int, None] = {}
    try:
        for (client_id,) in result:
            seen.setdefault(client_id)
            if len(seen) >= limit:
                break
    finally:
        result.close()
    return list(seen)


def _visit_stats(session: Session, client_ids: list[int],
                 now: datetime) -> dict[int, tuple[int, datetime | None, datetime | None]]:
    """Per client: visits not cancelled, the next one's start and the last one's."""
    if not client_ids:
        return {}
    rows = session.execute(
        select(Appointment.client_id, func.count(Appointment.id),
               func.min(case((Appointment.start_at > now, Appointment.start_at))),
               func.max(case((Appointment.start_at <= now, Appointment.start_at))))
        .where(Appointment.client_id.in_(client_ids),
               Appointment.status != VisitStatus.CANCELLED)
        .group_by(Appointment.client_id))
    return {client_id: (count, next_at, last_at) for client_id, count, next_at, last_at in rows}


# --- One client's record --------------------------------------------------------------------


@dataclass
class Change:
    """One field of an audit entry: what it was and what it became."""

    field: str
    label: str
    before: str | None
    after: str | None


@dataclass
class Audit:
    entry: AuditEntry
    who: str  #: the staff member's name, or the actor as stored when nobody has that id
    changes: list[Change]


@dataclass
class Record:
    client: Client
    visits: list[Appointment]  #: newest first, cancelled ones too
    texts: list[Message]  #: texts to the client, newest first (at most SHOWN)
    texts_total: int
    replies: list[InboundMessage]  #: texts from the client, newest first (at most SHOWN)
    replies_total: int
    open_items: list[Followup]  #: open inbox items about the client, oldest first
    audit: list[Audit] = field(default_factory=list)  #: newest first
    seen: int = 0  #: the latest audit entry's id: an edit form carries it

    @property
    def visit_count(self) -> int:
        """Visits not cancelled."""
        return sum(1 for v in self.visits if v.status != VisitStatus.CANCELLED)

    @property
    def cancelled_count(self) -> int:
        return len(self.visits) - self.visit_count


def record(session: Session, client_id: int) -> Record | None:
    """Everything the record page shows about one client; None when there is no such client."""
    client = session.get(Client, client_id)
    if client is None:
        return None
    visits = list(session.scalars(
        select(Appointment).where(Appointment.client_id == client_id)
        .order_by(Appointment.start_at.desc(), Appointment.id.desc())))
    sent_or_due = func.coalesce(Message.sent_at, Message.due_at)
    texts = list(session.scalars(
        select(Message).where(Message.client_id == client_id)
        .order_by(sent_or_due.desc(), Message.id.desc()).limit(SHOWN)))
    texts_total = session.scalar(
        select(func.count(Message.id)).where(Message.client_id == client_id))
    replies = list(session.scalars(
        select(InboundMessage).where(InboundMessage.client_id == client_id)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc()).limit(SHOWN)))
    replies_total = session.scalar(
        select(func.count(InboundMessage.id)).where(InboundMessage.client_id == client_id))
    open_items = list(session.scalars(
        select(Followup).where(Followup.client_id == client_id,
                               Followup.status == FollowupStatus.OPEN)
        .order_by(Followup.created_at, Followup.id)))
    entries = list(session.scalars(
        select(AuditEntry).where(AuditEntry.subject == "client",
                                 AuditEntry.subject_id == client_id)
        .order_by(AuditEntry.id.desc())))
    return Record(client=client, visits=visits, texts=texts, texts_total=texts_total,
                  replies=replies, replies_total=replies_total, open_items=open_items,
                  audit=_audits(session, entries), seen=entries[0].id if entries else 0)


def _audits(session: Session, entries: list[AuditEntry]) -> list[Audit]:
    staff_ids = {_staff_id(e.actor) for e in entries} - {None}
    names = dict(session.execute(select(StaffUser.id, StaffUser.name)
                                 .where(StaffUser.id.in_(staff_ids))).all()) if staff_ids else {}
    audits = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        changes = [Change(key, FIELD_WORDS.get(key, key.replace("_", " ").capitalize()),
                          before.get(key), after.get(key))
                   for key in dict.fromkeys([*before, *after])]
        audits.append(Audit(entry=entry, who=names.get(_staff_id(entry.actor)) or entry.actor,
                            changes=changes))
    return audits


def _staff_id(actor: str) -> int | None:
    """The id in "staff:<id>"; None for any other actor."""
    match = STAFF_ACTOR.fullmatch(actor or "")
    return int(match.group(1)) if match else None


def latest_audit_id(session: Session, client_id: int) -> int:
    return session.scalar(select(func.max(AuditEntry.id)).where(
        AuditEntry.subject == "client", AuditEntry.subject_id == client_id)) or 0


# --- Editing --------------------------------------------------------------------------------


def clean_name(value: str | None) -> str:
    name = " ".join((value or "").split())
    if problem := name_problem(name, missing="Enter the client's name.", most=NAME_MAX):
        raise ClientError("Check the name.", {"name": problem})
    return name


def clean_email(value: str | None) -> str | None:
    """An email address with its domain in lower case; None when left empty."""
    address = (value or "").strip()
    if not address:
        return None
    if len(address) > EMAIL_MAX:
        raise ClientError("Check the email.",
                          {"email": f"At most {EMAIL_MAX} characters; this is {len(address)}."})
    if not printable(address):
        raise ClientError("Check the email.",
                          {"email": "Contains characters that can't be used here."})
    if not EMAIL.match(address):
        raise ClientError("Check the email.",
                          {"email": "That doesn't look like an email address "
                                    "(like name@example.com)."})
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def update_client(session: Session, client_id: int, *, name: str | None, email: str | None,
                  now: datetime, actor: str, seen_at: int) -> AuditEntry | None:
    """Saves a new name and email; returns the audit entry, or None when nothing changed.

    Raises ClientError (with a message per field) for bad input, StaleEdit when the client
    was edited after `seen_at` (the latest audit entry the form saw), UnknownClient when
    there is no such client. Nothing is written unless everything holds.
    """
    fields: dict[str, str] = {}
    clean: dict[str, str | None] = {}
    for key, cleaner, value in (("name", clean_name, name), ("email", clean_email, email)):
        try:
            clean[key] = cleaner(value)
        except ClientError as exc:
            fields.update(exc.fields)
    if fields:
        raise ClientError("The details were not saved: check the fields marked.", fields)
    with transaction(session):
        client = session.get(Client, client_id)
        if client is None:
            raise UnknownClient(client_id)
        before = {k: getattr(client, k) for k, v in clean.items() if getattr(client, k) != v}
        if not before:
            return None
        if latest_audit_id(session, client_id) != seen_at:
            raise StaleEdit()
        after = {k: clean[k] for k in before}
        for key, value in after.items():
            setattr(client, key, value)
        entry = AuditEntry(at=now, actor=actor, subject="client", subject_id=client_id,
                           action="edited", before=before, after=after)
        session.add(entry)
    return entry
