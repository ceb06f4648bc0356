"""The dispatcher's batch claim: several due texts claimed in one transaction, then sent one by
one; what a crash, a stop or an opt-out in the middle of a batch leaves (README, "Texts")."""

import random
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.extensions import db
from clinic.messaging import bodies
from clinic.messaging import dispatch as dispatcher
from clinic.messaging.models import Message
from clinic.messaging.senders import MemorySender, SendError
from clinic.rules import Clinic

CLINIC = Clinic(ZoneInfo("America/Los_Angeles"))
#: Two weeks apart: facials include extraction, so closer ones would be refused.
STARTS = ["2027-03-02T09:00:00-08:00", "2027-03-16T09:00:00-07:00", "2027-03-30T09:00:00-07:00"]


def book_three(book, phone="(415) 555-2671"):
    """Three visits for one number, so three confirmations due at once."""
    for start in STARTS:
        assert book(start, phone=phone).status_code == 201


def rows(app) -> list[Message]:
    with app.app_context():
        found = list(db.session.scalars(select(Message).where(Message.kind == "confirmation")
                                        .order_by(Message.id)))
        for row in found:
            db.session.expunge(row)
    return found


def send_due(app, clock, sender, **options):
    with app.app_context():
        return dispatcher.send_due(db.session, clock=clock, sender=sender, render=bodies.render,
                                   clinic=CLINIC, rng=random.Random(1), **options)


def test_a_batch_is_claimed_in_the_order_due_each_with_its_own_attempt(app, book, clock):
    book_three(book)
    with app.app_context():
        at, claimed, counts = dispatcher._claim_batch(
            db.session, clock=clock, render=bodies.render, clinic=CLINIC,
            rng=random.Random(1), size=dispatcher.CLAIM_BATCH)
    assert at == clock.now and not counts
    assert [c.claim.message_id for c in claimed] == [m.id for m in rows(app)]
    for row in rows(app):
        assert row.status == "sending" and row.attempts == 1
        assert row.claimed_at == clock.now
        assert row.check_at == clock.now + dispatcher.CLAIM_TIMEOUT
        assert row.body


def test_a_second_dispatcher_never_takes_a_claimed_row(app, book, clock):
    book_three(book)
    with app.app_context():  # the first dispatcher claims the batch, then stalls
        dispatcher._claim_batch(db.session, clock=clock, render=bodies.render, clinic=CLINIC,
                                rng=random.Random(1), size=dispatcher.CLAIM_BATCH)
    other = MemorySender()
    assert send_due(app, clock, other) == {}
    assert other.sent == []
    assert {m.status for m in rows(app)} == {"sending"}


def test_a_batch_left_by_a_crash_is_settled_and_each_text_sent_once(app, book, clock):
    book_three(book)
    sms = MemorySender()
    with app.app_context():
        _, claimed, _ = dispatcher._claim_batch(
            db.session, clock=clock, render=bodies.render, clinic=CLINIC,
            rng=random.Random(1), size=dispatcher.CLAIM_BATCH)
    first = claimed[0]
    sms.send(first.to, first.body, ref=first.claim.ref)  # out, then the process dies
    later = clock.now + dispatcher.CLAIM_TIMEOUT
    with app.app_context():
        settled = dispatcher.settle_unsure(db.session, clock=lambda: later, sender=sms,
                                           clinic=CLINIC, rng=random.Random(1))
    assert settled == {"found": 1, "resend": 2}
    assert [m.status for m in rows(app)] == ["sent", "scheduled", "scheduled"]
    assert send_due(app, lambda: later + timedelta(minutes=1), sms) == {"sent": 2}
    found = rows(app)
    assert [m.status for m in found] == ["sent"] * 3
    assert [m.attempts for m in found] == [1, 2, 2]
    assert len(sms.sent) == 3 and len({body for _, _, body in sms.sent}) == 3
    assert {m.provider_sid for m in found} == {sid for sid, _, _ in sms.sent}


class StopsAfterFirst(MemorySender):
    """A sender during whose first send the dispatcher is told to stop (SIGTERM)."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop

    def send(self, to, body, ref=None):
        self.stop.set()
        return super().send(to, body, ref)


def test_a_stop_puts_the_texts_not_yet_handed_over_back_as_they_were(app, book, clock):
    book_three(book)
    before = rows(app)
    stop = threading.Event()
    sms = StopsAfterFirst(stop)
    assert send_due(app, clock, sms, stop=stop) == {"sent": 1}
    assert len(sms.sent) == 1
    after = rows(app)
    assert after[0].status == "sent"
    fields = ("status", "attempts", "body", "claimed_at", "check_at", "updated_at", "due_at",
              "note")
    for old, new in zip(before[1:], after[1:], strict=True):
        assert {f: getattr(new, f) for f in fields} == {f: getattr(old, f) for f in fields}
    assert send_due(app, clock, sms) == {"sent": 2}  # and they go out on the next run


def test_a_slow_batch_puts_back_what_it_could_not_hand_over_in_time(app, book, clock):
    book_three(book)
    moments = iter([clock.now] * 3 + [clock.now + dispatcher.SEND_WITHIN] * 20)
    sms = MemorySender()
    counts = send_due(app, lambda: next(moments), sms, batch=3)
    assert counts["sent"] >= 1 and len(sms.sent) == 3  # the rest were claimed again, once each
    assert sorted(m.attempts for m in rows(app)) == [1, 1, 1]


def test_an_opt_out_answer_mid_batch_skips_the_numbers_other_texts_as_before(app, book, clock):
    book_three(book)
    sms = MemorySender(fail_with=[SendError("Twilio 400: 21610", code=21610, http_status=400)])
    counts = send_due(app, clock, sms)
    assert counts == {"failed": 1, "skipped": 2}
    found = rows(app)
    assert found[0].status == "failed"
    assert [(m.status, m.note, m.attempts, m.body) for m in found[1:]] == [
        ("skipped", "client opted out", 0, None)] * 2
    assert sms.sent == []
