"""Free slots as a pure function of hours, time off, visits, the service and now.

`free_slots` knows nothing of the database; `load_schedules` fetches only what touches the
window, so the cost grows with the visits inside it, not with the clinic's history.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .enums import HOLDING
from .models import Appointment, Provider, TimeOff, WorkingHours
from .rules import DEFAULT_RULES, ClinicRules
from .timeutil import day_bounds_utc, local_datetime

Interval = tuple[datetime, datetime]


@dataclass
class ProviderSchedule:
    provider_id: int
    hours: dict[int, list[tuple[time, time]]]  #: weekday -> wall-clock stretches
    blocked: list[Interval] = field(default_factory=list)  #: time off and visits with buffers

    def __post_init__(self) -> None:
        self.blocked.sort()
        self._starts = [start for start, _ in self.blocked]
        self._max_end: list[datetime] = []  #: latest end among the first i+1 intervals
        for _, end in self.blocked:
            self._max_end.append(max(end, self._max_end[-1]) if self._max_end else end)

    def is_free(self, start: datetime, until: datetime) -> bool:
        """Whether [start, until) overlaps nothing blocked."""
        i = bisect_left(self._starts, until)  # intervals starting before `until`
        return i == 0 or self._max_end[i - 1] <= start

    def works(self, start: datetime, end: datetime, tz: ZoneInfo) -> bool:
        """Whether the visit [start, end) lies inside one stretch of working hours."""
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
        day = local_start.date()
        for opens, closes in self.hours.get(day.weekday(), ()):
            open_at, close_at = local_datetime(day, opens, tz), local_datetime(day, closes, tz)
            if open_at and close_at and open_at <= local_start and local_end <= close_at:
                return True
        return False


def bookable_days(now: datetime, tz: ZoneInfo,
                  rules: ClinicRules = DEFAULT_RULES) -> tuple[date, date]:
    """The first and last clinic days on which a visit can be booked as of now."""
    earliest, latest = bookable_window(now, tz, rules)
    return earliest.astimezone(tz).date(), latest.astimezone(tz).date()


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    provider_id: int


def bookable_window(now: datetime, tz: ZoneInfo, rules: ClinicRules = DEFAULT_RULES) -> Interval:
    """The earliest and latest start a client may book as of now.

    The horizon counts clinic calendar days: 60 days after 12:00 is 12:00, across a clock change.
    """
    latest = (now.astimezone(tz) + rules.horizon).astimezone(now.tzinfo)
    return now + rules.lead_time, latest


def free_slots(
    schedules: list[ProviderSchedule],
    *,
    duration: timedelta,
    buffer: timedelta,
    first_day: date,
    last_day: date,
    now: datetime,
    tz: ZoneInfo,
    rules: ClinicRules = DEFAULT_RULES,
) -> list[Slot]:
    """Every bookable start between two clinic days, one per start, earliest first.

    With several providers, each start goes to the first free one in the given order.
    """
    earliest, latest = bookable_window(now, tz, rules)
    slots: list[Slot] = []
    day = first_day
    while day <= last_day:
        for start in _grid(day, schedules, tz, rules.grid):
            if not earliest <= start <= latest:
                continue
            end = start + duration
            for schedule in schedules:
                if schedule.works(start, end, tz) and schedule.is_free(start, end + buffer):
                    slots.append(Slot(start, end, schedule.provider_id))
                    break
        day += timedelta(days=1)
    return slots


def _grid(day: date, schedules: list[ProviderSchedule], tz: ZoneInfo, step: timedelta):
    """Grid starts in wall-clock time from the earliest opening to the latest closing that day."""
    stretches = [s for sched in schedules for s in sched.hours.get(day.weekday(), ())]
    if not stretches:
        return
    opens = min(s for s, _ in stretches)
    closes = max(e for _, e in stretches)
    minutes = opens.hour * 60 + opens.minute
    step_minutes = int(step.total_seconds() // 60)
    minutes += -minutes % step_minutes
    seen: set[datetime] = set()
    while minutes < closes.hour * 60 + closes.minute:
        start = local_datetime(day, time(minutes // 60, minutes % 60), tz)
        if start is not None and start not in seen:
            seen.add(start)
            yield start
        minutes += step_minutes


def on_grid(start: datetime, tz: ZoneInfo, rules: ClinicRules = DEFAULT_RULES) -> bool:
    local = start.astimezone(tz)
    step = int(rules.grid.total_seconds() // 60)
    return local.second == 0 and local.microsecond == 0 and local.minute % step == 0


def load_schedules(
    session: Session,
    providers: list[Provider],
    window: Interval,
    *,
    ignore_appointment_id: int | None = None,
) -> list[ProviderSchedule]:
    """Schedules for the given providers with what blocks them inside the UTC window."""
    ids = [p.id for p in providers]
    if not ids:
        return []
    start, end = window
    rows = list(session.scalars(select(WorkingHours).where(WorkingHours.provider_id.in_(ids))))
    hours = {pid: weekly_hours(r for r in rows if r.provider_id == pid) for pid in ids}
    blocked: dict[int, list[Interval]] = {pid: [] for pid in ids}
    visits = select(Appointment.provider_id, Appointment.start_at, Appointment.busy_until).where(
        Appointment.provider_id.in_(ids),
        Appointment.status.in_(HOLDING),
        # A visit never spans more than a day, so this bound keeps the scan on the index.
        Appointment.start_at >= start - timedelta(days=1),
        Appointment.start_at < end,
        Appointment.busy_until > start,
    )
    if ignore_appointment_id is not None:
        visits = visits.where(Appointment.id != ignore_appointment_id)
    for pid, s, e in session.execute(visits):
        blocked[pid].append((s, e))
    off = select(TimeOff.provider_id, TimeOff.starts_at, TimeOff.ends_at).where(
        TimeOff.provider_id.in_(ids), TimeOff.starts_at < end, TimeOff.ends_at > start
    )
    for pid, s, e in session.execute(off):
        blocked[pid].append((s, e))
    return [ProviderSchedule(pid, hours[pid], blocked[pid]) for pid in ids]


def weekly_hours(rows) -> dict[int, list[tuple[time, time]]]:
    """Working-hours rows as weekday -> wall-clock stretches."""
    hours: dict[int, list[tuple[time, time]]] = {}
    for row in rows:
        hours.setdefault(row.weekday, []).append((row.starts, row.ends))
    return hours


def days_window(first_day: date, last_day: date, tz: ZoneInfo) -> Interval:
    """The UTC span covering whole clinic days, with room for a visit's buffer."""
    start, _ = day_bounds_utc(first_day, tz)
    _, end = day_bounds_utc(last_day, tz)
    return start, end + timedelta(days=1)


def slots_between(session: Session, service, providers: list[Provider], first: date, last: date,
                  *, now: datetime, clinic, ignore_appointment_id: int | None = None) -> list[Slot]:
    """Free slots of a service over a range of clinic days, clipped to what can be booked."""
    first_bookable, last_bookable = bookable_days(now, clinic.tz, clinic.rules)
    first, last = max(first, first_bookable), min(last, last_bookable)
    if first > last or not providers:
        return []
    schedules = load_schedules(session, providers, days_window(first, last, clinic.tz),
                               ignore_appointment_id=ignore_appointment_id)
    return free_slots(
        schedules, duration=timedelta(minutes=service.duration_minutes),
        buffer=timedelta(minutes=service.buffer_minutes), first_day=first, last_day=last,
        now=now, tz=clinic.tz, rules=clinic.rules)
