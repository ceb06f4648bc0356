"""Choosing a day and a slot: shared by booking and rescheduling pages."""

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from .. import availability, booking, clock, schedule_version
from ..extensions import db
from ..messaging.bodies import short_day
from ..models import Provider, Service

DAYS_SHOWN = 14


@dataclass(frozen=True)
class DayChoice:
    day: date
    free: int
    open: bool  #: someone works that day, so no free time means fully booked
    too_soon: str | None = None  #: why the extraction cadence would refuse it, when it would
    #: No free time because the booking window ends on it or before it: times open later.
    opens_later: bool = False


def providers_for(service: Service, provider_id: int | None = None) -> list[Provider]:
    """As booking chooses them; a provider who doesn't give the service offers no days."""
    try:
        return booking.providers_for(db.session, service, provider_id)
    except booking.BookingError:
        return []


def day_choices(service: Service, providers: list[Provider], first: date,
                ignore: int | None = None, too_soon: dict[date, str] | None = None
                ) -> list[DayChoice]:
    slots = schedule_version.slots_between(
        db.session, service, providers, first, first + timedelta(days=DAYS_SHOWN - 1),
        now=clock.now(), clinic=clock.clinic(), ignore_appointment_id=ignore)
    tz = clock.tz()
    counts = Counter(s.start.astimezone(tz).date() for s in slots)
    working = {h.weekday for p in providers for h in p.hours}
    days = [first + timedelta(days=i) for i in range(DAYS_SHOWN)]
    too_soon = too_soon or {}
    last = bookable_range()[1]
    return [DayChoice(d, counts[d], d.weekday() in working, too_soon.get(d),
                      opens_later=not counts[d] and d >= last) for d in days]


def fortnight(first: date) -> list[date]:
    """The days a picker page starting on `first` shows."""
    return [first + timedelta(days=i) for i in range(DAYS_SHOWN)]


@dataclass(frozen=True)
class Month:
    label: str  #: "April", with the year when it isn't this year's
    first: date  #: its first bookable day
    current: bool  #: the day asked for is in it


@dataclass(frozen=True)
class PickerPage:
    """Where a day picker page stands among the bookable days."""

    wanted: date  #: the day asked for, moved into the bookable range
    first: date  #: the first day shown
    bounds: tuple[date, date]  #: the first and last bookable day

    @property
    def last(self) -> date:
        return self.first + timedelta(days=DAYS_SHOWN - 1)

    @property
    def earlier(self) -> date:
        return _page_start(self.first - timedelta(days=DAYS_SHOWN), self.bounds)

    @property
    def later(self) -> date:
        return _page_start(self.first + timedelta(days=DAYS_SHOWN), self.bounds)

    @property
    def months(self) -> list[Month]:
        """Each month of the booking window, opening at its first bookable day."""
        today, last = self.bounds
        found, month = [], today.replace(day=1)
        while month <= last:
            label = f"{month:%B}" if month.year == today.year else f"{month:%B} {month.year}"
            found.append(Month(label, max(month, today),
                               (month.year, month.month) == (self.wanted.year,
                                                             self.wanted.month)))
            month = (month + timedelta(days=31)).replace(day=1)
        return found


def page_at(requested: str | None) -> PickerPage:
    """The picker page for a requested day (the `from` argument, typed or linked): the
    fortnight starting on it, or, near the end of the booking window, the last fortnight, which
    holds it. A malformed or out-of-range day asks for the nearest bookable one."""
    bounds = bookable_range()
    wanted = _within(parse_day(requested) or bounds[0], bounds)
    return PickerPage(wanted, _page_start(wanted, bounds), bounds)


def _page_start(day: date, bounds: tuple[date, date]) -> date:
    """A page starts on a bookable day and shows no day past the last while it can."""
    return _within(min(day, bounds[1] - timedelta(days=DAYS_SHOWN - 1)), bounds)


def _within(day: date, bounds: tuple[date, date]) -> date:
    return min(max(day, bounds[0]), bounds[1])


def first_for(allowed: dict[str, str], wanted: date) -> date | None:
    """Where a picker should start to show an allowed range of days (an API `allowed` item)
    next to the refused day: ending on its last day before it, starting on its first after."""
    first, last = parse_day(allowed.get("from")), parse_day(allowed.get("to"))
    if last and last < wanted:
        back = last - timedelta(days=DAYS_SHOWN - 1)
        return first_day((max(back, first) if first else back).isoformat())
    return first


def allowed_days(allowed: list[dict[str, str]], wanted: date) -> list[tuple[str, date]]:
    """Each range of days a cadence refusal allows, as (its label, the day to show first)."""
    found = []
    for each in allowed:
        first = first_for(each, wanted)
        if first is None:
            continue
        last = parse_day(each.get("to"))
        label = (f"Days up to {short_day(last)}" if last and last < wanted
                 else f"Days from {short_day(first)}")
        found.append((label, first))
    return found


def nearest_allowed(allowed: list[dict[str, str]], wanted: date) -> date | None:
    """The picker's first day for the allowed range nearest the refused day."""
    def distance(item: dict[str, str]) -> int:
        days = [parse_day(item.get(side)) for side in ("from", "to")]
        return min(abs((d - wanted).days) for d in days if d)

    found = sorted(allowed, key=distance)
    return first_for(found[0], wanted) if found else None


def slots_on(service: Service, providers: list[Provider], day: date, ignore: int | None = None):
    return schedule_version.slots_between(db.session, service, providers, day, day,
                                          now=clock.now(), clinic=clock.clinic(),
                                          ignore_appointment_id=ignore)


def first_day(requested: str | None) -> date:
    """The requested day moved into the bookable range: never before today or past the horizon."""
    bounds = bookable_range()
    return _within(parse_day(requested) or bounds[0], bounds)


def parse_day(text: str | None) -> date | None:
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return None
    return day if 2000 <= day.year <= 2200 else None


def bookable_range() -> tuple[date, date]:
    clinic = clock.clinic()
    return availability.bookable_days(clock.now(), clinic.tz, clinic.rules)
