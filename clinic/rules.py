"""The clinic's rules: every number the clinic could want to change, and the clinic itself.

`ClinicRules` holds the numbers (README, "The clinic's rules" and "Texts"); `Clinic` is what
domain code is handed: the clinic's time zone with its rules. Domain functions receive a
`Clinic`; nothing else keeps a copy of a number. `current()` builds it once per request or
job (app context), from the defaults and the clinic's own values (settings.py), so an admin's
change applies from the next request or job on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from zoneinfo import ZoneInfo

DERMATOLOGIST_CONCERNS = frozenset({"pustules", "cysts", "milia", "infection_signs"})
#: Intake concerns and how the client sees them.
CONCERN_LABELS = {
    "blackheads": "Blackheads",
    "whiteheads": "Whiteheads",
    "clogged_pores": "Clogged pores",
    "pustules": "Pustules (red bumps with pus)",
    "cysts": "Deep, painful cysts",
    "milia": "Milia (small hard white bumps)",
    "infection_signs": "Painful, warm or growing spots",
    "other": "Something else",
}
CONCERNS = tuple(CONCERN_LABELS)


def a_role(role: str) -> str:
    """'an aesthetician', 'a dermatologist'."""
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


@dataclass(frozen=True)
class ClinicRules:
    # Booking
    grid: timedelta = timedelta(minutes=15)  #: start times fall on this grid, clinic time
    lead_time: timedelta = timedelta(hours=2)  #: the earliest start, from now
    horizon: timedelta = timedelta(days=60)  #: the latest start, from now
    max_range_days: int = 62  #: the longest availability query
    extraction_gap_days: int = 14  #: clinic calendar days between two extraction visits
    event_soon_days: int = 3  #: an event this close after the visit gets a warning
    late_change: timedelta = timedelta(hours=24)  #: a cancel or move closer is "late"
    alternatives: int = 3  #: free times offered when the one asked for is taken
    bookings_per_phone_per_day: int = 5
    auto_complete_after: timedelta = timedelta(hours=2)  #: after the end, if nobody closed it
    # Texts
    quiet_from: time = time(20)  #: nothing but a confirmation goes out from ...
    quiet_until: time = time(9)  #: ... until this clinic time
    send_at: time = time(10)  #: the pre-visit pause and the rebook text go out at this time
    reminder_before: timedelta = timedelta(hours=24)
    redness_after: timedelta = timedelta(hours=24)  #: after the visit's end
    purging_after: timedelta = timedelta(hours=48)  #: after the visit's end
    rebook_after_days: int = 14  #: the rebook text, in clinic days after the visit
    rebook_window_days: tuple[int, int] = (14, 30)  #: the window the rebook text suggests
    reply_window: timedelta = timedelta(days=3)  #: a "1" or "2" answers a check-in this recent
    max_attempts: int = 5  #: sends of one text before it fails
    retry_after: timedelta = timedelta(seconds=30)  #: doubling each attempt, half of it random
    retry_at_most: timedelta = timedelta(minutes=30)


DEFAULT_RULES = ClinicRules()


@dataclass(frozen=True)
class Clinic:
    """The clinic as domain code sees it: where its clock is, its rules, how it signs texts."""

    tz: ZoneInfo
    rules: ClinicRules = field(default_factory=lambda: DEFAULT_RULES)
    name: str = "the clinic"
    phone: str = ""
    address: str = ""
    policy: str = ""  #: the cancellation policy as the clinic words it, if it does


def cancellation_policy(clinic: Clinic) -> str:
    """The policy in the clinic's words, or stated from its late-change rule."""
    if clinic.policy:
        return clinic.policy
    hours = int(clinic.rules.late_change.total_seconds() // 3600)
    return (f"Change or cancel online for free until {hours} hours before your visit. "
            f"A change closer to the visit is recorded as a late change.")


def current() -> Clinic:
    """The clinic for this request or job: built once per app context."""
    from flask import current_app, g

    if "clinic" not in g:
        from . import schedule_version

        config = current_app.config
        # The settings row raises the catalogue's number: the rules read for a number hold
        # until it changes.
        rules = schedule_version.cache("rules").get("rules", schedule_version.catalogue(),
                                                    load_rules,
                                                    keep=schedule_version.keepable())
        g.clinic = Clinic(tz=ZoneInfo(config["CLINIC_TIMEZONE"]), rules=rules,
                          name=config["CLINIC_NAME"], phone=config["CLINIC_PHONE"],
                          address=config["CLINIC_ADDRESS"],
                          policy=config.get("CLINIC_CANCELLATION_POLICY", ""))
    return g.clinic


def load_rules() -> ClinicRules:
    """The rules in force: the defaults with the values the clinic's admins set (settings.py)."""
    from .extensions import db
    from .settings import load

    return load(db.session)
