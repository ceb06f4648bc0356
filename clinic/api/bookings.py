"""Booking by API: create, read, cancel, reschedule, calendar."""

from flask import current_app

from .. import booking, clock
from ..calendar import ics_response
from ..extensions import db, limiter
from ..validation import Fields, parse_booking
from . import bp
from .errors import ApiError, json_body
from .serialize import booking_json

BOOKING_LIMIT = "30 per minute"


@bp.post("/bookings")
@limiter.limit(BOOKING_LIMIT)
def create():
    req = parse_booking(json_body(), current_app.config["CLINIC_REGION"])
    clinic = clock.clinic()
    appt = booking.book(db.session, req, now=clock.now(), clinic=clinic)
    return booking_json(appt, clinic), 201


@bp.get("/bookings/<token>")
def show(token: str):
    return booking_json(_by_token(token), clock.clinic())


@bp.post("/bookings/<token>/cancel")
@limiter.limit(BOOKING_LIMIT)
def cancel(token: str):
    clinic = clock.clinic()
    appt = booking.cancel(db.session, _by_token(token), now=clock.now(), clinic=clinic)
    return booking_json(appt, clinic)


@bp.post("/bookings/<token>/reschedule")
@limiter.limit(BOOKING_LIMIT)
def reschedule(token: str):
    appt = _by_token(token)
    payload = json_body()
    f = Fields()
    start = f.instant(payload, "start", "start")
    provider_id = f.integer(payload, "provider_id", "provider_id")
    f.raise_if_any()
    clinic = clock.clinic()
    appt = booking.reschedule(db.session, appt, start, provider_id=provider_id, now=clock.now(),
                              clinic=clinic)
    return booking_json(appt, clinic)


@bp.get("/bookings/<token>/calendar.ics")
def calendar(token: str):
    return ics_response(_by_token(token), clock.clinic())


def _by_token(token: str):
    appt = booking.find_by_token(db.session, token)
    if appt is None:
        raise ApiError(404, "not_found", "No booking has that link; it may have been replaced.")
    return appt


