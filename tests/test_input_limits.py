"""Input at the edges: NUL bytes never give a 5xx, private answers are never stored, 64 KB bodies.

PostgreSQL refuses NUL in text, so a webhook's fields are cleaned after the signature check and
every typed field is refused with a message or ignored; with TESTING on, a crash would surface
here as the exception itself. Every case runs on whichever database the suite runs on.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from conftest import payload, signed_post
from sqlalchemy import func, select

from clinic.extensions import db
from clinic.models import Appointment, Followup, InboundMessage, Message

PHONE = "+14155552671"
TUE_9 = "2027-03-02T09:00:00-08:00"
#: NUL inside the time: CPython's fromisoformat reads "...-08:00\x00" as the time before it.
TUE_9_NUL = "2027-03-02T09:\x0000:00-08:00"
LIMIT = 64 * 1024


def inbound(client, *, body: str = "hello", sid: str = "SMin1", phone: str = PHONE):
    return signed_post(client, "/sms/inbound", {"MessageSid": sid, "From": phone,
                                                "To": "+15005550006", "Body": body})


def rows(app, model) -> list:
    with app.app_context():
        found = list(db.session.scalars(select(model).order_by(model.id)))
        db.session.expunge_all()
        return found


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


# --- Twilio's webhooks ------------------------------------------------------------------------


def test_nul_in_an_inbound_body_is_dropped_and_staff_see_the_rest(book, client, app):
    book(TUE_9)
    r = inbound(client, body="a\x00b")
    assert r.status_code == 200
    [message] = rows(app, InboundMessage)
    assert (message.body, message.action) == ("ab", "followup")
    [followup] = rows(app, Followup)
    assert followup.inbound_id == message.id and followup.client_id is not None


def test_nul_in_from_still_finds_the_client(book, client, app):
    book(TUE_9)
    assert inbound(client, phone="+1415555\x002671").status_code == 200
    [message] = rows(app, InboundMessage)
    assert message.from_phone == PHONE and message.client_id is not None


def test_from_of_nothing_but_nul_is_ignored_without_error(client, app):
    assert inbound(client, phone="\x00").status_code == 200
    assert count(app, InboundMessage) == 0


def test_overlong_from_and_sid_are_cut_to_their_columns(client, app):
    sid, phone = "SM" + "a" * 98, "+1" + "4" * 98
    assert inbound(client, sid=sid, phone=phone).status_code == 200
    [message] = rows(app, InboundMessage)
    assert message.message_sid == sid[:64]
    assert message.from_phone == phone[:32]
    assert count(app, Followup) == 1  # an unknown number: staff see it


def test_nul_in_a_status_callback_is_dropped_before_the_lookup(book, client, app, dispatch,
                                                               clock):
    book(TUE_9)
    dispatch(clock.now)
    [sent] = [m for m in rows(app, Message) if m.kind == "confirmation"]
    assert sent.provider_sid
    form = {"MessageSid": sent.provider_sid[:2] + "\x00" + sent.provider_sid[2:],
            "MessageStatus": "deliv\x00ered", "ErrorCode": "\x00"}
    assert signed_post(client, "/sms/status", form).status_code == 204
    [after] = [m for m in rows(app, Message) if m.id == sent.id]
    assert after.status == "delivered"


@pytest.mark.parametrize("form", [
    {"MessageSid": "SMun\x00known", "MessageStatus": "delivered"},
    {"MessageSid": "\x00", "MessageStatus": "\x00"},
    {"MessageSid": "SM" + "b" * 98, "MessageStatus": "delivered", "ErrorCode": "3\x00006"},
], ids=["unknown sid", "nul only", "overlong sid"])
def test_odd_status_callbacks_are_answered_204(client, form):
    assert signed_post(client, "/sms/status?m=1%00", form).status_code == 204


# --- Pages and the API ------------------------------------------------------------------------

GOOD_FORM = {"start": TUE_9, "name": "Dana Client", "phone": "4155552671",
             "email": "dana@example.com", "concerns": "blackheads",
             "uses_prescription_topicals": "no", "sms_consent": "yes"}
CLEAR = "Contains characters that can"  # "...can't be used here."


@pytest.mark.parametrize("field,value,status", [
    ("name", "Da\x00na", 422),
    ("phone", "415555\x002671", 422),
    ("email", "da\x00na@example.com", 422),
    ("event_date", "2027-03-0\x002", 422),
    ("uses_prescription_topicals", "no\x00", 422),
    ("start", TUE_9_NUL, 302),  # back to choosing a day
    ("provider", "1\x00", 303),  # no such provider id: any free one
    ("concerns", "black\x00heads", 303),  # not a concern on the list: left out
    ("sms_consent", "yes\x00", 422),  # not a yes, and consent is required
])
def test_nul_in_a_booking_form_field_is_refused_or_ignored(client, app, field, value, status):
    r = client.post("/book/facial/details", data={**GOOD_FORM, field: value})
    assert r.status_code == status
    if field in ("name", "phone", "email"):
        assert CLEAR in r.get_data(as_text=True)
    assert count(app, Appointment) == (1 if status == 303 else 0)


def _with(body: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = body
    for key in parents:
        node = node[key]
    node[last] = value
    return body


@pytest.mark.parametrize("field,value", [
    ("service", "fac\x00ial"),
    ("start", TUE_9_NUL),
    ("client.name", "Da\x00na"),
    ("client.name", "Da\ud800na"),  # a lone surrogate, as JSON can spell it
    ("client.phone", "(415) 555-\x002671"),
    ("client.email", "dana@exam\x00ple.com"),
    ("intake.event_date", "2027-03-\x0002"),
    ("intake.concerns", ["black\x00heads"]),
])
def test_nul_in_an_api_booking_names_the_field(client, app, field, value):
    r = client.post("/api/v1/bookings", json=_with(payload(TUE_9), field, value))
    assert r.status_code == 422
    assert r.json["error"]["code"] == "validation_error"
    assert r.json["error"]["fields"][field]
    assert count(app, Appointment) == 0


@pytest.mark.parametrize("url,status", [
    ("/book/fac%00ial", 404),
    ("/book/facial?from=2027-03-0%002&provider=1%00", 200),
    ("/book/facial/2027-03-02?provider=%00", 200),
    ("/book/facial/2027-03-0%002", 404),
    ("/book/facial/details?start=2027-03-02T09:%0000:00-08:00", 302),
    ("/booked/{token}%00", 404),
    ("/manage/{token}%00", 404),
    ("/manage/{token}/reschedule?from=%00", 200),
    ("/manage/{token}/reschedule/2027-03-0%004", 404),
    ("/api/v1/bookings/{token}%00", 404),
    ("/api/v1/availability?service=fac%00ial&from=2027-03-02&to=2027-03-02", 422),
    ("/api/v1/availability?service=facial&from=2027-03-02%00&to=2027-03-02", 422),
    ("/api/v1/availability?service=facial&from=2027-03-02&to=2027-03-02&provider=1%00", 422),
])
def test_nul_in_a_url_is_a_4xx_or_ignored(book, client, url, status):
    token = book(TUE_9).json["booking"]["token"]
    r = client.get(url.replace("{token}", token))
    assert r.status_code == status
    if r.status_code == 422:
        assert r.json["error"]["fields"]


def test_nul_in_staff_queries_and_bodies_is_a_422(book, client, app, staff_auth):
    book(TUE_9)
    [appt] = rows(app, Appointment)
    day = client.get("/api/v1/staff/appointments?date=2027-03-02%00", headers=staff_auth)
    assert (day.status_code, list(day.json["error"]["fields"])) == (422, ["date"])
    listed = client.get("/api/v1/staff/followups?status=open%00", headers=staff_auth)
    assert (listed.status_code, list(listed.json["error"]["fields"])) == (422, ["status"])
    changed = client.post(f"/api/v1/staff/appointments/{appt.id}/status", headers=staff_auth,
                          json={"status": "no_\x00show"})
    assert (changed.status_code, list(changed.json["error"]["fields"])) == (422, ["status"])
    moved = client.post(f"/api/v1/bookings/{appt.manage_token}/reschedule",
                        json={"start": TUE_9_NUL})
    assert (moved.status_code, list(moved.json["error"]["fields"])) == (422, ["start"])


# --- Cache-Control ----------------------------------------------------------------------------


def test_answers_with_a_token_or_client_details_are_never_stored(book, client):
    created = book(TUE_9)
    assert created.status_code == 201
    token = created.json["booking"]["token"]
    form = client.post("/book/facial/details", data={
        **GOOD_FORM, "start": "2027-03-02T11:00:00-08:00", "phone": "4155552672"})
    assert form.status_code == 303
    answers = [
        created, form,
        client.get(form.headers["Location"]),
        client.get(f"/booked/{token}"),
        client.get(f"/manage/{token}"),
        client.get(f"/manage/{token}/reschedule"),
        client.get(f"/api/v1/bookings/{token}"),
        client.get(f"/api/v1/bookings/{token}/calendar.ics"),
        client.post(f"/api/v1/bookings/{token}/reschedule",
                    json={"start": "2027-03-04T10:00:00-08:00"}),
        client.post(f"/api/v1/bookings/{token}/cancel"),
        client.get("/api/v1/staff/appointments?date=2027-03-02"),
        client.get("/api/v1/staff/followups"),
    ]
    assert [a.status_code for a in answers] == [201, 303, 200, 200, 200, 200, 200, 200, 200,
                                                200, 401, 401]
    for answer in answers:
        assert answer.headers.get("Cache-Control") == "no-store", answer.request.path


def test_static_files_stay_cacheable(client):
    r = client.get("/static/app.css")
    assert r.status_code == 200
    assert "no-store" not in r.headers.get("Cache-Control", "")
    r.close()


# --- Body size --------------------------------------------------------------------------------


def padded_booking(size: int, start: str = TUE_9) -> bytes:
    """A valid booking as JSON, padded with spaces to `size` bytes."""
    body = json.dumps(payload(start)).encode()
    return body + b" " * (size - len(body))


def test_a_booking_just_under_the_limit_is_read(client):
    r = client.post("/api/v1/bookings", data=padded_booking(LIMIT - 1),
                    content_type="application/json")
    assert r.status_code == 201


def test_a_100_kb_api_body_is_a_413_in_the_api_shape(client, app):
    r = client.post("/api/v1/bookings", data=padded_booking(100 * 1024),
                    content_type="application/json")
    assert r.status_code == 413
    assert r.json["error"]["code"] == "too_large"
    assert r.json["error"]["message"] and r.json["error"]["fields"] == {}
    assert count(app, Appointment) == 0


def test_a_100_kb_form_is_a_413_page(client, app):
    r = client.post("/book/facial/details", data={**GOOD_FORM, "name": "D" * 100 * 1024})
    assert r.status_code == 413
    assert r.mimetype == "text/html"
    assert "That was too much to send" in r.get_data(as_text=True)
    assert count(app, Appointment) == 0


def test_a_100_kb_webhook_is_a_413(client, app):
    r = inbound(client, body="x" * 100 * 1024)
    assert r.status_code == 413
    assert count(app, InboundMessage) == 0


def post_chunked(base: str, path: str, body: bytes) -> int | None:
    """POSTs `body` with Transfer-Encoding: chunked, no Content-Length; the status, or None
    when the server closed the connection before answering."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    chunks = (body[i:i + 8192] for i in range(0, len(body), 8192))
    try:
        conn.request("POST", path, body=chunks, encode_chunked=True,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    except ConnectionError:
        return None
    finally:
        conn.close()


def test_chunked_bodies_are_read(live_server, app):
    """The control for the test below: without a length, a small body still books."""
    assert post_chunked(live_server, "/api/v1/bookings", padded_booking(1024)) == 201
    assert count(app, Appointment) == 1


def test_a_chunked_body_over_the_limit_is_refused(live_server, app):
    status = post_chunked(live_server, "/api/v1/bookings", padded_booking(100 * 1024))
    assert status in (413, None)
    assert count(app, Appointment) == 0
