"""Providers for admins: details, weekly hours, time off, retiring, with an audit trail.

Framework-free: views hand in a session, `now`, the clinic's time zone and the actor, and
render what comes back. Every write is one `with transaction(session):` block that also adds
an `AuditEntry(subject="provider")`; bad input raises `ProviderError` (a message per field)
before anything is written.

**Nothing is orphaned silently.** A change that would leave booked or confirmed visits still to
come outside the provider's hours, inside time off, with a retired provider or with a provider
of the wrong role raises `NeedsConfirmation(visits)` and writes nothing, unless the caller
passes `confirmed=True`. Confirmed, the change is made and those visits stay booked: the clinic
calls those clients to move them (the audit entry lists the visits, and the provider's page
keeps listing every such visit until it is moved or cancelled). `conflicts()` is the one check,
and it reuses `availability.ProviderSchedule`, so "outside the hours" here means exactly what
booking means by it.

Choices:
- `board_certified` is refused for an aesthetician (the client's visit page would call them
  "a board-certified aesthetician"); only a dermatologist may carry it.
- Weekly hours are typed one field per weekday as comma-separated stretches
  ("09:00-12:00, 13:00-17:00"); blank or "closed" is a day off. Times are on the 5 minutes
  (any slot grid the clinic chooses lines up with them); "24:00" ends a stretch at midnight
  and is stored as 23:59:59.999999 (a TIME column cannot hold 24:00).
- Time off is whole clinic days (first day to last day, inclusive, each 23, 24 or 25 hours
  long across clock changes) or hours on one day; times are on the 5 minutes as well.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import availability
from .auth import actor_names
from .enums import CHANGEABLE, ProviderRole
from .models import Appointment, AuditEntry, Provider, TimeOff, WorkingHours
from .timeutil import day_bounds_utc, local_datetime
from .tx import lock, transaction
from .validation import Refused, name_problem, printable

NAME_MAX = 120
REASON_MAX = 200
#: Stretches and time off start and end on the 5 minutes: any slot grid an admin may choose
#: (5, 10, 15, 20, 30 or 60 minutes) can line up with them.
GRID_MINUTES = 5
TIME_OFF_MAX_DAYS = 366  #: one entry covers at most this many days
DAY_MINUTES = 24 * 60
END_OF_DAY = time.max  #: how "24:00" is stored: a TIME column cannot hold 24:00
SUBJECT = "provider"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ROLE_WORDS = {ProviderRole.AESTHETICIAN: "Aesthetician",
              ProviderRole.DERMATOLOGIST: "Dermatologist"}
FIELD_WORDS = {"name": "Name", "role": "Role", "board_certified": "Board-certified",
               "active": "Active", "hours": "Weekly hours", "time_off": "Time off",
               "visits_left_booked": "Visits left booked"}
ACTION_WORDS = {"created": "Created", "edited": "Details changed",
                "hours_changed": "Weekly hours changed", "time_off_added": "Time off added",
                "time_off_removed": "Time off removed", "retired": "Retired",
                "restored": "Restored"}

Week = dict[int, list[tuple[time, time]]]  #: weekday -> stretches, in clinic wall-clock time


class ProviderError(Refused):
    """A change that was refused; `fields` maps a form field to what is wrong with it."""


class UnknownProvider(LookupError):
    pass


@dataclass(frozen=True)
class Affected:
    """A booked visit still to come that a change would strand."""

    id: int
    start_at: datetime
    end_at: datetime
    client_name: str
    service_name: str
    status: str
    why: str  #: "outside the hours", "in the time off", "provider retired", "wrong role"


class NeedsConfirmation(Exception):  # noqa: N818 - named for what the caller must do
    """The change would strand these visits; nothing was written. Ask, then pass
    `confirmed=True` (and the ids shown as `acknowledged`)."""

    def __init__(self, visits: list[Affected], *, more_since: bool = False) -> None:
        super().__init__(f"{len(visits)} booked visit(s) affected")
        self.visits = visits
        #: The admin confirmed, but visits beyond those they were shown are now affected.
        self.more_since = more_since


# --- Input ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Details:
    name: str
    role: ProviderRole
    board_certified: bool


def clean_details(name: str | None, role: str | None, board_certified: bool) -> Details:
    fields: dict[str, str] = {}
    clean_name = " ".join((name or "").split())
    if problem := name_problem(clean_name, missing="Enter the provider's name.", most=NAME_MAX):
        fields["name"] = problem
    try:
        clean_role = ProviderRole(role or "")
    except ValueError:
        clean_role = None
        fields["role"] = "Choose aesthetician or dermatologist."
    if board_certified and clean_role == ProviderRole.AESTHETICIAN:
        fields["board_certified"] = ("Only a dermatologist is board-certified here: untick it, "
                                     "or choose Dermatologist.")
    if fields:
        raise ProviderError("The provider was not saved: check the fields marked.", fields)
    return Details(clean_name, clean_role, bool(board_certified))


_TIME = re.compile(r"([0-9]{1,2})(?::?([0-9]{2}))?")
_DASH = re.compile(r"\s*(?:-|–|—|to)\s*")


def parse_minutes(text: str, *, allow_end_of_day: bool = False) -> int:
    """'9', '9:30', '09:30' or '0930' as minutes after midnight; raises ValueError with a
    message a person reads."""
    text = text.strip()
    match = _TIME.fullmatch(text)
    if not match:
        raise ValueError(f"“{text}” isn't a time: write it like 09:00.")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour == 24 and minute == 0 and allow_end_of_day:
        return DAY_MINUTES
    if hour > 23 or minute > 59:
        raise ValueError(f"“{text}” isn't a time of day (00:00 to 24:00).")
    total = hour * 60 + minute
    if total % GRID_MINUTES:
        raise ValueError(f"{fmt_minutes(total)} is not on the {GRID_MINUTES} minutes: use a "
                         "time like 09:00, 09:15 or 12:30.")
    return total


def parse_day(text: str | None) -> list[tuple[int, int]]:
    """One weekday's stretches, "09:00-12:00, 13:00-17:00", as sorted minute pairs.

    Blank, "closed" or "off" is a day off. Raises ValueError: off the grid, a start not
    before its end, stretches that overlap or touch (write one stretch instead)."""
    text = (text or "").strip()
    if not text or text.lower() in ("closed", "off", "-", "–"):
        return []
    stretches = []
    for part in (p.strip() for p in re.split(r"[,;]", text)):
        if not part:
            continue
        ends = _DASH.split(part)
        if len(ends) != 2 or not all(ends):
            raise ValueError(f"“{part}” isn't a stretch: write it like 09:00-13:00.")
        start = parse_minutes(ends[0])
        end = parse_minutes(ends[1], allow_end_of_day=True)
        if start >= end:
            raise ValueError(f"{fmt_minutes(start)}–{fmt_minutes(end)} ends before it starts.")
        stretches.append((start, end))
    stretches.sort()
    for (s1, e1), (s2, e2) in zip(stretches, stretches[1:], strict=False):
        if s2 < e1:
            raise ValueError(f"{fmt_minutes(s1)}–{fmt_minutes(e1)} and "
                             f"{fmt_minutes(s2)}–{fmt_minutes(e2)} overlap.")
        if s2 == e1:
            raise ValueError(f"{fmt_minutes(s1)}–{fmt_minutes(e1)} and "
                             f"{fmt_minutes(s2)}–{fmt_minutes(e2)} touch: write them as "
                             f"{fmt_minutes(s1)}–{fmt_minutes(e2)}.")
    return stretches


def parse_week(typed: Mapping[int, str | None]) -> Week:
    """Each weekday's field (0 is Monday) as stretches; ProviderError names each bad day as
    `hours_<weekday>`."""
    week: Week = {}
    fields: dict[str, str] = {}
    for day in range(7):
        try:
            stretches = parse_day(typed.get(day))
        except ValueError as exc:
            fields[f"hours_{day}"] = str(exc)
            continue
        if stretches:
            week[day] = [(_to_time(s), _to_time(e)) for s, e in stretches]
    if fields:
        raise ProviderError("The hours were not saved: check the days marked.", fields)
    return week


def _to_time(minutes: int) -> time:
    return END_OF_DAY if minutes >= DAY_MINUTES else time(minutes // 60, minutes % 60)


def _minutes(value: time) -> int:
    return DAY_MINUTES if value == END_OF_DAY else value.hour * 60 + value.minute


def fmt_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def fmt_time(value: time) -> str:
    return fmt_minutes(_minutes(value))


def fmt_stretches(stretches: Iterable[tuple[time, time]]) -> str:
    return ", ".join(f"{fmt_time(s)}–{fmt_time(e)}" for s, e in sorted(stretches))


def week_fields(week: Week) -> dict[int, str]:
    """What the hours form shows for each weekday."""
    return {day: fmt_stretches(week.get(day, ())) for day in range(7)}


def week_of(provider: Provider) -> Week:
    return availability.weekly_hours(provider.hours)


def summary(week: Week) -> str:
    """'Mon–Fri 09:00–17:00; Sat 10:00–14:00', runs of days with the same hours together."""
    parts, day = [], 0
    while day < 7:
        text = fmt_stretches(week.get(day, ()))
        last = day
        while last + 1 < 7 and fmt_stretches(week.get(last + 1, ())) == text:
            last += 1
        if text:
            days = WEEKDAYS[day][:3] if last == day else \
                f"{WEEKDAYS[day][:3]}–{WEEKDAYS[last][:3]}"
            parts.append(f"{days} {text}")
        day = last + 1
    return "; ".join(parts) or "No hours"


@dataclass(frozen=True)
class TimeOffRequest:
    starts_at: datetime
    ends_at: datetime
    reason: str
    label: str  #: how people read it: "Tuesday 2 March 2027, whole day"


def parse_time_off(first_day: str | None, last_day: str | None, from_time: str | None,
                   until_time: str | None, reason: str | None, *, tz: ZoneInfo) -> TimeOffRequest:
    """Whole days (first to last day, inclusive; the last day may be left blank) when both
    times are blank; otherwise hours on the first day. Clinic days become UTC instants in `tz`,
    so a day the clocks change is 23 or 25 hours long."""
    fields: dict[str, str] = {}
    first = _date(first_day, "first_day", fields, required=True)
    last = _date(last_day, "last_day", fields, required=False)
    from_text, until_text = (from_time or "").strip(), (until_time or "").strip()
    reason = " ".join((reason or "").split())
    if len(reason) > REASON_MAX:
        fields["reason"] = f"At most {REASON_MAX} characters; this is {len(reason)}."
    elif not printable(reason):
        fields["reason"] = "Contains characters that can't be used here."
    by_hours = bool(from_text or until_text)
    starts = ends = None
    if by_hours:
        if not from_text:
            fields["from_time"] = "Enter when the time off starts, or clear both times."
        if not until_text:
            fields["until_time"] = "Enter when the time off ends, or clear both times."
        if first and last and last != first:
            fields["last_day"] = "Time off by the hour is on one day: leave this blank."
        minutes = {}
        for key, text, end in (("from_time", from_text, False), ("until_time", until_text, True)):
            if text:
                try:
                    minutes[key] = parse_minutes(text, allow_end_of_day=end)
                except ValueError as exc:
                    fields[key] = str(exc)
        if len(minutes) == 2 and minutes["from_time"] >= minutes["until_time"]:
            fields["until_time"] = "Ends before it starts: the end must be after the start."
        if first and len(minutes) == 2 and not fields:
            starts = _instant(first, minutes["from_time"], tz)
            ends = _instant(first, minutes["until_time"], tz)
            if starts is None:
                fields["from_time"] = "The clocks skip that time that day: choose another."
            if ends is None:
                fields["until_time"] = "The clocks skip that time that day: choose another."
    elif first:
        last = last or first
        if last < first:
            fields["last_day"] = "The last day is before the first."
        elif (last - first).days + 1 > TIME_OFF_MAX_DAYS:
            fields["last_day"] = f"At most {TIME_OFF_MAX_DAYS} days at a time."
        else:
            starts, ends = day_bounds_utc(first, tz)[0], day_bounds_utc(last, tz)[1]
    if fields:
        raise ProviderError("The time off was not added: check the fields marked.", fields)
    return TimeOffRequest(starts, ends, reason, describe_time_off(starts, ends, tz))


def _date(text: str | None, key: str, fields: dict[str, str], *, required: bool) -> date | None:
    text = (text or "").strip()
    if not text:
        if required:
            fields[key] = "Enter a day, like 2027-03-02."
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        fields[key] = f"“{text}” isn't a day: write it like 2027-03-02."
        return None
    if not 2000 <= value.year <= 2200:
        fields[key] = "Choose a day between 2000 and 2200."
        return None
    return value


def _instant(day: date, minutes: int, tz: ZoneInfo) -> datetime | None:
    if minutes >= DAY_MINUTES:
        return day_bounds_utc(day, tz)[1]
    return local_datetime(day, time(minutes // 60, minutes % 60), tz)


def describe_time_off(starts: datetime, ends: datetime, tz: ZoneInfo) -> str:
    first = starts.astimezone(tz)
    last = ends.astimezone(tz)
    day = first.date()
    if first.time() == time(0) and last.time() == time(0) and last.date() > day:
        final = last.date() - timedelta(days=1)
        if final == day:
            return f"{_day(day)}, whole day"
        return f"{_day(day)} to {_day(final)}, whole days"
    until = "24:00" if last.date() > day and last.time() == time(0) else f"{last:%H:%M}"
    if last.date() > day and until != "24:00":
        return f"{_day(day)} {first:%H:%M} to {_day(last.date())} {last:%H:%M}"
    return f"{_day(day)}, {first:%H:%M}–{until}"


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b} {day.year}"


# --- The one check ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """What a change would make true; a part left None stays as it is."""

    hours: Week | None = None
    time_off: tuple[datetime, datetime] | None = None
    active: bool | None = None
    role: ProviderRole | None = None


def conflicts(session: Session, provider: Provider, proposed: Proposal, *, now: datetime,
              tz: ZoneInfo) -> list[Affected]:
    """Booked or confirmed visits of this provider starting after `now` that the proposed
    change would strand, earliest first. Only the change is judged: a visit already outside
    today's hours is listed by `stranded`, not here."""
    visits = _coming(session, provider.id, now)
    if not visits:
        return []
    schedule = availability.ProviderSchedule(provider.id, proposed.hours) \
        if proposed.hours is not None else None
    found = []
    for visit in visits:
        why = None
        if proposed.active is False:
            why = "provider retired"
        elif proposed.role is not None and visit.service.provider_role != proposed.role:
            why = f"needs {ROLE_WORDS[visit.service.provider_role].lower()}"
        elif schedule is not None and not schedule.works(visit.start_at, visit.end_at, tz):
            why = "outside the hours"
        elif proposed.time_off is not None and _overlaps(visit, *proposed.time_off):
            why = "in the time off"
        if why:
            found.append(_affected(visit, why))
    return found


def stranded(session: Session, provider: Provider, *, now: datetime,
             tz: ZoneInfo) -> list[Affected]:
    """Booked visits still to come that the provider's present hours, time off, role or
    retirement no longer hold: the clinic must call these clients."""
    visits = _coming(session, provider.id, now)
    if not visits:
        return []
    schedule = availability.ProviderSchedule(provider.id, week_of(provider))
    offs = list(session.execute(select(TimeOff.starts_at, TimeOff.ends_at).where(
        TimeOff.provider_id == provider.id, TimeOff.ends_at > visits[0].start_at)))
    found = []
    for visit in visits:
        if not provider.active:
            why = "provider retired"
        elif visit.service.provider_role != provider.role:
            why = f"needs {ROLE_WORDS[visit.service.provider_role].lower()}"
        elif not schedule.works(visit.start_at, visit.end_at, tz):
            why = "outside the hours"
        elif any(_overlaps(visit, s, e) for s, e in offs):
            why = "in the time off"
        else:
            continue
        found.append(_affected(visit, why))
    return found


def _coming(session: Session, provider_id: int, now: datetime) -> list[Appointment]:
    return list(session.scalars(
        select(Appointment)
        .where(Appointment.provider_id == provider_id, Appointment.status.in_(CHANGEABLE),
               Appointment.start_at > now)
        .order_by(Appointment.start_at, Appointment.id)))


def _overlaps(visit: Appointment, starts: datetime, ends: datetime) -> bool:
    """Whether the visit or its cleanup falls in [starts, ends): what booking would refuse."""
    return visit.start_at < ends and starts < visit.busy_until


def _affected(visit: Appointment, why: str) -> Affected:
    return Affected(id=visit.id, start_at=visit.start_at, end_at=visit.end_at,
                    client_name=visit.client.name, service_name=visit.service.name,
                    status=str(visit.status), why=why)


def _gate(found: list[Affected], confirmed: bool,
          acknowledged: Collection[int] | None) -> list[int]:
    """Raises NeedsConfirmation unless confirmed for every visit found; returns their ids."""
    if not found:
        return []
    if not confirmed:
        raise NeedsConfirmation(found)
    if acknowledged is not None and not {v.id for v in found} <= set(acknowledged):
        raise NeedsConfirmation(found, more_since=True)
    return [v.id for v in found]


# --- Writes -----------------------------------------------------------------------------------


def _provider(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise UnknownProvider(provider_id)
    lock(session, provider)
    return provider


def _audit(session: Session, provider_id: int, action: str, before: dict, after: dict, *,
           now: datetime, actor: str, left_booked: list[int] | None = None) -> AuditEntry:
    if left_booked:
        after = {**after, "visits_left_booked": left_booked}
    entry = AuditEntry(at=now, actor=actor, subject=SUBJECT, subject_id=provider_id,
                       action=action, before=before, after=after)
    session.add(entry)
    return entry


def _details_dict(provider: Provider | Details) -> dict:
    return {"name": provider.name, "role": str(provider.role),
            "board_certified": bool(provider.board_certified)}


def create_provider(session: Session, *, name: str | None, role: str | None,
                    board_certified: bool, now: datetime, actor: str) -> Provider:
    """A new active provider with no hours yet (set them next)."""
    details = clean_details(name, role, board_certified)
    with transaction(session):
        provider = Provider(name=details.name, role=details.role,
                            board_certified=details.board_certified, active=True)
        session.add(provider)
        session.flush()
        _audit(session, provider.id, "created", {}, {**_details_dict(details), "active": True},
               now=now, actor=actor)
    return provider


def update_provider(session: Session, provider_id: int, *, name: str | None, role: str | None,
                    board_certified: bool, now: datetime, tz: ZoneInfo, actor: str,
                    confirmed: bool = False,
                    acknowledged: Collection[int] | None = None) -> AuditEntry | None:
    """New details; None when nothing changed. A new role strands visits for services of the
    old one (NeedsConfirmation unless confirmed)."""
    details = clean_details(name, role, board_certified)
    with transaction(session):
        provider = _provider(session, provider_id)
        old, new = _details_dict(provider), _details_dict(details)
        changed = [k for k in new if old[k] != new[k]]
        if not changed:
            return None
        left = []
        if details.role != provider.role:
            found = conflicts(session, provider, Proposal(role=details.role), now=now, tz=tz)
            left = _gate(found, confirmed, acknowledged)
        provider.name, provider.role = details.name, details.role
        provider.board_certified = details.board_certified
        return _audit(session, provider_id, "edited", {k: old[k] for k in changed},
                      {k: new[k] for k in changed}, now=now, actor=actor, left_booked=left)


def set_hours(session: Session, provider_id: int, week: Week, *, now: datetime, tz: ZoneInfo,
              actor: str, confirmed: bool = False,
              acknowledged: Collection[int] | None = None) -> AuditEntry | None:
    """Replaces the provider's weekly hours as one change; None when they are the same."""
    with transaction(session):
        provider = _provider(session, provider_id)
        old = week_of(provider)
        if week_fields(old) == week_fields(week):
            return None
        found = conflicts(session, provider, Proposal(hours=week), now=now, tz=tz)
        left = _gate(found, confirmed, acknowledged)
        # The old rows are deleted (delete-orphan) and the new ones inserted, in this one
        # transaction.
        provider.hours = [WorkingHours(weekday=day, starts=starts, ends=ends)
                          for day in sorted(week) for starts, ends in sorted(week[day])]
        return _audit(session, provider_id, "hours_changed", {"hours": summary(old)},
                      {"hours": summary(week)}, now=now, actor=actor, left_booked=left)


def add_time_off(session: Session, provider_id: int, request: TimeOffRequest, *, now: datetime,
                 tz: ZoneInfo, actor: str, confirmed: bool = False,
                 acknowledged: Collection[int] | None = None) -> TimeOff:
    with transaction(session):
        provider = _provider(session, provider_id)
        found = conflicts(session, provider,
                          Proposal(time_off=(request.starts_at, request.ends_at)), now=now, tz=tz)
        left = _gate(found, confirmed, acknowledged)
        row = TimeOff(provider_id=provider.id, starts_at=request.starts_at,
                      ends_at=request.ends_at, reason=request.reason)
        session.add(row)
        session.flush()
        _audit(session, provider_id, "time_off_added", {},
               {"time_off": _time_off_words(request.label, request.reason)},
               now=now, actor=actor, left_booked=left)
    return row


def remove_time_off(session: Session, provider_id: int, time_off_id: int, *, now: datetime,
                    tz: ZoneInfo, actor: str) -> AuditEntry | None:
    """Removes one entry (it only frees time, so nothing to confirm); None if already gone."""
    with transaction(session):
        _provider(session, provider_id)
        row = session.get(TimeOff, time_off_id)
        if row is None or row.provider_id != provider_id:
            return None
        label = describe_time_off(row.starts_at, row.ends_at, tz)
        session.delete(row)
        return _audit(session, provider_id, "time_off_removed",
                      {"time_off": _time_off_words(label, row.reason)}, {},
                      now=now, actor=actor)


def _time_off_words(label: str, reason: str) -> str:
    return f"{label} ({reason})" if reason else label


def set_active(session: Session, provider_id: int, active: bool, *, now: datetime, tz: ZoneInfo,
               actor: str, confirmed: bool = False,
               acknowledged: Collection[int] | None = None) -> AuditEntry | None:
    """Retires (active=False: no longer offered for booking) or restores a provider; None
    when it already was so. Retiring with visits to come needs confirming."""
    with transaction(session):
        provider = _provider(session, provider_id)
        if provider.active == active:
            return None
        left = []
        if not active:
            found = conflicts(session, provider, Proposal(active=False), now=now, tz=tz)
            left = _gate(found, confirmed, acknowledged)
        provider.active = active
        return _audit(session, provider_id, "restored" if active else "retired",
                      {"active": not active}, {"active": active}, now=now, actor=actor,
                      left_booked=left)


# --- Reading ----------------------------------------------------------------------------------


@dataclass
class Change:
    field: str
    label: str
    before: object
    after: object


@dataclass
class History:
    entry: AuditEntry
    who: str
    action: str
    changes: list[Change] = field(default_factory=list)


def history(session: Session, provider_id: int) -> list[History]:
    """The provider's audit trail, newest first, with who acted by name."""
    entries = list(session.scalars(
        select(AuditEntry).where(AuditEntry.subject == SUBJECT,
                                 AuditEntry.subject_id == provider_id)
        .order_by(AuditEntry.id.desc())))
    names = actor_names(session, {e.actor for e in entries})
    found = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        changes = [Change(key, FIELD_WORDS.get(key, key.replace("_", " ").capitalize()),
                          _words(key, before.get(key)), _words(key, after.get(key)))
                   for key in dict.fromkeys([*before, *after])]
        found.append(History(entry, names.get(entry.actor, entry.actor),
                             ACTION_WORDS.get(entry.action, entry.action), changes))
    return found


def _words(key: str, value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if key == "role":
        return ROLE_WORDS.get(value, str(value))
    if isinstance(value, list):
        return ", ".join(f"#{v}" for v in value)
    return str(value)


def time_off_list(session: Session, provider_id: int, *, since: datetime) -> list[TimeOff]:
    """Time off that ends after `since`, earliest first."""
    return list(session.scalars(
        select(TimeOff).where(TimeOff.provider_id == provider_id, TimeOff.ends_at > since)
        .order_by(TimeOff.starts_at, TimeOff.id)))


def all_providers(session: Session) -> list[Provider]:
    return list(session.scalars(
        select(Provider).order_by(Provider.active.desc(), Provider.name, Provider.id)))
