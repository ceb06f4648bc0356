"""Staff endpoints, behind a Bearer token."""

from functools import wraps

from flask import g, jsonify, request
from sqlalchemy import select

from .. import clock
from ..auth import user_for_token
from ..extensions import db
from ..models import Appointment
from ..timeutil import day_bounds_utc, iso_local
from . import bp
from .errors import ApiError
from ..validation import Fields


def staff_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = None
        if scheme.lower() == "bearer" and token.strip():
            user = user_for_token(db.session, token.strip())
        if user is None:
            raise ApiError(401, "unauthorized", "A valid staff API token is required.")
        g.staff_user = user
        return view(*args, **kwargs)

    return wrapper


@bp.get("/staff/appointments")
@staff_required
def appointments():
    f = Fields()
    day = f.day(request.args.to_dict(), "date", "date", required=True)
    f.raise_if_any()
    tz = clock.tz()
    start, end = day_bounds_utc(day, tz)
    rows = db.session.scalars(
        select(Appointment)
        .where(Appointment.start_at >= start, Appointment.start_at < end)
        .order_by(Appointment.start_at, Appointment.provider_id)
    )
    return jsonify(appointments=[appointment_json(a, tz) for a in rows])


def appointment_json(appt: Appointment, tz) -> dict:
    return {
        "id": appt.id,
        "start": iso_local(appt.start_at, tz),
        "end": iso_local(appt.end_at, tz),
        "status": appt.status,
        "service": appt.service.slug,
        "provider_id": appt.provider_id,
        "provider": {"id": appt.provider.id, "name": appt.provider.name},
        "client": {"name": appt.client.name, "phone": appt.client.phone},
        "late_change": appt.late_change,
    }
