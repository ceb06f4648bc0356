"""Choosing a day and a slot: shared by booking and rescheduling pages."""

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from .. import availability, booking, clock
from ..extensions import db
from ..models import Provider, Service

DAYS_SHOWN = 14


@dataclass(frozen=True)
class DayChoice:
    day: date
    free: int
    open: bool  #: someone works that day, so no free time means fully booked
    too_soon: str | None = None  #: why the extraction cadence would refuse it, when it would


def providers_for(service: Service, provider_id: int | None = None) -> list[Provider]:
    """As booking chooses them; a provider who doesn't give the service offers no days."""
    try:
        return booking.providers_for(db.session, service, provider_id)
    except booking.BookingError:
        return []


def day_choices(service: Service, providers: list[Provider], first: date,
                ignore: int | None = None, too_soon: dict[date, str] | None = None
                ) -> list[DayChoice]:
    slots = availability.slots_between(
        db.session, service, providers, first, first + timedelta(days=DAYS_SHOWN - 1),
        now=clock.now(), clinic=clock.clinic(), ignore_appointment_id=ignore)
    tz = clock.tz()
    counts = Counter(s.start.astimezone(tz).date() for s in slots)
    working = {h.weekday for p in providers for h in p.hours}
    days = [first + timedelta(days=i) for i in range(DAYS_SHOWN)]
    too_soon = too_soon or {}
    return [DayChoice(d, counts[d], d.weekday() in working, too_soon.get(d)) for d in days]


def fortnight(first: date) -> list[date]:
    """The days a picker page starting on `first` shows."""
    return [first + timedelta(days=i) for i in range(DAYS_SHOWN)]


def first_for(allowed: dict[str, str], wanted: date) -> date | None:
    """Where a picker should start to show an allowed range of days (an API `allowed` item)
    next to the refused day: ending on its last day before it, starting on its first after."""
    first, last = parse_day(allowed.get("from")), parse_day(allowed.get("to"))
    if last and last < wanted:
        back = last - timedelta(days=DAYS_SHOWN - 1)
        return first_day((max(back, first) if first else back).isoformat())
    return first


def nearest_allowed(allowed: list[dict[str, str]], wanted: date) -> date | None:
    """The picker's first day for the allowed range nearest the refused day."""
    def distance(item: dict[str, str]) -> int:
        days = [parse_day(item.get(side)) for side in ("from", "to")]
        return min(abs((d - wanted).days) for d in days if d)

    found = sorted(allowed, key=distance)
    return first_for(found[0], wanted) if found else None


def slots_on(service: Service, providers: list[Provider], day: date, ignore: int | None = None):
    return availability.slots_between(db.session, service, providers, day, day,
                                      now=clock.now(), clinic=clock.clinic(),
                                      ignore_appointment_id=ignore)


def first_day(requested: str | None) -> date:
    """The first day to show: the requested one, but never before today or past the horizon."""
    today, last = bookable_range()
    day = parse_day(requested) or today
    return min(max(day, today), last)


def parse_day(text: str | None) -> date | None:
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return None
    return day if 2000 <= day.year <= 2200 else None


def bookable_range() -> tuple[date, date]:
    clinic = clock.clinic()
    return availability.bookable_days(clock.now(), clinic.tz, clinic.rules)
