"""Staff endpoints, behind a Bearer token (`staff=True`: README, "API")."""

from flask import g
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import clock, visits
from ..enums import Priority
from ..extensions import db
from ..models import Appointment, Followup, Message
from ..timeutil import day_bounds_utc
from . import bp, serialize
from .errors import ApiError
from .operations import operation
from .schemas import (
    ALL,
    Error,
    FollowupQuery,
    Followups,
    Messages,
    StaffDayQuery,
    StatusIn,
    VisitAnswer,
    VisitPath,
    Visits,
)

NO_VISIT = (Error, "not_found: no visit has that id")


@bp.get("/staff/appointments")
@operation("Visits of one clinic day, with each client's name and phone", staff=True,
           query=StaffDayQuery, responses={200: Visits})
def appointments(query: StaffDayQuery):
    tz = clock.tz()
    start, end = day_bounds_utc(query.date, tz)
    rows = db.session.scalars(
        select(Appointment)
        .where(Appointment.start_at >= start, Appointment.start_at < end)
        .order_by(Appointment.start_at, Appointment.provider_id)
    )
    return Visits(appointments=[serialize.visit(a, tz) for a in rows])


@bp.post("/staff/appointments/<int(max=2147483647):appointment_id>/status")
@operation("Move a visit along its lifecycle", staff=True, path=VisitPath, body=StatusIn,
           responses={200: VisitAnswer, 404: NO_VISIT, 409: (
               Error, "transition_not_allowed, with current_status")})
def change_status(appointment_id: int, body: StatusIn):
    appt = _appointment(appointment_id)
    visits.change_status(db.session, appt, body.status, now=clock.now(), clinic=clock.clinic(),
                         actor=f"staff:{g.staff_user.id}")
    return VisitAnswer(appointment=serialize.visit(appt, clock.tz()))


@bp.get("/staff/appointments/<int(max=2147483647):appointment_id>/messages")
@operation("A visit's texts with their delivery status and each attempt", staff=True,
           path=VisitPath, responses={200: Messages, 404: NO_VISIT})
def messages(appointment_id: int):
    _appointment(appointment_id)
    tz = clock.tz()
    rows = db.session.scalars(select(Message).where(Message.appointment_id == appointment_id)
                              .order_by(Message.due_at, Message.id)
                              .options(selectinload(Message.history)))
    return Messages(messages=[serialize.message(m, tz) for m in rows])


@bp.get("/staff/followups")
@operation("Replies staff should act on, high priority first", staff=True, query=FollowupQuery,
           responses={200: Followups})
def followups(query: FollowupQuery):
    wanted = select(Followup).order_by(Followup.priority != Priority.HIGH, Followup.created_at)
    if query.status != ALL:
        wanted = wanted.where(Followup.status == query.status)
    tz = clock.tz()
    return Followups(followups=[serialize.followup(f, tz) for f in db.session.scalars(wanted)])


def _appointment(appointment_id: int) -> Appointment:
    appt = db.session.get(Appointment, appointment_id)
    if appt is None:
        raise ApiError(404, "not_found", "No visit has that id.")
    return appt
