"""The clinic's data: services, providers and their hours, clients, visits, staff."""

from __future__ import annotations

import hashlib
from datetime import datetime, time

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .timeutil import UTCDateTime, now_utc

ROLES = ("aesthetician", "dermatologist")
STAFF_ROLES = ("admin", "staff")
STATUSES = ("booked", "confirmed", "checked_in", "completed", "cancelled", "no_show")
#: Visits that hold their provider's time; cancelled ones free it.
HOLDING_STATUSES = ("booked", "confirmed", "checked_in", "completed", "no_show")
#: Visits that count for the extraction cadence rule.
CADENCE_STATUSES = ("booked", "confirmed", "checked_in", "completed")
#: Visits the client may still cancel or move.
CHANGEABLE_STATUSES = ("booked", "confirmed")


class Service(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=15)  #: cleanup after the visit
    provider_role: Mapped[str] = mapped_column(String(20))
    includes_extraction: Mapped[bool] = mapped_column(Boolean, default=False)
    purging_checkin: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_topicals_days: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("buffer_minutes >= 0", name="buffer_not_negative"),
    )


class Provider(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    board_certified: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    hours: Mapped[list[WorkingHours]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", order_by="WorkingHours.weekday"
    )


class WorkingHours(db.Model):
    """One stretch of a provider's week, in clinic wall-clock time."""

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  #: 0 is Monday
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)

    provider: Mapped[Provider] = relationship(back_populates="hours")

    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("starts < ends", name="starts_before_ends"),
    )


class TimeOff(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (Index("ix_time_off_provider_starts", "provider_id", "starts_at"),)


class Client(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(20), unique=True)  #: E.164
    email: Mapped[str | None] = mapped_column(String(254))
    sms_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: replied STOP
    undeliverable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: carrier refused
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class Appointment(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    busy_until: Mapped[datetime] = mapped_column(UTCDateTime)  #: end plus the cleanup buffer
    status: Mapped[str] = mapped_column(String(20), default="booked")
    price_cents: Mapped[int] = mapped_column(Integer)  #: the price when booked
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    intake: Mapped[dict] = mapped_column(JSON, default=dict)
    manage_token: Mapped[str] = mapped_column(String(64), unique=True)
    late_change: Mapped[bool] = mapped_column(Boolean, default=False)  #: cancelled or moved < 24 h
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by: Mapped[str] = mapped_column(String(80), default="client")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    service: Mapped[Service] = relationship(lazy="joined")
    provider: Mapped[Provider] = relationship(lazy="joined")
    client: Mapped[Client] = relationship(lazy="joined")
    events: Mapped[list[AppointmentEvent]] = relationship(
        back_populates="appointment", order_by="AppointmentEvent.id"
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('booked','confirmed','checked_in','completed','cancelled','no_show')",
            name="status_known",
        ),
        CheckConstraint("start_at < end_at AND end_at <= busy_until", name="times_ordered"),
        Index("ix_appointment_provider_start", "provider_id", "start_at"),
        Index("ix_appointment_start", "start_at"),
        ExcludeConstraint(
            (text("provider_id"), "="),
            (text("tsrange(start_at, busy_until)"), "&&"),
            name="no_overlapping_visits",
            using="gist",
            where=text("status <> 'cancelled'"),
        ).ddl_if(dialect="postgresql"),
    )

    @property
    def is_active(self) -> bool:
        return self.status in HOLDING_STATUSES


class AppointmentEvent(db.Model):
    """Who changed a visit, when, and how: nothing about a visit is ever overwritten unseen."""

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))  #: "client", "staff:<id>", "system"
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    appointment: Mapped[Appointment] = relationship(back_populates="events")


class StaffUser(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    __table_args__ = (CheckConstraint("role IN ('admin','staff')", name="role_known"),)

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.active


class ApiToken(db.Model):
    """A staff member's API token; only its SHA-256 is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    staff_user: Mapped[StaffUser] = relationship(lazy="joined")

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


MESSAGE_KINDS = ("confirmation", "pre_visit_pause", "reminder", "aftercare", "redness_checkin",
                 "purging_checkin", "rebook")
MESSAGE_STATUSES = ("scheduled", "sending", "sent", "delivered", "failed", "cancelled", "skipped",
                    "unknown")


class Message(db.Model):
    """One planned text to a client: written with the change that causes it, sent at most once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: never sent from then on
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    body: Mapped[str | None] = mapped_column(Text)  #: as sent
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(200))  #: why skipped, failed or retried
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  #: last handed to Twilio
    #: While `sending`: when to ask Twilio whether it went out, if no answer has come by then.
    check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    appointment: Mapped[Appointment] = relationship()
    client: Mapped[Client] = relationship()
    history: Mapped[list[MessageEvent]] = relationship(
        order_by="MessageEvent.id", back_populates="message")

    __table_args__ = (
        CheckConstraint(
            "status IN ('scheduled','sending','sent','delivered','failed','cancelled','skipped',"
            "'unknown')", name="status_known"),
        # The dispatcher's poll: due rows, earliest first; cost follows what is due.
        Index("ix_message_status_due", "status", "due_at"),
    )


class MessageEvent(db.Model):
    """One step in a text's life after it was first handed over: each attempt's outcome and
    what Twilio's message list said about a send whose answer was lost."""

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(12))  #: sent, retry, failed, unsure, found, ...
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
    action: Mapped[str] = mapped_column(String(20))  #: what the reply was taken to mean
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    client: Mapped[Client | None] = relationship()
    appointment: Mapped[Appointment | None] = relationship()


class Followup(db.Model):
    """Something staff should act on: a worrying check-in answer or an unrecognised reply."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))  #: None: unknown number
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"))
    reason: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(80))

    client: Mapped[Client | None] = relationship(lazy="joined")
    appointment: Mapped[Appointment | None] = relationship()
    inbound: Mapped[InboundMessage | None] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("priority IN ('high','normal')", name="priority_known"),
        CheckConstraint("status IN ('open','closed')", name="status_known"),
        Index("ix_followup_status_created", "status", "created_at"),
    )
