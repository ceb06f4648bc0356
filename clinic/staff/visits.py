"""A visit's page for staff: client, intake, warnings, texts and replies, audit trail, and its
actions (Confirm, Check in, Complete, No-show, Cancel visit, Move, Resend).

Each action is a form with the visit's `version`; the domain refuses it when the visit
changed since the page was drawn, so nothing is done twice or on a stale view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from .. import auth, booking, clock, visits
from ..enums import COUNTED, VisitStatus
from ..extensions import db
from ..messaging.models import InboundMessage, Message
from ..messaging.resend import ResendRefused, resend, why_not_resend
from ..models import Appointment
from ..rules import CONCERN_LABELS
from ..validation import InvalidInput, RescheduleIn, parse_id, printable, read, storable
from ..web import picking
from . import bp
from .access import actor
from .grid import flags_for

#: Each status staff can move a visit to, with its button's words, in the order shown.
BUTTONS = {
    VisitStatus.CONFIRMED: "Confirm",
    VisitStatus.CHECKED_IN: "Check in",
    VisitStatus.COMPLETED: "Complete",
    VisitStatus.NO_SHOW: "No-show",
}
DONE = {
    VisitStatus.CONFIRMED: "Confirmed.",
    VisitStatus.CHECKED_IN: "Checked in.",
    VisitStatus.COMPLETED: "Completed: the aftercare text and check-ins are planned.",
    VisitStatus.NO_SHOW: "Marked as a no-show: no aftercare texts will go out.",
    VisitStatus.CANCELLED: "The visit is cancelled and its time is free again.",
}
REASON_MAX = 500


@dataclass(frozen=True)
class Entry:
    """One line of a visit's text timeline: a text we sent or planned, or one the client sent."""

    at: datetime
    message: Message | None = None
    reply: InboundMessage | None = None


@bp.get("/visits/<int:visit_id>")
def visit(visit_id: int):
    return _page(_visit(visit_id))


def _page(appt: Appointment, *, errors: dict | None = None, typed: dict | None = None,
          status: int = 200):
    now, clinic = clock.now(), clock.clinic()
    session = db.session
    counted = session.scalar(select(func.count(Appointment.id)).where(
        Appointment.client_id == appt.client_id, Appointment.status.in_(COUNTED)))
    events = list(appt.events)
    names = auth.actor_names(session, {e.actor for e in events} |
                             {m.written_by for m in _messages(appt)})
    offered = [(s, BUTTONS[s]) for s in BUTTONS if s in visits.allowed_next(appt)
               and (s != VisitStatus.NO_SHOW or now >= appt.start_at)]
    return render_template(
        "staff/visit.html", appt=appt, counted=counted, events=events, names=names,
        timeline=_timeline(appt), flags=flags_for(session, [appt], clinic).get(appt.id, []),
        warnings=booking.warnings_for(appt, clinic), offered=offered,
        can_cancel=VisitStatus.CANCELLED in visits.allowed_next(appt),
        can_move=booking.can_change(appt, now), version=visits.version(appt),
        resendable={m.id for m in _messages(appt)
                    if why_not_resend(session, m, now) is None},
        concern_labels=CONCERN_LABELS, errors=errors or {}, typed=typed or {}), status


@bp.post("/visits/<int:visit_id>/status")
def change_status(visit_id: int):
    appt = _visit(visit_id)
    status = request.form.get("status", "")
    reason = None
    if status == VisitStatus.CANCELLED:
        reason = storable(request.form.get("reason") or "").strip()
        problem = _reason_problem(reason)
        if problem:
            return _page(appt, errors={"reason": problem}, typed=request.form, status=422)
    try:
        visits.change_status(db.session, appt, status, now=clock.now(), clinic=clock.clinic(),
                             actor=actor(), reason=reason, seen=request.form.get("seen", ""))
    except booking.BookingError as exc:
        flash(exc.message, "error")
    else:
        flash(DONE[status], "ok")
    return redirect(url_for("staff.visit", visit_id=visit_id), 303)


@bp.post("/visits/<int:visit_id>/messages/<int:message_id>/resend")
def resend_message(visit_id: int, message_id: int):
    appt = _visit(visit_id)
    if not any(m.id == message_id for m in _messages(appt)):
        abort(404)
    try:
        resend(db.session, message_id, now=clock.now(), actor=actor())
    except ResendRefused as exc:
        flash(f"Not sent again: {exc}", "error")
    else:
        flash("The text is back in line and goes out within a minute.", "ok")
    return redirect(url_for("staff.visit", visit_id=visit_id, _anchor="texts"), 303)


@bp.get("/visits/<int:visit_id>/move")
def move_days(visit_id: int):
    appt = _visit(visit_id)
    if not booking.can_change(appt, clock.now()):
        flash("This visit can no longer be moved.", "error")
        return redirect(url_for("staff.visit", visit_id=visit_id), 303)
    picker = picking.page_at(request.args.get("from"))
    providers = picking.providers_for(appt.service)
    too_soon = booking.too_soon_days(db.session, appt, picking.fortnight(picker.first),
                                     clinic=clock.clinic())
    return render_template(
        "staff/move_days.html", appt=appt, picker=picker,
        choices=picking.day_choices(appt.service, providers, picker.first, ignore=appt.id,
                                    too_soon=too_soon))


@bp.get("/visits/<int:visit_id>/move/<day>")
def move_slots(visit_id: int, day: str):
    appt = _visit(visit_id)
    chosen = picking.parse_day(day)
    if chosen is None:
        abort(404)
    found = picking.slots_on(appt.service, picking.providers_for(appt.service), chosen,
                             ignore=appt.id)
    return render_template("staff/move_slots.html", appt=appt, day=chosen, slots=found,
                           version=visits.version(appt))


@bp.post("/visits/<int:visit_id>/move")
def move(visit_id: int):
    appt = _visit(visit_id)
    if request.form.get("seen") != visits.version(appt):
        flash("This visit changed while you were choosing a time; nothing was moved. "
              "Here it is now.", "error")
        return redirect(url_for("staff.visit", visit_id=visit_id), 303)
    try:
        asked = read(RescheduleIn, {"start": request.form.get("start"),
                                    "provider_id": parse_id(request.form.get("provider"))})
        booking.reschedule(db.session, appt, asked.start, provider_id=asked.provider_id,
                           now=clock.now(), clinic=clock.clinic(), actor=actor())
    except InvalidInput:
        flash("Choose one of the times shown.", "error")
        return redirect(url_for("staff.move_days", visit_id=visit_id), 303)
    except booking.BookingError as exc:
        flash(exc.message, "error")
        return redirect(url_for("staff.move_days", visit_id=visit_id), 303)
    flash("Moved. The client gets a text with the new time.", "ok")
    return redirect(url_for("staff.visit", visit_id=visit_id), 303)


def _reason_problem(reason: str) -> str | None:
    if not reason:
        return "Say why the visit is cancelled."
    if len(reason) > REASON_MAX:
        return f"Keep it under {REASON_MAX} characters (this is {len(reason)})."
    if not printable(reason.replace("\n", " ").replace("\r", " ")):
        return "Use plain text."
    return None


def _visit(visit_id: int) -> Appointment:
    appt = db.session.get(Appointment, visit_id)
    if appt is None:
        abort(404)
    return appt


def _messages(appt: Appointment) -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.appointment_id == appt.id)
                                   .order_by(Message.due_at, Message.id)))


def _timeline(appt: Appointment) -> list[Entry]:
    """Texts planned and sent, with the client's texts about this visit in between."""
    entries = [Entry(m.sent_at or m.due_at, message=m) for m in _messages(appt)]
    entries += [Entry(r.received_at, reply=r) for r in db.session.scalars(
        select(InboundMessage).where(InboundMessage.appointment_id == appt.id))]
    return sorted(entries, key=lambda e: e.at)
