"""Free slots as a pure function of hours, time off, visits, the service and now.

`free_slots` knows nothing of the database; `load_schedules` fetches only what touches the
window, so the cost grows with the visits inside it, not with the clinic's history.

Slots are computed a day at a time. On a day whose UTC offset does not change (every day but
the two clock-change days a year), each provider's stretches are placed in UTC once, the grid
starts inside them are counted off in whole seconds and checked against the blocked intervals
by bisection; no time zone conversion happens per candidate. A clock-change day takes the
exact wall-clock path, one candidate at a time, with the same answers as before.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, union_all
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
        # The same, as POSIX seconds: comparing floats is far cheaper than comparing aware
        # datetimes of different zones, which converts both to UTC each time.
        self._start_ts = [start.timestamp() for start in self._starts]
        self._max_end_ts = [end.timestamp() for end in self._max_end]

    def is_free(self, start: datetime, until: datetime) -> bool:
        """Whether [start, until) overlaps nothing blocked."""
        i = bisect_left(self._starts, until)  # intervals starting before `until`
        return i == 0 or self._max_end[i - 1] <= start

    def is_free_ts(self, start: float, until: float) -> bool:
        """`is_free` for instants given as POSIX seconds."""
        i = bisect_left(self._start_ts, until)
        return i == 0 or self._max_end_ts[i - 1] <= start

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


def window_minutes(now: datetime, tz: ZoneInfo,
                   rules: ClinicRules = DEFAULT_RULES) -> tuple[int, int]:
    """The bookable window in whole POSIX minutes, the earliest rounded up and the latest down.

    Starts fall on whole minutes, so every `now` with the same pair gets the same slots:
    with the schedule's version, this is what a cached answer is kept by."""
    earliest, latest = bookable_window(now, tz, rules)
    return math.ceil(earliest.timestamp() / 60), math.floor(latest.timestamp() / 60)


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
        if any(schedule.hours.get(day.weekday()) for schedule in schedules):
            if _steady(day, tz, duration + buffer):
                slots += _day_slots(day, schedules, duration, buffer, earliest, latest, tz,
                                    rules.grid)
            else:
                slots += _clock_change_day_slots(day, schedules, duration, buffer, earliest,
                                                 latest, tz, rules.grid)
        day += timedelta(days=1)
    return slots


def _steady(day: date, tz: ZoneInfo, longest: timedelta) -> bool:
    """Whether the clinic's UTC offset holds from the day's midnight until well past its end
    (the next midnight plus a visit and its buffer): wall-clock and elapsed time then agree,
    so a wall-clock time is its UTC instant shifted by one offset."""
    offset = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    # Offsets change at most once in two days in any real zone, so equal offsets at both ends
    # mean no change in between.
    return next_midnight.utcoffset() == offset and (next_midnight + longest).utcoffset() == offset


def _day_slots(day: date, schedules: list[ProviderSchedule], duration: timedelta,
               buffer: timedelta, earliest: datetime, latest: datetime, tz: ZoneInfo,
               step: timedelta) -> list[Slot]:
    """A steady day's slots: each stretch placed in UTC once, its grid starts counted off."""
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    base = midnight.timestamp()  #: the day's 00:00 as POSIX seconds
    length, busy = duration.total_seconds(), (duration + buffer).total_seconds()
    step_minutes = int(step.total_seconds() // 60)
    weekday = day.weekday()
    # The grid runs from the earliest opening to the latest closing of anyone working that day
    # (README, "Slots"); a start is offered when a visit fits in one of a provider's stretches.
    closes_at = max(e for schedule in schedules for _, e in schedule.hours.get(weekday, ()))
    last_minute = min(closes_at.hour * 60 + closes_at.minute,
                      # and only between the earliest and the latest bookable start
                      int((latest.timestamp() - base) // 60) + 1)
    first_minute = max(0, math.ceil((earliest.timestamp() - base) / 60))
    fits: list[list[int]] = []  #: per provider, the grid minutes (from midnight) that fit
    for schedule in schedules:
        minutes: set[int] = set()
        for opens, closes in schedule.hours.get(weekday, ()):
            open_s, close_s = _seconds(opens), _seconds(closes)
            minute = opens.hour * 60 + opens.minute
            minute += -minute % step_minutes
            if minute * 60 < open_s:  # an opening with seconds: the next grid line
                minute += step_minutes
            minute = max(minute, first_minute + -(first_minute - minute) % step_minutes)
            while minute < last_minute and minute * 60 + length <= close_s:
                minutes.add(minute)
                minute += step_minutes
        fits.append(sorted(minutes))
    found: list[Slot] = []
    if len(schedules) == 1:
        (schedule,), (starts,) = schedules, fits
        provider_id, is_free = schedule.provider_id, schedule.is_free_ts
        for minute in starts:
            start_s = base + minute * 60
            if is_free(start_s, start_s + busy):
                start = midnight + timedelta(minutes=minute)
                found.append(Slot(start, start + duration, provider_id))
        return found
    offered = [set(minutes) for minutes in fits]
    for minute in sorted(set().union(*offered)):
        start_s = base + minute * 60
        for schedule, minutes in zip(schedules, offered, strict=True):
            if minute in minutes and schedule.is_free_ts(start_s, start_s + busy):
                start = midnight + timedelta(minutes=minute)
                found.append(Slot(start, start + duration, schedule.provider_id))
                break
    return found


def _seconds(wall: time) -> float:
    return wall.hour * 3600 + wall.minute * 60 + wall.second + wall.microsecond / 1e6


def _clock_change_day_slots(day: date, schedules: list[ProviderSchedule], duration: timedelta,
                            buffer: timedelta, earliest: datetime, latest: datetime,
                            tz: ZoneInfo, step: timedelta) -> list[Slot]:
    """A day whose offset changes: each wall-clock grid start converted and checked alone."""
    found: list[Slot] = []
    for start in _grid(day, schedules, tz, step):
        if not earliest <= start <= latest:
            continue
        end = start + duration
        for schedule in schedules:
            if schedule.works(start, end, tz) and schedule.is_free(start, end + buffer):
                found.append(Slot(start, end, schedule.provider_id))
                break
    return found


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
    return load_schedules_by_id(session, [p.id for p in providers], window,
                                ignore_appointment_id=ignore_appointment_id)


def load_schedules_by_id(
    session: Session,
    ids: list[int],
    window: Interval,
    *,
    ignore_appointment_id: int | None = None,
) -> list[ProviderSchedule]:
    """`load_schedules` for providers given by id, in that order."""
    if not ids:
        return []
    start, end = window
    rows = session.execute(_HOURS, {"ids": ids}).all()
    hours = {pid: weekly_hours(r for r in rows if r.provider_id == pid) for pid in ids}
    blocked: dict[int, list[Interval]] = {pid: [] for pid in ids}
    params = {"ids": ids, "start": start, "end": end,
              # A visit never spans more than a day, so this bound keeps the scan on the index.
              "visits_from": start - timedelta(days=1)}
    if ignore_appointment_id is None:
        query = _BLOCKED
    else:
        query, params["ignore"] = _BLOCKED_IGNORING, ignore_appointment_id
    for pid, s, e in session.execute(query, params):
        blocked[pid].append((s, e))
    return [ProviderSchedule(pid, hours[pid], blocked[pid]) for pid in ids]


# Built once: constructing a statement costs more than running these small queries.
_IDS = bindparam("ids", expanding=True)
_HOURS = select(WorkingHours.provider_id, WorkingHours.weekday, WorkingHours.starts,
                WorkingHours.ends).where(WorkingHours.provider_id.in_(_IDS))
_VISITS = select(Appointment.provider_id, Appointment.start_at, Appointment.busy_until).where(
    Appointment.provider_id.in_(_IDS),
    Appointment.status.in_(HOLDING),
    Appointment.start_at >= bindparam("visits_from"),
    Appointment.start_at < bindparam("end"),
    Appointment.busy_until > bindparam("start"),
)
_TIME_OFF = select(TimeOff.provider_id, TimeOff.starts_at, TimeOff.ends_at).where(
    TimeOff.provider_id.in_(_IDS), TimeOff.starts_at < bindparam("end"),
    TimeOff.ends_at > bindparam("start"))
#: Visits (with their cleanup) and time off inside a window, in one round trip.
_BLOCKED = union_all(_VISITS, _TIME_OFF)
_BLOCKED_IGNORING = union_all(_VISITS.where(Appointment.id != bindparam("ignore")), _TIME_OFF)


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
