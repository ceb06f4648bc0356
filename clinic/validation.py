"""Turning untrusted input (JSON or a form) into domain requests, a message for every bad field.

A field a person types is refused, with a message, if it holds characters a database or an SMS
can't carry (printable). Free text nobody can correct, such as a client's text message, is kept
without them instead (storable).
"""

from __future__ import annotations

import re
from datetime import date

from .booking import BookingRequest, ClientDetails
from .phones import mobile_phone
from .rules import CONCERNS
from .timeutil import parse_aware

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ID = re.compile(r"[1-9][0-9]{0,8}")


def parse_id(text: str | None) -> int | None:
    """A row id typed into a URL or form: ASCII digits only ('²'.isdigit() is true)."""
    return int(text) if text and ID.fullmatch(text) else None


def parse_ref(text: str | None) -> tuple[int | None, int | None]:
    """A text's id and attempt from a status callback URL (`?m=12.2`; older links `?m=12`)."""
    head, _, tail = (text or "").partition(".")
    message_id = parse_id(head)
    return (message_id, parse_id(tail)) if message_id and tail else (message_id, None)


class InvalidInput(ValueError):
    """Input that cannot be read; answered with 422 and the fields at fault."""

    def __init__(self, code: str, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields


def printable(value: str) -> bool:
    """Text a database and an SMS can carry: valid UTF-8, no control characters."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in value)


#: What PostgreSQL refuses in text: NUL, and lone surrogates, which UTF-8 cannot encode.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> str:
    """The text without the characters no database column may hold."""
    return UNSTORABLE.sub("", value)


class Fields:
    """Collects field errors so a client sees all of them at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def text(self, obj: dict, key: str, name: str, *, required: bool = True,
             max_len: int = 120) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(name, "Required.")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(name, "Must be non-empty text.")
            return None
        if len(value.strip()) > max_len:
            self.fail(name, f"At most {max_len} characters of text.")
            return None
        if not printable(value):
            self.fail(name, "Contains characters that can't be used here.")
            return None
        return value.strip()

    def integer(self, obj: dict, key: str, name: str) -> int | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
            self.fail(name, "Must be a positive whole number.")
            return None
        return value

    def boolean(self, obj: dict, key: str, name: str) -> bool | None:
        value = obj.get(key)
        if not isinstance(value, bool):
            self.fail(name, "Required: true or false.")
            return None
        return value

    def day(self, obj: dict, key: str, name: str, *, required: bool = False) -> date | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(name, "Required.")
            return None
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            parsed = date.fromisoformat(value)
            if not 2000 <= parsed.year <= 2200:
                raise ValueError
            return parsed
        except ValueError:
            self.fail(name, "Must be a date like 2027-03-15.")
            return None

    def instant(self, obj: dict, key: str, name: str):
        value = obj.get(key)
        if value is None:
            self.fail(name, "Required.")
            return None
        try:
            return parse_aware(value)
        except (ValueError, TypeError, OverflowError) as exc:
            self.fail(name, f"Must be an ISO 8601 time with offset ({exc}).")
            return None

    def obj(self, obj: dict, key: str, name: str) -> dict:
        value = obj.get(key)
        if not isinstance(value, dict):
            self.fail(name, "Required: an object.")
            return {}
        return value

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInput("validation_error", "Some fields need another look.",
                               dict(self.errors))


def parse_booking(payload: dict, region: str) -> BookingRequest:
    f = Fields()
    service = f.text(payload, "service", "service", max_len=40)
    start = f.instant(payload, "start", "start")
    provider_id = f.integer(payload, "provider_id", "provider_id")
    client = f.obj(payload, "client", "client")
    name = f.text(client, "name", "client.name")
    phone = None
    raw_phone = f.text(client, "phone", "client.phone", max_len=40)
    if raw_phone is not None:
        try:
            phone = mobile_phone(raw_phone, region)
        except ValueError as exc:
            f.fail("client.phone", str(exc))
    email = f.text(client, "email", "client.email", required=False, max_len=254)
    if email is not None and not EMAIL.match(email):
        f.fail("client.email", "That doesn't look like an email address.")
    consent = payload.get("sms_consent")
    if consent is not None and not isinstance(consent, bool):
        f.fail("sms_consent", "Must be true or false.")
    intake = f.obj(payload, "intake", "intake")
    topicals = f.boolean(intake, "uses_prescription_topicals", "intake.uses_prescription_topicals")
    concerns = parse_concerns(f, intake.get("concerns"))
    event_date = f.day(intake, "event_date", "intake.event_date")
    if f.errors and consent is not True:
        f.fail("sms_consent", "Please agree to text messages about your visit.")
    f.raise_if_any()
    return BookingRequest(
        service=service, start=start, provider_id=provider_id,
        client=ClientDetails(name=name, phone=phone, email=email),
        sms_consent=consent is True, uses_prescription_topicals=topicals,
        concerns=concerns, event_date=event_date,
    )


def parse_concerns(f: Fields, value) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        f.fail("intake.concerns", "Must be a list of concerns.")
        return ()
    unknown = [v for v in value if v not in CONCERNS]
    if unknown:
        f.fail("intake.concerns", "Unknown concern; choose from " + ", ".join(CONCERNS) + ".")
        return ()
    return tuple(dict.fromkeys(value))
