"""Each visit keeps where it was booked from, so the reports can count the visits the rebook
text brought back: the pages, the rebook text's link, the API, a phone call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import NOW
from sqlalchemy import select

from clinic.enums import BookedVia
from clinic.extensions import db
from clinic.messaging import bodies
from clinic.messaging.models import Message
from clinic.models import Appointment

FORM = {"start": "2027-03-02T09:00:00-08:00", "name": "Dana Client", "phone": "4155552671",
        "uses_prescription_topicals": "no", "concerns": "blackheads", "sms_consent": "yes"}


def booked_via(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Appointment.booked_via).order_by(Appointment.id)))


def test_the_booking_pages_the_api_and_the_rebook_link_are_told_apart(app, client, book, clock):
    assert client.post("/book/facial/details", data=FORM).status_code == 303
    assert book("2027-03-02T11:00:00-08:00", phone="(415) 555-2672").status_code == 201
    assert client.get("/book/facial?via=rebook").status_code == 200
    later = {**FORM, "start": "2027-03-02T13:00:00-08:00", "phone": "4155552673"}
    assert client.post("/book/facial/details", data=later).status_code == 303
    after = {**FORM, "start": "2027-03-02T15:00:00-08:00", "phone": "4155552674"}
    assert client.post("/book/facial/details", data=after).status_code == 303  # marker used
    assert booked_via(app) == ["online", "api", "rebook_text", "online"]


def test_the_rebook_links_mark_is_forgotten_after_a_day(app, client, clock):
    client.get("/book/facial?via=rebook")
    clock.advance(days=1, minutes=1)
    assert client.post("/book/facial/details", data={
        **FORM, "start": "2027-03-04T09:00:00-08:00"}).status_code == 303
    assert booked_via(app) == ["online"]


def test_a_caller_booked_by_phone_is_marked_so(app, sign_in):
    desk = sign_in()
    answer = desk.post("/staff/book/facial?start=2027-03-02T09:00:00-08:00", data={
        **FORM, "start": "2027-03-02T09:00:00-08:00"})
    assert answer.status_code == 303, answer.text[:500]
    assert booked_via(app) == [BookedVia.PHONE]


@pytest.mark.parametrize(("kind", "marked"), [("rebook", True), ("cancellation", False)])
def test_only_the_rebook_texts_link_carries_the_mark(app, book, kind, marked):
    assert book("2027-03-02T09:00:00-08:00").status_code == 201
    with app.app_context():
        appt = db.session.scalar(select(Appointment))
        message = Message(kind=kind, appointment=appt, client=appt.client,
                          due_at=NOW + timedelta(days=15))
        body = bodies.render(message)
        db.session.rollback()
    assert ("/book/facial?via=rebook" in body) is marked
    assert "/book/facial" in body
