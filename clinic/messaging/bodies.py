"""Message bodies from the editable templates under templates/sms/, one per kind.

Bodies carry the clinic's name, a time and a link; never a client's or provider's name, an
intake answer, a medication or a diagnosis: those live behind the link.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from flask import render_template

from ..enums import WRITTEN, MessageKind, VisitEvent
from ..links import booking_url, manage_url
from ..timeutil import clock_time
from .models import Message
from .plan import pause_from

MAX_LENGTH = 320  #: two SMS segments; tests hold every template to it


def render(message: Message) -> str:
    """The body for a message, rendered in the current app context."""
    from .. import clock

    if message.kind in WRITTEN:  # a person's words, checked when they were written
        return message.body or ""
    clinic = clock.clinic()
    appt = message.appointment
    start = appt.start_at.astimezone(clinic.tz)
    soonest, latest = clinic.rules.rebook_window_days
    window_from = start + timedelta(days=soonest)
    window_to = start + timedelta(days=latest)
    pause = pause_from(appt, clinic.tz)
    fields = dict(
        clinic_name=clinic.name,
        address=clinic.address,
        clinic_phone=clinic.phone,
        weeks_since=since(clinic.rules.rebook_after_days),
        service_name=appt.service.name.lower(),
        when=f"{start:%a} {start.day} {start:%b} at {clock_time(start)}",
        link=manage_url(appt.manage_token),
        book_link=booking_url(appt.service.slug,
                              via="rebook" if message.kind == MessageKind.REBOOK else None),
        window_from=short_day(window_from),
        window_to=short_day(window_to),
        pause_from=short_day(pause) if pause else None,
        moved=any(e.action == VisitEvent.RESCHEDULED for e in appt.events),
    )
    text = fit(render_template(f"sms/{message.kind}.txt", **fields))
    if len(text) > MAX_LENGTH and fields["address"]:  # the address only where it fits
        text = fit(render_template(f"sms/{message.kind}.txt", **{**fields, "address": ""}))
    return text


def short_day(day: date | datetime) -> str:
    """'Mon 15 Mar'."""
    return f"{day:%a} {day.day} {day:%b}"


def since(days: int) -> str:
    """'2 weeks', '10 days'."""
    if days % 7 == 0:
        weeks = days // 7
        return f"{weeks} week{'s' if weeks != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"


def fit(text: str) -> str:
    """One line: template line breaks are for editing, not for the client's phone."""
    return re.sub(r"\s+", " ", text).strip()
