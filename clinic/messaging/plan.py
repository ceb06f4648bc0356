"""The message plan of SPEC section 2: which texts a visit gets, and when.

`pre_visit` and `after_visit` are pure; the `plan_*` functions add the rows to the session in
the caller's transaction, so a booking and its messages commit or fail together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..enums import MessageKind, MessageStatus
from ..models import Appointment
from ..timeutil import local_datetime
from .models import Message

QUIET_FROM, QUIET_UNTIL = time(20), time(9)
SEND_AT = time(10)  #: pre-visit pause and rebook go out at 10:00 clinic time
REMINDER_BEFORE = timedelta(hours=24)
REDNESS_AFTER, PURGING_AFTER = timedelta(hours=24), timedelta(hours=48)
REBOOK_AFTER_DAYS = 14
#: Texts that answer the client's own action at once, whatever the hour.


@dataclass(frozen=True)
class Planned:
    kind: str
    due: datetime
    not_after: datetime | None = None  #: pre-visit texts are useless once the visit starts
    skipped: str | None = None  #: why it will not be sent, when known at planning


def pre_visit(*, start: datetime, now: datetime, uses_topicals: bool, pause_days: int,
              tz: ZoneInfo) -> list[Planned]:
    start, now = start.astimezone(UTC), now.astimezone(UTC)  # hours are elapsed hours
    plan = [Planned(MessageKind.CONFIRMATION, now, start)]  # IMMEDIATE: no quiet hours
    if uses_topicals:
        moment = max(at_local(start.astimezone(tz).date() - timedelta(days=pause_days), SEND_AT,
                              tz), now)
        plan.append(_before_start(MessageKind.PRE_VISIT_PAUSE, moment, start, tz))
    if start - now > REMINDER_BEFORE:
        plan.append(_before_start(MessageKind.REMINDER, start - REMINDER_BEFORE, start, tz))
    return plan


def after_visit(*, end: datetime, now: datetime, purging_checkin: bool, includes_extraction: bool,
                tz: ZoneInfo) -> list[Planned]:
    end, now = end.astimezone(UTC), now.astimezone(UTC)  # hours are elapsed hours
    plan = [Planned(MessageKind.AFTERCARE, quiet(now, tz)),
            Planned(MessageKind.REDNESS_CHECKIN, quiet(end + REDNESS_AFTER, tz))]
    if purging_checkin:
        plan.append(Planned(MessageKind.PURGING_CHECKIN, quiet(end + PURGING_AFTER, tz)))
    if includes_extraction:
        day = end.astimezone(tz).date() + timedelta(days=REBOOK_AFTER_DAYS)
        plan.append(Planned(MessageKind.REBOOK, at_local(day, SEND_AT, tz)))
    return plan


def quiet(moment: datetime, tz: ZoneInfo) -> datetime:
    """The moment, or the next 09:00 clinic time when it falls between 20:00 and 09:00."""
    local = moment.astimezone(tz)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return moment
    day = local.date() + timedelta(days=1) if local.time() >= QUIET_FROM else local.date()
    return at_local(day, QUIET_UNTIL, tz)


def at_local(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time in the clinic; a time the clocks skip moves on by an hour."""
    moment = local_datetime(day, wall, tz)
    if moment is None:
        moment = local_datetime(day, time(wall.hour + 1, wall.minute), tz)
    return moment


def _before_start(kind: str, moment: datetime, start: datetime, tz: ZoneInfo) -> Planned:
    due = quiet(moment, tz)
    if due >= start:
        return Planned(kind, due, start, skipped="quiet hours would push it past the visit")
    return Planned(kind, due, start)


def plan_booking(session: Session, appt: Appointment, *, now: datetime, tz: ZoneInfo) -> None:
    service, intake = appt.service, appt.intake or {}
    _add(session, appt, now, pre_visit(
        start=appt.start_at, now=now, uses_topicals=bool(intake.get("uses_prescription_topicals")),
        pause_days=service.pause_topicals_days, tz=tz))


def replan_moved(session: Session, appt: Appointment, *, now: datetime, tz: ZoneInfo) -> None:
    """A moved visit: its unsent texts are cancelled and the pre-visit plan starts again."""
    cancel_unsent(session, appt, now=now, note="visit moved")
    plan_booking(session, appt, now=now, tz=tz)


def plan_completion(session: Session, appt: Appointment, *, now: datetime, tz: ZoneInfo) -> None:
    cancel_unsent(session, appt, now=now, note="visit completed")
    service = appt.service
    _add(session, appt, now, after_visit(
        end=appt.end_at, now=now, purging_checkin=service.purging_checkin,
        includes_extraction=service.includes_extraction, tz=tz))


def cancel_unsent(session: Session, appt: Appointment, *, now: datetime, note: str) -> int:
    result = session.execute(
        update(Message)
        .where(Message.appointment_id == appt.id, Message.status == MessageStatus.SCHEDULED)
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
