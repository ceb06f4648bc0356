"""Booking a caller by phone at /staff/book: the client's pickers, every clinic rule, consent
taken by phone and recorded with who took it, and the extraction cadence, which only an admin
or a dermatologist may override, with a reason the visit's history keeps."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from conftest import NOW, payload
from sqlalchemy import func, select

from clinic import booking, rules
from clinic.booking import BookingError, BookingRequest, ClientDetails
from clinic.enums import VisitEvent
from clinic.extensions import db
from clinic.messaging.models import Message
from clinic.models import Appointment, AppointmentEvent, Client, StaffUser

PHONE = "+14155552671"  # the `book` fixture's "(415) 555-2671"
FIRST = "2027-03-02T10:00:00-08:00"  # Tuesday: the earlier visit booked online
SOON = "2027-03-08T10:00:00-08:00"  # Monday, 6 days later: too soon for an extraction
REASON = "Dr Reyes asked to see the flare-up again before the wedding"


def form(start: str, **changes) -> dict:
    """The details form as a desk fills it in; keyword arguments replace fields."""
    data = {
        "start": start, "provider": "", "name": "Dana Caller", "phone": "(415) 555-2671",
        "email": "", "sms_consent": "yes", "uses_prescription_topicals": "no",
        "concerns": ["blackheads"], "event_date": "",
    }
    data.update(changes)
    return data


def post(client, slug: str, start: str, **changes):
    return client.post(f"/staff/book/{slug}", data=form(start, **changes))


def visits(app) -> list[Appointment]:
    with app.app_context():
        found = list(db.session.scalars(select(Appointment).order_by(Appointment.id)))
        for visit in found:
            _ = visit.client, visit.events, visit.service
        return found


def booked_event(app, visit_id: int) -> AppointmentEvent:
    with app.app_context():
        return db.session.scalar(select(AppointmentEvent).where(
            AppointmentEvent.appointment_id == visit_id,
            AppointmentEvent.action == VisitEvent.BOOKED))


def actor_of(app, email: str) -> str:
    with app.app_context():
        return db.session.scalar(select(StaffUser).where(StaffUser.email == email)).actor


def flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


def text_of(response) -> str:
    """The page's text, tags dropped and spaces folded, as a person reads it."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


@pytest.fixture
def earlier_visit(book):
    """A facial booked online for PHONE on Tuesday 2 March; facials include extraction."""
    answer = book(FIRST)
    assert answer.status_code == 201, answer.text


# --- The pages --------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client):
    answer = client.get("/staff/book")
    assert answer.status_code in (302, 303)
    assert "/staff/login" in answer.headers["Location"]
    assert client.post("/staff/book/facial", data=form(FIRST)).status_code in (302, 303)


def test_service_day_slot_and_details_pages_lead_to_the_form(sign_in):
    desk = sign_in()
    services = desk.get("/staff/book")
    assert services.status_code == 200
    assert "$80" in services.text and "$200" in services.text and "60 min" in services.text
    assert 'href="/staff/book/facial"' in services.text

    days = desk.get("/staff/book/facial?from=2027-03-02")
    assert days.status_code == 200
    assert 'href="/staff/book/facial/2027-03-02"' in days.text
    assert "/staff/book/facial?from=" in days.text  # the pager and month links stay here

    slots = desk.get("/staff/book/facial/2027-03-02")
    assert slots.status_code == 200
    link = "/staff/book/facial?start=2027-03-02T09:00:00-08:00"
    assert link.replace(":", "%3A") in slots.text or link in slots.text

    details = desk.get("/staff/book/facial?start=2027-03-02T09:00:00-08:00")
    assert details.status_code == 200
    page = text_of(details)
    assert "The client agreed by phone to get texts about this visit" in page
    assert 'name="csrf_token"' in details.text
    assert 'name="cadence_override"' not in details.text  # a plain staff account
    for field in ("phone", "name", "email", "event_date"):
        assert f'<label for="{field}"' in details.text


# --- Booking ----------------------------------------------------------------------------------


def test_a_phone_booking_records_consent_by_phone_with_who_took_it(app, sign_in):
    desk = sign_in(name="Rosa Desk")
    answer = post(desk, "facial", "2027-03-02T10:00:00-08:00", email="dana@example.com")
    assert answer.status_code == 303, answer.text
    [visit] = visits(app)
    assert answer.headers["Location"].endswith(f"/staff/visits/{visit.id}")

    assert visit.client.phone == PHONE
    assert visit.client.sms_consent_via == "by phone, taken by Rosa Desk"
    assert visit.client.sms_consent_at == NOW
    actor = actor_of(app, "staff@clinic.test")
    assert visit.created_by == actor
    event = booked_event(app, visit.id)
    assert event.actor == actor
    assert event.detail["consent"] == "by phone, taken by Rosa Desk"
    assert "cadence_override" not in event.detail

    with app.app_context():
        kinds = set(db.session.scalars(select(Message.kind).where(
            Message.appointment_id == visit.id)))
    assert "confirmation" in kinds
    [(category, message)] = flashes(desk)
    assert category == "ok"
    assert "Booked facial for Dana Caller" in message and "Tuesday 2 March, 10:00 AM" in message
    assert "confirmation text is on its way" in message


def test_an_online_booking_records_consent_online(app, book):
    assert book(FIRST).status_code == 201
    [visit] = visits(app)
    assert visit.client.sms_consent_via == "online"
    assert booked_event(app, visit.id).detail["consent"] == "online"
    assert booked_event(app, visit.id).actor == "client"


def test_triage_still_refuses_cysts_as_a_facial(app, sign_in):
    desk = sign_in()
    answer = post(desk, "facial", "2027-03-02T10:00:00-08:00", concerns=["cysts"])
    assert answer.status_code == 422
    page = text_of(answer)
    assert "need a dermatologist rather than a facial" in page
    assert "deep, painful cysts" in page
    assert 'href="/staff/book/extraction?from=2027-03-02"' in answer.text
    assert visits(app) == []


def test_lead_time_still_holds_for_staff(app, sign_in):
    desk = sign_in()
    answer = post(desk, "facial", "2027-03-01T09:00:00-08:00")  # one hour from now
    assert answer.status_code == 422
    assert "from 2 hours ahead" in text_of(answer)
    assert visits(app) == []


def test_consent_by_phone_is_required(app, sign_in):
    desk = sign_in()
    answer = post(desk, "facial", "2027-03-02T10:00:00-08:00", sms_consent="")
    assert answer.status_code == 422
    assert "Ask the caller whether we may text them" in text_of(answer)
    assert re.search(r'name="sms_consent"[^>]*aria-invalid="true"', answer.text)
    assert visits(app) == []


def test_a_bad_phone_number_is_refused_keeping_what_was_typed(app, sign_in):
    desk = sign_in()
    answer = post(desk, "facial", "2027-03-02T10:00:00-08:00", phone="(415) 555-267",
                  name="Dana <Caller>", email="dana@example.com", event_date="2027-03-20",
                  uses_prescription_topicals="yes", concerns=["whiteheads", "other"])
    assert answer.status_code == 422
    html = answer.text
    assert 'id="phone-error"' in html
    assert "check the digits" in text_of(answer) or "look like a phone number" in text_of(answer)
    assert 'value="(415) 555-267"' in html
    assert 'value="Dana &lt;Caller&gt;"' in html  # kept, and escaped
    assert 'value="dana@example.com"' in html and 'value="2027-03-20"' in html
    assert 'value="yes" checked' in html  # topicals
    assert 'value="whiteheads" checked' in html and 'value="other" checked' in html
    assert 'value="blackheads" checked' not in html
    with app.app_context():
        assert db.session.scalar(select(func.count(Client.id))) == 0
    assert visits(app) == []


def test_a_taken_slot_offers_the_next_times_and_switches_without_booking(app, sign_in,
                                                                          earlier_visit):
    desk = sign_in()
    answer = post(desk, "facial", FIRST, phone="(415) 555-0123", name="Sam Other")
    assert answer.status_code == 409
    alternatives = re.findall(r'name="alt_start" value="([^"]+)"', answer.text)
    assert len(alternatives) == 3
    assert 'value="Sam Other"' in answer.text

    switched = desk.post("/staff/book/facial", data={
        **form(FIRST, phone="(415) 555-0123", name="Sam Other"), "alt_start": alternatives[0]})
    assert switched.status_code == 200
    [shown] = re.findall(r'name="start" value="([^"]+)"', switched.text)
    assert datetime.fromisoformat(shown) == datetime.fromisoformat(alternatives[0])
    assert "Time changed to" in text_of(switched)
    assert 'value="Sam Other"' in switched.text
    assert len(visits(app)) == 1  # only the earlier visit: switching books nothing

    booked = post(desk, "facial", alternatives[0], phone="(415) 555-0123", name="Sam Other")
    assert booked.status_code == 303
    assert len(visits(app)) == 2


def test_finding_a_client_by_phone_shows_who_is_on_file_and_writes_nothing(app, sign_in,
                                                                           earlier_visit):
    desk = sign_in()
    found = desk.post("/staff/book/extraction",
                      data={**form("2027-03-22T10:00:00-07:00", name=""), "lookup": "yes"})
    assert found.status_code == 200
    page = text_of(found)
    assert "On file: Dana Client" in page
    assert "Facial, Tuesday 2 March, 10:00 AM" in page
    unknown = desk.post("/staff/book/extraction", data={
        **form("2027-03-22T10:00:00-07:00", phone="(415) 555-0123"), "lookup": "yes"})
    assert "No client has this number yet" in text_of(unknown)
    assert len(visits(app)) == 1


# --- The extraction cadence -------------------------------------------------------------------


def test_too_soon_is_refused_for_staff_with_the_dates_and_the_visits_in_the_way(
        app, sign_in, earlier_visit):
    desk = sign_in()
    answer = post(desk, "extraction", SOON, cadence_override=REASON)
    assert answer.status_code == 422
    page = text_of(answer)
    assert "at least 14 days apart" in page
    assert "You have a facial on Tuesday 2 March." in page  # staff are trusted
    assert "Choose a day from Tue 16 Mar." in page
    assert "The first day that keeps the gap: Tuesday 16 March." in page
    assert 'href="/staff/book/extraction?from=2027-03-16"' in answer.text
    assert 'name="cadence_override"' not in answer.text
    assert "book this day anyway" not in page
    assert len(visits(app)) == 1


def test_an_admin_without_a_reason_is_refused_and_asked_for_one(app, sign_in, earlier_visit):
    desk = sign_in("admin")
    answer = post(desk, "extraction", SOON, cadence_override="   \n ")
    assert answer.status_code == 422
    page = text_of(answer)
    assert "Choose a day from Tue 16 Mar." in page
    assert "You may book this day anyway" in page
    assert 'id="cadence_override-error"' in answer.text
    assert 'aria-invalid="true" aria-describedby="cadence_override-error"' in answer.text
    assert len(visits(app)) == 1


@pytest.mark.parametrize("who", ["admin", "dermatologist"])
def test_an_admin_or_a_dermatologist_books_despite_the_gap_with_a_reason(
        app, sign_in, providers, earlier_visit, who):
    desk = (sign_in("admin") if who == "admin"
            else sign_in(provider_id=providers.dermatologist))
    email = "admin@clinic.test" if who == "admin" else "staff@clinic.test"
    answer = post(desk, "extraction", SOON, cadence_override=f"  {REASON}\n")
    assert answer.status_code == 303, text_of(answer)
    first, second = visits(app)
    assert second.service.slug == "extraction" and second.client_id == first.client_id
    event = booked_event(app, second.id)
    assert event.detail["cadence_override"] == REASON
    assert event.actor == actor_of(app, email)
    assert event.detail["consent"].startswith("by phone, taken by ")


def test_an_aesthetician_cannot_override_even_when_posting_a_reason(app, sign_in, providers,
                                                                    earlier_visit):
    desk = sign_in(provider_id=providers.aesthetician)
    answer = post(desk, "extraction", SOON, cadence_override=REASON)
    assert answer.status_code == 422
    page = text_of(answer)
    assert "Choose a day from Tue 16 Mar." in page
    assert 'name="cadence_override"' not in answer.text
    assert len(visits(app)) == 1


def test_a_reason_is_not_needed_when_the_gap_is_kept(app, sign_in, earlier_visit):
    desk = sign_in("admin")
    answer = post(desk, "extraction", "2027-03-16T10:00:00-07:00", cadence_override="")
    assert answer.status_code == 303
    assert "cadence_override" not in booked_event(app, visits(app)[1].id).detail


def test_the_public_api_refuses_too_soon_whatever_extra_fields_it_gets(app, client,
                                                                       earlier_visit):
    body = {**payload(SOON, service="extraction"), "cadence_override": REASON,
            "consent_via": "by phone, taken by Nobody", "name_visits": True,
            "actor": "staff:1"}
    answer = client.post("/api/v1/bookings", json=body)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "too_soon"
    assert booking.SOMETHING_CLOSE in error["message"]  # it never names the visits
    assert "Tuesday 2 March" not in error["message"]
    assert len(visits(app)) == 1
    assert visits(app)[0].client.sms_consent_via == "online"


# --- The domain -------------------------------------------------------------------------------


def request_for(start: str) -> BookingRequest:
    return BookingRequest(service="extraction", start=datetime.fromisoformat(start),
                          client=ClientDetails("Dana Client", PHONE), sms_consent=True,
                          uses_prescription_topicals=False)


def test_book_refuses_a_blank_override_reason(app, earlier_visit):
    with app.app_context():
        with pytest.raises(BookingError) as caught:
            booking.book(db.session, request_for(SOON), now=NOW, clinic=rules.current(),
                         actor="staff:1", cadence_override=" \t ")
    assert caught.value.code == "override_reason_required"
    assert "cadence_override" in caught.value.fields
    assert len(visits(app)) == 1


def test_only_a_staff_booking_can_carry_an_override(app, earlier_visit):
    with app.app_context():
        with pytest.raises(ValueError):
            booking.book(db.session, request_for(SOON), now=NOW, clinic=rules.current(),
                         cadence_override=REASON)  # actor "client"
    assert len(visits(app)) == 1


def test_who_may_override_the_cadence(app, make_staff, providers):
    ids = {
        "plain": make_staff("plain@clinic.test"),
        "admin": make_staff("admin@clinic.test", role="admin"),
        "derm": make_staff("derm@clinic.test", provider_id=providers.dermatologist),
        "aest": make_staff("aest@clinic.test", provider_id=providers.aesthetician),
    }
    with app.app_context():
        allowed = {name: booking.may_override_cadence(db.session.get(StaffUser, staff_id))
                   for name, staff_id in ids.items()}
    assert allowed == {"plain": False, "admin": True, "derm": True, "aest": False}
