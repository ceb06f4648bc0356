"""The visit lifecycle: booked -> confirmed -> checked_in -> completed, or cancelled, or no_show."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .booking import BookingError
from .enums import OPEN, VisitEvent, VisitStatus
from .messaging import plan
from .models import Appointment, AppointmentEvent
from .rules import Clinic
from .tx import dialect, lock, transaction

TRANSITIONS = {
    VisitStatus.BOOKED: {VisitStatus.CONFIRMED, VisitStatus.CHECKED_IN, VisitStatus.CANCELLED,
                         VisitStatus.NO_SHOW},
    VisitStatus.CONFIRMED: {VisitStatus.CHECKED_IN, VisitStatus.CANCELLED, VisitStatus.NO_SHOW},
    VisitStatus.CHECKED_IN: {VisitStatus.COMPLETED},
    VisitStatus.COMPLETED: set(),
    VisitStatus.CANCELLED: set(),
    VisitStatus.NO_SHOW: set(),
}


def change_status(session: Session, appt: Appointment, status: str, *, now: datetime,
                  clinic: Clinic, actor: str) -> Appointment:
    """Moves a visit along its lifecycle and plans or cancels its texts in the same commit."""
    if status not in TRANSITIONS:
        raise BookingError("unknown_status", f"Unknown status {status!r}.",
                           {"status": "One of " + ", ".join(TRANSITIONS) + "."})
    with transaction(session):
        lock(session, appt)
        if status not in TRANSITIONS[appt.status]:
            raise BookingError(
                "transition_not_allowed",
                f"A visit that is {appt.status.replace('_', ' ')} cannot become "
                f"{status.replace('_', ' ')}.",
                {"status": "Allowed: " + (", ".join(sorted(TRANSITIONS[appt.status])) or
                                           "none")},
                status=409, current_status=appt.status)
        _apply(session, appt, status, now=now, clinic=clinic, actor=actor)
    return appt


def complete_unclosed(session: Session, *, now: datetime, clinic: Clinic,
                      limit: int = 200) -> int:
    """Completes visits still open past the rules' auto-completion delay; returns how many."""
    done = 0
    while True:
        query = (select(Appointment)
                 .where(Appointment.status.in_(OPEN),
                        Appointment.end_at <= now - clinic.rules.auto_complete_after)
                 .order_by(Appointment.end_at).limit(limit)
                 .execution_options(populate_existing=True))
        with transaction(session):
            if dialect(session) == "postgresql":
                # Rows staff are changing right now are left to them (and to the next run).
                query = query.with_for_update(skip_locked=True, of=Appointment)
            rows = list(session.scalars(query))
            for appt in rows:
                _apply(session, appt, VisitStatus.COMPLETED, now=now, clinic=clinic,
                       actor="system")
        done += len(rows)
        if len(rows) < limit:
            return done


def _apply(session: Session, appt: Appointment, status: str, *, now: datetime, clinic: Clinic,
           actor: str) -> None:
    before = appt.status
    appt.status = status
    appt.updated_at = now
    if status == VisitStatus.CANCELLED:
        appt.cancelled_at, appt.cancelled_by = now, actor
        plan.plan_cancellation(session, appt, now=now, clinic=clinic)
    elif status == VisitStatus.NO_SHOW:
        plan.cancel_unsent(session, appt, now=now, note="no-show")
    elif status == VisitStatus.COMPLETED:
        plan.plan_completion(session, appt, now=now, clinic=clinic)
    session.add(AppointmentEvent(appointment=appt, at=now, actor=actor,
                                 action=VisitEvent(status), detail={"from": before}))
