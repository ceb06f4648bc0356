"""The message plan (README, "Texts"): which texts a visit gets, and when.

`pre_visit` and `after_visit` are pure; the `plan_*` functions add the rows to the session in
the caller's transaction, so a booking and its messages commit or fail together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..enums import WRITTEN, MessageKind, MessageStatus
from ..models import Appointment
from ..rules import Clinic
from ..timeutil import local_datetime
from .models import Message


@dataclass(frozen=True)
class Planned:
    kind: str
    due: datetime
    not_after: datetime | None = None  #: pre-visit texts are useless once the visit starts
    skipped: str | None = None  #: why it will not be sent, when known at planning


def pre_visit(*, start: datetime, now: datetime, uses_topicals: bool, pause_days: int,
              clinic: Clinic) -> list[Planned]:
    rules, tz = clinic.rules, clinic.tz
    start, now = start.astimezone(UTC), now.astimezone(UTC)  # hours are elapsed hours
    plan = [Planned(MessageKind.CONFIRMATION, now, start)]  # IMMEDIATE: no quiet hours
    if uses_topicals:
        day = pause_day(start, pause_days, tz)
        moment = max(at_local(day, rules.send_at, tz), now)
        plan.append(_before_start(MessageKind.PRE_VISIT_PAUSE, moment, start, clinic))
    if start - now > rules.reminder_before:
        plan.append(_before_start(MessageKind.REMINDER, start - rules.reminder_before, start,
                                  clinic))
    return plan


def pause_day(start: datetime, pause_days: int, tz: ZoneInfo) -> date:
    """The clinic day from which a client pauses prescription topicals before a visit."""
    return start.astimezone(tz).date() - timedelta(days=pause_days)


def pause_from(appt: Appointment, tz: ZoneInfo) -> date | None:
    """When this visit's client should pause their topicals; None if they use none."""
    if not (appt.intake or {}).get("uses_prescription_topicals"):
        return None
    return pause_day(appt.start_at, appt.service.pause_topicals_days, tz)


def after_visit(*, end: datetime, now: datetime, purging_checkin: bool, includes_extraction: bool,
                clinic: Clinic) -> list[Planned]:
    rules, tz = clinic.rules, clinic.tz
    end, now = end.astimezone(UTC), now.astimezone(UTC)  # hours are elapsed hours
    plan = [Planned(MessageKind.AFTERCARE, quiet(now, clinic)),
            Planned(MessageKind.REDNESS_CHECKIN, quiet(end + rules.redness_after, clinic))]
    if purging_checkin:
        plan.append(Planned(MessageKind.PURGING_CHECKIN, quiet(end + rules.purging_after, clinic)))
    if includes_extraction:
        day = end.astimezone(tz).date() + timedelta(days=rules.rebook_after_days)
        plan.append(Planned(MessageKind.REBOOK, at_local(day, rules.send_at, tz)))
    return plan


def quiet(moment: datetime, clinic: Clinic) -> datetime:
    """The moment, or the end of quiet hours (09:00 clinic time) when it falls inside them.

    Quiet hours usually cross midnight (20:00 to 09:00); an admin may also set hours within
    one day (01:00 to 07:00)."""
    rules = clinic.rules
    local = moment.astimezone(clinic.tz)
    now, start, end = local.time(), rules.quiet_from, rules.quiet_until
    if not in_quiet_hours(now, start, end):
        return moment
    day = local.date() + timedelta(days=1) if start > end and now >= start else local.date()
    return at_local(day, end, clinic.tz)


def in_quiet_hours(wall: time, start: time, end: time) -> bool:
    """Whether a clinic wall-clock time falls in quiet hours from `start` until `end`."""
    return (wall >= start or wall < end) if start > end else start <= wall < end


def at_local(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time in the clinic; a time the clocks skip moves on by an hour."""
    moment = local_datetime(day, wall, tz)
    if moment is None:
        moment = local_datetime(day, time(wall.hour + 1, wall.minute), tz)
    return moment


def _before_start(kind: str, moment: datetime, start: datetime, clinic: Clinic) -> Planned:
    due = quiet(moment, clinic)
    if due >= start:
        return Planned(kind, due, start, skipped="quiet hours would push it past the visit")
    return Planned(kind, due, start)


def plan_booking(session: Session, appt: Appointment, *, now: datetime, clinic: Clinic) -> None:
    service, intake = appt.service, appt.intake or {}
    _add(session, appt, now, pre_visit(
        start=appt.start_at, now=now, uses_topicals=bool(intake.get("uses_prescription_topicals")),
        pause_days=service.pause_topicals_days, clinic=clinic))


def replan_moved(session: Session, appt: Appointment, *, now: datetime, clinic: Clinic) -> None:
    """A moved visit: its unsent texts are cancelled and the pre-visit plan starts again."""
    cancel_unsent(session, appt, now=now, note="visit moved")
    plan_booking(session, appt, now=now, clinic=clinic)


def plan_completion(session: Session, appt: Appointment, *, now: datetime,
                    clinic: Clinic) -> None:
    cancel_unsent(session, appt, now=now, note="visit completed")
    service = appt.service
    _add(session, appt, now, after_visit(
        end=appt.end_at, now=now, purging_checkin=service.purging_checkin,
        includes_extraction=service.includes_extraction, clinic=clinic))


def plan_cancellation(session: Session, appt: Appointment, *, now: datetime,
                      clinic: Clinic) -> None:
    """A cancelled visit: its unsent texts are cancelled and the client is told, though not
    in quiet hours and never once the visit's time has come (an opt-out is honoured when it
    is sent)."""
    cancel_unsent(session, appt, now=now, note="visit cancelled")
    start = appt.start_at
    if now >= start:
        text = Planned(MessageKind.CANCELLATION, now, start, skipped="the visit had started")
    else:
        text = _before_start(MessageKind.CANCELLATION, now, start, clinic)
    _add(session, appt, now, [text])


def cancel_unsent(session: Session, appt: Appointment, *, now: datetime, note: str) -> int:
    """Cancels the visit's planned texts; staff replies are answers to the client's words,
    not about the visit's time, and still go out."""
    result = session.execute(
        update(Message)
        .where(Message.appointment_id == appt.id, Message.status == MessageStatus.SCHEDULED,
               Message.kind.not_in(WRITTEN))
        .values(status=MessageStatus.CANCELLED, note=note, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _add(session: Session, appt: Appointment, now: datetime, plan: list[Planned]) -> None:
    for item in plan:
        session.add(Message(
            appointment=appt, client=appt.client, kind=item.kind, due_at=item.due,
            not_after=item.not_after,
            status=MessageStatus.SKIPPED if item.skipped else MessageStatus.SCHEDULED,
            note=item.skipped, created_at=now, updated_at=now))
