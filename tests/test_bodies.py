"""Message bodies: short, with the clinic, the time and a link; never private details."""

from datetime import UTC, datetime

import pytest

from clinic.enums import WRITTEN, MessageKind
from clinic.messaging import bodies
from clinic.models import (
    Appointment,
    AppointmentEvent,
    Client,
    Message,
    Provider,
    Service,
)

HOSTILE_NAME = "Tretinoin Accutane Rosacea"
HOSTILE_PROVIDER = "Doctor Spironolactone"
FORBIDDEN = ("tretinoin", "accutane", "isotretinoin", "rosacea", "spironolactone", "cyst",
             "pustule", "milia", "infection", "doctor", "<script>")


def message(kind: str) -> Message:
    service = Service(slug="facial", name="Facial", price_cents=8000, duration_minutes=60,
                      provider_role="aesthetician", includes_extraction=True,
                      pause_topicals_days=3)
    appt = Appointment(
        service=service, provider=Provider(name=HOSTILE_PROVIDER + "<script>", role="aesthetician"),
        client=Client(name=HOSTILE_NAME + "<script>", phone="+14155552671"),
        start_at=datetime(2027, 3, 15, 16, tzinfo=UTC),
        end_at=datetime(2027, 3, 15, 17, tzinfo=UTC),
        manage_token="T" * 32,
        intake={"uses_prescription_topicals": True, "concerns": ["cysts", "pustules", "milia",
                                                                   "infection_signs"],
                "event_date": "2027-03-16", "medication": "Tretinoin 0.05%"})
    appt.events = [AppointmentEvent(action="booked", actor="client", detail={})]
    return Message(kind=kind, appointment=appt, client=appt.client)


@pytest.mark.parametrize("kind", sorted(set(MessageKind) - WRITTEN))
def test_every_body_is_short_and_carries_clinic_time_and_link(app, kind):
    with app.test_request_context():
        body = bodies.render(message(kind))
    assert len(body) <= bodies.MAX_LENGTH
    assert "Clear Skin Clinic" in body
    lowered = body.lower()
    for word in FORBIDDEN:
        assert word not in lowered, (kind, word, body)
    assert "http://clinic.test/" in body, body
    if kind != "rebook":
        assert "Mon 15 Mar at 9:00 AM" in body, body  # clinic time, daylight saving


@pytest.mark.parametrize("kind", sorted(set(MessageKind) - WRITTEN))
def test_bodies_fit_two_segments_with_a_long_clinic_name(app, kind):
    app.config["CLINIC_NAME"] = "The Downtown Dermatology and Skin Care Clinic"
    with app.test_request_context():
        assert len(bodies.render(message(kind))) <= bodies.MAX_LENGTH


def test_checkins_ask_for_1_or_2(app):
    with app.test_request_context():
        assert "Reply 1 if still red or swollen, 2 if settled" in bodies.render(
            message("redness_checkin"))
        assert "normal purging" in bodies.render(message("purging_checkin"))


def test_the_confirmation_names_the_day_to_pause_topicals(app):
    with app.test_request_context():
        body = bodies.render(message("confirmation"))
    assert "Pause prescription skin treatments from Fri 12 Mar." in body  # 3 days before


def test_no_pause_line_for_a_client_without_topicals(app):
    text = message("confirmation")
    text.appointment.intake = {"uses_prescription_topicals": False}
    with app.test_request_context():
        assert "Pause" not in bodies.render(text)


def test_the_reminder_names_the_address_when_it_fits(app):
    with app.test_request_context():
        assert "at 500 Market Street, San Francisco, CA 94105. Reply C" in bodies.render(
            message("reminder"))
    app.config["CLINIC_ADDRESS"] = "Suite 1200, The Very Long Medical Arts Building, " * 4
    with app.test_request_context():
        body = bodies.render(message("reminder"))
    assert "Medical Arts" not in body and len(body) <= bodies.MAX_LENGTH


def test_a_staff_reply_is_sent_as_staff_wrote_it(app):
    with app.app_context():
        reply = message("staff_reply")
        reply.body = "Clear Skin Clinic: yes, a cool compress is fine tonight."
        assert bodies.render(reply) == reply.body
