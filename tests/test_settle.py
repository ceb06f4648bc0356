"""At most once at the edges: late answers, callbacks about other attempts, what a transport
failure says about whether a text left, and what Twilio's list can hold."""

import random
import ssl
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from conftest import signed_post
from sqlalchemy import select
from urllib3.exceptions import (
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from clinic.extensions import db
from clinic.messaging import dispatch as dispatcher
from clinic.messaging.bodies import render
from clinic.messaging.senders import SendError, Sent, _transport_error
from clinic.models import Message, MessageEvent
from clinic.rules import Clinic

TUE_9 = "2027-03-02T09:00:00-08:00"
CLINIC = Clinic(ZoneInfo("America/Los_Angeles"))


def confirmation(app) -> Message:
    with app.app_context():
        row = db.session.scalar(select(Message).where(Message.kind == "confirmation")
                                .order_by(Message.id))
        db.session.expunge(row)
    return row


def history(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(e.outcome, e.provider_sid) for e in db.session.scalars(
            select(MessageEvent).order_by(MessageEvent.id))]


def send_with(app, clock, sender):
    with app.app_context():
        return dispatcher.send_due(db.session, clock=clock, sender=sender, render=render,
                                   clinic=CLINIC, rng=random.Random(1))


def callback(client, row_ref: str, sid: str, status: str, code: str = ""):
    form = {"MessageSid": sid, "MessageStatus": status}
    if code:
        form["ErrorCode"] = code
    r = signed_post(client, f"/sms/status?m={row_ref}", form)
    assert r.status_code == 204


def _connection_error(reason):
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/", reason))


@pytest.mark.parametrize(("error", "outcome"), [
    (requests.exceptions.ConnectTimeout("connect"), "retry"),
    (_connection_error(NewConnectionError(None, "refused")), "retry"),
    (requests.exceptions.SSLError(MaxRetryError(None, "/", ssl.SSLCertVerificationError(
        "certificate verify failed"))), "retry"),
    (requests.exceptions.ReadTimeout("read"), "unsure"),
    (requests.exceptions.ConnectionError(ProtocolError("Connection aborted.")), "unsure"),
    (requests.exceptions.ConnectionError(ReadTimeoutError(None, "/", "read")), "unsure"),
    (requests.exceptions.SSLError(MaxRetryError(None, "/", ssl.SSLError("bad record"))),
     "unsure"),
    (requests.exceptions.ChunkedEncodingError("cut"), "unsure"),
    (ValueError("a bug in parsing the answer"), "unsure"),
])
def test_only_a_request_that_never_left_is_plainly_retried(error, outcome):
    assert _transport_error(error).outcome == outcome


def test_a_stalled_send_settled_elsewhere_cannot_overwrite_the_new_attempt(book, app, clock,
                                                                          sms):
    """A dispatcher stalls past the claim timeout; another settles the row and resends; the
    stalled answer arrives last and changes nothing but the history."""
    book(TUE_9)
    later = clock.now + dispatcher.CLAIM_TIMEOUT

    class Stalls:
        def send(self, to, body, ref=None):
            with app.app_context():  # meanwhile, another dispatcher
                dispatcher.settle_unsure(db.session, clock=lambda: later, sender=sms, clinic=CLINIC)
                dispatcher.send_due(db.session, clock=lambda: later + timedelta(minutes=1),
                                    sender=sms, render=render, clinic=CLINIC)
            return Sent("SMstalled")

    assert send_with(app, clock, Stalls()) == {"late": 1}
    row = confirmation(app)
    assert (row.status, row.attempts, row.provider_sid) == ("sent", 2, sms.sent[0][0])
    assert history(app) == [("resend", None), ("sent", sms.sent[0][0]), ("late", "SMstalled")]


def test_a_callback_for_a_retry_that_beats_its_sid_is_applied(book, client, app, clock, sms):
    book(TUE_9)
    send_with(app, clock, sms)  # attempt 1
    row = confirmation(app)
    callback(client, f"{row.id}.1", sms.sent[0][0], "undelivered", "30003")
    assert (confirmation(app).status, confirmation(app).provider_sid) == ("scheduled", None)

    class FailsFast:  # attempt 2: Twilio says it failed before we store its SID
        def send(self, to, body, ref=None):
            assert ref == f"{row.id}.2"
            callback(client, ref, "SMsecond", "undelivered", "30003")
            return Sent("SMsecond")

    clock.advance(minutes=5)
    assert send_with(app, clock, FailsFast()) == {"late": 1}
    row = confirmation(app)
    assert (row.status, row.attempts, row.error_code) == ("scheduled", 2, 30003)
    assert history(app) == [("sent", sms.sent[0][0]), ("retry", sms.sent[0][0]),
                            ("retry", "SMsecond"), ("late", "SMsecond")]


def test_a_replayed_callback_about_an_earlier_attempt_changes_nothing(book, client, app,
                                                                      clock, sms):
    book(TUE_9)
    send_with(app, clock, sms)
    row = confirmation(app)
    first = sms.sent[0][0]
    callback(client, f"{row.id}.1", first, "undelivered", "30003")

    class ReplayDuringSend:
        def send(self, to, body, ref=None):
            callback(client, f"{row.id}.1", first, "undelivered", "30003")  # Twilio retries
            return sms.send(to, body, ref)

    clock.advance(minutes=5)
    assert send_with(app, clock, ReplayDuringSend()) == {"sent": 1}
    row = confirmation(app)
    assert (row.status, row.attempts, row.provider_sid) == ("sent", 2, sms.sent[1][0])
    assert len(sms.sent) == 2


def test_a_text_found_failed_in_the_list_is_treated_as_that_failure(book, app, dispatch,
                                                                    clock, sms):
    book(TUE_9)
    sms.lose_answers = 1
    dispatch(clock.now)

    class ListsItFailed:
        def find(self, to, body, since):
            return [Sent(sms.sent[0][0], "undelivered", 30006)]

    with app.app_context():
        counts = dispatcher.settle_unsure(db.session, clock=lambda: clock.now + timedelta(
            minutes=1), sender=ListsItFailed(), clinic=CLINIC)
    assert counts == {"failed": 1}
    row = confirmation(app)
    assert (row.status, row.error_code) == ("failed", 30006)
    assert row.note == "undeliverable (30006)"


def test_a_listed_text_another_row_holds_is_not_taken(book, app, dispatch, clock, sms):
    """Two texts with the same body: a lookup never takes the SID another row already has."""
    book(TUE_9)
    dispatch(clock.now)
    other = sms.sent[0][0]
    with app.app_context():  # a second text, same number and body, whose answer was lost
        row = db.session.scalar(select(Message).where(Message.kind == "confirmation")
                                .order_by(Message.id))
        db.session.add(Message(appointment_id=row.appointment_id, client_id=row.client_id,
                               kind="confirmation", due_at=clock.now, not_after=row.not_after,
                               status="sending", attempts=1, body=row.body,
                               claimed_at=clock.now, check_at=clock.now,
                               created_at=clock.now, updated_at=clock.now))
        db.session.commit()
    with app.app_context():
        counts = dispatcher.settle_unsure(db.session, clock=lambda: clock.now, sender=sms,
                                          clinic=CLINIC)
    assert counts == {"resend": 1}
    assert confirmation(app).provider_sid == other


def test_memory_failures_keep_their_classification():
    assert SendError("x", code=20500, http_status=500).outcome == "retry"
    assert SendError("x", code=20500, http_status=500, unsure=True).outcome == "unsure"
