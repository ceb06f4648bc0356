"""Whole visits and failures through the real twilio client against a fake Twilio server."""

from datetime import timedelta

from conftest import signed_post
from sqlalchemy import select

from clinic.extensions import db
from clinic.messaging import dispatch as dispatcher
from clinic.models import Client, Message
from clinic.timeutil import parse_aware

FACIAL = "2027-03-04T14:00:00-08:00"  # Thursday


def rows(app) -> list[Message]:
    with app.app_context():
        found = list(db.session.scalars(select(Message).order_by(Message.due_at, Message.id)))
        for row in found:
            db.session.expunge(row)
    return found


def by_kind(app) -> dict[str, Message]:
    return {m.kind: m for m in rows(app) if m.status != "cancelled"}


def step_through(app, dispatch, until):
    """Runs the dispatcher a minute before and at every due time up to `until`, checking that
    nothing goes out early; returns the kinds in the order they were sent."""
    order = []
    while True:
        due = [m for m in rows(app) if m.status == "scheduled" and m.due_at <= until]
        if not due:
            return order
        moment = min(m.due_at for m in due)
        before = {m.id for m in rows(app) if m.status == "sent"}
        dispatch(moment - timedelta(minutes=1))
        early = [m.kind for m in rows(app) if m.status == "sent" and m.id not in before
                 and m.due_at > moment - timedelta(minutes=1)]
        assert not early, f"sent before its time: {early}"
        dispatch(moment)
        for m in rows(app):
            if m.status == "sent" and m.id not in before and m.sent_at == moment:
                assert m.due_at == moment, m.kind
                order.append(m.kind)


def set_status(client, headers, visit_id, status):
    r = client.post(f"/api/v1/staff/appointments/{visit_id}/status", json={"status": status},
                    headers=headers)
    assert r.status_code == 200, r.json


def test_whole_life_of_a_facial(book, client, staff_auth, app, dispatch, twilio, clock):
    booking = book(FACIAL, uses_prescription_topicals=True).json["booking"]
    order = step_through(app, dispatch, parse_aware(FACIAL))
    assert order == ["confirmation", "pre_visit_pause", "reminder"]
    plan = by_kind(app)
    assert plan["pre_visit_pause"].sent_at == parse_aware("2027-03-01T10:00:00-08:00")
    assert plan["reminder"].sent_at == parse_aware("2027-03-03T14:00:00-08:00")

    headers = staff_auth
    clock.now = parse_aware(FACIAL)
    set_status(client, headers, booking["id"], "checked_in")
    clock.now = parse_aware("2027-03-04T15:05:00-08:00")
    set_status(client, headers, booking["id"], "completed")
    order = step_through(app, dispatch, parse_aware("2027-04-01T00:00:00-07:00"))
    assert order == ["aftercare", "redness_checkin", "purging_checkin", "rebook"]
    plan = by_kind(app)
    assert plan["redness_checkin"].sent_at == parse_aware("2027-03-05T15:00:00-08:00")
    assert plan["purging_checkin"].sent_at == parse_aware("2027-03-06T15:00:00-08:00")
    assert plan["rebook"].sent_at == parse_aware("2027-03-18T10:00:00-07:00")

    # Each of the seven sent once, through Twilio, with the SID Twilio gave it.
    assert len(twilio.sent) == 7
    assert {m.provider_sid for m in plan.values()} == {s["sid"] for s in twilio.sent}
    assert all(s["to"] == "+14155552671" and s["from"] == "+15005550006" for s in twilio.sent)
    ids = {m.provider_sid: m.id for m in plan.values()}
    for sent in twilio.sent:
        assert sent["status_callback"] == (
            f"http://clinic.test/sms/status?m={ids[sent['sid']]}.1")  # id and attempt
        path = sent["status_callback"].removeprefix("http://clinic.test")
        assert signed_post(client, path, {"MessageSid": sent["sid"],
                                          "MessageStatus": "delivered"}).status_code == 204
    assert {m.status for m in by_kind(app).values()} == {"delivered"}


def test_whole_life_of_an_extraction(book, app, dispatch, twilio):
    book("2027-03-03T11:00:00-08:00", service="extraction", concerns=["cysts"],
         uses_prescription_topicals=True)
    # Five days before is already past: the pause request follows the confirmation at once.
    order = step_through(app, dispatch, parse_aware("2027-03-03T11:00:00-08:00"))
    assert order == ["confirmation", "pre_visit_pause", "reminder"]
    # Nobody closes the visit: it completes 2 h after its end and aftercare follows.
    order = step_through(app, dispatch, parse_aware("2027-03-03T13:30:00-08:00"))
    assert order == []
    dispatch(parse_aware("2027-03-03T13:30:00-08:00"))
    order = ["aftercare"] + step_through(app, dispatch, parse_aware("2027-04-01T00:00:00-07:00"))
    assert order == ["aftercare", "redness_checkin", "rebook"]  # no purging check-in
    assert by_kind(app)["rebook"].sent_at == parse_aware("2027-03-17T10:00:00-07:00")
    assert len(twilio.sent) == 6


def test_21610_opts_the_client_out_and_is_not_retried(book, app, dispatch, twilio, clock):
    book(FACIAL)
    twilio.fail_next(21610)
    dispatch(clock.now)
    confirmation = by_kind(app)["confirmation"]
    assert (confirmation.status, confirmation.error_code, confirmation.attempts) == (
        "failed", 21610, 1)
    with app.app_context():
        assert db.session.scalar(select(Client.opted_out_at)) == clock.now
    step_through(app, dispatch, parse_aware(FACIAL))
    assert by_kind(app)["reminder"].status == "skipped"
    assert len(twilio.requests) == 1


def test_21211_marks_the_number_undeliverable_and_is_not_retried(book, app, dispatch, twilio,
                                                                 clock):
    book(FACIAL)
    twilio.fail_next(21211)
    dispatch(clock.now)
    dispatch(clock.now + timedelta(hours=1))
    confirmation = by_kind(app)["confirmation"]
    assert (confirmation.status, confirmation.error_code, confirmation.attempts) == (
        "failed", 21211, 1)
    with app.app_context():
        assert db.session.scalar(select(Client.undeliverable_at)) == clock.now
    assert len(twilio.requests) == 1


def test_429_is_retried_with_backoff(book, app, dispatch, twilio, clock):
    book(FACIAL)
    twilio.fail_next(20429)
    dispatch(clock.now)
    confirmation = by_kind(app)["confirmation"]
    assert (confirmation.status, confirmation.attempts, confirmation.error_code) == (
        "scheduled", 1, 20429)
    wait = confirmation.due_at - clock.now
    assert timedelta(seconds=15) <= wait <= timedelta(seconds=30)
    dispatch(confirmation.due_at - timedelta(seconds=1))
    assert len(twilio.sent) == 0
    dispatch(confirmation.due_at)
    confirmation = by_kind(app)["confirmation"]
    assert (confirmation.status, confirmation.attempts) == ("sent", 2)
    assert len(twilio.requests) == 2 and len(twilio.sent) == 1


def test_500_is_checked_then_retried_and_gives_up_after_five_attempts(book, app, dispatch,
                                                                      twilio, clock):
    """A 5xx may come after Twilio created the text: it is looked up before each retry."""
    book(FACIAL)
    twilio.server_error_next(times=5)
    waits = []
    moment = clock.now
    for attempt in range(1, 6):
        assert dispatch(moment)["send_due"] == {"unsure": 1}
        moment += dispatcher.SETTLE
        outcome = dispatch(moment)["settle_unsure"]
        confirmation = by_kind(app)["confirmation"]
        assert confirmation.attempts == attempt
        if attempt < 5:
            assert outcome == {"resend": 1} and confirmation.status == "scheduled"
            waits.append(confirmation.due_at - moment)
            moment = confirmation.due_at
    assert outcome == {"failed": 1} and confirmation.status == "failed"
    assert "gave up after 5 attempts" in confirmation.note
    assert len(twilio.requests) == 5 and twilio.sent == [] and len(twilio.lists) == 5
    # Each wait is at least half of a doubling ceiling: 30 s, 60 s, 120 s, 240 s.
    for n, wait in enumerate(waits, start=1):
        ceiling = timedelta(seconds=30 * 2 ** (n - 1))
        assert ceiling / 2 <= wait <= ceiling


def test_a_502_after_twilio_created_the_text_is_found_not_resent(book, app, dispatch, twilio,
                                                                 clock):
    book(FACIAL)
    twilio.fail_after_sending_next(502)
    assert dispatch(clock.now)["send_due"] == {"unsure": 1}
    assert dispatch(clock.now + dispatcher.SETTLE)["settle_unsure"] == {"found": 1}
    assert by_kind(app)["confirmation"].provider_sid == twilio.sent[0]["sid"]
    assert len(twilio.requests) == 1


def test_a_late_answer_is_found_in_twilios_list_and_never_sent_twice(book, app, dispatch,
                                                                    twilio, clock):
    book(FACIAL)
    twilio.answer_late_next(2.0)  # Twilio sends it; the client gives up after 0.5 s
    assert dispatch(clock.now)["send_due"] == {"unsure": 1}
    confirmation = by_kind(app)["confirmation"]
    assert confirmation.status == "sending" and confirmation.provider_sid is None
    assert dispatch(clock.now + timedelta(minutes=1))["settle_unsure"] == {"found": 1}
    confirmation = by_kind(app)["confirmation"]
    [sent] = twilio.sent
    assert (confirmation.status, confirmation.provider_sid, confirmation.attempts) == (
        "sent", sent["sid"], 1)
    assert [r["outcome"] for r in twilio.requests] == ["accepted_late"]
    [listed] = twilio.lists
    assert listed["query"]["To"] == "+14155552671" and listed["query"]["From"] == "+15005550006"
    dispatch(clock.now + timedelta(hours=1))
    assert len([r for r in twilio.requests if r["form"]["Body"] == sent["body"]]) == 1


def test_a_hang_up_after_sending_is_found_not_resent(book, app, dispatch, twilio, clock):
    book(FACIAL)
    twilio.hang_up_next(accept=True)
    dispatch(clock.now)
    dispatch(clock.now + timedelta(minutes=1))
    assert by_kind(app)["confirmation"].provider_sid == twilio.sent[0]["sid"]
    assert len(twilio.requests) == 1


def test_a_timeout_twilio_did_not_act_on_is_sent_again_once(book, app, dispatch, twilio,
                                                            clock):
    book(FACIAL)
    twilio.timeout_next(2.0)  # no answer, and nothing sent
    dispatch(clock.now)
    assert by_kind(app)["confirmation"].status == "sending"
    assert dispatch(clock.now + timedelta(minutes=1))["settle_unsure"] == {"resend": 1}
    confirmation = by_kind(app)["confirmation"]
    assert (confirmation.status, confirmation.attempts) == ("scheduled", 1)
    dispatch(confirmation.due_at)
    confirmation = by_kind(app)["confirmation"]
    assert (confirmation.status, confirmation.attempts, confirmation.note) == ("sent", 2, None)
    assert [r["outcome"] for r in twilio.requests] == ["timeout", "accepted"]


def test_a_refused_connection_is_retried_without_asking(book, app, dispatch, twilio, clock):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    book(FACIAL)
    app.config["TWILIO_API_BASE_URL"] = closed
    assert dispatch(clock.now)["send_due"] == {"retry": 1}
    confirmation = by_kind(app)["confirmation"]
    assert confirmation.status == "scheduled"
    assert "connection refused" in confirmation.note
    app.config["TWILIO_API_BASE_URL"] = twilio.base_url
    dispatch(confirmation.due_at)
    confirmation = by_kind(app)["confirmation"]
    assert (confirmation.status, confirmation.attempts) == ("sent", 2)
    assert [r["outcome"] for r in twilio.requests] == ["accepted"] and twilio.lists == []


def test_a_list_that_fails_is_asked_again(book, app, dispatch, twilio, clock):
    book(FACIAL)
    twilio.answer_late_next(2.0)
    twilio.fail_list_next(20500, times=2)
    dispatch(clock.now)
    moment = clock.now + timedelta(minutes=1)
    outcomes = []
    for _ in range(3):
        outcomes += dispatch(moment)["settle_unsure"].keys()
        moment += timedelta(minutes=2)
    assert outcomes == ["rechecking", "rechecking", "found"]
    assert by_kind(app)["confirmation"].provider_sid == twilio.sent[0]["sid"]
    assert len(twilio.requests) == 1


def test_pre_visit_retry_never_goes_past_the_visit(book, app, dispatch, twilio):
    book("2027-03-02T10:00:00-08:00")
    dispatch(parse_aware("2027-03-01T08:00:00-08:00"))  # the confirmation
    twilio.server_error_next()
    dispatch(parse_aware("2027-03-02T09:59:50-08:00"))  # the reminder, very late
    dispatch(parse_aware("2027-03-02T10:00:50-08:00"))  # not found at Twilio
    reminder = by_kind(app)["reminder"]
    assert reminder.status == "failed"
    assert "after the visit" in reminder.note


def test_dst_visits_get_their_reminders_at_the_right_local_time(book, app, dispatch, twilio,
                                                                clock):
    book("2027-03-15T09:00:00-07:00")
    step_through(app, dispatch, parse_aware("2027-03-15T09:00:00-07:00"))
    assert by_kind(app)["reminder"].sent_at == parse_aware("2027-03-14T09:00:00-07:00")
    clock.now = parse_aware("2027-11-01T08:00:00-07:00")
    book("2027-11-08T09:00:00-08:00", phone="(415) 555-2672")
    step_through(app, dispatch, parse_aware("2027-11-08T09:00:00-08:00"))
    reminders = [m for m in rows(app) if m.kind == "reminder"]
    assert [m.sent_at for m in reminders] == [parse_aware("2027-03-14T09:00:00-07:00"),
                                              parse_aware("2027-11-07T09:00:00-08:00")]


def test_logs_carry_no_phone_number_body_or_secret(book, app, dispatch, twilio, clock, caplog):
    import logging

    book(FACIAL, uses_prescription_topicals=True)
    twilio.fail_next(20429)
    with caplog.at_level(logging.DEBUG):
        dispatch(clock.now)
        dispatch(clock.now + timedelta(hours=3))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "twilio" in logged.lower()  # the client did log its requests
    for secret in ("5552671", "Clear Skin Clinic:", twilio.auth_token, "/manage/"):
        assert secret not in logged, secret
