"""Booking by API: create, read, cancel, reschedule, calendar."""

from .. import booking, clock
from ..calendar import ics_response
from ..enums import BookedVia
from ..extensions import db, limiter
from ..validation import BookingIn, RescheduleIn
from . import bp, serialize
from .errors import ApiError
from .operations import Media, operation
from .schemas import BookingAnswer, Error, TokenPath

BOOKING_LIMIT = "30 per minute"
RATE_LIMITED = (Error, "rate_limited: 30 a minute from one address")
NOT_FOUND = (Error, "not_found: no booking has that token")
REFUSED = (Error, "validation_error (a message for each field), or a clinic rule refuses it: "
                  "too_soon (with earliest_date and the allowed days), lead_time (with "
                  "earliest_start), needs_dermatologist (with suggested_service), off_grid, ...")


@bp.post("/bookings")
@limiter.limit(BOOKING_LIMIT)
@operation("Book a visit", body=BookingIn, responses={
    201: BookingAnswer,
    409: (Error, "slot_unavailable, with the next three free alternatives"),
    422: REFUSED, 429: RATE_LIMITED})
def create(body: BookingIn):
    clinic = clock.clinic()
    appt = booking.book(db.session, body.request(), now=clock.now(), clinic=clinic,
                        via=BookedVia.API)
    return serialize.booking(appt, clinic), 201


@bp.get("/bookings/<token>")
@operation("A booking by its manage token", path=TokenPath,
           responses={200: BookingAnswer, 404: NOT_FOUND})
def show(token: str):
    return serialize.booking(_by_token(token), clock.clinic())


@bp.post("/bookings/<token>/cancel")
@limiter.limit(BOOKING_LIMIT)
@operation("Cancel a booking (late when under 24 h before the start)", path=TokenPath,
           responses={200: BookingAnswer, 404: NOT_FOUND,
                      409: (Error, "not_changeable or too_late"), 429: RATE_LIMITED})
def cancel(token: str):
    clinic = clock.clinic()
    appt = booking.cancel(db.session, _by_token(token), now=clock.now(), clinic=clinic)
    return serialize.booking(appt, clinic)


@bp.post("/bookings/<token>/reschedule")
@limiter.limit(BOOKING_LIMIT)
@operation("Move a booking", path=TokenPath, body=RescheduleIn, responses={
    200: BookingAnswer, 404: NOT_FOUND,
    409: (Error, "slot_unavailable (with alternatives), not_changeable or too_late"),
    422: REFUSED, 429: RATE_LIMITED})
def reschedule(token: str, body: RescheduleIn):
    appt = _by_token(token)
    clinic = clock.clinic()
    appt = booking.reschedule(db.session, appt, body.start, provider_id=body.provider_id,
                              now=clock.now(), clinic=clinic)
    return serialize.booking(appt, clinic)


@bp.get("/bookings/<token>/calendar.ics")
@operation("The visit as an iCalendar file", path=TokenPath, responses={
    200: Media("text/calendar", "One VEVENT, cancelled or confirmed"), 404: NOT_FOUND})
def calendar(token: str):
    return ics_response(_by_token(token), clock.clinic())


def _by_token(token: str):
    appt = booking.find_by_token(db.session, token)
    if appt is None:
        raise ApiError(404, "not_found", "No booking has that link; it may have been replaced.")
    return appt
