"""Cancelling and moving a visit from its manage link, by API and by page."""

from datetime import timedelta

from sqlalchemy import select

from clinic.extensions import db
from clinic.models import Appointment, AppointmentEvent

TUE_9 = "2027-03-02T09:00:00-08:00"


def visit(app, token) -> Appointment:
    with app.app_context():
        appt = db.session.scalar(select(Appointment).where(Appointment.manage_token == token))
        db.session.expunge(appt)
        return appt


def test_client_cancels_and_the_visit_is_kept_with_who_and_when(book, client, app, clock):
    token = book(TUE_9).json["booking"]["token"]
    r = client.post(f"/api/v1/bookings/{token}/cancel")
    assert r.status_code == 200
    assert r.json["booking"]["status"] == "cancelled"
    assert r.json["booking"]["late_change"] is False
    appt = visit(app, token)
    assert (appt.cancelled_by, appt.cancelled_at) == ("client", clock.now)


def test_cancelling_within_24_hours_is_recorded_as_late(book, client, app, clock):
    token = book(TUE_9).json["booking"]["token"]
    clock.advance(hours=2)  # Monday 10:00, 23 h before the visit
    r = client.post(f"/api/v1/bookings/{token}/cancel")
    assert r.json["booking"]["late_change"] is True
    with app.app_context():
        event = db.session.scalar(select(AppointmentEvent).where(
            AppointmentEvent.action == "cancelled"))
        assert event.detail == {"late": True}


def test_cancel_after_the_start_is_refused(book, client, clock):
    token = book(TUE_9).json["booking"]["token"]
    clock.advance(days=1, hours=1)
    r = client.post(f"/api/v1/bookings/{token}/cancel")
    assert r.status_code == 409
    assert r.json["error"]["code"] == "too_late"


def test_cancelling_twice_changes_nothing(book, client, app, clock):
    token = book(TUE_9).json["booking"]["token"]
    client.post(f"/api/v1/bookings/{token}/cancel")
    first = visit(app, token).cancelled_at
    clock.advance(minutes=5)
    assert client.post(f"/api/v1/bookings/{token}/cancel").json["booking"]["status"] == "cancelled"
    assert visit(app, token).cancelled_at == first


def test_cancelled_slot_is_free_again(book, client):
    token = book(TUE_9).json["booking"]["token"]
    client.post(f"/api/v1/bookings/{token}/cancel")
    assert book(TUE_9, phone="(415) 555-2672").status_code == 201


def test_reschedule_moves_the_visit_and_logs_it(book, client, app):
    token = book(TUE_9).json["booking"]["token"]
    r = client.post(f"/api/v1/bookings/{token}/reschedule",
                    json={"start": "2027-03-03T11:00:00-08:00"})
    assert r.status_code == 200
    assert r.json["booking"]["start"] == "2027-03-03T11:00:00-08:00"
    assert r.json["booking"]["end"] == "2027-03-03T12:00:00-08:00"
    appt = visit(app, token)
    assert appt.busy_until - appt.end_at == timedelta(minutes=15)
    with app.app_context():
        actions = list(db.session.scalars(select(AppointmentEvent.action).order_by(
            AppointmentEvent.id)))
    assert actions == ["booked", "rescheduled"]


def test_reschedule_cannot_land_on_a_taken_slot(book, client, app):
    book("2027-03-03T11:00:00-08:00", phone="(415) 555-2672")
    token = book(TUE_9).json["booking"]["token"]
    r = client.post(f"/api/v1/bookings/{token}/reschedule",
                    json={"start": "2027-03-03T11:30:00-08:00"})
    assert r.status_code == 409
    assert r.json["error"]["code"] == "slot_unavailable"
    assert r.json["error"]["alternatives"]
    assert visit(app, token).start_at.isoformat() == "2027-03-02T17:00:00+00:00"


def test_reschedule_may_overlap_its_own_old_time(book, client):
    token = book(TUE_9).json["booking"]["token"]
    r = client.post(f"/api/v1/bookings/{token}/reschedule",
                    json={"start": "2027-03-02T09:30:00-08:00"})
    assert r.status_code == 200


def test_reschedule_keeps_the_extraction_cadence(book, client):
    book("2027-03-20T09:00:00-07:00", service="extraction")
    token = book("2027-03-03T09:00:00-08:00").json["booking"]["token"]
    r = client.post(f"/api/v1/bookings/{token}/reschedule",
                    json={"start": "2027-03-10T09:00:00-08:00"})
    assert r.status_code == 422
    assert r.json["error"]["code"] == "too_soon"


def test_reschedule_of_a_cancelled_visit_is_409(book, client):
    token = book(TUE_9).json["booking"]["token"]
    client.post(f"/api/v1/bookings/{token}/cancel")
    r = client.post(f"/api/v1/bookings/{token}/reschedule",
                    json={"start": "2027-03-03T11:00:00-08:00"})
    assert r.status_code == 409
    assert r.json["error"]["code"] == "not_changeable"


def test_reschedule_needs_a_valid_start(book, client):
    token = book(TUE_9).json["booking"]["token"]
    for body in ({}, {"start": "soon"}, {"start": "2027-03-03T11:05:00-08:00"}):
        r = client.post(f"/api/v1/bookings/{token}/reschedule", json=body)
        assert r.status_code == 422, body


def test_calendar_file_has_one_event_in_utc(book, client):
    token = book(TUE_9).json["booking"]["token"]
    r = client.get(f"/api/v1/bookings/{token}/calendar.ics")
    assert r.status_code == 200
    assert r.mimetype == "text/calendar"
    text = r.get_data(as_text=True)
    assert text.count("BEGIN:VEVENT") == 1
    assert "DTSTART:20270302T170000Z" in text
    assert "DTEND:20270302T180000Z" in text
    assert "Facial at Clear Skin Clinic" in text


def test_booking_pages_work_without_javascript(client, app):
    assert b"Facial" in client.get("/").data
    assert client.get("/book/facial").status_code == 200
    day = client.get("/book/facial/2027-03-02")
    assert b"9:00 AM" in day.data
    details = client.get("/book/facial/details?start=2027-03-02T09:00:00-08:00")
    assert b"Your details" in details.data
    r = client.post("/book/facial/details", data={
        "start": "2027-03-02T09:00:00-08:00", "name": "Dana Client", "phone": "4155552671",
        "concerns": ["blackheads"], "uses_prescription_topicals": "yes", "sms_consent": "yes"})
    assert r.status_code == 303
    confirmation = client.get(r.headers["Location"])
    assert b"You're booked" in confirmation.data
    token = r.headers["Location"].rsplit("/", 1)[-1]
    assert visit(app, token).intake["uses_prescription_topicals"] is True


def test_details_form_keeps_input_and_names_the_bad_field(client, app):
    r = client.post("/book/facial/details", data={
        "start": "2027-03-02T09:00:00-08:00", "name": "Dana Client", "phone": "555-0000",
        "uses_prescription_topicals": "no"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="phone-error"' in page
    assert 'value="Dana Client"' in page
    with app.app_context():
        assert db.session.scalar(select(Appointment)) is None


def test_manage_page_cancels_and_reschedules(book, client, app):
    token = book(TUE_9).json["booking"]["token"]
    page = client.get(f"/manage/{token}")
    assert b"Cancel visit" in page.data
    slots = client.get(f"/manage/{token}/reschedule/2027-03-04")
    assert b"10:00 AM" in slots.data
    r = client.post(f"/manage/{token}/reschedule", data={"start": "2027-03-04T10:00:00-08:00"})
    assert r.status_code == 303
    assert visit(app, token).start_at.isoformat() == "2027-03-04T18:00:00+00:00"
    client.post(f"/manage/{token}/cancel")
    assert visit(app, token).status == "cancelled"
    assert b"This visit was cancelled" in client.get(f"/manage/{token}").data


def test_unknown_manage_link_is_a_friendly_404(client):
    r = client.get("/manage/nope")
    assert r.status_code == 404
    assert b"couldn" in r.data and b"Traceback" not in r.data


def test_form_names_every_missing_answer_at_once(client):
    r = client.post("/book/facial/details", data={
        "start": "2027-03-02T09:00:00-08:00", "name": "Dana Client", "phone": "555-0000"})
    page = r.get_data(as_text=True)
    for field in ("phone", "uses_prescription_topicals", "sms_consent"):
        assert f'id="{field}-error"' in page, field


def test_form_suggests_a_dermatologist_even_with_other_mistakes(client):
    r = client.post("/book/facial/details", data={
        "start": "2027-03-02T09:00:00-08:00", "phone": "555-0000", "concerns": ["cysts"]})
    page = r.get_data(as_text=True)
    assert "Book a dermatologist instead" in page
    assert "deep, painful cysts" in page


def test_day_choice_tells_closed_days_from_full_ones(client, book):
    # Six facials with their cleanup fill Tuesday 09:00-16:30; nothing fits before 17:00.
    for i, start in enumerate(("09:00", "10:15", "11:30", "12:45", "14:00", "15:15")):
        r = book(f"2027-03-02T{start}:00-08:00", phone=f"+1415555{2800 + i:04d}")
        assert r.status_code == 201
    page = client.get("/book/facial?from=2027-03-01").get_data(as_text=True)
    tuesday = page[page.index(">2 Mar<"):page.index(">3 Mar<")]
    sunday = page[page.index(">7 Mar<"):page.index(">8 Mar<")]
    assert "Full" in tuesday
    assert "Closed" in sunday


def test_details_page_refuses_absurd_times_without_an_error(client):
    r = client.get("/book/facial/details?start=0001-01-01T00:00:00Z")
    assert r.status_code == 302
    r = client.post("/book/facial/details", data={"start": "0001-01-01T00:00:00Z"})
    assert r.status_code == 302


def test_change_time_link_uses_the_clinic_day(client):
    page = client.get("/book/facial/details?start=2027-03-02T16:00:00-08:00").get_data(
        as_text=True)
    assert "/book/facial/2027-03-02" in page


def test_reschedule_moves_off_a_provider_who_left(app, book, client):
    from datetime import time

    from clinic.models import Provider, WorkingHours

    token = book(TUE_9).json["booking"]["token"]
    with app.app_context():
        first = db.session.scalar(select(Provider).where(Provider.role == "aesthetician"))
        first.active = False
        second = Provider(name="Second aesthetician", role="aesthetician")
        second.hours = [WorkingHours(weekday=2, starts=time(9), ends=time(17))]
        db.session.add(second)
        db.session.commit()
        second_id = second.id
    r = client.post(f"/api/v1/bookings/{token}/reschedule",
                    json={"start": "2027-03-03T11:00:00-08:00"})
    assert r.status_code == 200
    assert r.json["booking"]["provider_id"] == second_id


def test_replacing_a_link_kills_the_old_one(book, client, runner, app):
    booking = book(TUE_9).json["booking"]
    result = runner.invoke(args=["replace-link", str(booking["id"])])
    assert result.exit_code == 0, result.output
    new_token = result.output.strip().rsplit("/", 1)[-1]
    assert new_token != booking["token"]
    assert client.get(f"/api/v1/bookings/{booking['token']}").status_code == 404
    assert client.get(f"/api/v1/bookings/{new_token}").status_code == 200
