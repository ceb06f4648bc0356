"""The clinic's data: services, providers and their hours, clients, visits, staff."""

from __future__ import annotations

import hashlib
import secrets
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

from .enums import HOLDING, BookedVia, ProviderRole, StaffRole, VisitEvent, VisitStatus, enum_column
from .extensions import db
from .timeutil import UTCDateTime, now_utc


class Service(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    #: What the client reads on their visit page, one paragraph per line: how to prepare,
    #: what the visit is like, and how to look after the skin afterwards.
    preparation: Mapped[str] = mapped_column(Text, default="")
    what_to_expect: Mapped[str] = mapped_column(Text, default="")
    aftercare: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=15)  #: cleanup after the visit
    provider_role: Mapped[ProviderRole] = mapped_column(
        enum_column(ProviderRole, "provider_role_known", 20))
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
    role: Mapped[ProviderRole] = mapped_column(enum_column(ProviderRole, "role_known", 20))
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
    #: How consent to texts was given: "online", or "by phone, taken by <staff name>".
    sms_consent_via: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class Appointment(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    busy_until: Mapped[datetime] = mapped_column(UTCDateTime)  #: end plus the cleanup buffer
    status: Mapped[VisitStatus] = mapped_column(enum_column(VisitStatus, "status_known", 20),
                                                default=VisitStatus.BOOKED)
    price_cents: Mapped[int] = mapped_column(Integer)  #: the price when booked
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    intake: Mapped[dict] = mapped_column(JSON, default=dict)
    manage_token: Mapped[str] = mapped_column(String(64), unique=True)
    late_change: Mapped[bool] = mapped_column(Boolean, default=False)  #: cancelled or moved < 24 h
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by: Mapped[str] = mapped_column(String(80), default="client")
    booked_via: Mapped[BookedVia | None] = mapped_column(
        enum_column(BookedVia, "booked_via_known", 20))  #: None: booked before it was kept
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
        CheckConstraint("start_at < end_at AND end_at <= busy_until", name="times_ordered"),
        Index("ix_appointment_provider_start", "provider_id", "start_at"),
        Index("ix_appointment_start", "start_at"),
        Index("ix_appointment_client_start", "client_id", "start_at"),  # reports: rebooking
        Index("ix_appointment_created_at", "created_at"),  # reports: bookings by week
        Index("ix_appointment_cancelled_at", "cancelled_at"),  # reports: cancellations
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
        return self.status in HOLDING


class AppointmentEvent(db.Model):
    """Who changed a visit, when, and how: nothing about a visit is ever overwritten unseen."""

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))  #: "client", "staff:<id>", "system"
    action: Mapped[VisitEvent] = mapped_column(enum_column(VisitEvent, "action_known", 40))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    appointment: Mapped[Appointment] = relationship(back_populates="events")


class StaffUser(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole, "role_known", 10))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    #: The provider this account works as: their column comes first on the schedule.
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("provider.id"))
    #: Part of every login session's id; a new one (new password) ends every older session.
    login_key: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))
    #: A one-time link to set the password (new account, reset): its SHA-256 and its end.
    set_password_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    set_password_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[Provider | None] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == StaffRole.ADMIN

    @property
    def actor(self) -> str:
        """How this account is named in audit trails."""
        return f"staff:{self.id}"

    def get_id(self) -> str:  # Flask-Login keeps this in the session
        return f"{self.id}.{self.login_key}"


class StaffSession(db.Model):
    """A signed-in browser: its id is renewed at sign-in and ended at sign-out, so a copy of
    an old session cookie opens nothing. Only the id's SHA-256 is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


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


class ClinicSettings(db.Model):
    """The clinic's own rules: one row, holding only what differs from the defaults
    (README, "The clinic's rules"), read once per request or job."""

    id: Mapped[int] = mapped_column(primary_key=True)
    rules: Mapped[dict] = mapped_column(JSON, default=dict)  #: field name -> stored value
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(80))


class ScheduleVersion(db.Model):
    """Row 1's number rises with every change free slots depend on, row 2's with changes to
    the catalogue and rules alone (schedule_version.py): what a web worker cached for an
    older number is not used."""

    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(db.Model):
    """A change staff made to a record that has no history of its own: who, when, before, after."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))  #: "staff:<id>"
    subject: Mapped[str] = mapped_column(String(40))  #: the table: "client", later "settings"
    subject_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_entry_subject", "subject", "subject_id"),)


# The texts' tables live with their feature; imported here so every table is registered.
from .messaging.models import (  # noqa: E402, F401
    Followup,
    InboundMessage,
    Message,
    MessageEvent,
)
