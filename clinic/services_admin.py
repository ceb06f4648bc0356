"""The clinic's services as admins keep them: create, edit, retire and restore, with an audit
trail.

Framework-free: views hand in a session, what was typed (a mapping of form field -> text),
`now`, the actor ("staff:<id>") and the clinic's slot grid, and render what comes back.

- Every field is checked, and every bad one gets its own message (`ServiceError.fields`);
  nothing is written unless all hold.
- The slug is made from the name when the service is created and never changes: booking links
  (`/book/<slug>`) and API clients use it.
- A service is never deleted. Retiring it sets `active` false: the booking pages, the API's
  catalogue and booking itself only offer active services; visits already booked stay booked.
- Each change writes an `AuditEntry` (subject "service") in the same transaction, holding the
  fields that changed only: what they were (`before`) and what they became (`after`).
- An edit form carries `seen`, a fingerprint of the service as the page showed it; an edit
  from a form drawn before someone else's change is refused (`StaleEdit`).
- A visit keeps the price it was booked at (`Appointment.price_cents`): a new price applies to
  new bookings only.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .auth import actor_names
from .enums import HOLDING, ProviderRole
from .models import Appointment, AuditEntry, Service
from .rules import DEFAULT_RULES
from .tx import transaction
from .validation import Refused, name_problem, printable

SUBJECT = "service"
NAME_MAX = 120
SLUG_MAX = 40  #: the column's length
TEXT_MAX = 2000
PRICE_BELOW_CENTS = 1_000_000  #: $10,000: a price must be below this
DURATION_MIN, DURATION_MAX = 15, 480
BUFFER_MAX, BUFFER_STEP = 120, 5
PAUSE_MAX_DAYS = 30
SHOWN_MAX = 300  #: a long text quoted after a stale edit is cut here
#: The advisory lock (PostgreSQL) that serialises slug choices; SQLite serialises every write.
SLUG_LOCK = "service-slugs"

TEXT_FIELDS = ("description", "preparation", "what_to_expect", "aftercare")
FLAGS = ("includes_extraction", "purging_checkin")
#: The form's fields, in the order the form shows them (`price` is typed in dollars).
FORM_FIELDS = ("name", "price", "duration_minutes", "buffer_minutes", "provider_role",
               "includes_extraction", "purging_checkin", "pause_topicals_days", *TEXT_FIELDS)
#: The stored columns an admin edits; `slug` is set once, `active` by retire and restore.
COLUMNS = ("name", "price_cents", "duration_minutes", "buffer_minutes", "provider_role",
           "includes_extraction", "purging_checkin", "pause_topicals_days", *TEXT_FIELDS)
#: A stored column -> the form field it is typed into.
FORM_FIELD_OF = {**{c: c for c in COLUMNS}, "price_cents": "price"}
#: What each column is called on the page (and in the audit trail).
LABELS = {
    "slug": "Booking link name",
    "name": "Name",
    "price_cents": "Price",
    "currency": "Currency",
    "duration_minutes": "Duration",
    "buffer_minutes": "Cleanup after",
    "provider_role": "Given by",
    "includes_extraction": "Includes extraction",
    "purging_checkin": "Purging check-in",
    "pause_topicals_days": "Pause topicals",
    "description": "Description",
    "preparation": "How to prepare",
    "what_to_expect": "What to expect",
    "aftercare": "Aftercare",
    "active": "Offered",
}
ACTION_WORDS = {"created": "Created", "edited": "Edited", "retired": "Retired",
                "restored": "Restored"}
ROLE_WORDS = {ProviderRole.AESTHETICIAN: "Aesthetician",
              ProviderRole.DERMATOLOGIST: "Dermatologist"}
#: Defaults for fields a new service's form left out (the form itself sends every field).
NEW_DEFAULTS = {"buffer_minutes": "15", "pause_topicals_days": "3",
                **{name: "" for name in TEXT_FIELDS}, **{name: "" for name in FLAGS}}

PROBLEM = "The service was not saved: check the fields marked."
STALE = ("Someone changed this service after you opened this page, so your changes were not "
         "saved. The fields where what you typed differs from what is saved now are marked; "
         "check them and save again if yours should stand.")
NOTHING_CHANGED = "Nothing changed: the service already had these details."

PRICE = re.compile(r"\$?\s*(?P<dollars>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,9})"
                   r"(?:\.(?P<cents>[0-9]{1,2}))?")
WHOLE = re.compile(r"[0-9]{1,9}")
TRUE_WORDS = frozenset({"on", "true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"", "off", "false", "0", "no", "n"})


class ServiceError(Refused):
    """A change that was refused; `fields` maps a form field to what is wrong with it."""


class StaleEdit(ServiceError):
    """The service changed since the form was drawn: nothing was written."""

    def __init__(self) -> None:
        super().__init__(STALE)


class UnknownService(LookupError):
    pass


# --- Reading what was typed -----------------------------------------------------------------


def clean_name(value: Any) -> str:
    name = " ".join(_text(value).split())
    if problem := name_problem(name, missing="Enter the service's name.", most=NAME_MAX):
        raise ValueError(problem)
    return name


def clean_long_text(value: Any) -> str:
    """Text shown to clients: up to TEXT_MAX characters, line breaks allowed (one paragraph
    per line), nothing else a database or a text message can't carry."""
    body = "\n".join(line.rstrip() for line in
                     _text(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip()
    if len(body) > TEXT_MAX:
        raise ValueError(f"At most {TEXT_MAX} characters; this is {len(body)}.")
    if not printable(body.replace("\n", "")):
        raise ValueError("Contains characters that can't be used here.")
    return body


def parse_price(value: Any) -> int:
    """Dollars as people type them ("80", "80.00", "$80.50", "1,200") -> cents."""
    typed = _text(value).strip()
    if not typed:
        raise ValueError("Enter the price in dollars, like 80 or 80.50.")
    match = PRICE.fullmatch(typed)
    if match is None:
        raise ValueError("Enter the price in dollars, like 80 or 80.50.")
    dollars, cents = match["dollars"].replace(",", ""), (match["cents"] or "0").ljust(2, "0")
    cents = int(dollars) * 100 + int(cents)
    if cents <= 0:
        raise ValueError("The price must be more than $0.")
    if cents >= PRICE_BELOW_CENTS:
        raise ValueError(f"The price must be below ${PRICE_BELOW_CENTS // 100:,}.")
    return cents


def format_price(cents: int) -> str:
    """Cents as the form shows them: "80" or "80.50"."""
    return f"{cents // 100}" if cents % 100 == 0 else f"{cents // 100}.{cents % 100:02d}"


def _minutes(value: Any, what: str) -> int:
    typed = _text(value).strip()
    if not typed:
        raise ValueError(f"Enter the {what} in minutes.")
    if not WHOLE.fullmatch(typed):
        raise ValueError(f"Enter the {what} as a whole number of minutes, like 60.")
    return int(typed)


def parse_duration(value: Any, grid: timedelta) -> int:
    minutes = _minutes(value, "duration")
    step = int(grid.total_seconds() // 60)
    if not DURATION_MIN <= minutes <= DURATION_MAX:
        raise ValueError(f"From {DURATION_MIN} to {DURATION_MAX} minutes.")
    if step and minutes % step:
        raise ValueError(f"Must be a multiple of {step} minutes, the clinic's booking grid "
                         f"(like {max(step, minutes - minutes % step)} or "
                         f"{minutes - minutes % step + step}).")
    return minutes


def parse_buffer(value: Any) -> int:
    minutes = _minutes(value, "cleanup time")
    if not 0 <= minutes <= BUFFER_MAX:
        raise ValueError(f"From 0 to {BUFFER_MAX} minutes.")
    if minutes % BUFFER_STEP:
        raise ValueError(f"Must be a multiple of {BUFFER_STEP} minutes.")
    return minutes


def parse_pause_days(value: Any) -> int:
    typed = _text(value).strip()
    if not typed:
        raise ValueError("Enter a number of days (0 for none).")
    if not WHOLE.fullmatch(typed):
        raise ValueError("Enter a whole number of days, like 3.")
    days = int(typed)
    if days > PAUSE_MAX_DAYS:
        raise ValueError(f"From 0 to {PAUSE_MAX_DAYS} days.")
    return days


def parse_role(value: Any) -> ProviderRole:
    typed = _text(value).strip()
    try:
        return ProviderRole(typed)
    except ValueError:
        raise ValueError("Choose who gives this service: "
                         + " or ".join(w.lower() for w in ROLE_WORDS.values()) + ".") from None


def parse_flag(value: Any) -> bool:
    """A check box: present ("on", "true", "1", "yes") or absent (None, "")."""
    if isinstance(value, bool):
        return value
    typed = _text(value).strip().lower()
    if typed in TRUE_WORDS:
        return True
    if typed in FALSE_WORDS:
        return False
    raise ValueError("Tick the box or leave it empty.")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("Must be text.")
    return value


def read_fields(fields: dict[str, Any], *, grid: timedelta,
                only_present: bool = False) -> dict[str, Any]:
    """Typed form fields -> stored column values; ServiceError naming every bad field.

    With `only_present`, fields left out of `fields` are left out of the answer (an edit
    changes only what it was given); otherwise each absent field reads as empty.
    """
    readers = {
        "name": ("name", clean_name),
        "price": ("price_cents", parse_price),
        "duration_minutes": ("duration_minutes", lambda v: parse_duration(v, grid)),
        "buffer_minutes": ("buffer_minutes", parse_buffer),
        "provider_role": ("provider_role", parse_role),
        "pause_topicals_days": ("pause_topicals_days", parse_pause_days),
        **{name: (name, parse_flag) for name in FLAGS},
        **{name: (name, clean_long_text) for name in TEXT_FIELDS},
    }
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for form_name in FORM_FIELDS:
        if only_present and form_name not in fields:
            continue
        column, reader = readers[form_name]
        try:
            clean[column] = reader(fields.get(form_name))
        except ValueError as exc:
            errors[form_name] = str(exc)
    if errors:
        raise ServiceError(PROBLEM, errors)
    return clean


# --- Slugs and fingerprints -----------------------------------------------------------------


def slug_base(name: str) -> str:
    """"Facial (60 min) — Deluxe" -> "facial-60-min-deluxe": lower-case a-z, 0-9 and hyphens."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:SLUG_MAX].rstrip("-") or "service"


def unique_slug(session: Session, name: str) -> str:
    """The name's slug, or with "-2", "-3"... when a service (retired ones too) has it."""
    base = slug_base(name)
    taken = set(session.scalars(select(Service.slug)))  # a clinic has a handful of services
    if base not in taken:
        return base
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = base[:SLUG_MAX - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        number += 1


def stored(service: Service) -> dict[str, Any]:
    """The columns the audit trail and the fingerprint look at, as plain JSON values."""
    values = {column: getattr(service, column) for column in ("slug", *COLUMNS, "active")}
    values["provider_role"] = str(values["provider_role"])
    return values


def fingerprint(service: Service) -> str:
    """What an edit form carries as `seen`: changes whenever any stored value changes."""
    blob = json.dumps(stored(service), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def form_values(service: Service) -> dict[str, str]:
    """The service as its edit form shows it."""
    values: dict[str, str] = {name: getattr(service, name) or "" for name in TEXT_FIELDS}
    values.update(
        name=service.name, price=format_price(service.price_cents),
        duration_minutes=str(service.duration_minutes),
        buffer_minutes=str(service.buffer_minutes), provider_role=str(service.provider_role),
        pause_topicals_days=str(service.pause_topicals_days),
        includes_extraction="on" if service.includes_extraction else "",
        purging_checkin="on" if service.purging_checkin else "")
    return values


# --- Changes --------------------------------------------------------------------------------


def _audit(session: Session, service_id: int, action: str, before: dict, after: dict, *,
           now: datetime, actor: str) -> AuditEntry:
    entry = AuditEntry(at=now, actor=actor, subject=SUBJECT, subject_id=service_id,
                       action=action, before=before, after=after)
    session.add(entry)
    return entry


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, ProviderRole) else value


def create_service(session: Session, fields: dict[str, Any], *, now: datetime, actor: str,
                   grid: timedelta = DEFAULT_RULES.grid) -> Service:
    """A new, active service. Raises ServiceError with a message per bad field."""
    clean = read_fields({**NEW_DEFAULTS, **fields}, grid=grid)
    with transaction(session, SLUG_LOCK):
        service = Service(slug=unique_slug(session, clean["name"]), currency="USD", active=True,
                          **clean)
        session.add(service)
        session.flush()
        _audit(session, service.id, "created", {}, stored(service), now=now, actor=actor)
    return service


def update_service(session: Session, service_id: int, fields: dict[str, Any], *,
                   now: datetime, actor: str, seen: str,
                   grid: timedelta = DEFAULT_RULES.grid) -> AuditEntry | None:
    """Saves the fields given; returns the audit entry, or None when nothing changed.

    Raises ServiceError (a message per field) for bad input, StaleEdit when the service
    changed since the form's `seen` fingerprint, UnknownService when there is none. The slug
    never changes. Visits already booked keep their price.
    """
    clean = read_fields(fields, grid=grid, only_present=True)
    with transaction(session):
        service = session.get(Service, service_id, with_for_update=True, populate_existing=True)
        if service is None:
            raise UnknownService(service_id)
        changed = {key: value for key, value in clean.items() if getattr(service, key) != value}
        if not changed:
            return None  # what was typed is what is saved, whoever saved it
        if fingerprint(service) != seen:
            raise StaleEdit()
        before = {key: _jsonable(getattr(service, key)) for key in changed}
        for key, value in changed.items():
            setattr(service, key, value)
        after = {key: _jsonable(value) for key, value in changed.items()}
        entry = _audit(session, service_id, "edited", before, after, now=now, actor=actor)
    return entry


def _set_active(session: Session, service_id: int, active: bool, action: str, *,
                now: datetime, actor: str) -> AuditEntry | None:
    with transaction(session):
        service = session.get(Service, service_id, with_for_update=True, populate_existing=True)
        if service is None:
            raise UnknownService(service_id)
        if service.active == active:
            return None
        service.active = active
        entry = _audit(session, service_id, action, {"active": not active}, {"active": active},
                       now=now, actor=actor)
    return entry


def retire_service(session: Session, service_id: int, *, now: datetime,
                   actor: str) -> AuditEntry | None:
    """Stops offering the service (None when it was already retired). Nothing is deleted and
    visits already booked stay booked."""
    return _set_active(session, service_id, False, "retired", now=now, actor=actor)


def restore_service(session: Session, service_id: int, *, now: datetime,
                    actor: str) -> AuditEntry | None:
    """Offers a retired service again (None when it was offered already)."""
    return _set_active(session, service_id, True, "restored", now=now, actor=actor)


# --- What the pages show --------------------------------------------------------------------


@dataclass
class Change:
    """One field of an audit entry: what it was and what it became, as people read them."""

    field: str
    label: str
    before: str | None
    after: str | None
    long: bool = False  #: a text a client reads: shown folded


@dataclass
class Audit:
    entry: AuditEntry
    who: str
    action: str
    changes: list[Change]


@dataclass
class Detail:
    service: Service
    seen: str  #: the fingerprint an edit form carries
    upcoming: int  #: visits booked from now on that hold a slot
    audit: list[Audit] = field(default_factory=list)  #: newest first


def all_services(session: Session) -> list[Service]:
    """Every service, offered ones first, then by name."""
    return list(session.scalars(select(Service).order_by(Service.active.desc(),
                                                         func.lower(Service.name), Service.id)))


def detail(session: Session, service_id: int, *, now: datetime) -> Detail | None:
    service = session.get(Service, service_id)
    if service is None:
        return None
    upcoming = session.scalar(select(func.count(Appointment.id)).where(
        Appointment.service_id == service_id, Appointment.start_at >= now,
        Appointment.status.in_(HOLDING))) or 0
    entries = list(session.scalars(
        select(AuditEntry).where(AuditEntry.subject == SUBJECT,
                                 AuditEntry.subject_id == service_id)
        .order_by(AuditEntry.id.desc())))
    return Detail(service=service, seen=fingerprint(service), upcoming=upcoming,
                  audit=history(session, entries))


def history(session: Session, entries: list[AuditEntry]) -> list[Audit]:
    names = actor_names(session, {e.actor for e in entries})
    audits = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        changes = [Change(key, LABELS.get(key, key.replace("_", " ").capitalize()),
                          shown(key, before[key]) if key in before else None,
                          shown(key, after[key]) if key in after else None,
                          long=key in TEXT_FIELDS)
                   for key in dict.fromkeys([*before, *after])]
        audits.append(Audit(entry=entry, who=names.get(entry.actor, entry.actor),
                            action=ACTION_WORDS.get(entry.action, entry.action),
                            changes=changes))
    return audits


def shown(key: str, value: Any) -> str:
    """A stored value as the page shows it."""
    if value is None:
        return "(none)"
    if key == "price_cents" and isinstance(value, int):
        return f"${format_price(value)}"
    if key in ("duration_minutes", "buffer_minutes") and isinstance(value, int):
        return f"{value} min"
    if key == "pause_topicals_days" and isinstance(value, int):
        return f"{value} day{'s' if value != 1 else ''}"
    if key == "active" and isinstance(value, bool):
        return "Yes" if value else "No (retired)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if key == "provider_role":
        return ROLE_WORDS.get(value, str(value))
    if isinstance(value, str) and key in TEXT_FIELDS and not value:
        return "(empty)"
    return str(value)


def differences(service: Service, typed: dict[str, Any], *,
                grid: timedelta) -> dict[str, str]:
    """After a stale edit: for each form field where what was typed differs from what is
    saved now, what is saved now (as the page shows it)."""
    now_saved = form_values(service)
    marks = {}
    for column in COLUMNS:
        name = FORM_FIELD_OF[column]
        if name not in typed:
            continue
        try:
            mine = read_fields({name: typed[name]}, grid=grid, only_present=True)[column]
        except ServiceError:
            mine = None
        if mine != getattr(service, column):
            value = shown(column, getattr(service, column))
            if column in TEXT_FIELDS:
                text = now_saved[name]
                value = text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX].rstrip() + "…"
            marks[name] = f"Changed meanwhile; saved now as “{value or '(empty)'}”."
    return marks
