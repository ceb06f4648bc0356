"""What a client is told about their visit: where, with whom, the price, how to prepare, the
policy; and the clinic's time zone wherever times are offered."""

import pytest
from icalendar import Calendar

FACIAL = "2027-03-04T14:00:00-08:00"  # Thursday
ADDRESS = "500 Market Street, San Francisco, CA 94105"


@pytest.fixture
def token(book):
    return book(FACIAL, uses_prescription_topicals=True).json["booking"]["token"]


@pytest.mark.parametrize("page", ["/booked/{}", "/manage/{}"])
def test_the_visit_pages_say_where_with_whom_and_how_to_prepare(client, token, page):
    html = client.get(page.format(token)).get_data(as_text=True)
    assert ADDRESS in html
    assert "openstreetmap.org/search?query=Clear%20Skin%20Clinic" in html
    assert "<strong>With:</strong> an aesthetician" in html
    assert "$80, paid at the clinic" in html
    assert "Pause your prescription skin treatments from Monday 1 March" in html  # 3 days
    assert "for free until 24 hours before your visit" in html


def test_no_preparation_line_without_topicals(client, book):
    token = book(FACIAL).json["booking"]["token"]
    html = client.get(f"/booked/{token}").get_data(as_text=True)
    assert "Pause your prescription" not in html
    assert "makeup is fine, we cleanse your skin first" in html  # the service's own guidance


def test_the_dermatologist_is_named_board_certified(client, book):
    token = book("2027-03-04T11:00:00-08:00", service="extraction").json["booking"]["token"]
    html = client.get(f"/manage/{token}").get_data(as_text=True)
    assert "<strong>With:</strong> a board-certified dermatologist" in html


def test_the_calendar_file_carries_the_address(client, token):
    event = Calendar.from_ical(client.get(f"/manage/{token}/calendar.ics").data).walk("VEVENT")[0]
    assert str(event["LOCATION"]) == f"Clear Skin Clinic, {ADDRESS}"


def test_slot_pages_name_the_clinics_time_zone(client, token):
    assert "local time (America/Los Angeles)" in client.get(
        "/book/facial/2027-03-05").get_data(as_text=True)
    assert "local time (America/Los Angeles)" in client.get(
        f"/manage/{token}/reschedule/2027-03-05").get_data(as_text=True)


def test_the_booked_page_says_cancelled_after_a_cancel_and_offers_to_book_again(client, token):
    client.post(f"/api/v1/bookings/{token}/cancel")
    html = client.get(f"/booked/{token}").get_data(as_text=True)
    assert "This visit is cancelled" in html and "You're booked" not in html
    assert 'href="/book/facial"' in html
    assert "Pause your prescription" not in html


def test_cancelling_asks_once_and_changes_nothing_until_answered(client, token, app):
    html = client.get(f"/manage/{token}/cancel").get_data(as_text=True)
    assert "Cancel your facial on Thursday 4 March, 2:00 PM?" in html
    assert client.get(f"/api/v1/bookings/{token}").json["booking"]["status"] == "booked"
    assert client.post(f"/manage/{token}/cancel").status_code == 303
    assert client.get(f"/api/v1/bookings/{token}").json["booking"]["status"] == "cancelled"
    assert client.get(f"/manage/{token}/cancel").status_code == 303  # nothing left to cancel


def test_moving_asks_once_naming_both_times(client, token):
    html = client.get(f"/manage/{token}/reschedule/confirm",
                      query_string={"start": "2027-03-05T10:00:00-08:00"}).get_data(as_text=True)
    assert "Thursday 4 March, 2:00 PM" in html and "Friday 5 March, 10:00 AM" in html
    assert client.get(f"/api/v1/bookings/{token}").json["booking"]["start"] == FACIAL


@pytest.mark.parametrize("start", ["", "tomorrow", "2027-03-05T10:00:00", "9" * 40])
def test_a_move_to_a_time_that_cannot_be_read_goes_back_to_the_days(client, token, start):
    r = client.get(f"/manage/{token}/reschedule/confirm", query_string={"start": start})
    assert r.status_code == 303 and r.location.endswith(f"/manage/{token}/reschedule")


def complete(app, at):
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from clinic import visits
    from clinic.extensions import db
    from clinic.models import Appointment
    from clinic.rules import Clinic
    from clinic.timeutil import parse_aware

    with app.app_context():
        appt = db.session.scalar(select(Appointment))
        clinic = Clinic(ZoneInfo("America/Los_Angeles"))
        visits.change_status(db.session, appt, "checked_in", now=parse_aware(FACIAL),
                             clinic=clinic, actor="staff:1")
        visits.change_status(db.session, appt, "completed", now=parse_aware(at), clinic=clinic,
                             actor="staff:1")


def test_after_the_visit_the_page_carries_aftercare_and_the_check_ins(client, token, app,
                                                                       dispatch, clock):
    from conftest import signed_post

    from clinic.timeutil import parse_aware

    complete(app, "2027-03-04T15:05:00-08:00")
    dispatch(parse_aware("2027-03-05T15:00:00-08:00"))  # aftercare and the redness check-in
    clock.now = parse_aware("2027-03-05T16:00:00-08:00")
    assert signed_post(client, "/sms/inbound", {"MessageSid": "SMin1", "From": "+14155552671",
                                                 "Body": "1"}).status_code == 200
    html = client.get(f"/manage/{token}").get_data(as_text=True)
    assert 'id="aftercare"' in html and "Redness should not last more than 24 hours" in html
    assert "see a dermatologist" in html
    assert "Is your skin still red or swollen?" in html
    assert "Your answer: Still red or swollen: our team will call you." in html
    assert 'id="prepare"' not in html and 'id="rebook"' not in html  # not yet in the window


def test_inside_the_rebook_window_the_page_opens_the_day_picker_there(client, token, app,
                                                                      clock):
    from clinic.timeutil import parse_aware

    complete(app, "2027-03-04T15:05:00-08:00")
    clock.now = parse_aware("2027-03-20T09:00:00-07:00")
    html = client.get(f"/manage/{token}").get_data(as_text=True)
    assert "between Saturday 20 March and Saturday 3 April" in html
    assert 'name="from" value="2027-03-20"' in html and "+14155552671" not in html
    r = client.post("/book/facial/other-day", data={"from": "2027-03-20", "token": token})
    assert r.status_code == 303 and r.location.endswith("/book/facial?from=2027-03-20")
    details = client.get("/book/facial/details?start=2027-03-22T10:00:00-07:00")
    assert 'value="+14155552671"' in details.get_data(as_text=True)  # their details, kept


def test_the_clinic_may_word_its_own_cancellation_policy(client, token, app):
    app.config["CLINIC_CANCELLATION_POLICY"] = "Please give us one day of notice."
    assert "Please give us one day of notice." in client.get(f"/manage/{token}").get_data(
        as_text=True)
