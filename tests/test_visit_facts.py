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
