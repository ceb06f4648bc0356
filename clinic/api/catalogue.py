"""Services, providers and free slots."""

from flask import current_app, jsonify
from sqlalchemy import select

from .. import availability, clock, schedule_version
from ..booking import providers_for
from ..extensions import db
from ..models import Provider, Service
from ..rules import DEFAULT_RULES
from . import bp, serialize
from .errors import ApiError
from .operations import operation
from .schemas import AvailabilityQuery, Error, FreeSlots, Providers, Services


@bp.get("/services")
@operation("Services the clinic offers", responses={200: Services})
def services():
    rows = db.session.scalars(select(Service).where(Service.active).order_by(Service.id))
    return Services(services=[serialize.service(s) for s in rows])


@bp.get("/providers")
@operation("Providers", responses={200: Providers})
def providers():
    rows = db.session.scalars(select(Provider).where(Provider.active).order_by(Provider.id))
    return Providers(providers=[serialize.provider(p) for p in rows])


@bp.get("/availability")
@operation("Free slots for a service between two clinic days (at most "
           f"{DEFAULT_RULES.max_range_days} days)",
           query=AvailabilityQuery, responses={200: FreeSlots, 422: (
               Error, "validation_error, unknown_service, unknown_provider or "
                      "wrong_provider_role")})
def free_slots(query: AvailabilityQuery):
    clinic, now = clock.clinic(), clock.now()
    # The answer is the same until the schedule changes or the bookable window moves by a
    # minute: each worker keeps the bodies it computed (README, "Performance").
    key = (query.service, query.provider, query.first, query.last,
           availability.window_minutes(now, clinic.tz, clinic.rules))
    body = schedule_version.cache("availability").get(
        key, schedule_version.current(), lambda: _free_slots_body(query, clinic, now),
        keep=schedule_version.keepable())
    return current_app.response_class(body, mimetype="application/json")


def _free_slots_body(query: AvailabilityQuery, clinic, now) -> bytes:
    service = db.session.scalar(
        select(Service).where(Service.slug == query.service, Service.active))
    if service is None:
        raise ApiError(422, "unknown_service", "We don't offer that service.",
                       {"service": f"Unknown service {query.service!r}."})
    chosen = providers_for(db.session, service, query.provider, field="provider")
    slots = availability.slots_between(db.session, service, chosen, query.first, query.last,
                                       now=now, clinic=clinic)
    # Declared as FreeSlots above (the document is generated from it); built as plain data,
    # which serialize.free_slots keeps identical to the model's dump.
    return jsonify(serialize.free_slots(slots, clinic.tz)).get_data()
