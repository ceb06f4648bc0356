"""Staff endpoints, behind a Bearer token."""

from functools import wraps

from flask import g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import clock, visits
from ..auth import user_for_token
from ..extensions import db
from ..models import Appointment, Followup, Message
from ..timeutil import day_bounds_utc, iso_local
from ..validation import Fields
from . import bp
from .errors import ApiError, json_body


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


@bp.post("/staff/appointments/<int(max=2147483647):appointment_id>/status")
@staff_required
def change_status(appointment_id: int):
    appt = _appointment(appointment_id)
    f = Fields()
    status = f.text(json_body(), "status", "status", max_len=20)
    f.raise_if_any()
    tz = clock.tz()
    visits.change_status(db.session, appt, status, now=clock.now(), clinic=clock.clinic(),
                         actor=f"staff:{g.staff_user.id}")
    return jsonify(appointment=appointment_json(appt, tz))


@bp.get("/staff/appointments/<int(max=2147483647):appointment_id>/messages")
@staff_required
def messages(appointment_id: int):
    _appointment(appointment_id)
    tz = clock.tz()
    rows = db.session.scalars(select(Message).where(Message.appointment_id == appointment_id)
                              .order_by(Message.due_at, Message.id)
                              .options(selectinload(Message.history)))
    return jsonify(messages=[{
        "id": m.id, "kind": m.kind, "due_at": iso_local(m.due_at, tz), "status": m.status,
        "body": m.body, "sent_at": iso_local(m.sent_at, tz) if m.sent_at else None,
        "provider_sid": m.provider_sid, "attempts": m.attempts, "error_code": m.error_code,
        "note": m.note,
        "history": [{"at": iso_local(e.at, tz), "outcome": e.outcome,
                     "provider_sid": e.provider_sid, "error_code": e.error_code,
                     "note": e.note} for e in m.history],
    } for m in rows])


@bp.get("/staff/followups")
@staff_required
def followups():
    status = request.args.get("status", "open")
    if status not in ("open", "closed", "all"):
        raise ApiError(422, "validation_error", "Unknown status.",
                       {"status": "One of open, closed, all."})
    query = select(Followup).order_by(Followup.priority != "high", Followup.created_at)
    if status != "all":
        query = query.where(Followup.status == status)
    tz = clock.tz()
    return jsonify(followups=[{
        "id": f.id, "appointment_id": f.appointment_id,
        "client": {"name": f.client.name, "phone": f.client.phone} if f.client else None,
        "from_phone": f.inbound.from_phone if f.inbound else None,
        "message": f.inbound.body if f.inbound else None,
        "reason": f.reason, "priority": f.priority, "status": f.status,
        "created_at": iso_local(f.created_at, tz),
    } for f in db.session.scalars(query)])


def _appointment(appointment_id: int) -> Appointment:
    appt = db.session.get(Appointment, appointment_id)
    if appt is None:
        raise ApiError(404, "not_found", "No visit has that id.")
    return appt
