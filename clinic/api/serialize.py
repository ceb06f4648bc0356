"""Rows to answers: the one place each row becomes its model in clinic/api/schemas.py."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ..availability import Slot
from ..booking import warnings_for
from ..links import calendar_url, manage_url
from ..messaging.models import Followup, Message
from ..models import Appointment, Provider, Service
from ..rules import Clinic
from ..timeutil import iso_local
from . import schemas


def service(row: Service) -> schemas.Service:
    return schemas.Service(
        slug=row.slug, name=row.name, price_cents=row.price_cents, currency=row.currency,
        duration_minutes=row.duration_minutes, provider_role=row.provider_role,
        includes_extraction=row.includes_extraction)


def provider(row: Provider) -> schemas.Provider:
    return schemas.Provider(id=row.id, name=row.name, role=row.role,
                            board_certified=row.board_certified)


def slot(found: Slot, tz: ZoneInfo) -> schemas.Slot:
    return schemas.Slot(start=iso_local(found.start, tz), end=iso_local(found.end, tz),
                        provider_id=found.provider_id)


def free_slots(found: list[Slot], tz: ZoneInfo) -> dict:
    """The `FreeSlots` answer as plain JSON data: exactly what
    `FreeSlots(timezone=..., slots=[slot(s, tz) ...]).model_dump(mode="json")` gives, built
    without validating a model per slot (a two-month answer has thousands); every value is
    already the string or integer the model would hold."""
    return {"timezone": str(tz),
            "slots": [{"start": iso_local(s.start, tz), "end": iso_local(s.end, tz),
                       "provider_id": s.provider_id} for s in found]}


def booking(appt: Appointment, clinic: Clinic) -> schemas.BookingAnswer:
    """The one shape of a booking, shared by every endpoint that answers with one."""
    return schemas.BookingAnswer(booking=schemas.Booking(
        id=appt.id,
        token=appt.manage_token,
        status=appt.status,
        service=appt.service.slug,
        provider_id=appt.provider_id,
        start=iso_local(appt.start_at, clinic.tz),
        end=iso_local(appt.end_at, clinic.tz),
        price_cents=appt.price_cents,
        currency=appt.currency,
        manage_url=manage_url(appt.manage_token),
        calendar_url=calendar_url(appt.manage_token),
        late_change=appt.late_change,
        warnings=warnings_for(appt, clinic),
    ))


def visit(appt: Appointment, tz: ZoneInfo) -> schemas.Visit:
    return schemas.Visit(
        id=appt.id,
        start=iso_local(appt.start_at, tz),
        end=iso_local(appt.end_at, tz),
        status=appt.status,
        service=appt.service.slug,
        provider_id=appt.provider_id,
        provider=schemas.ProviderName(id=appt.provider.id, name=appt.provider.name),
        client=schemas.Contact(name=appt.client.name, phone=appt.client.phone),
        late_change=appt.late_change,
    )


def message(row: Message, tz: ZoneInfo) -> schemas.Message:
    return schemas.Message(
        id=row.id, kind=row.kind, due_at=iso_local(row.due_at, tz), status=row.status,
        body=row.body, sent_at=iso_local(row.sent_at, tz) if row.sent_at else None,
        provider_sid=row.provider_sid, attempts=row.attempts, error_code=row.error_code,
        note=row.note,
        history=[schemas.Attempt(at=iso_local(e.at, tz), outcome=e.outcome,
                                 provider_sid=e.provider_sid, error_code=e.error_code,
                                 note=e.note) for e in row.history],
    )


def followup(row: Followup, tz: ZoneInfo) -> schemas.Followup:
    person = row.client
    return schemas.Followup(
        id=row.id, appointment_id=row.appointment_id,
        client=schemas.Contact(name=person.name, phone=person.phone) if person else None,
        from_phone=row.inbound.from_phone if row.inbound else None,
        message=row.inbound.body if row.inbound else None,
        reason=row.reason, priority=row.priority, status=row.status,
        created_at=iso_local(row.created_at, tz),
    )
