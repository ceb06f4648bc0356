"""The visit lifecycle: booked -> confirmed -> checked_in -> completed, or cancelled, or no_show."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .booking import BookingError, is_late
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
                  clinic: Clinic, actor: str, reason: str | None = None,
                  seen: str | None = None) -> Appointment:
    """Moves a visit along its lifecycle and plans or cancels its texts in the same commit.

    `reason` is kept in the audit trail (a cancellation's why); `seen` is the visit's
    `version` when the asker looked at it: if it changed since, nothing is done (409).
    """
    if status not in TRANSITIONS:
        raise BookingError("unknown_status", f"Unknown status {status!r}.",
                           {"status": "One of " + ", ".join(TRANSITIONS) + "."})
    with transaction(session):
        lock(session, appt)
        if seen is not None and seen != version(appt):
            raise BookingError(
                "stale", f"This visit changed while you had it open: it is now "
                f"{appt.status.replace('_', ' ')}, {_on(appt, clinic)}. Nothing was done; "
                "check it and try again.", status=409, current_status=appt.status)
        if status not in TRANSITIONS[appt.status]:
            raise BookingError(
                "transition_not_allowed",
                f"A visit that is {appt.status.replace('_', ' ')} cannot become "
                f"{status.replace('_', ' ')}.",
                {"status": "Allowed: " + (", ".join(sorted(TRANSITIONS[appt.status])) or
                                           "none")},
                status=409, current_status=appt.status)
        _apply(session, appt, status, now=now, clinic=clinic, actor=actor, reason=reason)
    return appt


def version(appt: Appointment) -> str:
    """What a form carries to prove it was filled in against the visit as it is now: any
    change of status, time or provider gives another (and so does any later update)."""
    seen = f"{appt.status}|{appt.start_at.isoformat()}|{appt.provider_id}|" \
           f"{appt.updated_at.isoformat()}"
    return hashlib.sha256(seen.encode()).hexdigest()[:16]


def allowed_next(appt: Appointment) -> set[VisitStatus]:
    """The statuses this visit may move to now."""
    return TRANSITIONS[appt.status]


def _on(appt: Appointment, clinic: Clinic) -> str:
    local = appt.start_at.astimezone(clinic.tz)
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"


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
           actor: str, reason: str | None = None) -> None:
    before = appt.status
    detail: dict = {"from": before}
    appt.status = status
    appt.updated_at = now
    if reason:
        detail["reason"] = reason
    if status == VisitStatus.CANCELLED:
        appt.cancelled_at, appt.cancelled_by = now, actor
        detail["late"] = is_late(appt, now, clinic)  # a client's call close to the visit
        appt.late_change = appt.late_change or detail["late"]
        plan.plan_cancellation(session, appt, now=now, clinic=clinic)
    elif status == VisitStatus.NO_SHOW:
        plan.cancel_unsent(session, appt, now=now, note="no-show")
    elif status == VisitStatus.COMPLETED:
        plan.plan_completion(session, appt, now=now, clinic=clinic)
    session.add(AppointmentEvent(appointment=appt, at=now, actor=actor,
                                 action=VisitEvent(status), detail=detail))
