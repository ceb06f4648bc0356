"""The dispatcher's rules with the memory sender: once, on time, never after STOP."""

import random
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from clinic.extensions import db
from clinic.messaging import dispatch as dispatcher
from clinic.messaging.senders import SendError
from clinic.models import Appointment, Client, Message, MessageEvent
from clinic.rules import Clinic
from clinic.timeutil import parse_aware

CLINIC = Clinic(ZoneInfo("America/Los_Angeles"))

TUE_9 = "2027-03-02T09:00:00-08:00"


def messages(app) -> dict[str, Message]:
    with app.app_context():
        rows = list(db.session.scalars(select(Message).order_by(Message.id)))
        for row in rows:
            db.session.expunge(row)
    return {m.kind: m for m in rows}


def set_status(app, status: str, at):

    from clinic import visits

    with app.app_context():
        appt = db.session.scalar(select(Appointment))
        visits.change_status(db.session, appt, status, now=at,
                             clinic=CLINIC, actor="staff:1")


def test_booking_writes_its_plan_in_the_same_commit(book, app):
    book(TUE_9, uses_prescription_topicals=True)
    plan = messages(app)
    assert set(plan) == {"confirmation", "pre_visit_pause", "reminder"}
    assert all(m.status == "scheduled" for m in plan.values())


def test_each_message_is_sent_once_at_its_time(book, app, dispatch, clock, sms):
    book(TUE_9)
    dispatch(clock.now)
    dispatch(clock.now)
    assert [b for _, _, b in sms.sent if "booked" in b] and len(sms.sent) == 1
    dispatch(clock.now + timedelta(minutes=59))
    assert len(sms.sent) == 1  # the reminder is due at 09:00, not before
    dispatch(clock.now + timedelta(hours=1))
    dispatch(clock.now + timedelta(hours=2))
    assert len(sms.sent) == 2
    assert "Reply C to confirm" in sms.sent[1][2]


def test_dispatch_prints_counts_never_phone_numbers(book, runner):
    book(TUE_9)
    result = runner.invoke(args=["scheduler", "dispatch", "--now", "2027-03-01T08:00:00-08:00"])
    assert result.exit_code == 0, result.output
    assert "send_due: sent 1" in result.output
    assert "555" not in result.output and "2671" not in result.output


def test_dispatch_refuses_a_bad_now(runner):
    result = runner.invoke(args=["scheduler", "dispatch", "--now", "tomorrow"])
    assert result.exit_code == 2
    assert "--now" in result.output


def test_cancelling_cancels_unsent_messages(book, client, app):
    token = book(TUE_9, uses_prescription_topicals=True).json["booking"]["token"]
    client.post(f"/api/v1/bookings/{token}/cancel")
    planned = messages(app)
    cancellation = planned.pop("cancellation")
    assert {m.status for m in planned.values()} == {"cancelled"}
    assert cancellation.status == "scheduled"


def test_a_cancelled_visit_texts_its_client_once_but_not_in_quiet_hours(book, client, app,
                                                                        dispatch, clock, sms):
    token = book("2027-03-02T14:00:00-08:00").json["booking"]["token"]
    dispatch(clock.now)  # the confirmation
    clock.now = parse_aware("2027-03-01T21:30:00-08:00")
    client.post(f"/api/v1/bookings/{token}/cancel")
    assert messages(app)["cancellation"].due_at == parse_aware("2027-03-02T09:00:00-08:00")
    dispatch(parse_aware("2027-03-01T23:00:00-08:00"))
    assert len(sms.sent) == 1
    dispatch(parse_aware("2027-03-02T09:00:00-08:00"))
    dispatch(parse_aware("2027-03-02T10:00:00-08:00"))
    assert [body for _, _, body in sms.sent][1:] == [
        "Clear Skin Clinic: your facial on Tue 2 Mar at 2:00 PM is cancelled. To book again: "
        "http://clinic.test/book/facial"]


def test_no_cancellation_text_after_an_opt_out(book, client, app, dispatch, clock, sms):
    token = book(TUE_9).json["booking"]["token"]
    with app.app_context():
        db.session.scalar(select(Client)).opted_out_at = clock.now
        db.session.commit()
    client.post(f"/api/v1/bookings/{token}/cancel")
    dispatch(clock.now + timedelta(hours=2))  # past the quiet hours it was planned in
    assert sms.sent == []
    assert messages(app)["cancellation"].note == "client opted out"


def test_rescheduling_replans_in_the_same_transaction(book, client, app):
    token = book(TUE_9).json["booking"]["token"]
    client.post(f"/api/v1/bookings/{token}/reschedule",
                json={"start": "2027-03-10T11:00:00-08:00"})
    with app.app_context():
        rows = list(db.session.scalars(select(Message).where(Message.kind == "reminder")))
    assert sorted(r.status for r in rows) == ["cancelled", "scheduled"]
    live = next(r for r in rows if r.status == "scheduled")
    assert live.due_at == parse_aware("2027-03-09T11:00:00-08:00")


def test_moved_visit_confirmation_says_new_time(book, client, app, dispatch, clock, sms):
    token = book(TUE_9).json["booking"]["token"]
    dispatch(clock.now)
    client.post(f"/api/v1/bookings/{token}/reschedule",
                json={"start": "2027-03-10T11:00:00-08:00"})
    dispatch(clock.now)
    assert "Wed 10 Mar at 11:00 AM. (New time.)" in sms.sent[-1][2]


def test_completion_plans_aftercare_and_checkins(book, app, dispatch, sms):
    book(TUE_9)
    set_status(app, "checked_in", parse_aware(TUE_9))
    set_status(app, "completed", parse_aware("2027-03-02T10:05:00-08:00"))
    plan = messages(app)
    assert plan["aftercare"].due_at == parse_aware("2027-03-02T10:05:00-08:00")
    assert plan["redness_checkin"].due_at == parse_aware("2027-03-03T10:00:00-08:00")
    assert plan["purging_checkin"].due_at == parse_aware("2027-03-04T10:00:00-08:00")
    assert plan["rebook"].due_at == parse_aware("2027-03-16T10:00:00-07:00")


def test_no_show_gets_no_aftercare(book, app, dispatch):
    book(TUE_9)
    set_status(app, "no_show", parse_aware("2027-03-02T09:30:00-08:00"))
    dispatch(parse_aware("2027-03-05T12:00:00-08:00"))
    kinds = set(messages(app))
    assert not kinds & {"aftercare", "redness_checkin", "purging_checkin", "rebook"}
    with app.app_context():
        assert db.session.scalar(select(Appointment.status)) == "no_show"


def test_visit_nobody_closed_is_completed_two_hours_after_its_end(book, app, dispatch):
    book(TUE_9)  # ends 10:00
    dispatch(parse_aware("2027-03-02T11:59:00-08:00"))
    with app.app_context():
        assert db.session.scalar(select(Appointment.status)) == "booked"
    results = dispatch(parse_aware("2027-03-02T12:00:00-08:00"))
    assert results["complete_unclosed"] == 1
    with app.app_context():
        assert db.session.scalar(select(Appointment.status)) == "completed"
    assert messages(app)["aftercare"].status == "sent"  # the same run sends it


def test_opted_out_client_is_never_texted(book, app, dispatch, clock, sms):
    book(TUE_9)
    with app.app_context():
        db.session.scalar(select(Client)).opted_out_at = clock.now
        db.session.commit()
    dispatch(clock.now + timedelta(hours=2))
    assert sms.sent == []
    plan = messages(app)
    assert plan["confirmation"].status == plan["reminder"].status == "skipped"
    assert plan["confirmation"].note == "client opted out"


def test_rebook_is_skipped_when_the_client_booked_again(book, app, dispatch, sms):
    book(TUE_9)
    set_status(app, "checked_in", parse_aware(TUE_9))
    set_status(app, "completed", parse_aware("2027-03-02T10:00:00-08:00"))
    book("2027-03-17T10:00:00-07:00", service="extraction", concerns=["cysts"])
    dispatch(parse_aware("2027-03-16T10:00:00-07:00"))
    rebook = messages(app)["rebook"]
    assert (rebook.status, rebook.note) == ("skipped", "client has already booked again")


def test_rebook_suggests_the_window_and_a_booking_link(book, app, dispatch, sms):
    book(TUE_9)
    set_status(app, "checked_in", parse_aware(TUE_9))
    set_status(app, "completed", parse_aware("2027-03-02T10:00:00-08:00"))
    dispatch(parse_aware("2027-03-16T10:00:00-07:00"))
    body = sms.sent[-1][2]
    assert "between Tue 16 Mar and Thu 1 Apr" in body
    assert "http://clinic.test/book/facial" in body


def test_send_is_claimed_before_the_api_call(book, app, clock):
    """While the sender runs, the row is already `sending` with its attempt counted."""

    from clinic.messaging.bodies import render

    seen = []

    class Watching:
        def send(self, to, body, ref=None):
            with app.app_context():
                row = db.session.scalar(select(Message).where(Message.kind == "confirmation"))
                seen.append((row.status, row.attempts))
            from clinic.messaging.senders import Sent
            return Sent("SMwatch")

    book(TUE_9)
    with app.app_context():
        dispatcher.send_due(db.session, clock=clock, sender=Watching(), render=render,
                            clinic=CLINIC)
    assert seen == [("sending", 1)]
    assert messages(app)["confirmation"].provider_sid == "SMwatch"


class Dies:
    """A sender in a dispatcher that is killed mid-send, after or before the text left."""

    def __init__(self, sms, *, after_sending: bool) -> None:
        self.sms, self.after_sending = sms, after_sending

    def send(self, to, body, ref=None):
        if self.after_sending:
            self.sms.send(to, body, ref)
        raise SystemExit("killed")


def run_dispatcher(app, clock, sender):

    from clinic.messaging.bodies import render

    with app.app_context():
        return dispatcher.send_due(db.session, clock=clock, sender=sender, render=render,
                                   clinic=CLINIC, rng=random.Random(1))


def test_a_crash_after_the_text_left_keeps_its_sid_and_never_resends(book, app, dispatch,
                                                                       clock, sms):
    book(TUE_9)
    with pytest.raises(SystemExit):
        run_dispatcher(app, clock, Dies(sms, after_sending=True))
    dispatch(clock.now + timedelta(minutes=4))  # a dispatcher might still be waiting on it
    assert messages(app)["confirmation"].status == "sending"
    dispatch(clock.now + timedelta(minutes=5))
    confirmation = messages(app)["confirmation"]
    assert (confirmation.status, confirmation.provider_sid, confirmation.attempts) == (
        "sent", sms.sent[0][0], 1)
    assert confirmation.note is None
    assert len(sms.sent) == 1


def test_a_crash_before_the_text_left_sends_it_once_later(book, app, dispatch, clock, sms):
    book(TUE_9)
    with pytest.raises(SystemExit):
        run_dispatcher(app, clock, Dies(sms, after_sending=False))
    dispatch(clock.now + timedelta(minutes=5))
    confirmation = messages(app)["confirmation"]
    assert (confirmation.status, confirmation.attempts) == ("scheduled", 1)
    assert confirmation.note == "not in Twilio's message list; retrying"
    dispatch(confirmation.due_at)
    confirmation = messages(app)["confirmation"]
    assert (confirmation.status, confirmation.attempts, confirmation.note) == ("sent", 2, None)
    assert len(sms.sent) == 1


def test_a_lost_answer_is_settled_by_looking_not_by_resending(book, app, dispatch, clock, sms):
    book(TUE_9)
    sms.lose_answers = 1
    assert dispatch(clock.now)["send_due"] == {"unsure": 1}
    confirmation = messages(app)["confirmation"]
    assert confirmation.status == "sending"
    assert confirmation.check_at == clock.now + dispatcher.SETTLE
    dispatch(clock.now + timedelta(seconds=59))
    assert messages(app)["confirmation"].status == "sending"
    assert dispatch(clock.now + timedelta(minutes=1))["settle_unsure"] == {"found": 1}
    confirmation = messages(app)["confirmation"]
    assert (confirmation.status, confirmation.provider_sid) == ("sent", sms.sent[0][0])
    assert len(sms.sent) == 1
    with app.app_context():
        history = [(e.outcome, e.note) for e in db.session.get(Message, confirmation.id).history]
    assert history == [
        ("unsure", "no answer from the provider; asking Twilio whether it went out"),
        ("found", None)]


def test_a_lookup_that_fails_is_asked_again_then_left_to_staff(book, app, dispatch, clock,
                                                               sms):
    book(TUE_9)
    sms.lose_answers, sms.find_fails = 1, True
    dispatch(clock.now)
    moment = clock.now + timedelta(minutes=1)
    outcomes = []
    while moment < clock.now + timedelta(hours=2):
        outcomes += dispatch(moment)["settle_unsure"].keys()
        moment += timedelta(minutes=1)
    assert outcomes == ["rechecking"] * 30 + ["unknown"]
    confirmation = messages(app)["confirmation"]
    assert confirmation.status == "unknown"
    assert "could not say for an hour whether it went out" in confirmation.note
    assert [body for _, _, body in sms.sent if "is booked" in body] == [confirmation.body]


def test_a_status_callback_settles_a_lost_answer_first(book, client, app, dispatch, clock,
                                                       sms):
    from conftest import signed_post

    book(TUE_9)
    sms.lose_answers = 1
    dispatch(clock.now)
    confirmation = messages(app)["confirmation"]
    r = signed_post(client, f"/sms/status?m={confirmation.id}",
                    {"MessageSid": sms.sent[0][0], "MessageStatus": "delivered"})
    assert r.status_code == 204
    assert dispatch(clock.now + timedelta(minutes=5))["settle_unsure"] == {}
    assert messages(app)["confirmation"].status == "delivered"
    assert len(sms.sent) == 1


def test_stop_between_sends_hands_back_the_rest(app, book, clock, sms):

    from clinic.messaging.bodies import render

    for i in range(3):
        book(f"2027-03-0{2 + i}T09:00:00-08:00", phone=f"+1415555{2900 + i:04d}")
    stop = threading.Event()

    class StopAfterOne:
        def send(self, to, body, ref=None):
            stop.set()  # SIGTERM arrives while the first text is in flight
            return sms.send(to, body, ref)

    with app.app_context():
        counts = dispatcher.send_due(db.session, clock=clock, sender=StopAfterOne(),
                                     render=render, clinic=CLINIC,
                                     stop=stop)
        statuses = sorted(db.session.scalars(select(Message.status).where(
            Message.kind == "confirmation")))
    assert counts == {"sent": 1}
    assert statuses == ["scheduled", "scheduled", "sent"]


def test_backoff_is_capped_exponential_with_jitter():
    rng = random.Random(7)
    waits = [dispatcher.backoff(n, rng) for n in range(1, 10)]
    for n, wait in enumerate(waits, start=1):
        ceiling = min(timedelta(minutes=30), timedelta(seconds=30) * 2 ** (n - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert len({w.total_seconds() for w in waits}) == len(waits)


def test_memory_failures_are_classified(book, app, dispatch, clock, sms):
    book(TUE_9)
    sms.fail_with.append(SendError("opted out", code=21610, http_status=400))
    dispatch(clock.now)
    confirmation = messages(app)["confirmation"]
    assert (confirmation.status, confirmation.error_code) == ("failed", 21610)
    with app.app_context():
        assert db.session.scalar(select(Client.opted_out_at)) is not None


def test_a_broken_template_does_not_strand_the_batch(app, book, clock, sms):

    from clinic.messaging.bodies import render

    for i in range(3):
        book(f"2027-03-0{2 + i}T09:00:00-08:00", phone=f"+1415555{2950 + i:04d}")
    calls = []

    def flaky(message):
        calls.append(message.id)
        if len(calls) == 1:
            raise RuntimeError("template error")
        return render(message)

    with app.app_context():
        counts = dispatcher.send_due(db.session, clock=clock, sender=sms, render=flaky,
                                     clinic=CLINIC, rng=random.Random(1))
        statuses = sorted(db.session.scalars(select(Message.status).where(
            Message.kind == "confirmation")))
    assert counts == {"sent": 2, "retry": 1}
    assert statuses == ["scheduled", "sent", "sent"]


def test_a_text_whose_visit_moved_is_checked_again_when_claimed(book, app, dispatch, clock,
                                                                sms):
    book(TUE_9)
    with app.app_context():  # a move that left the planned row behind
        appt = db.session.scalar(select(Appointment))
        for column in ("start_at", "end_at", "busy_until"):
            setattr(appt, column, getattr(appt, column) + timedelta(days=1))
        db.session.commit()
    assert dispatch(clock.now)["send_due"] == {"skipped": 1}
    confirmation = messages(app)["confirmation"]
    assert (confirmation.status, confirmation.note, confirmation.attempts) == (
        "skipped", "visit moved", 0)
    assert sms.sent == []


def test_a_text_whose_visit_was_cancelled_is_checked_again_when_claimed(book, app, dispatch,
                                                                        clock, sms):
    book(TUE_9)
    with app.app_context():
        db.session.scalar(select(Appointment)).status = "cancelled"
        db.session.commit()
    dispatch(clock.now)
    assert messages(app)["confirmation"].status == "skipped"
    assert sms.sent == []


def test_a_retry_that_succeeds_clears_its_failure_note_and_code(book, app, dispatch, clock,
                                                               sms):
    book(TUE_9)
    sms.fail_with.append(SendError("Twilio 400: 30003", code=30003, http_status=400))
    dispatch(clock.now)
    confirmation = messages(app)["confirmation"]
    assert (confirmation.status, confirmation.error_code) == ("scheduled", 30003)
    dispatch(confirmation.due_at)
    confirmation = messages(app)["confirmation"]
    assert (confirmation.status, confirmation.error_code, confirmation.note) == (
        "sent", None, None)
    with app.app_context():
        history = [(e.outcome, e.error_code)
                   for e in db.session.get(Message, confirmation.id).history]
    assert history == [("retry", 30003), ("sent", None)]


def test_a_backlog_reached_in_quiet_hours_waits_for_the_morning(book, app, dispatch, sms):
    book("2027-03-02T16:00:00-08:00")
    dispatch(parse_aware("2027-03-01T08:00:00-08:00"))  # the confirmation
    # The dispatcher was down from before the reminder's 16:00 until 21:00.
    dispatch(parse_aware("2027-03-01T21:00:00-08:00"))
    reminder = messages(app)["reminder"]
    assert (reminder.status, reminder.attempts) == ("scheduled", 0)
    assert reminder.due_at == parse_aware("2027-03-02T09:00:00-08:00")
    assert len(sms.sent) == 1


def test_each_send_reads_the_clock_again(book, app, sms):

    from conftest import NOW

    from clinic.messaging.bodies import render

    for i in range(3):
        book(f"2027-03-0{2 + i}T09:00:00-08:00", phone=f"+1415555{2960 + i:04d}")
    ticks = iter(range(100))

    def slow_clock():
        return NOW + timedelta(seconds=10 * next(ticks))

    with app.app_context():
        dispatcher.send_due(db.session, clock=slow_clock, sender=sms, render=render,
                            clinic=CLINIC)
        sent_at = list(db.session.scalars(select(Message.sent_at).where(
            Message.status == "sent")))
    assert len(set(sent_at)) == 3


def test_status_callback_before_the_sid_is_stored_is_kept(book, client, app, clock):
    """Twilio may call back before the dispatcher has written the SID it was given."""

    from conftest import signed_post

    from clinic.messaging.bodies import render
    from clinic.messaging.senders import Sent

    class FastCallback:
        def send(self, to, body, ref=None):
            r = signed_post(client, f"/sms/status?m={ref}",
                            {"MessageSid": "SMfast", "MessageStatus": "delivered"})
            assert r.status_code == 204
            return Sent("SMfast")

    book(TUE_9)
    with app.app_context():
        counts = dispatcher.send_due(db.session, clock=clock, sender=FastCallback(),
                                     render=render, clinic=CLINIC)
    confirmation = messages(app)["confirmation"]
    assert (confirmation.status, confirmation.provider_sid) == ("delivered", "SMfast")
    # The dispatcher's own answer, recorded after the callback with the same SID, is no late
    # answer: the text counts as sent and its history holds the callback's row alone.
    assert counts == {"sent": 1}
    with app.app_context():
        outcomes = list(db.session.scalars(select(MessageEvent.outcome).where(
            MessageEvent.message_id == confirmation.id)))
    assert outcomes == ["delivered"]


def test_database_errors_hide_query_parameters(app, book):
    """Errors end up in logs; their parameters hold numbers and bodies.

    (PostgreSQL's own DETAIL line may still quote a failing row; see the README.)"""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    book(TUE_9)
    with app.app_context():  # around the enum, so the database's CHECK is what refuses it
        try:
            db.session.execute(text("UPDATE message SET body = :body, status = :status"),
                               {"body": "Clear Skin Clinic: private words", "status": "lost"})
            db.session.commit()
        except IntegrityError as exc:
            assert "parameters hidden" in str(exc)
            assert "private words" not in str(exc).split("[SQL:")[1]
            db.session.rollback()
        else:
            raise AssertionError("a status outside the list was stored")


def test_a_status_outside_the_enum_is_refused_before_the_database(app, book):
    from sqlalchemy.exc import StatementError

    book(TUE_9)
    with app.app_context():
        db.session.scalar(select(Message)).status = "lost"
        with pytest.raises(StatementError, match="'lost' is not among the defined enum values"):
            db.session.commit()
        db.session.rollback()


def test_no_cancellation_text_once_the_visit_has_started(book, app, clock, sms, dispatch):
    from clinic import visits

    book(TUE_9)
    with app.app_context():
        appt = db.session.scalar(select(Appointment))
        visits.change_status(db.session, appt, "cancelled",
                             now=parse_aware("2027-03-02T11:00:00-08:00"), clinic=CLINIC,
                             actor="staff:1")
    assert messages(app)["cancellation"].status == "skipped"
    dispatch(parse_aware("2027-03-02T12:00:00-08:00"))
    assert not any("is cancelled" in body for _, _, body in sms.sent)


def test_a_cancellation_held_by_quiet_hours_past_the_visit_is_not_sent(book, client, app,
                                                                       clock):
    token = book(TUE_9).json["booking"]["token"]
    clock.now = parse_aware("2027-03-01T21:00:00-08:00")  # the night before a 9:00 visit
    client.post(f"/api/v1/bookings/{token}/cancel")
    cancellation = messages(app)["cancellation"]
    assert cancellation.status == "skipped" and "quiet hours" in cancellation.note
