"""The staff follow-up inbox: items from clients' texts, replies sent as texts, resolving."""

import re
from datetime import timedelta

from conftest import signed_post
from sqlalchemy import select

from clinic import visits
from clinic.extensions import db
from clinic.messaging.bodies import MAX_LENGTH
from clinic.models import Appointment, Followup, InboundMessage, Message
from clinic.timeutil import parse_aware

PHONE = "+14155552671"
TUE_9 = "2027-03-02T09:00:00-08:00"
CLINIC = "Clear Skin Clinic"
#: Wednesday 11:00: the redness check-in went out at 10:00.
AFTER_CHECKIN = parse_aware(TUE_9) + timedelta(days=1, hours=2)


def inbound(client, body: str, sid: str, phone: str = PHONE):
    r = signed_post(client, "/sms/inbound", {"MessageSid": sid, "From": phone,
                                             "To": "+15005550006", "Body": body})
    assert r.status_code == 200, r.text
    return r


def complete_and_check_in(app, dispatch, clock, phones=(PHONE,)):
    """Completes each client's visit and sends the texts up to the redness check-in; the
    clock then reads Wednesday 11:00."""
    with app.app_context():
        for phone in phones:
            appt = db.session.scalar(select(Appointment)
                                     .where(Appointment.client.has(phone=phone)))
            start = appt.start_at
            visits.change_status(db.session, appt, "checked_in", now=start,
                                 clinic=app_clinic(app), actor="staff:1")
            visits.change_status(db.session, appt, "completed", now=start + timedelta(hours=1),
                                 clinic=app_clinic(app), actor="staff:1")
        db.session.remove()
    dispatch(AFTER_CHECKIN)
    clock.now = AFTER_CHECKIN


def app_clinic(app):
    from clinic import clock

    with app.test_request_context():
        return clock.clinic()


def followups(app) -> list[Followup]:
    with app.app_context():
        rows = list(db.session.scalars(select(Followup).order_by(Followup.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def replies(app) -> list[Message]:
    with app.app_context():
        rows = list(db.session.scalars(select(Message).where(Message.kind == "staff_reply")
                                       .order_by(Message.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def item(page: str, followup_id: int) -> str:
    """One open item's card in the inbox page."""
    found = re.search(rf'<article[^>]*id="item-{followup_id}".*?</article>', page, re.S)
    assert found, f"item {followup_id} is not in the page"
    return found.group(0)


def textarea(html: str, name: str) -> str:
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, f"no {name} textarea"
    return found.group(1)


def nav_count(page: str) -> int | None:
    found = re.search(r'<span class="count"[^>]*>(\d+)<span class="visually-hidden"> urgent',
                      page)
    return int(found.group(1)) if found else None


def redness_item(app, book, client, dispatch, clock) -> int:
    """A client answers 1 to the redness check-in; the item's id."""
    assert book(TUE_9).status_code == 201
    complete_and_check_in(app, dispatch, clock)
    r = inbound(client, "1", "SMred")
    assert "fragrance-free" in r.text  # the care advice, so it was taken as the answer
    (followup,) = followups(app)
    return followup.id


def test_the_inbox_needs_a_signed_in_account(client):
    r = client.get("/staff/inbox")
    assert r.status_code in (302, 303, 401)
    assert client.post("/staff/inbox/1/resolve", data={"note": "x"}).status_code in (
        302, 303, 401)


def test_a_1_after_the_redness_checkin_is_urgent_and_counted(app, book, client, dispatch,
                                                              clock, sign_in):
    other = "+14155552672"
    assert book(TUE_9).status_code == 201
    assert book("2027-03-02T11:00:00-08:00", client={
        "name": "Eve Other", "phone": "(415) 555-2672", "email": "eve@example.com"}
    ).status_code == 201
    complete_and_check_in(app, dispatch, clock, phones=(PHONE, other))
    clock.advance(hours=1, minutes=5)
    dispatch(clock.now)  # Eve's check-in, an hour after Dana's
    inbound(client, "Hello, who is this?", "SMq", phone="+14155550199")  # a stranger, first
    clock.advance(minutes=1)
    inbound(client, "1", "SMred")
    clock.advance(minutes=30)
    inbound(client, "1", "SMred2", phone=other)  # another client's worrying answer
    stranger, dana, eve = followups(app)
    assert (dana.priority, eve.priority, stranger.priority) == ("high", "high", "normal")

    clock.advance(hours=2)
    page = sign_in().get("/staff/inbox").text
    card = item(page, dana.id)
    assert "Urgent" in card and "Normal" not in card
    assert "Still red or swollen (redness check-in)" in card
    assert f'href="/staff/clients/{dana.client_id}">Dana Client</a>' in card
    assert 'href="tel:+14155552671"' in card
    assert "2 h ago" in card
    assert f'href="/staff/visits/{dana.appointment_id}"' in card
    assert ">1</p>" in card  # the text itself, in the thread
    assert ">Reply</button>" in card and ">Resolve</button>" in card
    assert nav_count(page) == 2

    unknown = item(page, stranger.id)
    assert "Normal" in unknown and "Urgent" not in unknown
    assert "+14155550199" in unknown and "Unrecognised reply" in unknown
    assert ">Reply</button>" not in unknown  # no client to text: staff call the number
    assert ">Resolve</button>" in unknown
    # Urgent first, oldest first; then the normal one.
    order = [int(n) for n in re.findall(r'<article[^>]*id="item-(\d+)"', page)]
    assert order == [dana.id, eve.id, stranger.id]

    r = client.post(f"/staff/inbox/{dana.id}/resolve", data={"note": "Called her."})
    assert r.status_code == 303
    assert nav_count(client.get("/staff/inbox").text) == 1


def staff_replies_sent(twilio) -> list[dict]:
    return [s for s in twilio.sent if s["body"].startswith(f"{CLINIC}: ")
            and "Our team will call you" not in s["body"]]


def test_a_reply_goes_out_once_through_twilio_and_joins_the_thread(app, book, client, dispatch,
                                                                    clock, sign_in, twilio):
    followup_id = redness_item(app, book, client, dispatch, clock)
    sign_in()
    before = len(twilio.sent)
    r = client.post(f"/staff/inbox/{followup_id}/reply",
                    data={"body": "  So sorry, Dana. We will call you at 2 PM today.\r\n"})
    assert r.status_code == 303
    assert r.headers["Location"].endswith(f"/staff/inbox#item-{followup_id}")
    assert len(twilio.sent) == before  # queued, not sent from the page
    (queued,) = replies(app)
    assert queued.status == "scheduled" and queued.due_at == clock.now
    assert queued.written_by.startswith("staff:") and queued.followup_id == followup_id
    assert queued.body == f"{CLINIC}: So sorry, Dana. We will call you at 2 PM today."
    followup = followups(app)[0]
    assert queued.appointment_id == followup.appointment_id

    dispatch(clock.now)
    dispatch(clock.now + timedelta(minutes=5))  # a second run does not send it again
    sent = [s for s in twilio.sent[before:]]
    assert [s["body"] for s in sent] == [queued.body]
    assert sent[0]["to"] == PHONE
    (done,) = replies(app)
    assert done.status == "sent" and done.provider_sid == sent[0]["sid"]

    page = client.get("/staff/inbox").text
    card = item(page, followup_id)
    assert "So sorry, Dana. We will call you at 2 PM today." in card
    assert "Sent" in card and "Reply by Front Desk" in card
    # The client's text first, then the reply.
    assert card.index(">1</p>") < card.index("So sorry, Dana")


def test_a_reply_is_sent_at_night_too(app, book, client, dispatch, clock, sign_in, twilio):
    followup_id = redness_item(app, book, client, dispatch, clock)
    clock.now = parse_aware("2027-03-03T22:30:00-08:00")  # quiet hours for planned texts
    sign_in().post(f"/staff/inbox/{followup_id}/reply", data={"body": "Call us any time."})
    before = len(twilio.sent)
    dispatch(clock.now)
    assert [s["body"] for s in twilio.sent[before:]] == [f"{CLINIC}: Call us any time."]


def test_a_reply_to_a_client_who_opted_out_is_refused(app, book, client, dispatch, clock,
                                                       sign_in, twilio):
    followup_id = redness_item(app, book, client, dispatch, clock)
    inbound(client, "STOP", "SMstop")
    r = sign_in().post(f"/staff/inbox/{followup_id}/reply", data={"body": "Are you OK?"})
    assert r.status_code == 422
    card = item(r.text, followup_id)
    assert "Dana Client has opted out of texts (replied STOP): call them instead." in card
    assert textarea(card, "body") == "Are you OK?"
    assert replies(app) == []
    before = len(twilio.sent)
    dispatch(clock.now)
    assert twilio.sent[before:] == []
    # Without a draft, the page says so instead of offering a Reply form.
    card = item(client.get("/staff/inbox").text, followup_id)
    assert "has opted out of texts" in card and ">Reply</button>" not in card


def test_a_client_who_opts_out_after_the_reply_was_queued_is_not_texted(
        app, book, client, dispatch, clock, sign_in, twilio):
    followup_id = redness_item(app, book, client, dispatch, clock)
    r = sign_in().post(f"/staff/inbox/{followup_id}/reply", data={"body": "Are you OK?"})
    assert r.status_code == 303
    inbound(client, "STOP", "SMstop")
    before = len(twilio.sent)
    dispatch(clock.now)
    assert twilio.sent[before:] == []
    (skipped,) = replies(app)
    assert (skipped.status, skipped.note) == ("skipped", "client opted out")
    card = item(client.get("/staff/inbox").text, followup_id)
    assert "Skipped" in card and "client opted out" in card


def test_a_reply_to_an_unknown_number_is_refused(app, client, sign_in):
    inbound(client, "hello?", "SMu", phone="+14155550123")
    (followup,) = followups(app)
    r = sign_in().post(f"/staff/inbox/{followup.id}/reply", data={"body": "Who is this?"})
    assert r.status_code == 422
    assert "call the number" in item(r.text, followup.id)
    assert replies(app) == []


def test_an_empty_or_too_long_reply_is_refused_with_what_was_typed_kept(
        app, book, client, dispatch, clock, sign_in):
    followup_id = redness_item(app, book, client, dispatch, clock)
    sign_in()
    r = client.post(f"/staff/inbox/{followup_id}/reply", data={"body": "   \r\n  "})
    assert r.status_code == 422
    assert "Write a reply before sending it." in item(r.text, followup_id)

    allowed = MAX_LENGTH - len(f"{CLINIC}: ")
    fits = "x" * allowed
    too_long = fits + "y"
    r = client.post(f"/staff/inbox/{followup_id}/reply", data={"body": too_long})
    assert r.status_code == 422
    card = item(r.text, followup_id)
    assert f"at most {allowed} characters" in card and f"this one is {allowed + 1}" in card
    assert textarea(card, "body") == too_long
    assert 'aria-invalid="true"' in card
    assert replies(app) == []
    assert followups(app)[0].status == "open"

    assert client.post(f"/staff/inbox/{followup_id}/reply",
                       data={"body": fits}).status_code == 303
    (queued,) = replies(app)
    assert len(queued.body) == MAX_LENGTH


def test_the_clients_next_unrecognised_text_joins_the_open_item(app, book, client, dispatch,
                                                                clock, sign_in):
    followup_id = redness_item(app, book, client, dispatch, clock)
    clock.advance(minutes=10)
    inbound(client, "It is worse on my chin", "SMmore")
    assert [f.id for f in followups(app)] == [followup_id]
    with app.app_context():
        later = db.session.scalar(select(InboundMessage).where(
            InboundMessage.message_sid == "SMmore"))
        assert later.followup_id == followup_id
    card = item(sign_in().get("/staff/inbox").text, followup_id)
    assert card.index(">1</p>") < card.index("It is worse on my chin")

    # Once resolved, the next unrecognised text opens a new item.
    client.post(f"/staff/inbox/{followup_id}/resolve", data={"note": "Called."})
    inbound(client, "Thanks!", "SMthanks")
    assert len(followups(app)) == 2 and followups(app)[1].status == "open"


def test_a_worrying_checkin_answer_still_opens_its_own_item(app, book, client, dispatch,
                                                           clock):
    assert book(TUE_9).status_code == 201
    complete_and_check_in(app, dispatch, clock)
    inbound(client, "what should I put on it?", "SMq")
    inbound(client, "1", "SMred")
    first, second = followups(app)
    assert (first.reason, second.reason) == ("unrecognised reply", "redness bad")
    assert second.priority == "high"


def test_resolve_closes_the_item_with_its_note_once(app, book, client, dispatch, clock,
                                                    sign_in):
    followup_id = redness_item(app, book, client, dispatch, clock)
    sign_in()
    r = client.post(f"/staff/inbox/{followup_id}/resolve",
                    data={"note": "  Called Dana: <i>cool compress</i>, seen Friday.  "})
    assert r.status_code == 303
    assert r.headers["Location"].endswith(f"/staff/inbox#item-{followup_id}")
    (followup,) = followups(app)
    assert followup.status == "closed" and followup.closed_at == clock.now
    assert followup.note == "Called Dana: <i>cool compress</i>, seen Friday."
    assert followup.closed_by.startswith("staff:")

    page = client.get("/staff/inbox").text
    assert "Resolved" in page  # the flash
    assert '<article class="card inbox-item' not in page  # nothing open
    closed = re.search(rf'<tr id="item-{followup_id}">.*?</tr>', page, re.S).group(0)
    assert "Called Dana: &lt;i&gt;cool compress&lt;/i&gt;, seen Friday." in closed
    assert "Front Desk" in closed

    clock.advance(minutes=5)
    r = client.post(f"/staff/inbox/{followup_id}/resolve", data={"note": "Called again"})
    assert r.status_code == 422
    assert "already resolved by Front Desk 5 min ago" in r.text
    assert "Called again" in r.text  # what was typed, shown back
    (followup,) = followups(app)
    assert followup.note == "Called Dana: <i>cool compress</i>, seen Friday."
    assert followup.closed_at == clock.now - timedelta(minutes=5)

    r = client.post(f"/staff/inbox/{followup_id}/reply", data={"body": "Hello"})
    assert r.status_code == 422 and "already resolved" in r.text
    assert replies(app) == []


def test_a_note_that_is_too_long_is_refused(app, book, client, dispatch, clock, sign_in):
    followup_id = redness_item(app, book, client, dispatch, clock)
    r = sign_in().post(f"/staff/inbox/{followup_id}/resolve", data={"note": "n" * 1001})
    assert r.status_code == 422
    card = item(r.text, followup_id)
    assert "at most 1000 characters" in card and textarea(card, "note") == "n" * 1001
    assert followups(app)[0].status == "open"


def test_an_unknown_item_is_404(client, sign_in):
    sign_in()
    assert client.post("/staff/inbox/999/reply", data={"body": "hi"}).status_code == 404
    assert client.post("/staff/inbox/999/resolve", data={"note": ""}).status_code == 404


def test_client_words_and_reply_bodies_are_escaped(app, book, client, dispatch, clock, sign_in,
                                                    twilio):
    script = "<script>alert(1)</script>"
    assert book(TUE_9, client={"name": script, "phone": "(415) 555-2671",
                               "email": "x@example.com"}).status_code == 201
    complete_and_check_in(app, dispatch, clock)
    inbound(client, "1", "SMred")
    inbound(client, "<img src=x onerror=alert(2)>", "SMimg")
    (followup,) = followups(app)
    sign_in().post(f"/staff/inbox/{followup.id}/reply", data={"body": "<b>Bold</b> advice"})
    dispatch(clock.now)
    page = client.get("/staff/inbox").text
    assert script not in page and "<b>Bold</b>" not in page and "<img src=x" not in page
    card = item(page, followup.id)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    assert "&lt;b&gt;Bold&lt;/b&gt; advice" in card
    assert "&lt;img src=x onerror=alert(2)&gt;" in card
    # The text itself carries the words as typed.
    assert any(s["body"] == f"{CLINIC}: <b>Bold</b> advice" for s in twilio.sent)


def test_every_inbox_form_carries_a_csrf_token(app, book, client, dispatch, clock, sign_in):
    redness_item(app, book, client, dispatch, clock)
    page = sign_in().get("/staff/inbox").text
    forms = re.findall(r"<form.*?</form>", page, re.S)
    inbox_forms = [f for f in forms if "/staff/inbox/" in f]
    assert len(inbox_forms) == 2
    assert all('name="csrf_token"' in f for f in forms)


def test_the_same_reply_form_sent_twice_queues_one_text(app, book, client, dispatch, clock,
                                                        sign_in, twilio):
    followup_id = redness_item(app, book, client, dispatch, clock)
    sign_in()
    page = client.get("/staff/inbox").text
    seen = re.search(rf'action="/staff/inbox/{followup_id}/reply"[^>]*>\s*<input[^>]*>\s*'
                     r'<input type="hidden" name="seen" value="(\d+)">', page).group(1)
    form = {"body": "We will call you at 2 PM.", "seen": seen}
    assert client.post(f"/staff/inbox/{followup_id}/reply", data=form).status_code == 303
    again = client.post(f"/staff/inbox/{followup_id}/reply", data=form)
    assert again.status_code == 422
    assert "nothing was sent" in again.text and "We will call you at 2 PM." in again.text
    assert len(replies(app)) == 1


def test_a_queued_reply_still_goes_out_when_the_visit_is_then_cancelled(app, book, client,
                                                                        clock, sign_in, sms,
                                                                        dispatch):
    assert book("2027-03-03T11:00:00-08:00").status_code == 201
    inbound(client, "please cancel my visit", "SMcancel")
    (followup,) = followups(app)
    sign_in()
    client.post(f"/staff/inbox/{followup.id}/reply", data={"body": "Done, it is cancelled."})
    visit = client.get(f"/staff/visits/{followup.appointment_id}").text
    seen = re.search(r'name="seen" value="([^"]+)"', visit).group(1)
    client.post(f"/staff/visits/{followup.appointment_id}/status",
                data={"status": "cancelled", "seen": seen, "reason": "client asked by text"})
    dispatch(clock.now)
    assert [b for _, _, b in sms.sent if b.endswith("Done, it is cancelled.")]
    (reply,) = replies(app)
    assert reply.status == "sent"
