"""Turning untrusted input (JSON, a query string or a form) into typed requests, with a message
for every bad field.

Each kind of field a client sends (text, id, flag, day, instant, phone, email, concerns) is a
pydantic type here whose validator says what is wrong in the clinic's words; `read` validates a
model and turns its errors into `InvalidInput` keyed by our field names (`client.phone`), so no
library message ever reaches a client. The same models describe the API's requests in
/api/v1/openapi.json (README, "API"), and the booking page fills `BookingIn` from its form.

A field a person types is refused, with a message, if it holds characters a database or an SMS
can't carry (printable). Free text nobody can correct, such as a client's text message, is kept
without them instead (storable).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal, NoReturn, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .booking import BookingRequest, ClientDetails
from .phones import mobile_phone
from .rules import CONCERNS
from .timeutil import parse_aware

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ID = re.compile(r"[1-9][0-9]{0,8}")
#: The largest id `parse_id` reads.
MAX_TYPED_ID = 999_999_999
#: The largest id a client may send: a PostgreSQL integer.
MAX_ID = 2**31 - 1


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


class Refused(ValueError):
    """A change a form asked for and a domain function refused: `message` for the page,
    `fields` a message per form field. Nothing was written."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


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


# --- Kinds of field: each validator refuses with the message a client reads -----------------


def refuse(message: str) -> NoReturn:
    """Fails the field being read; `message` is exactly what the client sees."""
    raise PydanticCustomError("clinic", "{message}", {"message": message})


def clean_text(value: Any, max_len: int) -> str:
    """Typed text: non-empty, at most `max_len` characters once trimmed, printable."""
    if value is None:
        refuse("Required.")
    if not isinstance(value, str) or not value.strip():
        refuse("Must be non-empty text.")
    if len(value.strip()) > max_len:
        refuse(f"At most {max_len} characters of text.")
    if not printable(value):
        refuse("Contains characters that can't be used here.")
    return value.strip()


def text(max_len: int = 120) -> Any:
    """The type of a text field of at most `max_len` characters."""
    return Annotated[str, PlainValidator(
        lambda value: clean_text(value, max_len),
        json_schema_input_type=Annotated[str, Field(min_length=1, max_length=max_len)])]


def whole_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        refuse("Must be a positive whole number.")
    return value


def true_or_false(value: Any) -> bool:
    if not isinstance(value, bool):
        refuse("Please answer yes or no.")
    return value


def consent(value: Any) -> bool:
    """Absent or false reads as no consent, which booking refuses (sms_consent_required)."""
    if value is not None and not isinstance(value, bool):
        refuse("Must be true or false.")
    return value is True


def calendar_day(value: Any) -> date:
    if value is None:
        refuse("Required.")
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        parsed = date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or not 2000 <= parsed.year <= 2200:
        refuse("Must be a date like 2027-03-15.")
    return parsed


def instant(value: Any) -> datetime:
    if value is None:
        refuse("Required.")
    try:
        return parse_aware(value)
    except (ValueError, TypeError, OverflowError) as exc:
        refuse(f"Must be an ISO 8601 time with offset ({exc}).")


def mobile(value: Any, info: ValidationInfo) -> str:
    """A mobile in the clinic's country (`region` in the validation context), as E.164."""
    raw = clean_text(value, 40)
    try:
        return mobile_phone(raw, info.context["region"])
    except ValueError as exc:
        refuse(str(exc))


def email_address(value: Any) -> str:
    address = clean_text(value, 254)
    if not EMAIL.match(address):
        refuse("That doesn't look like an email address.")
    return address


def concern_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        refuse("Must be a list of concerns.")
    if any(v not in CONCERNS for v in value):
        refuse("Unknown concern; choose from " + ", ".join(CONCERNS) + ".")
    return tuple(dict.fromkeys(value))


Concern = Literal[CONCERNS]
Slug = text(40)
Name = text(120)
Id = Annotated[int, PlainValidator(
    whole_number, json_schema_input_type=Annotated[int, Field(ge=1, le=MAX_ID)])]
Flag = Annotated[bool, PlainValidator(true_or_false, json_schema_input_type=bool)]
Consent = Annotated[bool, PlainValidator(consent, json_schema_input_type=Literal[True])]
Day = Annotated[date, PlainValidator(calendar_day, json_schema_input_type=date)]
Instant = Annotated[datetime, PlainValidator(instant, json_schema_input_type=datetime)]
Phone = Annotated[str, PlainValidator(
    mobile, json_schema_input_type=Annotated[str, Field(min_length=1, max_length=40)])]
EMAIL_FORMAT = {"format": "email"}
Email = Annotated[str, PlainValidator(email_address, json_schema_input_type=Annotated[
    str, Field(min_length=1, max_length=254, json_schema_extra=EMAIL_FORMAT)])]
Concerns = Annotated[tuple[str, ...], PlainValidator(
    concern_list, json_schema_input_type=list[Concern])]


# --- Models ---------------------------------------------------------------------------------


class Input(BaseModel):
    """A request as a client sends it: unknown fields are ignored, absent ones read as null
    (so each field's own validator says "Required." in its words)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    #: The error's message when a field is refused.
    problem: ClassVar[str] = "Some fields need another look."

    @model_validator(mode="before")
    @classmethod
    def _absent_is_null(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        names = [field.alias or name for name, field in cls.model_fields.items()]
        return {**dict.fromkeys(names), **data}

    @classmethod
    def amend(cls, data: dict, errors: dict[str, str]) -> None:
        """Adds errors that depend on the others; called only when there are some."""


#: Library errors that can reach `read`, in our words (every field's own are already ours).
LIBRARY_ERRORS = {"model_type": "Required: an object.", "missing": "Required."}

M = TypeVar("M", bound=Input)


def read(model: type[M], data: Any, **context: Any) -> M:
    """The model, or InvalidInput naming every bad field at once."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        errors = field_errors(exc)
    if isinstance(data, dict):
        model.amend(data, errors)
    raise InvalidInput("validation_error", model.problem, errors)


def field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in error["loc"])
        if error["type"] == "clinic":
            errors.setdefault(name, error["ctx"]["message"])
        else:
            errors.setdefault(name, LIBRARY_ERRORS.get(error["type"], "Not valid here."))
    return errors


class ClientIn(Input):
    """Who the visit is for. The phone must be a mobile in the clinic's country."""

    name: Name
    phone: Phone
    email: Email | None = None


class IntakeIn(Input):
    """The intake questions; some concerns need a dermatologist (422 needs_dermatologist)."""

    uses_prescription_topicals: Flag
    concerns: Concerns | None = None
    event_date: Day | None = Field(None, description="An event soon after the visit, if any")


class BookingIn(Input):
    """A booking: `sms_consent` must be true to book online."""

    model_config = ConfigDict(json_schema_extra={"examples": [{  # the README's example
        "service": "facial", "start": "2027-03-02T09:00:00-08:00",
        "client": {"name": "A Client", "phone": "(415) 555-2671"}, "sms_consent": True,
        "intake": {"uses_prescription_topicals": True, "concerns": ["blackheads"]}}]})

    service: Slug
    start: Instant
    provider_id: Id | None = Field(None, description="Any free provider when left out")
    client: ClientIn
    sms_consent: Consent
    intake: IntakeIn

    @classmethod
    def amend(cls, data: dict, errors: dict[str, str]) -> None:
        if data.get("sms_consent") is not True:
            errors.setdefault("sms_consent", "Please agree to text messages about your visit.")

    def request(self) -> BookingRequest:
        """The domain's request: what `booking.book` checks against the clinic's rules."""
        client, intake = self.client, self.intake
        return BookingRequest(
            service=self.service, start=self.start, provider_id=self.provider_id,
            client=ClientDetails(name=client.name, phone=client.phone, email=client.email),
            sms_consent=self.sms_consent,
            uses_prescription_topicals=intake.uses_prescription_topicals,
            concerns=intake.concerns or (), event_date=intake.event_date,
        )


class RescheduleIn(Input):
    """A new start for a booking, with the same or another provider."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"start": "2027-03-03T10:00:00-08:00"}]})

    start: Instant
    provider_id: Id | None = Field(None, description="The current provider first when left out")


def name_problem(name: str, *, missing: str, most: int) -> str | None:
    """What is wrong with a name typed into a staff or admin form (its spaces already tidied:
    `" ".join(typed.split())`), or None."""
    if not name:
        return missing
    if len(name) > most:
        return f"At most {most} characters; this is {len(name)}."
    if not printable(name):
        return "Contains characters that can't be used here."
    return None


def booking_payload(slug: str, form, start) -> dict:
    """A booking form (the client's or the desk's), in the API's shape, so every booking goes
    through one validator."""
    topicals = {"yes": True, "no": False}.get(form.get("uses_prescription_topicals", ""))
    return {
        "service": slug,
        "start": start.isoformat(),
        "provider_id": parse_id(form.get("provider")),
        "client": {"name": form.get("name") or None, "phone": form.get("phone") or None,
                   "email": form.get("email") or None},
        "sms_consent": form.get("sms_consent") == "yes",
        "intake": {"uses_prescription_topicals": topicals,
                   "concerns": [c for c in form.getlist("concerns") if c in CONCERNS],
                   "event_date": form.get("event_date") or None},
    }


def form_fields(fields: dict[str, str]) -> dict[str, str]:
    """API field names (client.phone) to the booking form's (phone)."""
    return {name.split(".")[-1]: message for name, message in fields.items()}


def parse_booking(payload: dict, region: str) -> BookingRequest:
    """A booking from the API's JSON or the booking page's form (in the same shape)."""
    return read(BookingIn, payload, region=region).request()
