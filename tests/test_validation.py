"""Every field's message, word for word, as a client reads it (clinic/validation.py, README,
"API"): the request models validate, the messages stay the clinic's own."""

from __future__ import annotations

import pytest
from conftest import payload

from clinic.validation import BookingIn, InvalidInput, read

TUE_9 = "2027-03-02T09:00:00-08:00"
CONCERN_LIST = ("blackheads, whiteheads, clogged_pores, pustules, cysts, milia, "
                "infection_signs, other")


def changed(dotted: str, value) -> dict:
    body = payload(TUE_9)
    *parents, last = dotted.split(".")
    node = body
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return body


@pytest.mark.parametrize(("field", "value", "message"), [
    ("service", ..., "Required."),
    ("service", None, "Required."),
    ("service", "  ", "Must be non-empty text."),
    ("service", 7, "Must be non-empty text."),
    ("service", "f" * 41, "At most 40 characters of text."),
    ("start", "2027-03-02T09:00:00", "Must be an ISO 8601 time with offset (needs a UTC "
                                     "offset, like 2027-03-15T09:00:00-07:00)."),
    ("start", "soon", "Must be an ISO 8601 time with offset (Invalid isoformat string: "
                      "'soon')."),
    ("provider_id", "one", "Must be a positive whole number."),
    ("provider_id", 2**31, "Must be a positive whole number."),
    ("provider_id", True, "Must be a positive whole number."),
    ("client", ..., "Required: an object."),
    ("client", "Dana", "Required: an object."),
    ("client.name", "Da\x00na", "Contains characters that can't be used here."),
    ("client.name", "Da\ud800na", "Contains characters that can't be used here."),
    ("client.phone", "555-0000", "That phone number doesn't exist; check the digits."),
    ("client.phone", "call me", "That doesn't look like a phone number."),
    ("client.phone", "+44 7911 123456", "Use a mobile number from the clinic's country (US)."),
    ("client.phone", "1" * 41, "At most 40 characters of text."),
    ("client.email", "dana", "That doesn't look like an email address."),
    ("sms_consent", "yes", "Must be true or false."),
    ("intake", ..., "Required: an object."),
    ("intake.uses_prescription_topicals", "yes", "Please answer yes or no."),
    ("intake.uses_prescription_topicals", ..., "Please answer yes or no."),
    ("intake.concerns", "blackheads", "Must be a list of concerns."),
    ("intake.concerns", ["sunburn"], f"Unknown concern; choose from {CONCERN_LIST}."),
    ("intake.event_date", "March", "Must be a date like 2027-03-15."),
    ("intake.event_date", "1999-12-31", "Must be a date like 2027-03-15."),
])
def test_each_booking_field_says_what_is_wrong(client, field, value, message):
    r = client.post("/api/v1/bookings", json=changed(field, value))
    assert r.status_code == 422
    error = r.json["error"]
    assert (error["code"], error["message"]) == ("validation_error",
                                                 "Some fields need another look.")
    assert error["fields"] == {field: message}


def test_consent_is_asked_for_beside_other_mistakes(client):
    body = changed("client.phone", "555-0000")
    body["sms_consent"] = False
    r = client.post("/api/v1/bookings", json=body)
    assert r.json["error"]["fields"] == {
        "client.phone": "That phone number doesn't exist; check the digits.",
        "sms_consent": "Please agree to text messages about your visit."}


def test_unknown_fields_are_ignored(client):
    body = payload(TUE_9)
    body["coupon"], body["client"]["nickname"] = "FREE", {"deep": [[[]]]}
    assert client.post("/api/v1/bookings", json=body).status_code == 201


def test_the_page_form_and_the_api_read_through_one_model():
    with pytest.raises(InvalidInput) as refused:
        read(BookingIn, changed("client.email", "dana"), region="US")
    assert refused.value.fields == {"client.email": "That doesn't look like an email address."}
    booking = read(BookingIn, payload(TUE_9), region="US").request()
    assert (booking.client.phone, booking.concerns) == ("+14155552671", ("blackheads",))


@pytest.mark.parametrize(("query", "field", "message"), [
    ("service=facial&to=2027-03-02", "from", "Required."),
    ("service=facial&from=2027-03-05&to=2027-03-02", "to", "Must be on or after 'from'."),
    ("service=facial&from=2027-03-01&to=2027-05-02", "to", "At most 62 days at a time."),
    ("service=facial&from=2027-03-02&to=2027-03-02&provider=%C2%B2", "provider",
     "Must be a provider id."),
])
def test_each_availability_parameter_says_what_is_wrong(client, query, field, message):
    r = client.get("/api/v1/availability?" + query)
    assert r.status_code == 422
    assert r.json["error"]["fields"] == {field: message}




def test_a_status_staff_cannot_set_is_named(client, staff_auth):
    visit = client.post("/api/v1/bookings", json=payload(TUE_9)).json["booking"]["id"]
    r = client.post(f"/api/v1/staff/appointments/{visit}/status", json={"status": "done"},
                    headers=staff_auth)
    assert r.status_code == 422
    assert r.json["error"]["fields"] == {
        "status": "One of booked, confirmed, checked_in, completed, cancelled, no_show."}


def test_an_unknown_followup_filter_is_named(client, staff_auth):
    r = client.get("/api/v1/staff/followups?status=maybe", headers=staff_auth)
    assert r.status_code == 422
    assert (r.json["error"]["message"], r.json["error"]["fields"]) == (
        "Unknown status.", {"status": "One of open, closed, all."})
