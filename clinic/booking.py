"""Booking, cancelling and moving visits, with every clinic rule (README, "The clinic's rules").

Callers pass a session, `now` and the clinic's timezone; errors are `BookingError`s that the
API and the pages turn into 409/422 answers.
"""

from __future__ import annotations

import re
import secrets
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import availability, schedule_version
from .enums import CHANGEABLE, COUNTED, BookedVia, ProviderRole, VisitEvent, VisitStatus
from .messaging import plan
from .models import (
    Appointment,
    AppointmentEvent,
    Client,
    Provider,
    Service,
)
from .rules import CONCERN_LABELS, DERMATOLOGIST_CONCERNS, Clinic, a_role
from .timeutil import day_bounds_utc, iso_local, local_datetime
from .tx import lock, transaction


class BookingError(Exception):
    """A booking the clinic's rules refuse; `status` is the HTTP answer it maps to."""

    status = 422

    def __init__(self, code: str, message: str, fields: dict | None = None, *,
                 status: int | None = None, **extra) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.extra = extra


class SlotUnavailable(BookingError):
    status = 409


@dataclass(frozen=True)
class ClientDetails:
    name: str
    phone: str  #: already E.164
    email: str | None = None


@dataclass(frozen=True)
class BookingRequest:
    service: str
    start: datetime
    client: ClientDetails
    sms_consent: bool
    uses_prescription_topicals: bool
    concerns: tuple[str, ...] = ()
    event_date: date | None = None
    provider_id: int | None = None


def book(session: Session, req: BookingRequest, *, now: datetime, clinic: Clinic,
         actor: str = "client", consent_via: str = "online",
         cadence_override: str | None = None, name_visits: bool = False,
         via: BookedVia = BookedVia.ONLINE) -> Appointment:
    """Books a visit under every clinic rule.

    `consent_via` says how the client agreed to texts ("online", or "by phone, taken by
    <staff name>"); it is kept on the client and in the visit's BOOKED event.
    `cadence_override` is a staff member's written reason to book despite the extraction
    cadence: only a staff view passes it, and only for an account `may_override_cadence`
    allows; the cadence check is then skipped and the reason kept in the BOOKED event, whose
    actor says who. `name_visits` lets a cadence refusal name the visits in the way (staff
    booking a caller are trusted; a public booking never does).
    """
    override = _override_reason(cadence_override, actor)
    service = _service(session, req.service)
    check_triage(session, service, req.concerns)
    if not req.sms_consent:
        raise BookingError("sms_consent_required", "Please agree to receive text messages "
                           "about your visit.", {"sms_consent": "Required to book online."})
    providers = _candidates(session, service, req.provider_id)
    _check_start(req.start, service, providers, now=now, clinic=clinic)
    # Read before the lock: entering the transaction ends this read one, after which these
    # rows would be read again inside it. Only what needs the lock happens there.
    ids, extraction = [p.id for p in providers], service.includes_extraction
    length = timedelta(minutes=service.duration_minutes)
    busy = length + timedelta(minutes=service.buffer_minutes)
    detail = {"consent": consent_via}
    if override is not None:
        detail["cadence_override"] = override
    _refuse_early(session, req, service, providers, now=now, clinic=clinic,
                  override=override, name_visits=name_visits)
    for attempt in range(len(providers)):
        try:
            with transaction(session, req.client.phone):
                client = _client_for(session, req.client, now, consent_via)
                _check_daily_limit(session, client, now, clinic.rules.bookings_per_phone_per_day)
                if extraction and client.id is not None and override is None:
                    _check_cadence(session, client.id, req.start, service, providers,
                                   now=now, clinic=clinic, name_visits=name_visits)
                provider = providers[_free_index(session, ids, req.start, length, busy, clinic)]
                appt = _new_visit(session, req, service, provider, client, now=now, actor=actor,
                                  detail=detail)
                appt.booked_via = via
                _store(session)
                plan.plan_booking(session, appt, now=now, clinic=clinic)
            return appt
        except _SlotTaken:
            break
        except _Overlap:
            if req.provider_id is not None or attempt == len(providers) - 1:
                break
            # Another booking took that provider between our check and insert: the next one.
    raise _unavailable(session, service, req.provider_id, req.start, now=now, clinic=clinic)


def _refuse_early(session: Session, req: BookingRequest, service: Service,
                  providers: list[Provider], *, now: datetime, clinic: Clinic,
                  override: str | None, name_visits: bool) -> None:
    """The checks made under the write lock, made first without it, for their refusals.

    A request that loses the race for a popular time is answered here, without queueing
    behind the bookings that write (on SQLite each write waits for the one before). A refusal
    read a moment before the lock is the answer the request would have had a moment earlier;
    a booking that passes is checked again, in the same order, under the lock."""
    client = session.scalar(select(Client).where(Client.phone == req.client.phone))
    if client is not None:
        _check_daily_limit(session, client, now, clinic.rules.bookings_per_phone_per_day)
        if service.includes_extraction and override is None:
            _check_cadence(session, client.id, req.start, service, providers, now=now,
                           clinic=clinic, name_visits=name_visits)
    # The day's free slots (kept per worker until the schedule changes) say whether anyone
    # is free then, as `_free_index` does under the lock, and give the alternatives.
    day = req.start.astimezone(clinic.tz).date()
    free = schedule_version.slots_between(session, service, providers, day, day, now=now,
                                          clinic=clinic)
    if not any(slot.start == req.start for slot in free):
        raise _unavailable(session, service, req.provider_id, req.start, now=now,
                           clinic=clinic, providers=providers)


def _new_visit(session: Session, req: BookingRequest, service: Service, provider: Provider,
               client: Client, *, now: datetime, actor: str,
               detail: dict | None = None) -> Appointment:
    appt = Appointment(
        service=service, provider=provider, client=client, start_at=req.start,
        end_at=req.start + timedelta(minutes=service.duration_minutes),
        busy_until=req.start + timedelta(
            minutes=service.duration_minutes + service.buffer_minutes),
        status=VisitStatus.BOOKED, price_cents=service.price_cents, currency=service.currency,
        intake={
            "uses_prescription_topicals": req.uses_prescription_topicals,
            "concerns": list(req.concerns),
            "event_date": req.event_date.isoformat() if req.event_date else None,
            "name_given": req.client.name,  # as typed for this visit
        },
        manage_token=new_token(), created_at=now, updated_at=now, created_by=actor,
    )
    session.add(appt)
    _log(session, appt, now, actor, VisitEvent.BOOKED,
         {"start": req.start.isoformat(), **(detail or {})})
    return appt


#: The longest reason to book despite the extraction cadence that the audit trail keeps.
OVERRIDE_REASON_MAX = 500


def may_override_cadence(user) -> bool:
    """Whether a staff account may book despite the extraction cadence, with a written
    reason: an admin, or an account that works as an active dermatologist."""
    if getattr(user, "is_admin", False):
        return True
    provider = getattr(user, "provider", None)
    return bool(provider is not None and provider.active
                and provider.role == ProviderRole.DERMATOLOGIST)


def _override_reason(reason: str | None, actor: str) -> str | None:
    """The trimmed reason to skip the cadence, or None for no override. A blank reason is
    refused: the audit trail must say why. Only a staff member can override."""
    if reason is None:
        return None
    if not actor.startswith("staff:"):
        raise ValueError("only a staff booking may override the extraction cadence")
    reason = reason.strip()
    if not reason:
        raise BookingError("override_reason_required",
                           "Say why this visit is booked despite the extraction gap.",
                           {"cadence_override": "Required to book despite the gap."})
    if len(reason) > OVERRIDE_REASON_MAX:
        raise BookingError("override_reason_too_long", "The reason is too long.",
                           {"cadence_override": f"At most {OVERRIDE_REASON_MAX} characters."})
    return reason


def cancel(session: Session, appt: Appointment, *, now: datetime, clinic: Clinic,
           actor: str = "client") -> Appointment:
    with transaction(session):
        lock(session, appt)  # the row as it is now, locked
        if appt.status == VisitStatus.CANCELLED:
            return appt
        _check_changeable(appt, now)
        appt.status = VisitStatus.CANCELLED
        appt.cancelled_at = now
        appt.cancelled_by = actor
        late = is_late(appt, now, clinic)
        appt.late_change = appt.late_change or late
        appt.updated_at = now
        _log(session, appt, now, actor, VisitEvent.CANCELLED, {"late": late})
        plan.plan_cancellation(session, appt, now=now, clinic=clinic)
    return appt


def reschedule(session: Session, appt: Appointment, start: datetime, *, now: datetime,
               clinic: Clinic, provider_id: int | None = None,
               actor: str = "client") -> Appointment:
    _check_changeable(appt, now)
    service = appt.service
    if provider_id is None:
        # The current provider first, when still offering this service; then anyone who does.
        others = _candidates(session, service, None)
        providers = sorted(others, key=lambda p: p.id != appt.provider_id)
    else:
        providers = _candidates(session, service, provider_id)
    _check_start(start, service, providers, now=now, clinic=clinic)
    try:
        with transaction(session, appt.client.phone):
            lock(session, appt)
            _check_changeable(appt, now)
            if service.includes_extraction:
                _check_cadence(session, appt.client_id, start, service, providers,
                               now=now, clinic=clinic, ignore=appt.id, name_visits=True)
            provider = _free_provider(session, service, providers, start, clinic,
                                      ignore=appt.id)
            _move(session, appt, start, provider, now=now, clinic=clinic, actor=actor)
            _store(session)
            plan.replan_moved(session, appt, now=now, clinic=clinic)
    except (_SlotTaken, _Overlap):
        raise _unavailable(session, service, provider_id, start, now=now, clinic=clinic) from None
    return appt


def _move(session: Session, appt: Appointment, start: datetime, provider: Provider, *,
          now: datetime, clinic: Clinic, actor: str) -> None:
    service = appt.service
    late = is_late(appt, now, clinic)
    detail = {"from": appt.start_at.isoformat(), "to": start.isoformat(),
              "from_provider_id": appt.provider_id, "to_provider_id": provider.id, "late": late}
    appt.provider = provider
    appt.start_at = start
    appt.end_at = start + timedelta(minutes=service.duration_minutes)
    appt.busy_until = appt.end_at + timedelta(minutes=service.buffer_minutes)
    appt.status = VisitStatus.BOOKED  # a confirmation was for the old time
    appt.late_change = appt.late_change or late
    appt.updated_at = now
    _log(session, appt, now, actor, VisitEvent.RESCHEDULED, detail)


def alternatives(session: Session, service: Service, provider_id: int | None, after: datetime,
                 *, now: datetime, clinic: Clinic,
                 providers: list[Provider] | None = None) -> list[availability.Slot]:
    """The next free starts after a refused one: that day first (where they usually are,
    and already read by the refusal), then two weeks at a time up to the horizon."""
    count = clinic.rules.alternatives
    if providers is None:
        providers = _candidates(session, service, provider_id)
    day = max(after, now).astimezone(clinic.tz).date()
    last = availability.bookable_days(now, clinic.tz, clinic.rules)[1]
    found: list[availability.Slot] = []
    span = 1
    while day <= last and len(found) < count:
        chunk_end = day + timedelta(days=span - 1)
        slots = schedule_version.slots_between(session, service, providers, day, chunk_end,
                                               now=now, clinic=clinic)
        first = bisect_right(slots, after, key=_start)  # slots come earliest first
        found += slots[first:first + count - len(found)]
        day, span = chunk_end + timedelta(days=1), 14
    return found


def _start(slot: availability.Slot) -> datetime:
    return slot.start


def warnings_for(appt: Appointment, clinic: Clinic) -> list[dict]:
    found = []
    event = (appt.intake or {}).get("event_date")
    if event:
        days = (date.fromisoformat(event) - appt.start_at.astimezone(clinic.tz).date()).days
        if 0 <= days <= clinic.rules.event_soon_days:
            found.append({"code": "event_soon", "message": "Your event is soon after this visit: "
                          "purging and redness can take a few days to settle."})
    if appt.client.opted_out_at:
        found.append({"code": "sms_opted_out", "message": "You have opted out of our texts, so "
                      "you won't get reminders. Text START to us to get them again."})
    elif appt.client.undeliverable_at:
        found.append({"code": "sms_undeliverable", "message": "We can't text this number, so "
                      "you won't get reminders. Keep this page's link."})
    return found


def replace_link(session: Session, appt: Appointment, *, now: datetime, actor: str) -> str:
    """A new manage token: the old link stops working at once (a forwarded or leaked link)."""
    with transaction(session):
        lock(session, appt)
        appt.manage_token, appt.updated_at = new_token(), now
        _log(session, appt, now, actor, VisitEvent.LINK_REPLACED, {})
    return appt.manage_token


TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def find_by_token(session: Session, token: str) -> Appointment | None:
    if not isinstance(token, str) or not TOKEN_SHAPE.fullmatch(token):
        return None  # not one we issued; PostgreSQL would refuse some, such as NUL bytes
    return session.scalar(select(Appointment).where(Appointment.manage_token == token))


def _service(session: Session, slug: str) -> Service:
    service = session.scalar(select(Service).where(Service.slug == slug, Service.active))
    if service is None:
        raise BookingError("unknown_service", "We don't offer that service.",
                           {"service": f"Unknown service {slug!r}."})
    return service


def check_triage(session: Session, service: Service, concerns) -> None:
    """Concerns that need a dermatologist refuse any other service, suggesting the right one."""
    flagged = [c for c in CONCERN_LABELS if c in DERMATOLOGIST_CONCERNS and c in concerns]
    if not flagged or service.provider_role == ProviderRole.DERMATOLOGIST:
        return
    suggested = session.scalar(select(Service.slug).where(
        Service.provider_role == ProviderRole.DERMATOLOGIST, Service.active).order_by(Service.id))
    raise BookingError(
        "needs_dermatologist",
        "These concerns need a dermatologist rather than a facial; please book a "
        "dermatologist extraction.",
        {"intake.concerns": "A dermatologist should see: "
                            + ", ".join(CONCERN_LABELS[c].lower() for c in flagged) + "."},
        suggested_service=suggested,
    )


def providers_for(session: Session, service: Service, provider_id: int | None, *,
                  field: str = "provider_id") -> list[Provider]:
    """The active providers who give the service, or the one asked for if they give it.

    `field` names the input that chose the provider, for the error a client reads.
    """
    query = select(Provider).where(Provider.active).order_by(Provider.id)
    if provider_id is None:
        return list(session.scalars(query.where(Provider.role == service.provider_role)))
    provider = session.scalar(query.where(Provider.id == provider_id))
    if provider is None:
        raise BookingError("unknown_provider", "We don't know that provider.",
                           {field: f"Unknown provider {provider_id}."})
    if provider.role != service.provider_role:
        raise BookingError("wrong_provider_role",
                           f"This service is given by {a_role(service.provider_role)}.",
                           {field: f"Choose {a_role(service.provider_role)}."})
    return [provider]


def _candidates(session: Session, service: Service, provider_id: int | None) -> list[Provider]:
    providers = providers_for(session, service, provider_id)
    if not providers:
        raise BookingError("outside_hours", "No provider offers this service right now.")
    return providers


def _check_start(start: datetime, service: Service, providers: list[Provider], *,
                 now: datetime, clinic: Clinic) -> None:
    rules, tz = clinic.rules, clinic.tz
    earliest, latest = availability.bookable_window(now, tz, rules)
    lead_hours = int(rules.lead_time.total_seconds() // 3600)
    if start < now:
        raise BookingError("in_past", "That time has already passed.",
                           {"start": "Choose a time in the future."})
    if start < earliest:
        raise BookingError("lead_time", f"Visits can be booked from {lead_hours} hours ahead.",
                           {"start": f"Choose a time at least {lead_hours} hours from now."},
                           earliest_start=iso_local(earliest, tz))
    if start > latest:
        raise BookingError("beyond_horizon",
                           f"Visits can be booked up to {rules.horizon.days} days ahead.",
                           {"start": f"Choose a time within {rules.horizon.days} days."})
    if not availability.on_grid(start, tz, rules):
        minutes = int(rules.grid.total_seconds() // 60)
        raise BookingError("off_grid", f"Visits start on the {minutes}-minute mark.",
                           {"start": f"Choose a start on a {minutes}-minute mark."})
    end = start + timedelta(minutes=service.duration_minutes)
    if not any(_works(p, start, end, tz) for p in providers):
        raise BookingError("outside_hours", "The clinic isn't open for this service then.",
                           {"start": "Choose a time within opening hours."})


def _works(provider: Provider, start: datetime, end: datetime, tz: ZoneInfo) -> bool:
    hours = availability.weekly_hours(provider.hours)
    return availability.ProviderSchedule(provider.id, hours).works(start, end, tz)


def _free_provider(session: Session, service: Service, providers: list[Provider],
                   start: datetime, clinic: Clinic, ignore: int | None = None) -> Provider:
    length = timedelta(minutes=service.duration_minutes)
    busy = length + timedelta(minutes=service.buffer_minutes)
    return providers[_free_index(session, [p.id for p in providers], start, length, busy,
                                 clinic, ignore=ignore)]


def _free_index(session: Session, ids: list[int], start: datetime, length: timedelta,
                busy: timedelta, clinic: Clinic, ignore: int | None = None) -> int:
    """Which of the providers (by id, in order) works then and is free, read under the lock."""
    end, until = start + length, start + busy
    schedules = availability.load_schedules_by_id(
        session, ids, (start - timedelta(days=1), until + timedelta(days=1)),
        ignore_appointment_id=ignore)
    for i, schedule in enumerate(schedules):
        if schedule.works(start, end, clinic.tz) and schedule.is_free(start, until):
            return i
    raise _SlotTaken()


class _SlotTaken(Exception):
    """No chosen provider is free at that time."""


class _Overlap(Exception):
    """The database refused the visit: another one took the provider meanwhile."""


def _check_cadence(session: Session, client_id: int, start: datetime, service: Service,
                   providers: list[Provider], *, now: datetime, clinic: Clinic,
                   ignore: int | None = None, name_visits: bool = False) -> None:
    """Visits that include extraction fall `extraction_gap_days` clinic days apart (README,
    "Extraction cadence"); a refusal states the open days around the visits in the way.

    It names those visits only to a client who proved who they are (`name_visits`: a move
    through their manage link); a booking is made with a phone number anyone may type, so
    its refusal never says what that number has booked, or when.
    """
    gap, tz = clinic.rules.extraction_gap_days, clinic.tz
    first_day, last_day = availability.bookable_days(now, tz, clinic.rules)
    wanted = start.astimezone(tz).date()
    visits = counted_visits(session, client_id, min(wanted, first_day) - timedelta(days=gap),
                            clinic=clinic, ignore=ignore)
    clashes = _too_close(wanted, visits, gap)
    if not clashes:
        return
    taken = {v.day for v in visits}
    earliest = first_day  # the first day that keeps its distance from every visit
    while clash := [d for d in taken if abs((earliest - d).days) < gap]:
        earliest = max(clash) + timedelta(days=gap)
    is_open = _open_day_test(service, providers, now=now, clinic=clinic)
    allowed = [r for r in (_allowed_range(wanted, step, visits, is_open, gap, first_day, last_day)
                           for step in (-1, 1)) if r]
    why, today = _cadence_reason(session, gap), now.astimezone(tz).date()
    raise BookingError(
        "too_soon",
        f"{why} {_your_visits(clashes, today) if name_visits else SOMETHING_CLOSE} "
        f"{_choose_from(allowed)}",
        {"start": f"Choose a day {gap} days or more from your other visits."},
        earliest_date=earliest.isoformat(),
        allowed=[{k: d.isoformat() for k, d in r.items()} for r in allowed],
    )


SOMETHING_CLOSE = "This number already has such a visit close to that day."


@dataclass(frozen=True)
class CountedVisit:
    """A visit the cadence counts: its clinic day and its service's name."""

    day: date
    service: str


def counted_visits(session: Session, client_id: int, since: date, *, clinic: Clinic,
                   ignore: int | None = None) -> list[CountedVisit]:
    """The client's visits that include extraction, not cancelled, from a clinic day on."""
    query = (
        select(Appointment.start_at, Service.name)
        .join(Service, Appointment.service_id == Service.id)
        .where(Appointment.client_id == client_id, Service.includes_extraction,
               Appointment.status.in_(COUNTED),
               Appointment.start_at >= day_bounds_utc(since, clinic.tz)[0])
        .order_by(Appointment.start_at)
    )
    if ignore is not None:
        query = query.where(Appointment.id != ignore)
    return [CountedVisit(s.astimezone(clinic.tz).date(), name)
            for s, name in session.execute(query)]


def _too_close(day: date, visits: list[CountedVisit], gap: int) -> list[CountedVisit]:
    return [v for v in visits if abs((day - v.day).days) < gap]


def too_soon_days(session: Session, appt: Appointment, days: list[date], *,
                  clinic: Clinic) -> dict[date, str]:
    """Why the cadence would refuse moving `appt` to each of these days, for the day picker."""
    return too_soon_for(session, appt.client_id, appt.service, days, clinic=clinic,
                        ignore=appt.id)


def too_soon_for(session: Session, client_id: int, service: Service, days: list[date], *,
                 clinic: Clinic, ignore: int | None = None) -> dict[date, str]:
    """Why the cadence would refuse this client `service` on each of these days."""
    if not days or not service.includes_extraction:
        return {}
    gap = clinic.rules.extraction_gap_days
    visits = counted_visits(session, client_id, min(days) - timedelta(days=gap),
                            clinic=clinic, ignore=ignore)
    found = {}
    for day in days:
        if clashes := _too_close(day, visits, gap):
            nearest = min(clashes, key=lambda v: abs((day - v.day).days))
            side = "Too soon after" if nearest.day < day else "Too close to"
            found[day] = f"{side} your {nearest.service.lower()} on {_short_day(nearest.day)}"
    return found


def _open_day_test(service: Service, providers: list[Provider], *, now: datetime,
                   clinic: Clinic):
    """Whether a clinic day can take this service: someone who gives it works that day and a
    visit fits between their opening, the lead time and the horizon (README, "Slots")."""
    earliest, latest = availability.bookable_window(now, clinic.tz, clinic.rules)
    length = timedelta(minutes=service.duration_minutes)

    def is_open(day: date) -> bool:
        for hours in (h for p in providers for h in p.hours if h.weekday == day.weekday()):
            opens = local_datetime(day, hours.starts, clinic.tz)
            closes = local_datetime(day, hours.ends, clinic.tz)
            if opens and closes and max(opens, earliest) + length <= closes and opens <= latest:
                return True
        return False

    return is_open


def _allowed_range(wanted: date, step: int, visits: list[CountedVisit], is_open, gap: int,
                   first: date, last: date) -> dict[str, date] | None:
    """The nearest run of open days that keep their distance, before (step -1) or after (+1)
    the wanted day: {"from", "to"}, a side left out when the run reaches the booking window's
    edge. None when there is no such day inside the window."""
    day, near, far = wanted + timedelta(days=step), None, None
    while first <= day <= last:
        if _too_close(day, visits, gap):
            if near is not None:
                break  # the run of allowed days ends at the next visit's gap
        elif is_open(day):
            near, far = near or day, day
        day += timedelta(days=step)
    if near is None:
        return None
    reached_edge = not first <= day <= last
    if step < 0:
        return {"to": near} if reached_edge else {"from": far, "to": near}
    return {"from": near} if reached_edge else {"from": near, "to": far}


def _cadence_reason(session: Session, gap: int) -> str:
    """Which services count and why, in the clinic's words (README, "Extraction cadence")."""
    names = [n.lower() + "s" for n in session.scalars(
        select(Service.name).where(Service.includes_extraction, Service.active)
        .order_by(Service.id))]
    often = _times_a_month(gap)
    heal = (f"your skin needs {_span(gap)} to heal between them, so we book them at least "
            f"{gap} days apart" + (f" ({often})." if often else "."))
    if len(names) < 2:
        return f"{''.join(names).capitalize() or 'These visits'} include extractions, and {heal}"
    listed = ", ".join(names[:-1]) + " and " + names[-1]
    both = "both" if len(names) == 2 else "all"
    return f"{listed.capitalize()} {both} include extractions, and {heal}"


NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight")
DAYS_A_MONTH = 30  #: a calendar fact, for "once or twice a month"


def _span(days: int) -> str:
    """'about two weeks' for 14 days; 'time' when it isn't whole weeks (the exact days follow)."""
    weeks, rest = divmod(days, 7)
    if rest or not 0 < weeks < len(NUMBER_WORDS):
        return "time"
    return "about a week" if weeks == 1 else f"about {NUMBER_WORDS[weeks]} weeks"


def _times_a_month(gap: int) -> str:
    most = DAYS_A_MONTH // gap
    if most < 1:
        return ""
    if most == 1:
        return "about once a month"
    if most == 2:
        return "once or twice a month"
    return f"up to {NUMBER_WORDS[most] if most < len(NUMBER_WORDS) else most} times a month"


def _your_visits(clashes: list[CountedVisit], today: date) -> str:
    """'You have a facial on Monday 1 March.'; visits already past read 'You had ...'."""
    def listed(visits: list[CountedVisit]) -> str:
        parts = [f"{_an(v.service.lower())} on {_long_day(v.day)}" for v in visits]
        return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]

    past = [v for v in clashes if v.day < today]
    coming = [v for v in clashes if v.day >= today]
    if past and coming:
        return f"You had {listed(past)} and have {listed(coming)}."
    return f"You {'had' if past else 'have'} {listed(past or coming)}."


def _choose_from(allowed: list[dict[str, date]]) -> str:
    """'Choose a day on or before Sat 6 Mar, or from Sat 3 Apr.'"""
    if not allowed:
        return "No day you can book yet keeps that distance; please call the clinic."
    return "Choose a day " + ", or ".join(_range_words(r) for r in allowed) + "."


def _range_words(allowed: dict[str, date]) -> str:
    first, last = allowed.get("from"), allowed.get("to")
    if first and last:
        if first == last:
            return f"on {_short_day(first)}"
        return f"from {_short_day(first)} to {_short_day(last)}"
    return f"from {_short_day(first)}" if first else f"on or before {_short_day(last)}"


def _an(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _long_day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def _short_day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _check_daily_limit(session: Session, client: Client, now: datetime, most: int) -> None:
    """Each booking texts the number at once: a phone may book a few times a day, not more."""
    if client.id is None:
        return
    recent = session.scalar(select(func.count(Appointment.id)).where(
        Appointment.client_id == client.id, Appointment.created_at > now - timedelta(days=1)))
    if recent >= most:
        raise BookingError("too_many_bookings", "This number has made several bookings today; "
                           "please call the clinic to book more.",
                           {"client.phone": "Too many bookings today for this number."})


def _client_for(session: Session, details: ClientDetails, now: datetime,
                consent_via: str = "online") -> Client:
    client = session.scalar(select(Client).where(Client.phone == details.phone))
    if client is None:
        client = Client(name=details.name, phone=details.phone, email=details.email,
                        created_at=now)
        session.add(client)
    elif not client.email:
        # A booking is unauthenticated: it may fill a gap, never overwrite what staff know.
        client.email = details.email
    client.sms_consent_at = now
    client.sms_consent_via = consent_via  # how this latest consent was given
    return client


def _store(session: Session) -> None:
    """Writes the visit now; _Overlap when PostgreSQL's exclusion constraint finds one."""
    try:
        session.flush()
    except IntegrityError as exc:
        if "no_overlapping_visits" in str(exc.orig):
            raise _Overlap from None
        raise


def _unavailable(session: Session, service: Service, provider_id: int | None, start: datetime,
                 *, now: datetime, clinic: Clinic,
                 providers: list[Provider] | None = None) -> SlotUnavailable:
    alts = alternatives(session, service, provider_id, start, now=now, clinic=clinic,
                        providers=providers)
    return SlotUnavailable(
        "slot_unavailable", "That time was just taken. Here are the next free times.",
        {"start": "No longer free."},
        alternatives=[{"start": iso_local(s.start, clinic.tz), "end": iso_local(s.end, clinic.tz),
                       "provider_id": s.provider_id} for s in alts],
    )


def can_change(appt: Appointment, now: datetime) -> bool:
    """Whether the client may still cancel or move the visit from its link."""
    return appt.status in CHANGEABLE and now < appt.start_at


def is_late(appt: Appointment, now: datetime, clinic: Clinic) -> bool:
    """A change closer to the start than the rules' late-change time is recorded as late."""
    return appt.start_at - now < clinic.rules.late_change


def _check_changeable(appt: Appointment, now: datetime) -> None:
    if appt.status not in CHANGEABLE:
        raise BookingError("not_changeable", f"This visit is {appt.status.replace('_', ' ')} "
                           "and can no longer be changed.", status=409)
    if now >= appt.start_at:
        raise BookingError("too_late", "This visit has already started; please call the clinic.",
                           status=409)


def _log(session: Session, appt: Appointment, now: datetime, actor: str, action: str,
         detail: dict) -> None:
    session.add(AppointmentEvent(appointment=appt, at=now, actor=actor, action=action,
                                 detail=detail))
