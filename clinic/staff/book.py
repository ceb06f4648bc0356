"""Booking a caller by phone: service, day, slot, then the caller's details.

The same pickers as the client's pages (`clinic/web/picking.py`, `_days.html`, `_slots.html`)
and the same domain call (`booking.book`) with every clinic rule. What differs: consent to
texts is given by phone and recorded with who took it; a cadence refusal may name the
caller's other visits (staff are trusted); and an admin or a dermatologist may book despite
the extraction cadence with a written reason, which the visit's history keeps.
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import booking, clock
from ..enums import CHANGEABLE, BookedVia
from ..extensions import db
from ..models import Appointment, Client, Service
from ..phones import mobile_phone
from ..rules import CONCERN_LABELS
from ..timeutil import clock_time, parse_aware
from ..validation import (
    InvalidInput,
    booking_payload,
    form_fields,
    parse_booking,
    parse_id,
    printable,
    storable,
)
from ..web import picking
from . import bp
from .access import actor

#: Refusals worded for the person at the desk rather than the client.
STAFF_WORDS = {
    "sms_consent_required": "Ask the caller whether we may text them about this visit: "
                            "we can't book without their agreement.",
}
CONSENT_FIELD = "Tick this once the caller has agreed to texts about this visit."
#: How many of a known caller's coming visits the lookup lists.
VISITS_LISTED = 5


@bp.get("/book")
def book():
    rows = db.session.scalars(select(Service).where(Service.active).order_by(Service.id))
    return render_template("staff/book_services.html", services=list(rows))


@bp.route("/book/<slug>", methods=["GET", "POST"])
def book_service(slug: str):
    """The day picker; with ?start=, the details form (GET shows it, POST books)."""
    service = _service(slug)
    if request.method == "POST":
        return _details(service)
    if "start" in request.args:
        return _details(service)
    provider_id = parse_id(request.args.get("provider"))
    providers = picking.providers_for(service, provider_id)
    picker = picking.page_at(request.args.get("from"))
    return render_template(
        "staff/book_days.html", service=service, picker=picker,
        choices=picking.day_choices(service, providers, picker.first),
        providers=picking.providers_for(service), provider_id=provider_id)


@bp.get("/book/<slug>/<day>")
def book_slots(slug: str, day: str):
    service = _service(slug)
    chosen = picking.parse_day(day)
    if chosen is None:
        abort(404)
    provider_id = parse_id(request.args.get("provider"))
    found = picking.slots_on(service, picking.providers_for(service, provider_id), chosen)
    return render_template("staff/book_slots.html", service=service, day=chosen, slots=found,
                           provider_id=provider_id)


def _details(service: Service):
    values = request.form if request.method == "POST" else request.args
    switching = request.method == "POST" and bool(values.get("alt_start"))
    try:
        # An alternative after a refused slot switches the form to that time (not booked yet).
        start = parse_aware(values.get("alt_start") if switching else values.get("start", ""))
    except (ValueError, OverflowError, TypeError):
        return redirect(url_for("staff.book_service", slug=service.slug), 303)
    may_override = booking.may_override_cadence(current_user)
    provider_id = parse_id(values.get("provider"))
    context = {
        "service": service, "start": start, "provider_id": provider_id or "",
        "provider": _provider_named(service, provider_id),
        "concern_labels": CONCERN_LABELS, "form": values, "errors": {}, "problem": None,
        "problem_message": None, "other_days": [], "may_override": may_override,
        "gap": clock.clinic().rules.extraction_gap_days, "known": None, "looked_up": False,
        "switched": switching, "earliest": None,
    }
    if request.method == "GET" or switching:
        return render_template("staff/book_details.html", **context)
    if values.get("lookup"):
        return _lookup(values, context)
    reason = None
    if may_override:
        reason, problem = _reason(values.get("cadence_override", ""))
        if problem:
            context["errors"] = {"cadence_override": problem}
            return render_template("staff/book_details.html", **context), 422
    try:
        try:
            req = parse_booking(booking_payload(service.slug, values, start),
                                current_app.config["CLINIC_REGION"])
        except InvalidInput:
            # Triage first: a dermatologist's concern matters more than a mistyped field.
            booking.check_triage(db.session, service, values.getlist("concerns"))
            raise
        appt = booking.book(
            db.session, req, now=clock.now(), clinic=clock.clinic(), actor=actor(),
            consent_via=f"by phone, taken by {current_user.name}",
            cadence_override=reason, name_visits=True, via=BookedVia.PHONE)
    except InvalidInput as exc:
        context["errors"] = _staff_fields(exc.fields)
        return render_template("staff/book_details.html", **context), 422
    except booking.BookingError as exc:
        context["errors"] = _staff_fields(exc.fields)
        context["problem"] = exc
        context["problem_message"] = STAFF_WORDS.get(exc.code, exc.message)
        if exc.code == "too_soon":
            context["other_days"] = _other_days(exc, start, service, provider_id)
            context["earliest"] = picking.parse_day(exc.extra.get("earliest_date"))
            if may_override:
                context["errors"]["cadence_override"] = (
                    "To book this day anyway, write why; it goes in the visit's history.")
        return render_template("staff/book_details.html", **context), exc.status
    flash(_booked_message(appt, req.client.name), "ok")
    for note in _text_notes(appt):
        flash(note, "warn")
    return redirect(f"/staff/visits/{appt.id}", 303)


def _lookup(values, context):
    """The client on file for the typed number, if any; nothing is written."""
    context["looked_up"] = True
    try:
        phone = mobile_phone((values.get("phone") or "").strip()[:40],
                             current_app.config["CLINIC_REGION"])
    except ValueError as exc:
        context["errors"] = {"phone": str(exc)}
        return render_template("staff/book_details.html", **context), 422
    client = db.session.scalar(select(Client).where(Client.phone == phone))
    if client is not None:
        coming = db.session.scalars(
            select(Appointment).where(Appointment.client_id == client.id,
                                      Appointment.status.in_(CHANGEABLE),
                                      Appointment.start_at >= clock.now())
            .order_by(Appointment.start_at).limit(VISITS_LISTED))
        context["known"] = {"client": client, "visits": list(coming)}
    return render_template("staff/book_details.html", **context)


def _reason(raw: str) -> tuple[str | None, str | None]:
    """The override reason on one line, or None when left blank; and a problem, if any."""
    reason = " ".join(storable(raw if isinstance(raw, str) else "").split())
    if not reason:
        return None, None
    if not printable(reason):
        return None, "Contains characters that can't be used here."
    if len(reason) > booking.OVERRIDE_REASON_MAX:
        return None, f"At most {booking.OVERRIDE_REASON_MAX} characters."
    return reason, None


def _service(slug: str) -> Service:
    if len(slug) > 40 or not printable(slug):
        abort(404)
    service = db.session.scalar(select(Service).where(Service.slug == slug, Service.active))
    if service is None:
        abort(404)
    return service


def _provider_named(service: Service, provider_id: int | None):
    if provider_id is None:
        return None
    found = picking.providers_for(service, provider_id)
    return found[0] if found else None


def _staff_fields(fields: dict[str, str]) -> dict[str, str]:
    """API field names (client.phone) to the form's (phone), consent worded for staff."""
    found = form_fields(fields)
    if "sms_consent" in found:
        found["sms_consent"] = CONSENT_FIELD
    return found


def _other_days(exc: booking.BookingError, start: datetime, service: Service,
                provider_id: int | None) -> list[tuple[str, str]]:
    """Links to the day picker at each range of days a cadence refusal allows."""
    wanted = start.astimezone(clock.tz()).date()
    return [(label, url_for("staff.book_service", slug=service.slug, provider=provider_id,
                            **{"from": first.isoformat()}))
            for label, first in picking.allowed_days(exc.extra.get("allowed", []), wanted)]


def _booked_message(appt: Appointment, name: str) -> str:
    local = appt.start_at.astimezone(clock.tz())
    when = f"{local:%A} {local.day} {local:%B}, {clock_time(local)}"
    texts = ("" if appt.client.opted_out_at or appt.client.undeliverable_at
             else " The confirmation text is on its way.")
    return f"Booked {appt.service.name.lower()} for {name} on {when} with " \
           f"{appt.provider.name}.{texts}"


def _text_notes(appt: Appointment) -> list[str]:
    """What the desk should tell the caller when texts won't reach them, or an event is near."""
    notes = []
    if appt.client.opted_out_at:
        notes.append("This number opted out of our texts: no confirmation or reminders go "
                     "out. The caller can text START to get them again.")
    elif appt.client.undeliverable_at:
        notes.append("We can't text this number, so no confirmation or reminders go out.")
    if any(w["code"] == "event_soon" for w in booking.warnings_for(appt, clock.clinic())):
        notes.append("The caller's event is soon after this visit: purging and redness can "
                     "take a few days to settle.")
    return notes
