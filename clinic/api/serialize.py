"""The one JSON shape of a booking, shared by every endpoint that answers with one."""

from flask import current_app, url_for

from ..booking import warnings_for
from ..models import Appointment
from ..rules import Clinic
from ..timeutil import iso_local


def manage_url(appt: Appointment) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + url_for("manage.show", token=appt.manage_token)


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
            "manage_url": manage_url(appt),
            "calendar_url": manage_url(appt) + "/calendar.ics",
            "late_change": appt.late_change,
            "warnings": warnings_for(appt, clinic),
        }
    }
