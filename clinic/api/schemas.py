"""What the API takes besides a booking (queries, paths, a status) and every answer it gives.

Answers are pydantic models: views build them (clinic/api/serialize.py) and /api/v1/openapi.json
is generated from them (clinic/api/openapi.py), so the two cannot drift apart. Every field of an
answer is always present (null only where its type says so), and nothing else is: a field an
answer gains must be added here first, or the suite's contract check fails (README, "API").
Times are ISO 8601 with the clinic's offset, to the second; days are `YYYY-MM-DD`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, field_validator
from pydantic.json_schema import SkipJsonSchema

from ..booking import TOKEN_SHAPE
from ..enums import (
    FollowupStatus,
    MessageKind,
    MessageStatus,
    Outcome,
    Priority,
    ProviderRole,
    VisitStatus,
)
from ..rules import DEFAULT_RULES
from ..validation import MAX_ID, MAX_TYPED_ID, Day, Input, Slug, clean_text, parse_id, refuse

# --- Queries, paths and bodies --------------------------------------------------------------


def provider_param(value: Any) -> int | None:
    """A provider id in a query string; empty means any provider."""
    if not value:
        return None
    provider = parse_id(value) if isinstance(value, str) else None
    if provider is None:
        refuse("Must be a provider id.")
    return provider


def followup_view(value: Any) -> str:
    if value is None:
        return FollowupStatus.OPEN
    if value not in FOLLOWUP_VIEWS:
        refuse("One of " + ", ".join(FOLLOWUP_VIEWS) + ".")
    return value


def new_status(value: Any) -> VisitStatus:
    status = clean_text(value, 20)
    try:
        return VisitStatus(status)
    except ValueError:
        refuse("One of " + ", ".join(VisitStatus) + ".")


ALL = "all"  #: every follow-up, whatever its status
FOLLOWUP_VIEWS = (*FollowupStatus, ALL)
ProviderParam = Annotated[int, PlainValidator(
    provider_param, json_schema_input_type=Annotated[int, Field(ge=1, le=MAX_TYPED_ID)])]
FollowupView = Annotated[str, PlainValidator(
    followup_view, json_schema_input_type=Literal[FOLLOWUP_VIEWS])]
NewStatus = Annotated[VisitStatus, PlainValidator(new_status, json_schema_input_type=VisitStatus)]


class AvailabilityQuery(Input):
    """Free slots for a service between two clinic days."""

    service: Slug
    first: Day = Field(alias="from", description="The first clinic day")
    last: Day = Field(alias="to", description="The last clinic day: at most "
                                              f"{DEFAULT_RULES.max_range_days} days in all")
    provider: ProviderParam | None = Field(None, description="Only this provider's slots")

    @field_validator("last")
    @classmethod
    def _within_range(cls, last, info):
        first = info.data.get("first")
        most = info.context["max_range_days"]
        if first is not None and last < first:
            refuse("Must be on or after 'from'.")
        if first is not None and (last - first).days + 1 > most:
            refuse(f"At most {most} days at a time.")
        return last


class StaffDayQuery(Input):
    date: Day = Field(description="A clinic day")


class FollowupQuery(Input):
    problem: ClassVar[str] = "Unknown status."

    status: FollowupView = Field(FollowupStatus.OPEN,
                                 description="Which follow-ups: open, closed or all")


class StatusIn(Input):
    """A visit's next status; the lifecycle decides which ones it may take (409 otherwise)."""

    status: NewStatus


class TokenPath(BaseModel):
    token: str = Field(pattern=f"^{TOKEN_SHAPE.pattern}$",
                       description="The booking's manage token, from its manage link")


class VisitPath(BaseModel):
    appointment_id: int = Field(ge=0, le=MAX_ID)


# --- Answers --------------------------------------------------------------------------------

ClinicTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
ClinicDay = Annotated[str, Field(json_schema_extra={"format": "date"})]


def _not_always(schema: dict) -> None:
    schema.pop("default", None)


def sometimes() -> Any:
    """An error field that only some errors carry: left out of the others."""
    return Field(None, json_schema_extra=_not_always)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Service(Answer):
    slug: str
    name: str
    price_cents: int
    currency: str
    duration_minutes: int
    provider_role: ProviderRole
    includes_extraction: bool


class Services(Answer):
    services: list[Service]


class Provider(Answer):
    id: int
    name: str
    role: ProviderRole
    board_certified: bool


class Providers(Answer):
    providers: list[Provider]


class Slot(Answer):
    start: ClinicTime
    end: ClinicTime
    provider_id: int


class FreeSlots(Answer):
    timezone: str = Field(description="The clinic's time zone (IANA name)")
    slots: list[Slot]


class BookingWarning(Answer):
    """Something the client should know: event_soon, sms_opted_out or sms_undeliverable."""

    code: str
    message: str


class Booking(Answer):
    id: int
    token: str = Field(description="The manage token: whoever holds it can change the visit")
    status: VisitStatus
    service: str
    provider_id: int
    start: ClinicTime
    end: ClinicTime
    price_cents: int = Field(description="The price when booked")
    currency: str
    manage_url: str = Field(json_schema_extra={"format": "uri"})
    calendar_url: str = Field(json_schema_extra={"format": "uri"})
    late_change: bool = Field(description="Cancelled or moved within 24 hours of the start")
    warnings: list[BookingWarning]


class BookingAnswer(Answer):
    booking: Booking


class Contact(Answer):
    name: str
    phone: str = Field(description="E.164")


class ProviderName(Answer):
    id: int
    name: str


class Visit(Answer):
    """A visit as staff see it."""

    id: int
    start: ClinicTime
    end: ClinicTime
    status: VisitStatus
    service: str
    provider_id: int
    provider: ProviderName
    client: Contact
    late_change: bool


class Visits(Answer):
    appointments: list[Visit]


class VisitAnswer(Answer):
    appointment: Visit


class Attempt(Answer):
    """One step in a text's life: its outcome, with Twilio's SID and error code."""

    at: ClinicTime
    outcome: Outcome
    provider_sid: str | None
    error_code: int | None
    note: str | None


class Message(Answer):
    id: int
    kind: MessageKind
    due_at: ClinicTime
    status: MessageStatus
    body: str | None = Field(description="As sent; null until it is")
    sent_at: ClinicTime | None
    provider_sid: str | None
    attempts: int
    error_code: int | None
    note: str | None = Field(description="Why it was skipped, failed or is unknown")
    history: list[Attempt] = Field(description="Each attempt's outcome, oldest first")


class Messages(Answer):
    messages: list[Message]


class Followup(Answer):
    """A reply staff should act on."""

    id: int
    appointment_id: int | None
    client: Contact | None = Field(description="Null for a number the clinic doesn't know")
    from_phone: str | None
    message: str | None
    reason: str
    priority: Priority
    status: FollowupStatus
    created_at: ClinicTime


class Followups(Answer):
    followups: list[Followup]


class AllowedDays(Answer):
    """Open clinic days a refused visit may take instead (too_soon): from `from` to `to`, each an
    open, bookable day; a side left out runs to the edge of the booking window."""

    first: ClinicDay | SkipJsonSchema[None] = Field(
        None, alias="from", json_schema_extra=_not_always, description="The first allowed day")
    last: ClinicDay | SkipJsonSchema[None] = Field(
        None, alias="to", json_schema_extra=_not_always, description="The last allowed day")


class ErrorDetail(Answer):
    code: str = Field(description="What went wrong, for programs: validation_error, "
                                  "slot_unavailable, too_soon, ...")
    message: str = Field(description="What went wrong, for people")
    fields: dict[str, str] = Field(description="A message for each field at fault, by name "
                                               "(client.phone, intake.concerns)")
    alternatives: list[Slot] | SkipJsonSchema[None] = sometimes()
    earliest_date: ClinicDay | SkipJsonSchema[None] = sometimes()
    allowed: list[AllowedDays] | SkipJsonSchema[None] = Field(
        None, json_schema_extra=_not_always,
        description="too_soon: the open days on each side of the visits in the way, nearest "
                    "first before them, then after; a side with no such day is left out")
    earliest_start: ClinicTime | SkipJsonSchema[None] = sometimes()
    suggested_service: str | None = sometimes()
    current_status: VisitStatus | SkipJsonSchema[None] = sometimes()


class Error(Answer):
    """Every failure: {"error": {"code", "message", "fields"}} and, for some codes, more."""

    error: ErrorDetail


class OpenApiDocument(BaseModel):
    """This document: OpenAPI 3.1."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
