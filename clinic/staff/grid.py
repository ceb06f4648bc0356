"""The schedule as a time grid: rows on the clinic's slot grid, one column per provider (a day)
or per day (a provider's week). Framework-free: the views render what `day_grid` and
`week_grid` return.

Each visit is one cell spanning its rows, followed by its cleanup buffer; cells outside a
provider's working hours or inside their time off are closed. Cancelled visits hold no time
and are listed beside the grid instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..booking import warnings_for
from ..enums import CHANGEABLE, CHECKINS, FollowupStatus, MessageStatus, VisitStatus
from ..messaging.models import Followup, InboundMessage, Message
from ..models import Appointment, Provider, TimeOff, WorkingHours
from ..rules import Clinic
from ..timeutil import day_bounds_utc, local_datetime

DEFAULT_HOURS = (time(9), time(17))  #: the rows shown when nobody works that day


@dataclass(frozen=True)
class Flag:
    """A warning at a glance on a visit's block."""

    code: str
    label: str


@dataclass
class Block:
    visit: Appointment
    flags: list[Flag] = field(default_factory=list)
    is_next: bool = False


@dataclass
class Cell:
    kind: str  #: "visit", "buffer", "free" or "closed"
    span: int = 1
    block: Block | None = None
    minutes: int = 0  #: a buffer's length


@dataclass
class Column:
    label: str
    day: date
    provider: Provider
    cells: list[Cell | None] = field(default_factory=list)  #: None: under a cell above
    cancelled: list[Appointment] = field(default_factory=list)


@dataclass
class Grid:
    rows: list[time]
    columns: list[Column]
    step: timedelta
    now_row: int | None = None  #: the row holding the current time, on today's grid
    next: Block | None = None  #: the next visit to begin, among those shown
    today: date | None = None

    @property
    def visits(self) -> int:
        return sum(1 for c in self.columns for cell in c.cells if cell and cell.kind == "visit")


def day_grid(session: Session, providers: list[Provider], day: date, *, now: datetime,
             clinic: Clinic) -> Grid:
    """One clinic day, a column per provider in the order given."""
    return _grid(session, [(p, day, p.name) for p in providers], now=now, clinic=clinic)


def week_grid(session: Session, provider: Provider, monday: date, *, now: datetime,
              clinic: Clinic) -> Grid:
    """Monday to Sunday for one provider, a column per day."""
    days = [monday + timedelta(days=i) for i in range(7)]
    return _grid(session, [(provider, d, f"{d:%a} {d.day} {d:%b}") for d in days], now=now,
                 clinic=clinic)


def _grid(session: Session, specs: list[tuple[Provider, date, str]], *, now: datetime,
          clinic: Clinic) -> Grid:
    tz, step = clinic.tz, clinic.rules.grid
    visits = _visits(session, specs, tz)
    hours = _hours(session, {p.id for p, _, _ in specs})
    time_off = _time_off(session, specs, tz)
    first, last = _row_range(specs, visits, hours, tz)
    rows = _rows(first, last, step)
    flags = flags_for(session, [v for vs in visits.values() for v in vs], clinic)
    today = now.astimezone(tz).date()
    grid = Grid(rows=rows, columns=[], step=step, today=today)
    for provider, day, label in specs:
        column = Column(label=label, day=day, provider=provider)
        column.cells = _cells(rows, day, step, tz, hours.get(provider.id, {}),
                              time_off.get(provider.id, []))
        for visit in visits.get((provider.id, day), []):
            if visit.status == VisitStatus.CANCELLED:
                column.cancelled.append(visit)
            else:
                _place(column.cells, rows, visit, Block(visit, flags.get(visit.id, [])), tz, step)
        grid.columns.append(column)
    _mark_now(grid, now, tz)
    return grid


def _visits(session: Session, specs, tz) -> dict[tuple[int, date], list[Appointment]]:
    days = sorted({d for _, d, _ in specs})
    start, _ = day_bounds_utc(days[0], tz)
    _, end = day_bounds_utc(days[-1], tz)
    rows = session.scalars(select(Appointment).where(
        Appointment.provider_id.in_({p.id for p, _, _ in specs}),
        Appointment.start_at >= start, Appointment.start_at < end)
        .order_by(Appointment.start_at))
    found: dict[tuple[int, date], list[Appointment]] = {}
    for visit in rows:
        found.setdefault((visit.provider_id, visit.start_at.astimezone(tz).date()), []).append(
            visit)
    return found


def _hours(session: Session, provider_ids) -> dict[int, dict[int, list[tuple[time, time]]]]:
    hours: dict[int, dict[int, list[tuple[time, time]]]] = {}
    for row in session.scalars(select(WorkingHours).where(
            WorkingHours.provider_id.in_(provider_ids))):
        hours.setdefault(row.provider_id, {}).setdefault(row.weekday, []).append(
            (row.starts, row.ends))
    return hours


def _time_off(session: Session, specs, tz) -> dict[int, list[tuple[datetime, datetime]]]:
    days = sorted({d for _, d, _ in specs})
    start, _ = day_bounds_utc(days[0], tz)
    _, end = day_bounds_utc(days[-1], tz)
    off: dict[int, list[tuple[datetime, datetime]]] = {}
    for row in session.scalars(select(TimeOff).where(
            TimeOff.provider_id.in_({p.id for p, _, _ in specs}),
            TimeOff.starts_at < end, TimeOff.ends_at > start)):
        off.setdefault(row.provider_id, []).append((row.starts_at, row.ends_at))
    return off


def _row_range(specs, visits, hours, tz) -> tuple[time, time]:
    """From the earliest opening or visit to the latest closing or buffer's end, on the hour."""
    opens, closes = [], []
    for provider, day, _ in specs:
        for starts, ends in hours.get(provider.id, {}).get(day.weekday(), ()):
            opens.append(starts)
            closes.append(ends)
        for visit in visits.get((provider.id, day), []):
            opens.append(visit.start_at.astimezone(tz).time())
            busy_until = visit.busy_until.astimezone(tz)
            closes.append(time(23, 59) if busy_until.date() != day else busy_until.time())
    first, last = (min(opens), max(closes)) if opens else DEFAULT_HOURS
    last_hour = last.hour + (1 if (last.minute or last.second) else 0)
    if last_hour >= 24 or last_hour <= first.hour:
        return time(first.hour), time(23, 59)  # rows up to 23:45, the day's last
    return time(first.hour), time(last_hour)


def _rows(first: time, last: time, step: timedelta) -> list[time]:
    rows, at = [], datetime.combine(date.min, first)
    end = datetime.combine(date.min, last)
    while at < end:
        rows.append(at.time())
        at += step
    return rows


def _cells(rows, day, step, tz, week_hours, time_off) -> list[Cell | None]:
    stretches = week_hours.get(day.weekday(), ())
    cells: list[Cell | None] = []
    for wall in rows:
        at = local_datetime(day, wall, tz)
        works = at is not None and any(s <= wall < e for s, e in stretches) and not any(
            start <= at < end for start, end in time_off)
        cells.append(Cell("free" if works else "closed"))
    return cells


def _place(cells, rows, visit: Appointment, block: Block, tz, step) -> None:
    local = visit.start_at.astimezone(tz)
    minutes = (local.hour * 60 + local.minute) - (rows[0].hour * 60 + rows[0].minute)
    row = max(0, minutes // int(step.total_seconds() // 60))
    if row >= len(rows) or cells[row] is None:
        return  # out of the rows shown, or under another cell: listed nowhere twice
    span = _span(visit.end_at - visit.start_at, step)
    span = _fit(cells, row, span)
    cells[row] = Cell("visit", span=span, block=block)
    for below in range(row + 1, row + span):
        cells[below] = None
    buffer_at, buffer = row + span, _span(visit.busy_until - visit.end_at, step)
    if buffer and buffer_at < len(cells) and cells[buffer_at] is not None:
        buffer = _fit(cells, buffer_at, buffer)
        cells[buffer_at] = Cell("buffer", span=buffer,
                                minutes=int((visit.busy_until - visit.end_at).total_seconds()
                                            // 60))
        for below in range(buffer_at + 1, buffer_at + buffer):
            cells[below] = None


def _span(length: timedelta, step: timedelta) -> int:
    return -(-length // step)  # whole rows, rounded up


def _fit(cells, row: int, span: int) -> int:
    """The span shortened so it stops before the rows' end or a cell already placed."""
    for offset in range(1, span):
        at = row + offset
        if at >= len(cells) or cells[at] is None or cells[at].kind in ("visit", "buffer"):
            return offset
    return span


def _mark_now(grid: Grid, now: datetime, tz) -> None:
    local = now.astimezone(tz)
    blocks = [cell.block for column in grid.columns for cell in column.cells
              if cell and cell.kind == "visit"]
    upcoming = [b for b in blocks if b.visit.status in CHANGEABLE and b.visit.start_at >= now]
    if upcoming:
        grid.next = min(upcoming, key=lambda b: b.visit.start_at)
        grid.next.is_next = True
    if not any(column.day == local.date() for column in grid.columns):
        return
    wall = datetime.combine(date.min, local.time())
    for index, row in enumerate(grid.rows):
        begins = datetime.combine(date.min, row)
        if begins <= wall < begins + grid.step:
            grid.now_row = index
            return


def flags_for(session: Session, visits: list[Appointment], clinic: Clinic) -> dict[int, list[Flag]]:
    """Each visit's warnings: topicals paused, an event soon after, a late change, the
    client's open follow-up or unanswered check-in, texts that cannot reach them."""
    clients = {v.client_id for v in visits}
    followups = flagged_clients(session, clients)
    unanswered = unanswered_checkins(session, clients)
    found: dict[int, list[Flag]] = {}
    for visit in visits:
        flags = []
        if (visit.intake or {}).get("uses_prescription_topicals"):
            flags.append(Flag("topicals", "Pausing topicals"))
        if any(w["code"] == "event_soon" for w in warnings_for(visit, clinic)):
            flags.append(Flag("event_soon", "Event soon"))
        if visit.late_change:
            flags.append(Flag("late_change", "Late change"))
        if visit.client_id in followups:
            flags.append(Flag("followup", "Open follow-up"))
        elif visit.client_id in unanswered:
            flags.append(Flag("checkin", "Check-in unanswered"))
        if visit.client.opted_out_at or visit.client.undeliverable_at:
            flags.append(Flag("no_texts", "No texts"))
        found[visit.id] = flags
    return found


def flagged_clients(session: Session, client_ids) -> set[int]:
    """Clients with an open item in the inbox."""
    if not client_ids:
        return set()
    return set(session.scalars(select(Followup.client_id).where(
        Followup.client_id.in_(client_ids), Followup.status == FollowupStatus.OPEN)))


def unanswered_checkins(session: Session, client_ids) -> set[int]:
    """Clients whose latest check-in text has had no text back since."""
    if not client_ids:
        return set()
    asked = dict(session.execute(
        select(Message.client_id, func.max(Message.sent_at))
        .where(Message.client_id.in_(client_ids), Message.kind.in_(CHECKINS),
               Message.status.in_((MessageStatus.SENT, MessageStatus.DELIVERED)))
        .group_by(Message.client_id)).all())
    answered = dict(session.execute(
        select(InboundMessage.client_id, func.max(InboundMessage.received_at))
        .where(InboundMessage.client_id.in_(asked)).group_by(InboundMessage.client_id)).all())
    return {client for client, at in asked.items()
            if at is not None and (answered.get(client) is None or answered[client] < at)}
