"""The texts' tables: planned messages and each attempt, clients' replies, staff follow-ups."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..enums import (
    FollowupStatus,
    MessageKind,
    MessageStatus,
    Outcome,
    Priority,
    ReplyAction,
    enum_column,
)
from ..extensions import db
from ..timeutil import UTCDateTime

if TYPE_CHECKING:
    from ..models import Appointment, Client

class Message(db.Model):
    """One planned text to a client: written with the change that causes it, sent at most once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    kind: Mapped[MessageKind] = mapped_column(enum_column(MessageKind, "kind_known", 20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: never sent from then on
    status: Mapped[MessageStatus] = mapped_column(
        enum_column(MessageStatus, "status_known", 12), default=MessageStatus.SCHEDULED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    body: Mapped[str | None] = mapped_column(Text)  #: as sent
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(200))  #: why skipped, failed or retried
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: last handed to Twilio
    #: While `sending`: when to ask Twilio whether it went out, if no answer has come by then.
    check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    written_by: Mapped[str | None] = mapped_column(String(80))  #: a staff reply's author
    #: The inbox item a staff reply answers.
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followup.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    appointment: Mapped[Appointment] = relationship()
    client: Mapped[Client] = relationship()
    history: Mapped[list[MessageEvent]] = relationship(
        order_by="MessageEvent.id", back_populates="message")

    __table_args__ = (
        # The dispatcher's poll: due rows, earliest first; cost follows what is due.
        Index("ix_message_status_due", "status", "due_at"),
        # The report's texts by week and final status (and why failed), from the index alone.
        Index("ix_message_report_texts", "status", "due_at", "error_code", "note"),
    )


class MessageEvent(db.Model):
    """One step in a text's life after it was first handed over: each attempt's outcome and
    what Twilio's message list said about a send whose answer was lost."""

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome, "outcome_known", 12))
    #: The SID Twilio gave this attempt, kept here when a retry clears it from the message.
    provider_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(200))

    message: Mapped[Message] = relationship(back_populates="history")


class InboundMessage(db.Model):
    """A text a client sent; its Twilio MessageSid makes a repeated webhook a no-op."""

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"), index=True)
    from_phone: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    action: Mapped[ReplyAction] = mapped_column(enum_column(ReplyAction, "action_known", 20))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The inbox item this text belongs to: the one it opened, or an open one it adds to.
    followup_id: Mapped[int | None] = mapped_column(
        ForeignKey("followup.id", use_alter=True), index=True)

    client: Mapped[Client | None] = relationship()
    appointment: Mapped[Appointment | None] = relationship()

    __table_args__ = (
        Index("ix_inbound_message_received_at", "received_at"),  # reports: check-in replies
    )


class Followup(db.Model):
    """Something staff should act on: a worrying check-in answer or an unrecognised reply."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))  #: None: unknown number
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"))
    reason: Mapped[str] = mapped_column(String(40))
    priority: Mapped[Priority] = mapped_column(enum_column(Priority, "priority_known", 10),
                                               default=Priority.NORMAL)
    status: Mapped[FollowupStatus] = mapped_column(
        enum_column(FollowupStatus, "status_known", 10), default=FollowupStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)  #: what staff did, written when resolving

    client: Mapped[Client | None] = relationship(lazy="joined")
    appointment: Mapped[Appointment | None] = relationship()
    inbound: Mapped[InboundMessage | None] = relationship(lazy="joined", foreign_keys=[inbound_id])

    __table_args__ = (
        Index("ix_followup_status_created", "status", "created_at"),
    )
