"""The client's manage page behind the link in every message: see, cancel, move, calendar."""

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from .. import booking, clock
from ..calendar import ics_response
from ..enums import VisitStatus
from ..extensions import db, limiter
from ..messaging import replies
from ..validation import InvalidInput, RescheduleIn, parse_id, read
from . import picking

bp = Blueprint("manage", __name__, url_prefix="/manage")


@bp.get("/<token>")
def show(token: str):
    appt = _appointment(token)
    now = clock.now()
    clinic = clock.clinic()
    changeable = booking.can_change(appt, now)
    late = changeable and booking.is_late(appt, now, clinic)
    return render_template("manage/show.html", appt=appt, changeable=changeable, late=late,
                           warnings=booking.warnings_for(appt, clinic),
                           checkins=replies.checkins(db.session, appt),
                           **_rebook_window(appt, now, clinic))


def _rebook_window(appt, now, clinic) -> dict:
    """Inside the rebook window after a visit that included extraction: its first and last day."""
    soonest, latest = clinic.rules.rebook_window_days
    day = appt.start_at.astimezone(clinic.tz).date()
    start, end = day + timedelta(days=soonest), day + timedelta(days=latest)
    today = now.astimezone(clinic.tz).date()
    if (appt.status != VisitStatus.COMPLETED or not appt.service.includes_extraction
            or not start <= today <= end):
        return {}
    return {"rebook_from": max(start, today), "rebook_until": end}


@bp.get("/<token>/cancel")
def confirm_cancel(token: str):
    """Cancelling asks once, naming the visit; the form posts to `cancel`."""
    appt = _appointment(token)
    now, clinic = clock.now(), clock.clinic()
    if not booking.can_change(appt, now):
        return redirect(url_for(".show", token=token), code=303)
    return render_template("manage/confirm_cancel.html", appt=appt,
                           late=booking.is_late(appt, now, clinic))


@bp.post("/<token>/cancel")
@limiter.limit("30 per minute")
def cancel(token: str):
    appt = _appointment(token)
    try:
        booking.cancel(db.session, appt, now=clock.now(), clinic=clock.clinic())
    except booking.BookingError as exc:
        flash(exc.message, "error")
    else:
        flash("Your visit is cancelled. We hope to see you another time.", "ok")
    return redirect(url_for(".show", token=token), code=303)


@bp.get("/<token>/reschedule")
def reschedule_days(token: str):
    appt = _appointment(token)
    picker = picking.page_at(request.args.get("from"))
    providers = picking.providers_for(appt.service)
    # Days the extraction cadence would refuse are marked, so the client doesn't pick them
    # (README, "Extraction cadence"); the booking page can't: nobody is known before the phone.
    too_soon = booking.too_soon_days(db.session, appt, picking.fortnight(picker.first),
                                     clinic=clock.clinic())
    return render_template(
        "manage/days.html", appt=appt, picker=picker,
        choices=picking.day_choices(appt.service, providers, picker.first, ignore=appt.id,
                                    too_soon=too_soon))


@bp.get("/<token>/reschedule/<day>")
def reschedule_slots(token: str, day: str):
    appt = _appointment(token)
    chosen = picking.parse_day(day)
    if chosen is None:
        abort(404)
    found = picking.slots_on(appt.service, picking.providers_for(appt.service), chosen,
                             ignore=appt.id)
    return render_template("manage/slots.html", appt=appt, day=chosen, slots=found)


@bp.get("/<token>/reschedule/confirm")
def confirm_move(token: str):
    """Moving asks once, naming the old and the new time; the form posts to `reschedule`."""
    appt = _appointment(token)
    try:
        moved = _move_asked(request.args)
    except InvalidInput:
        flash("Choose one of the times shown.", "error")
        return redirect(url_for(".reschedule_days", token=token), code=303)
    now, clinic = clock.now(), clock.clinic()
    if not booking.can_change(appt, now):
        return redirect(url_for(".show", token=token), code=303)
    return render_template("manage/confirm_move.html", appt=appt, start=moved.start,
                           provider_id=moved.provider_id,
                           late=booking.is_late(appt, now, clinic))


@bp.post("/<token>/reschedule")
@limiter.limit("30 per minute")
def reschedule(token: str):
    appt = _appointment(token)
    try:
        moved = _move_asked(request.form)
        booking.reschedule(db.session, appt, moved.start, provider_id=moved.provider_id,
                           now=clock.now(), clinic=clock.clinic())
    except InvalidInput:
        flash("Choose one of the times shown.", "error")
        return redirect(url_for(".reschedule_days", token=token), code=303)
    except booking.BookingError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".reschedule_days", token=token, **_picker_at(exc, moved)),
                        code=303)
    flash("Your visit has moved. The new time is below.", "ok")
    return redirect(url_for(".show", token=token), code=303)


@bp.get("/<token>/calendar.ics")
def calendar(token: str):
    return ics_response(_appointment(token), clock.clinic())


def _picker_at(exc: booking.BookingError, moved) -> dict[str, str]:
    """A cadence refusal sends the picker to the allowed days nearest the refused one."""
    wanted = moved.start.astimezone(clock.tz()).date()
    first = picking.nearest_allowed(exc.extra.get("allowed", []), wanted)
    return {"from": first.isoformat()} if first else {}


def _move_asked(values) -> RescheduleIn:
    """The API's model for a move, from the confirm page's link or its form; a provider id
    that isn't one means any provider."""
    return read(RescheduleIn, {"start": values.get("start"),
                               "provider_id": parse_id(values.get("provider"))})


def _appointment(token: str):
    appt = booking.find_by_token(db.session, token)
    if appt is None:
        abort(404)
    return appt
