"""What a client's text means (README, "Texts": replies) and what it changes.

The whole message, trimmed and case-insensitive, decides. Twilio's opt-out and opt-in words
come first, so CANCEL and YES never mean anything else here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..enums import (
    CHANGEABLE,
    CHECKINS,
    FollowupStatus,
    MessageKind,
    MessageStatus,
    Priority,
    ReplyAction,
    VisitEvent,
    VisitStatus,
)
from ..models import Appointment, AppointmentEvent, Client
from ..phones import normalise_phone
from ..rules import Clinic
from ..tx import lock, transaction
from .models import Followup, InboundMessage, Message

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN = {"START", "UNSTOP", "YES"}
HELP = {"HELP", "INFO"}
SENT = (MessageStatus.SENT, MessageStatus.DELIVERED)
#: Replies staff must read: a worrying check-in answer, or words we could not place.
FOR_STAFF = (ReplyAction.REDNESS_BAD, ReplyAction.PURGING_BAD, ReplyAction.FOLLOWUP)

CARE_ADVICE = {
    MessageKind.REDNESS_CHECKIN: "Sorry it's still red. Cool compress, fragrance-free "
                                 "moisturiser, no makeup or acids today. Our team will call you.",
    MessageKind.PURGING_CHECKIN: "Thanks for telling us. Keep it clean, don't squeeze, skip acids "
                                 "and scrubs. Our team will call you.",
}


@dataclass(frozen=True)
class Reply:
    """What a client's text was taken to mean, and what we answer (None: nothing)."""

    action: ReplyAction
    reply: str | None = None


def handle_inbound(session: Session, *, sid: str, from_phone: str, body: str, now: datetime,
                   clinic: Clinic) -> Reply:
    """Records the text once per MessageSid and acts on it; a repeat changes nothing."""
    try:
        return _record_inbound(session, sid=sid, from_phone=from_phone, body=body, now=now,
                               clinic=clinic)
    except IntegrityError as exc:
        if "uq_inbound_message_message_sid" not in str(exc.orig):
            raise
        return Reply(ReplyAction.DUPLICATE)  # the same MessageSid, from a parallel request


def _record_inbound(session: Session, *, sid: str, from_phone: str, body: str, now: datetime,
                    clinic: Clinic) -> Reply:
    with transaction(session, from_phone):
        if session.scalar(select(InboundMessage.id).where(InboundMessage.message_sid == sid)):
            return Reply(ReplyAction.DUPLICATE)
        client = _client(session, from_phone)
        word = " ".join(body.split()).upper()
        outcome, appt = _act(session, client, word, now, clinic)
        inbound = InboundMessage(message_sid=sid, client=client, from_phone=from_phone[:32],
                                 body=body[:1600], action=outcome.action, appointment=appt,
                                 received_at=now)
        session.add(inbound)
        if outcome.action in FOR_STAFF:
            _to_staff(session, inbound, client, appt, outcome.action, now)
    return outcome


def _to_staff(session: Session, inbound: InboundMessage, client: Client | None,
              appt: Appointment | None, action: ReplyAction, now: datetime) -> None:
    """Puts the text in the staff inbox: words we could not place join the client's open
    item, if they have one, so the conversation stays in one thread; a worrying check-in
    answer, or a first text, opens an item of its own."""
    if action == ReplyAction.FOLLOWUP and client is not None:
        open_id = session.scalar(
            select(Followup.id).where(Followup.client_id == client.id,
                                      Followup.status == FollowupStatus.OPEN)
            .order_by(Followup.created_at.desc(), Followup.id.desc()).limit(1))
        if open_id is not None:
            inbound.followup_id = open_id
            return
    followup = Followup(
        client=client, appointment=appt, inbound=inbound, created_at=now,
        reason={ReplyAction.FOLLOWUP: "unrecognised reply"}.get(action,
                                                          action.replace("_", " ")),
        priority=Priority.HIGH if action == ReplyAction.REDNESS_BAD else Priority.NORMAL)
    session.add(followup)
    session.flush()  # the item's id, for the text that opened it
    inbound.followup_id = followup.id


def _client(session: Session, phone: str) -> Client | None:
    try:
        phone = normalise_phone(phone)
    except ValueError:
        return None
    return session.scalar(select(Client).where(Client.phone == phone))


def _act(session: Session, client: Client | None, word: str, now: datetime,
         clinic: Clinic) -> tuple[Reply, Appointment | None]:
    clinic_name, clinic_phone = clinic.name, clinic.phone
    if word in HELP:
        return Reply(ReplyAction.HELP, f"{clinic_name}: call us on {clinic_phone}. "
                               "Reply STOP to opt out."), None
    if client is None:
        return Reply(ReplyAction.FOLLOWUP), None  # a number we don't know: staff will see it
    if word in OPT_OUT:
        client.opted_out_at = now  # Twilio answers opt-out and opt-in words itself
        return Reply(ReplyAction.OPT_OUT), None
    if word in OPT_IN:
        client.opted_out_at = None
        return Reply(ReplyAction.OPT_IN), None
    if word == "C":
        appt = _reminded_visit(session, client, now)
        if appt is not None:
            lock(session, appt)
            if appt.status == VisitStatus.BOOKED:
                appt.status, appt.updated_at = VisitStatus.CONFIRMED, now
                session.add(AppointmentEvent(appointment=appt, at=now, actor="client",
                                             action=VisitEvent.CONFIRMED, detail={"via": "sms"}))
            thanks = f"{clinic_name}: thanks, your visit is confirmed."
            return Reply(ReplyAction.CONFIRM, thanks), appt
    if word in ("1", "2"):
        checkin = _latest_checkin(session, client, now - clinic.rules.reply_window)
        if checkin is not None:
            kind, appt = checkin.kind, checkin.appointment
            if word == "2":
                glad = f"{clinic_name}: glad to hear it. Thanks!"
                return Reply(ReplyAction.CHECKIN_OK, glad), appt
            action = (ReplyAction.REDNESS_BAD if kind == MessageKind.REDNESS_CHECKIN
                      else ReplyAction.PURGING_BAD)
            return Reply(action, f"{clinic_name}: {CARE_ADVICE[kind]}"), appt
    return Reply(ReplyAction.FOLLOWUP), _latest_visit(session, client)


def _reminded_visit(session: Session, client: Client, now: datetime) -> Appointment | None:
    """The upcoming visit whose reminder this number was sent last."""
    return session.scalar(
        select(Appointment).join(Message, Message.appointment_id == Appointment.id)
        .where(Message.client_id == client.id, Message.kind == MessageKind.REMINDER,
               Message.status.in_(SENT), Appointment.start_at > now,
               Appointment.status.in_(CHANGEABLE))
        .order_by(Message.sent_at.desc()).limit(1))


def _latest_checkin(session: Session, client: Client, since: datetime) -> Message | None:
    """The check-in this number was sent last, if recent enough for a 1 or 2 to answer it."""
    return session.scalar(
        select(Message).where(Message.client_id == client.id, Message.kind.in_(CHECKINS),
                              Message.status.in_(SENT),
                              Message.sent_at >= since)
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(1))


def _latest_visit(session: Session, client: Client) -> Appointment | None:
    return session.scalar(select(Appointment).where(Appointment.client_id == client.id)
                          .order_by(Appointment.start_at.desc()).limit(1))


#: A check-in's question, and what each answer means, as the client reads them on their page.
QUESTIONS = {MessageKind.REDNESS_CHECKIN: "Is your skin still red or swollen?",
             MessageKind.PURGING_CHECKIN: "Is a breakout painful or getting worse?"}
ANSWERS = {ReplyAction.REDNESS_BAD: "Still red or swollen: our team will call you.",
           ReplyAction.PURGING_BAD: "Painful or getting worse: our team will call you.",
           ReplyAction.CHECKIN_OK: "All fine."}


@dataclass(frozen=True)
class Checkin:
    """A check-in the client was sent, and their answer if one came before the next."""

    kind: MessageKind
    asked_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None

    @property
    def question(self) -> str:
        return QUESTIONS[self.kind]


def checkins(session: Session, appt: Appointment) -> list[Checkin]:
    """The visit's check-ins in the order sent, each with the answer that followed it."""
    asked = list(session.scalars(
        select(Message).where(Message.appointment_id == appt.id, Message.kind.in_(CHECKINS),
                              Message.status.in_(SENT)).order_by(Message.sent_at)))
    replies = list(session.scalars(
        select(InboundMessage).where(InboundMessage.appointment_id == appt.id,
                                     InboundMessage.action.in_(ANSWERS))
        .order_by(InboundMessage.received_at)))
    found = []
    for position, message in enumerate(asked):
        until = asked[position + 1].sent_at if position + 1 < len(asked) else None
        reply = next((r for r in replies if r.received_at >= message.sent_at
                      and (until is None or r.received_at < until)), None)
        found.append(Checkin(message.kind, message.sent_at,
                             ANSWERS[reply.action] if reply else None,
                             reply.received_at if reply else None))
    return found

