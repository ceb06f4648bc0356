"""The one JSON shape of a booking, shared by every endpoint that answers with one."""

from ..booking import warnings_for
from ..links import calendar_url, manage_url
from ..models import Appointment
from ..rules import Clinic
from ..timeutil import iso_local


def booking_json(appt: Appointment, clinic: Clinic) -> dict:
    return {
        "booking": {
            "id": appt.id,
            "token": appt.manage_token,
            "status": appt.status,
            "service": appt.service.slug,
            "provider_id": appt.provider_id,
            "start": iso_local(appt.start_at, clinic.tz),
            "end": iso_local(appt.end_at, clinic.tz),
            "price_cents": appt.price_cents,
            "currency": appt.currency,
            "manage_url": manage_url(appt.manage_token),
            "calendar_url": calendar_url(appt.manage_token),
            "late_change": appt.late_change,
            "warnings": warnings_for(appt, clinic),
        }
    }
