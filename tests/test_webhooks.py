"""Twilio's webhooks: signatures, replies as the README's "Texts" says, forward-only statuses."""

from datetime import timedelta

from conftest import signed_post
from sqlalchemy import func, select

from clinic.extensions import db
from clinic.models import Appointment, Client, Followup, InboundMessage, Message
from clinic.rules import Clinic

PHONE = "+14155552671"
TUE_9 = "2027-03-02T09:00:00-08:00"


def inbound(client, body: str, sid: str = "SMin1", phone: str = PHONE):
    return signed_post(client, "/sms/inbound", {"MessageSid": sid, "From": phone, "To":
                                                "+15005550006", "Body": body})


def status(client, sid: str, value: str, code: str | None = None, msid: str = ""):
    form = {"MessageSid": sid, "MessageStatus": value}
    if code:
        form["ErrorCode"] = code
    return signed_post(client, "/sms/status", form)


def one(app, model, *where):
    with app.app_context():
        row = db.session.scalar(select(model).where(*where))
        if row is not None:
            db.session.expunge(row)
        return row


def sent_message(app, kind: str) -> Message:
    return one(app, Message, Message.kind == kind)


def test_forged_signature_is_403(client, app):
    form = {"MessageSid": "SMx", "From": PHONE, "Body": "STOP"}
    r = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": "forged"})
    assert r.status_code == 403
    assert one(app, InboundMessage) is None


def test_missing_signature_is_403(client):
    assert client.post("/sms/inbound", data={"MessageSid": "SMx"}).status_code == 403
    assert client.post("/sms/status", data={"MessageSid": "SMx"}).status_code == 403


def test_signature_for_another_token_is_403(client):
    r = signed_post(client, "/sms/inbound", {"MessageSid": "SMx", "From": PHONE, "Body": "HI"},
                    token="someone-elses-token")
    assert r.status_code == 403


def test_signature_covers_the_form(client):
    from twilio.request_validator import RequestValidator

    good = RequestValidator("test-auth-token").compute_signature(
        "http://clinic.test/sms/inbound", {"MessageSid": "SMx", "From": PHONE, "Body": "2"})
    r = client.post("/sms/inbound", data={"MessageSid": "SMx", "From": PHONE, "Body": "STOP"},
                    headers={"X-Twilio-Signature": good})
    assert r.status_code == 403


def test_stop_opts_the_number_out_and_start_back_in(book, client, app):
    book(TUE_9)
    for word in ("stop", " Unsubscribe ", "CANCEL"):
        assert inbound(client, word, sid=f"SM{word.strip()}").status_code == 200
        assert one(app, Client).opted_out_at is not None
        inbound(client, "START", sid=f"SMstart{word.strip()}")
        assert one(app, Client).opted_out_at is None


def test_cancel_and_yes_are_opt_words_not_visit_actions(book, client, app):
    book(TUE_9)
    inbound(client, "CANCEL", sid="SM1")
    assert one(app, Appointment).status == "booked"
    inbound(client, "YES", sid="SM2")
    assert one(app, Appointment).status == "booked"
    assert one(app, Client).opted_out_at is None


def test_help_answers_with_the_clinic_phone(client):
    r = inbound(client, "help")
    assert r.mimetype == "text/xml"
    assert "+14155550100" in r.get_data(as_text=True)


def test_c_after_a_reminder_confirms_the_visit(book, client, app, dispatch, clock):
    book(TUE_9)
    dispatch(clock.now + timedelta(hours=1))  # the reminder is due Monday 09:00
    assert sent_message(app, "reminder").status == "sent"
    r = inbound(client, " c ")
    assert "confirmed" in r.get_data(as_text=True)
    assert one(app, Appointment).status == "confirmed"


def test_c_without_a_reminder_goes_to_staff(book, client, app):
    book(TUE_9)
    inbound(client, "C")
    assert one(app, Appointment).status == "booked"
    assert one(app, Followup).reason == "unrecognised reply"


def complete_and_check_in(app, client, dispatch, clock, runner_token=None):
    """Books, completes the visit, and sends the check-ins."""
    from clinic import visits
    from clinic.timeutil import parse_aware

    with app.app_context():
        appt = db.session.scalar(select(Appointment))
        visits.change_status(db.session, appt, "checked_in", now=parse_aware(TUE_9),
                             clinic=Clinic(clock_tz()), actor="staff:1")
        visits.change_status(db.session, appt, "completed", now=parse_aware(TUE_9)
                             + timedelta(hours=1), clinic=Clinic(clock_tz()), actor="staff:1")
    dispatch(parse_aware(TUE_9) + timedelta(days=1, hours=2))


def clock_tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("America/Los_Angeles")


def test_redness_reply_1_opens_a_high_priority_followup_with_advice(book, client, app,
                                                                     dispatch, clock):
    book(TUE_9)
    complete_and_check_in(app, client, dispatch, clock)
    assert sent_message(app, "redness_checkin").status == "sent"
    r = inbound(client, "1")
    assert "fragrance-free" in r.get_data(as_text=True)
    followup = one(app, Followup)
    assert (followup.priority, followup.reason, followup.status) == ("high", "redness bad", "open")


def test_reply_2_records_that_all_is_well(book, client, app, dispatch, clock):
    book(TUE_9)
    complete_and_check_in(app, client, dispatch, clock)
    inbound(client, "2")
    assert one(app, Followup) is None
    assert one(app, InboundMessage).action == "checkin_ok"


def test_purging_reply_1_is_a_normal_priority_followup(book, client, app, dispatch, clock):
    from clinic.timeutil import parse_aware

    book(TUE_9)
    complete_and_check_in(app, client, dispatch, clock)
    dispatch(parse_aware(TUE_9) + timedelta(days=2, hours=2))
    assert sent_message(app, "purging_checkin").status == "sent"
    inbound(client, "1")
    followup = one(app, Followup)
    assert (followup.priority, followup.reason) == ("normal", "purging bad")


def test_anything_else_lands_in_the_staff_inbox(book, client, app):
    book(TUE_9)
    r = inbound(client, "Can I bring my sister?")
    assert r.status_code == 200
    followup = one(app, Followup)
    assert (followup.reason, followup.priority) == ("unrecognised reply", "normal")


def test_text_from_an_unknown_number_still_reaches_staff(client, app):
    inbound(client, "hello?", phone="+14155550123")
    followup = one(app, Followup)
    assert followup.client_id is None


def test_the_same_message_sid_twice_has_one_effect(book, client, app):
    book(TUE_9)
    inbound(client, "what time?", sid="SMdup")
    inbound(client, "what time?", sid="SMdup")
    with app.app_context():
        assert db.session.scalar(select(func.count(Followup.id))) == 1
        assert db.session.scalar(select(func.count(InboundMessage.id))) == 1


def test_statuses_only_move_forward(book, client, app, dispatch, clock):
    book(TUE_9)
    dispatch(clock.now)
    sid = sent_message(app, "confirmation").provider_sid
    assert sid
    status(client, sid, "delivered")
    assert sent_message(app, "confirmation").status == "delivered"
    status(client, sid, "sent")  # late and out of order
    status(client, sid, "queued")
    assert sent_message(app, "confirmation").status == "delivered"
    status(client, sid, "delivered")  # replayed
    assert sent_message(app, "confirmation").status == "delivered"


def test_undelivered_30006_marks_the_number_undeliverable(book, client, app, dispatch, clock):
    book(TUE_9)
    dispatch(clock.now)
    sid = sent_message(app, "confirmation").provider_sid
    assert status(client, sid, "undelivered", "30006").status_code == 204
    message = sent_message(app, "confirmation")
    assert (message.status, message.error_code) == ("failed", 30006)
    assert one(app, Client).undeliverable_at is not None


def test_undelivered_30003_is_retried(book, client, app, dispatch, clock, sms):
    book(TUE_9)
    dispatch(clock.now)
    sid = sent_message(app, "confirmation").provider_sid
    status(client, sid, "undelivered", "30003")
    message = sent_message(app, "confirmation")
    assert message.status == "scheduled"
    status(client, sid, "undelivered", "30003")  # replayed: no second retry
    assert sent_message(app, "confirmation").due_at == message.due_at
    dispatch(message.due_at)
    again = sent_message(app, "confirmation")
    assert (again.status, again.attempts) == ("sent", 2)
    assert again.provider_sid != sid
    assert len([s for s in sms.sent if "booked" in s[2]]) == 2


def test_unknown_sid_status_is_harmless(client):
    assert status(client, "SMnope", "delivered").status_code == 204


def test_webhooks_are_exempt_from_csrf(migrated):
    from clinic import create_app
    from clinic.config import TestConfig

    config = TestConfig(migrated)
    config.WTF_CSRF_ENABLED = True
    app = create_app(config)
    try:
        http = app.test_client()
        r = signed_post(http, "/sms/inbound", {"MessageSid": "SMcsrf", "From": PHONE,
                                               "Body": "HELP"})
        assert r.status_code == 200
        assert signed_post(http, "/sms/status", {"MessageSid": "SMx", "MessageStatus":
                                                 "sent"}).status_code == 204
    finally:
        with app.app_context():
            db.session.execute(db.delete(InboundMessage))
            db.session.commit()
            db.engine.dispose()


def test_a_1_long_after_the_checkin_goes_to_staff_as_it_is(book, client, app, dispatch, clock):
    from clinic.timeutil import parse_aware

    book(TUE_9)
    complete_and_check_in(app, client, dispatch, clock)
    clock.now = parse_aware(TUE_9) + timedelta(days=10)
    r = inbound(client, "1")
    assert "<Message>" not in r.get_data(as_text=True)
    followup = one(app, Followup)
    assert (followup.reason, followup.priority) == ("unrecognised reply", "normal")
