"""The client's booking flow: service, day, slot, details and intake, confirmation."""

from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from .. import booking, clock, schedule_version
from ..enums import BookedVia
from ..extensions import db, limiter
from ..models import Service
from ..rules import CONCERN_LABELS, CONCERNS
from ..timeutil import parse_aware
from ..validation import (
    InvalidInput,
    booking_payload,
    form_fields,
    parse_booking,
    parse_id,
    printable,
)
from . import picking

bp = Blueprint("booking", __name__)
CAME_VIA = "came_via"  #: the session key marking a visit from the rebook text's link
CAME_VIA_KEPT = timedelta(days=1)

@bp.get("/")
def services():
    rows = db.session.scalars(select(Service).where(Service.active).order_by(Service.id))
    return render_template("booking/services.html", services=list(rows))


@bp.get("/book/<slug>")
def days(slug: str):
    service = _service(slug)
    if request.args.get("via") == "rebook":  # the rebook text's link (README, "Texts")
        session[CAME_VIA] = {"via": BookedVia.REBOOK_TEXT.value, "at": clock.now().timestamp()}
    provider_id = _provider_arg()
    providers = picking.providers_for(service, provider_id)
    picker = picking.page_at(request.args.get("from"))
    return render_template(
        "booking/days.html", service=service, picker=picker,
        choices=picking.day_choices(service, providers, picker.first,
                                    too_soon=_too_soon_for_draft(slug, service, picker.first)),
        providers=picking.providers_for(service), provider_id=provider_id)


def _fresh(draft) -> dict | None:
    """A draft younger than DRAFT_KEPT; an older one (a client who walked away) is forgotten."""
    if not isinstance(draft, dict) or not isinstance(draft.get("at"), int | float):
        return None
    return draft if clock.now().timestamp() - draft["at"] < DRAFT_KEPT.total_seconds() else None


def _known_visit_draft(slug: str, token: str | None) -> dict | None:
    """The rebook button posts the visit's manage token, never the client's details: the
    draft is built here from the visit, and remembers whose it is."""
    appt = booking.find_by_token(db.session, token) if token else None
    if appt is None:
        return None
    client = appt.client
    typed = {"name": (appt.intake or {}).get("name_given") or client.name,
             "phone": client.phone, "email": client.email or ""}
    return {"service": slug, "form": typed, "client_id": client.id}


def _too_soon_for_draft(slug: str, service: Service, first) -> dict:
    """Days the cadence would refuse a client who proved who they are (they came from their
    own visit page's rebook button), so they don't pick them. A phone number typed into a
    form proves nothing: it marks no days."""
    draft = _fresh(session.get(DRAFT))
    if draft is None or draft.get("service") != slug:
        return {}
    client_id = draft.get("client_id")
    if not isinstance(client_id, int):
        return {}
    return booking.too_soon_for(db.session, client_id, service, picking.fortnight(first),
                                clinic=clock.clinic())


@bp.get("/book/<slug>/<day>")
def slots(slug: str, day: str):
    service = _service(slug)
    chosen = picking.parse_day(day)
    if chosen is None:
        abort(404)
    provider_id = _provider_arg()
    found = picking.slots_on(service, picking.providers_for(service, provider_id), chosen)
    return render_template("booking/slots.html", service=service, day=chosen, slots=found,
                           provider_id=provider_id)


@bp.route("/book/<slug>/details", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def details(slug: str):
    service = _service(slug)
    values = request.form if request.method == "POST" else _typed_before(slug, request.args)
    try:
        # A "book this time instead" button sends alt_start along with the whole form.
        start = parse_aware(values.get("alt_start") or values.get("start", ""))
    except (ValueError, OverflowError):
        return redirect(url_for(".days", slug=slug))
    context = {"service": service, "start": start, "provider_id": values.get("provider", ""),
               "concern_labels": CONCERN_LABELS, "form": values, "errors": {}, "problem": None,
               "other_days": []}
    if request.method == "GET":
        return render_template("booking/details.html", **context)
    try:
        try:
            req = parse_booking(booking_payload(slug, values, start),
                                current_app.config["CLINIC_REGION"])
        except InvalidInput:
            # Triage first: a dermatologist's concern matters more than a mistyped field.
            booking.check_triage(db.session, service, values.getlist("concerns"))
            raise
        appt = booking.book(db.session, req, now=clock.now(), clinic=clock.clinic(),
                            via=_came_via())
    except InvalidInput as exc:
        context["errors"] = form_fields(exc.fields)
        return render_template("booking/details.html", **context), 422
    except booking.BookingError as exc:
        context["errors"] = form_fields(exc.fields)
        context["problem"] = exc
        context["other_days"] = _other_days(exc, start)
        return render_template("booking/details.html", **context), exc.status
    session.pop(CAME_VIA, None)
    return redirect(url_for(".booked", token=appt.manage_token), code=303)


def _came_via() -> BookedVia:
    """The rebook text's link, if the client opened it within the last day; else the pages."""
    came = session.get(CAME_VIA)
    if isinstance(came, dict) and came.get("via") == BookedVia.REBOOK_TEXT \
            and isinstance(came.get("at"), int | float) \
            and clock.now().timestamp() - came["at"] < CAME_VIA_KEPT.total_seconds():
        return BookedVia.REBOOK_TEXT
    return BookedVia.ONLINE


@bp.post("/book/<slug>/other-day")
@limiter.limit("30 per minute")
def other_day(slug: str):
    """From a refusal to the day picker: at an allowed day after a cadence refusal (README,
    "Extraction cadence"), or at the same day for the dermatologist triage suggested. What
    was typed waits in the session for the next details page, so the phone number never goes
    into a URL; a provider who doesn't give this service is dropped."""
    service = _service(slug)
    session[DRAFT] = {**(_known_visit_draft(slug, request.form.get("token")) or {
        "service": slug, "form": _draft(request.form)}), "at": clock.now().timestamp()}
    first = picking.parse_day(request.form.get("from"))
    provider = parse_id(request.form.get("provider"))
    if provider is not None and not picking.providers_for(service, provider):
        provider = None
    return redirect(url_for(".days", slug=slug, provider=provider,
                            **({"from": first.isoformat()} if first else {})), code=303)


@bp.get("/booked/<token>")
def booked(token: str):
    appt = booking.find_by_token(db.session, token)
    if appt is None:
        abort(404)
    return render_template("booking/booked.html", appt=appt,
                           warnings=booking.warnings_for(appt, clock.clinic()))


def _service(slug: str) -> Service:
    if len(slug) > 40 or not printable(slug):
        abort(404)
    schedule_version.current()  # first, so the free slots this page computes can be kept
    service = db.session.scalar(select(Service).where(Service.slug == slug, Service.active))
    if service is None:
        abort(404)
    return service


def _provider_arg() -> int | None:
    return parse_id(request.args.get("provider"))


DRAFT = "booking_draft"
DRAFT_KEPT = timedelta(minutes=30)  #: how long typed details wait for the next details page
#: The details a client typed that survive picking another day, each with its longest length.
DRAFT_FIELDS = {"name": 120, "phone": 40, "email": 254, "event_date": 10,
                "uses_prescription_topicals": 3, "sms_consent": 3}


def _draft(form) -> dict:
    kept = {name: form.get(name, "")[:most] for name, most in DRAFT_FIELDS.items()
            if isinstance(form.get(name), str)}
    return {**kept, "concerns": [c for c in form.getlist("concerns") if c in CONCERNS]}


def _typed_before(slug: str, args) -> MultiDict:
    """The page's arguments, filled once with the details typed before a cadence refusal sent
    the client to pick another day; the draft is dropped as soon as a details page shows."""
    draft = _fresh(session.pop(DRAFT, None))
    values = MultiDict(args)
    if not isinstance(draft, dict) or draft.get("service") != slug:
        return values
    typed = draft.get("form") if isinstance(draft.get("form"), dict) else {}
    for name in DRAFT_FIELDS:
        if isinstance(typed.get(name), str) and name not in values:
            values[name] = typed[name]
    if "concerns" not in values and isinstance(typed.get("concerns"), list):
        values.setlist("concerns", [c for c in typed["concerns"] if c in CONCERNS])
    return values


def _other_days(exc: booking.BookingError, start) -> list[tuple[str, str]]:
    """Buttons to the day picker for each range of days a cadence refusal allows."""
    wanted = start.astimezone(clock.tz()).date()
    return [(label, first.isoformat())
            for label, first in picking.allowed_days(exc.extra.get("allowed", []), wanted)]
