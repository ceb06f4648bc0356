"""The clinic's rules as admins edit them (README, "The clinic's rules": changing them).

One `clinic_settings` row holds only the values that differ from `DEFAULT_RULES`. `load(session)`
turns it into `ClinicRules`; `rules.current()` calls it once per request or job, so a change
takes effect at the very next one, in web workers and dispatchers alike, with no restart.
Changing a rule never rewrites history: texts already planned keep their time and visits
already booked stay booked. Every change is kept in the audit trail (who, when, before, after).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .messaging.plan import in_quiet_hours
from .models import AuditEntry, ClinicSettings, Service
from .rules import DEFAULT_RULES, ClinicRules
from .tx import transaction

ROW_ID = 1


@dataclass(frozen=True)
class Setting:
    """One editable rule: how it is typed, stored and bounded."""

    name: str  #: a ClinicRules field; a window's ends are "<field>.0" and "<field>.1"
    label: str
    unit: str  #: "minutes", "hours", "days", "seconds", "times" or "clock" (HH:MM)
    least: int = 0
    most: int = 10_000
    group: str = "Booking"
    hint: str = ""


SETTINGS = (
    Setting("grid", "Start times every", "minutes", 5, 60,
            hint="Visits start on this grid, in clinic time (5, 10, 15, 20, 30 or 60)."),
    Setting("lead_time", "Earliest start from now", "hours", 0, 168),
    Setting("horizon", "Latest start from now", "days", 1, 365),
    Setting("extraction_gap_days", "Days between two extraction visits", "days", 1, 90,
            hint="The once-or-twice-a-month cadence."),
    Setting("event_soon_days", "Warn when an event is within", "days", 0, 30),
    Setting("late_change", "A cancel or move is late within", "hours", 0, 168),
    Setting("bookings_per_phone_per_day", "Online bookings a phone may make a day", "times",
            1, 50),
    Setting("auto_complete_after", "Complete an unclosed visit after its end", "hours", 1, 48),
    Setting("quiet_from", "Quiet hours from", "clock", group="Texts",
            hint="Nothing but a confirmation or a staff reply goes out in quiet hours."),
    Setting("quiet_until", "Quiet hours until", "clock", group="Texts"),
    Setting("send_at", "Pause and rebook texts go out at", "clock", group="Texts"),
    Setting("reminder_before", "Reminder before the visit", "hours", 1, 168, group="Texts"),
    Setting("redness_after", "Redness check-in after the visit's end", "hours", 1, 168,
            group="Texts"),
    Setting("purging_after", "Purging check-in after the visit's end", "hours", 1, 336,
            group="Texts"),
    Setting("rebook_after_days", "Rebook text after the visit", "days", 1, 120, group="Texts"),
    Setting("rebook_window_days.0", "Rebook window opens after the visit", "days", 1, 120,
            group="Texts"),
    Setting("rebook_window_days.1", "Rebook window closes after the visit", "days", 1, 180,
            group="Texts"),
    Setting("reply_window", "A 1 or 2 answers a check-in sent within", "days", 1, 14,
            group="Texts"),
    Setting("max_attempts", "Tries before a text fails", "times", 1, 10, group="Texts"),
    Setting("retry_after", "First retry after", "seconds", 5, 3600, group="Texts"),
    Setting("retry_at_most", "Retries at most every", "minutes", 1, 1440, group="Texts"),
)
BY_NAME = {s.name: s for s in SETTINGS}
GRIDS = (5, 10, 15, 20, 30, 60)
SPANS: dict[str, Callable[[int], timedelta]] = {
    "minutes": lambda n: timedelta(minutes=n), "hours": lambda n: timedelta(hours=n),
    "seconds": lambda n: timedelta(seconds=n),
}


class SettingsError(ValueError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("The rules were not changed.")
        self.fields = fields


# --- Reading ----------------------------------------------------------------------------------


def load(session: Session) -> ClinicRules:
    """The rules in force: the defaults with the clinic's own values over them."""
    row = session.get(ClinicSettings, ROW_ID)
    return apply(DEFAULT_RULES, row.rules if row else {})


def apply(base: ClinicRules, stored: Mapping[str, object]) -> ClinicRules:
    """`base` with the stored values (a name that is no longer a rule is ignored)."""
    values = {}
    for name, value in stored.items():
        field, _, end = name.partition(".")
        if name not in BY_NAME:
            continue
        if end:
            window = list(values.get(field, getattr(base, field)))
            window[int(end)] = int(value)
            values[field] = tuple(window)
        else:
            values[field] = _from_stored(BY_NAME[name], getattr(base, field), value)
    return replace(base, **values)


def typed(rules: ClinicRules) -> dict[str, str]:
    """Each setting as the form shows it."""
    return {s.name: _show(s, _value(rules, s.name)) for s in SETTINGS}


# --- Changing ---------------------------------------------------------------------------------


def save(session: Session, form: Mapping[str, str], *, now: datetime, actor: str) -> list[str]:
    """Checks every typed value and the rules together, then stores what differs from the
    defaults and audits what changed. Returns the labels of the settings changed."""
    wanted = _read(form)
    rules = apply(DEFAULT_RULES, wanted)
    _check_together(rules)
    _check_services_fit(session, rules)
    with transaction(session):
        row = session.get(ClinicSettings, ROW_ID)
        if row is None:
            row = ClinicSettings(id=ROW_ID, rules={})
            session.add(row)
        before = typed(apply(DEFAULT_RULES, row.rules or {}))
        after = typed(rules)
        changed = [name for name in after if after[name] != before[name]]
        if not changed:
            return []
        row.rules = {name: value for name, value in wanted.items()
                     if wanted[name] != _stored(BY_NAME[name], _value(DEFAULT_RULES, name))}
        row.updated_at, row.updated_by = now, actor
        session.add(AuditEntry(at=now, actor=actor, subject="settings", subject_id=ROW_ID,
                               action="edited", before={n: before[n] for n in changed},
                               after={n: after[n] for n in changed}))
    return [BY_NAME[name].label for name in changed]


def history(session: Session, limit: int = 50) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.subject == "settings")
                                .order_by(AuditEntry.id.desc()).limit(limit)))


def _read(form: Mapping[str, str]) -> dict[str, object]:
    """Every setting from the form, stored form; SettingsError names each bad one."""
    values, errors = {}, {}
    for setting in SETTINGS:
        text = (form.get(setting.name) or "").strip()
        try:
            values[setting.name] = _parse(setting, text)
        except ValueError as exc:
            errors[setting.name] = str(exc)
    if errors:
        raise SettingsError(errors)
    return values


def _parse(setting: Setting, text: str) -> object:
    if not text:
        raise ValueError("Required.")
    if setting.unit == "clock":
        try:
            moment = time.fromisoformat(text)
        except ValueError:
            raise ValueError("A time like 09:00 or 20:30.") from None
        if moment.second or moment.microsecond or moment.minute % 5:
            raise ValueError("A time on the 5 minutes, like 09:00 or 20:30.")
        return moment.strftime("%H:%M")
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise ValueError(f"A whole number of {setting.unit}.")
    number = int(text)
    if not setting.least <= number <= setting.most:
        raise ValueError(f"From {setting.least} to {setting.most} {setting.unit}.")
    if setting.name == "grid" and number not in GRIDS:
        raise ValueError("One of " + ", ".join(map(str, GRIDS)) + " minutes.")
    return number


def _check_together(rules: ClinicRules) -> None:
    """Rules that only make sense together: each broken one named on its field."""
    errors = {}
    if rules.quiet_from == rules.quiet_until:
        errors["quiet_until"] = "Quiet hours must end at another time than they start."
    elif in_quiet_hours(rules.send_at, rules.quiet_from, rules.quiet_until):
        errors["send_at"] = "This falls in the quiet hours, when these texts cannot go out."
    if rules.lead_time >= rules.horizon:
        errors["horizon"] = "The latest start must be after the earliest start."
    opens, closes = rules.rebook_window_days
    if opens >= closes:
        errors["rebook_window_days.1"] = "The window must close after it opens."
    if opens < rules.extraction_gap_days:
        errors["rebook_window_days.0"] = (
            f"The window cannot open before the extraction gap allows another visit "
            f"({rules.extraction_gap_days} days).")
    if not opens - 14 <= rules.rebook_after_days <= closes:
        errors["rebook_after_days"] = "Send it at most two weeks before the window opens, " \
                                      "and before it closes."
    if rules.retry_after > rules.retry_at_most:
        errors["retry_at_most"] = "At least as long as the first retry."
    if errors:
        raise SettingsError(errors)


def _check_services_fit(session: Session, rules: ClinicRules) -> None:
    """Every offered service's length must fill whole steps of the grid, or it could not be
    edited, or booked back to back."""
    step = int(rules.grid.total_seconds() // 60)
    misfits = [f"{s.name} ({s.duration_minutes} min)" for s in session.scalars(
        select(Service).where(Service.active)) if s.duration_minutes % step]
    if misfits:
        raise SettingsError({"grid": f"Services must last whole steps of the grid; these "
                                     f"don't: {', '.join(misfits)}. Change them first."})


def _value(rules: ClinicRules, name: str) -> object:
    field, _, end = name.partition(".")
    value = getattr(rules, field)
    return value[int(end)] if end else value


def _stored(setting: Setting, value: object) -> object:
    """A rule's value as the settings row keeps it: whole units, or HH:MM."""
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, timedelta):
        if setting.unit == "days":
            return value.days
        return int(value / SPANS[setting.unit](1))
    return int(value)


def _from_stored(setting: Setting, default: object, value: object) -> object:
    if isinstance(default, time):
        return time.fromisoformat(str(value))
    if isinstance(default, timedelta):
        if setting.unit == "days":
            return timedelta(days=int(value))
        return SPANS[setting.unit](int(value))
    return int(value)


def _show(setting: Setting, value: object) -> str:
    return str(_stored(setting, value))
