"""Services, providers and free slots."""

from flask import jsonify, request
from sqlalchemy import select

from .. import availability, clock
from ..booking import providers_for
from ..extensions import db
from ..models import Provider, Service
from ..timeutil import iso_local
from ..validation import Fields, parse_id
from . import bp
from .errors import ApiError


@bp.get("/services")
def services():
    rows = db.session.scalars(select(Service).where(Service.active).order_by(Service.id))
    return jsonify(services=[service_json(s) for s in rows])


@bp.get("/providers")
def providers():
    rows = db.session.scalars(select(Provider).where(Provider.active).order_by(Provider.id))
    return jsonify(providers=[
        {"id": p.id, "name": p.name, "role": p.role, "board_certified": p.board_certified}
        for p in rows
    ])


@bp.get("/availability")
def free_slots():
    clinic, now = clock.clinic(), clock.now()
    f = Fields()
    args = request.args.to_dict()
    slug = f.text(args, "service", "service", max_len=40)
    first = f.day(args, "from", "from", required=True)
    last = f.day(args, "to", "to", required=True)
    provider_id = parse_id(args.get("provider"))
    if args.get("provider") and provider_id is None:
        f.fail("provider", "Must be a provider id.")
    if first and last:
        if last < first:
            f.fail("to", "Must be on or after 'from'.")
        elif (last - first).days + 1 > clinic.rules.max_range_days:
            f.fail("to", f"At most {clinic.rules.max_range_days} days at a time.")
    f.raise_if_any()
    service = db.session.scalar(select(Service).where(Service.slug == slug, Service.active))
    if service is None:
        raise ApiError(422, "unknown_service", "We don't offer that service.",
                       {"service": f"Unknown service {slug!r}."})
    providers = providers_for(db.session, service, provider_id, field="provider")
    slots = availability.slots_between(db.session, service, providers, first, last, now=now,
                                       clinic=clinic)
    return jsonify(timezone=str(clinic.tz), slots=[
        {"start": iso_local(s.start, clinic.tz), "end": iso_local(s.end, clinic.tz),
         "provider_id": s.provider_id} for s in slots
    ])


def service_json(s: Service) -> dict:
    return {
        "slug": s.slug, "name": s.name, "price_cents": s.price_cents, "currency": s.currency,
        "duration_minutes": s.duration_minutes, "provider_role": s.provider_role,
        "includes_extraction": s.includes_extraction,
    }
