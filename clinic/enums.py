"""Every status, role and kind the clinic's data can hold: one StrEnum each, and the column
type that stores one as text with a CHECK constraint, so the database refuses anything else.

Members compare equal to their text ("booked" == VisitStatus.BOOKED), which is what JSON, forms
and templates carry.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa


class VisitStatus(StrEnum):
    BOOKED = "booked"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


#: Visits that hold their provider's time; cancelled ones free it.
HOLDING = frozenset(VisitStatus) - {VisitStatus.CANCELLED}
#: Visits that count for the extraction cadence rule.
COUNTED = frozenset({VisitStatus.BOOKED, VisitStatus.CONFIRMED, VisitStatus.CHECKED_IN,
                     VisitStatus.COMPLETED})
#: Visits the client may still cancel or move.
CHANGEABLE = frozenset({VisitStatus.BOOKED, VisitStatus.CONFIRMED})
#: Visits nobody has closed yet.
OPEN = frozenset({VisitStatus.BOOKED, VisitStatus.CONFIRMED, VisitStatus.CHECKED_IN})


class VisitEvent(StrEnum):
    """What happened to a visit, in its audit trail: a status it moved to, or another change."""

    BOOKED = "booked"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"
    LINK_REPLACED = "link_replaced"


class BookedVia(StrEnum):
    """Where a booking came from: the reports count rebookings made from the rebook text."""

    ONLINE = "online"  #: the booking pages
    REBOOK_TEXT = "rebook_text"  #: the booking pages, opened from the rebook text's link
    API = "api"
    PHONE = "phone"  #: staff booking a caller


class ProviderRole(StrEnum):
    AESTHETICIAN = "aesthetician"
    DERMATOLOGIST = "dermatologist"


class StaffRole(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"


class MessageKind(StrEnum):
    CONFIRMATION = "confirmation"
    PRE_VISIT_PAUSE = "pre_visit_pause"
    REMINDER = "reminder"
    AFTERCARE = "aftercare"
    REDNESS_CHECKIN = "redness_checkin"
    PURGING_CHECKIN = "purging_checkin"
    REBOOK = "rebook"
    CANCELLATION = "cancellation"  #: the visit is cancelled, by the client or by staff
    STAFF_REPLY = "staff_reply"  #: staff answering a client from the inbox, in their own words


#: Texts about a coming visit: not sent once it is moved, cancelled or has started.
PRE_VISIT = frozenset({MessageKind.CONFIRMATION, MessageKind.PRE_VISIT_PAUSE,
                       MessageKind.REMINDER})
#: Texts that go out whatever the hour: they answer the client's own action or words.
IMMEDIATE = frozenset({MessageKind.CONFIRMATION, MessageKind.STAFF_REPLY})
#: Texts whose body a person wrote when planning them; the dispatcher sends it as written.
WRITTEN = frozenset({MessageKind.STAFF_REPLY})
CHECKINS = (MessageKind.REDNESS_CHECKIN, MessageKind.PURGING_CHECKIN)


class MessageStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"  #: handed to Twilio, or about to be; no answer yet
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"  #: Twilio could not say whether it went out: staff check


class Outcome(StrEnum):
    """What one step did to a text: counted by the dispatcher, kept in a text's history."""

    SENT = "sent"
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"
    HELD = "held"  #: quiet hours: waits for the morning
    UNSURE = "unsure"  #: no clear answer: Twilio's list will be asked
    FOUND = "found"
    RESEND = "resend"
    RECHECKING = "rechecking"
    UNKNOWN = "unknown"
    LATE = "late"  #: an answer for an attempt already settled


class SendFailure(StrEnum):
    """What a failed send means (README, "Texts": failures)."""

    OPTED_OUT = "opted_out"  #: the number has opted out: never retried
    UNDELIVERABLE = "undeliverable"  #: the number cannot take texts: never retried
    RETRY = "retry"  #: nothing went out: try again later
    UNSURE = "unsure"  #: it may have gone out: ask Twilio's list first
    FAILED = "failed"  #: refused for good


class ReplyAction(StrEnum):
    """What a client's text was taken to mean."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CONFIRM = "confirm"
    CHECKIN_OK = "checkin_ok"
    REDNESS_BAD = "redness_bad"
    PURGING_BAD = "purging_bad"
    FOLLOWUP = "followup"
    DUPLICATE = "duplicate"  #: the same MessageSid again: nothing done


class FollowupStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"


def enum_column(enum: type[StrEnum], constraint: str, length: int) -> sa.Enum:
    """Text holding one of `enum`'s values, checked by the database as `ck_<table>_<name>`."""
    return sa.Enum(enum, native_enum=False, create_constraint=True, name=constraint,
                   length=length, validate_strings=True,
                   values_callable=lambda members: [member.value for member in members])
