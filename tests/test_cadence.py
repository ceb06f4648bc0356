"""Cadence refusals that help (README, "Extraction cadence"): which visits count and why, the
open days on both sides, in the API, on the booking page and in the move picker."""

import re
from dataclasses import replace
from datetime import datetime, time

import axe
import pytest
import test_browser
from conftest import NOW
from sqlalchemy import select
from test_accessibility import SMALL_TARGETS, TARGET_PX

from clinic import booking, rules
from clinic.booking import BookingError, BookingRequest, ClientDetails
from clinic.extensions import db
from clinic.models import Provider, WorkingHours

# The booking-flow tests' browser (Debian's Chromium, a context per page).
browser = test_browser.browser
visit = test_browser.visit

PHONE = "+14155552671"
WHY = ("Facials and dermatologist extractions both include extractions, and your skin needs "
       "about two weeks to heal between them, so we book them at least 14 days apart (once or "
       "twice a month).")


def refusal(app, start: str, clinic=None, name_visits: bool = False) -> BookingError:
    """Books an extraction in the domain for the client with PHONE; the cadence must refuse it.
    With `name_visits`, asks as for a client who proved who they are (a move)."""
    req = BookingRequest(service="extraction", start=datetime.fromisoformat(start),
                         client=ClientDetails("Dana Client", PHONE), sms_consent=True,
                         uses_prescription_topicals=False)
    with app.app_context():
        with pytest.raises(BookingError) as caught:
            if name_visits:
                from clinic.models import Client, Service

                service = db.session.scalar(select(Service).where(Service.slug == "extraction"))
                client_id = db.session.scalar(select(Client.id).where(Client.phone == PHONE))
                booking._check_cadence(db.session, client_id, req.start, service,
                                       booking.providers_for(db.session, service, None),
                                       now=NOW, clinic=clinic or rules.current(),
                                       name_visits=True)
            booking.book(db.session, req, now=NOW, clinic=clinic or rules.current())
    assert caught.value.code == "too_soon"
    return caught.value


def open_sundays(app, role: str = "aesthetician") -> None:
    """Gives the providers of one role Sunday hours too, so a visit can fall on a Sunday."""
    with app.app_context():
        for provider in db.session.scalars(select(Provider).where(Provider.role == role)):
            db.session.add(WorkingHours(provider=provider, weekday=6, starts=time(9),
                                        ends=time(17)))
        db.session.commit()


# --- The domain -------------------------------------------------------------------------------


def test_the_refusal_names_the_facial_in_the_way_and_the_days_on_both_sides(app, book):
    assert book("2027-03-20T09:00:00-07:00").status_code == 201  # a facial, Saturday 20 March
    exc = refusal(app, "2027-03-10T09:00:00-08:00")
    assert exc.message == (f"{WHY} {booking.SOMETHING_CLOSE} "
                           "Choose a day on or before Sat 6 Mar, or from Sat 3 Apr.")
    assert "20 March" not in exc.message  # a phone number proves nothing: no visit named
    assert exc.extra["allowed"] == [{"to": "2027-03-06"}, {"from": "2027-04-03"}]
    assert exc.extra["earliest_date"] == "2027-03-01"  # unchanged: the first day that keeps away


def test_each_bound_is_a_day_the_service_is_open(app, book):
    # The aesthetician works Sundays, the dermatologist doesn't: a facial on Sunday 21 March
    # leaves Sunday 7 March and Sunday 4 April exactly 14 days away, but closed for extractions.
    open_sundays(app)
    assert book("2027-03-21T09:00:00-07:00").status_code == 201
    exc = refusal(app, "2027-03-15T09:00:00-07:00")
    assert exc.extra["allowed"] == [{"to": "2027-03-06"}, {"from": "2027-04-05"}]
    assert "Choose a day on or before Sat 6 Mar, or from Mon 5 Apr." in exc.message


def test_no_before_side_when_it_would_be_in_the_past(app, book):
    assert book("2027-03-02T09:00:00-08:00", service="extraction").status_code == 201
    exc = refusal(app, "2027-03-15T09:00:00-07:00")
    assert exc.extra["allowed"] == [{"from": "2027-03-16"}]
    assert exc.message.endswith(f"{booking.SOMETHING_CLOSE} Choose a day from Tue 16 Mar.")


def test_a_range_that_ends_at_the_next_visit_says_so(app, book):
    assert book("2027-03-20T09:00:00-07:00").status_code == 201
    assert book("2027-04-20T09:00:00-07:00", service="extraction").status_code == 201
    exc = refusal(app, "2027-03-25T09:00:00-07:00")
    # From 3 April until Tuesday 6 April: the 7th is within 14 days of the 20th.
    assert exc.extra["allowed"] == [{"to": "2027-03-06"},
                                    {"from": "2027-04-03", "to": "2027-04-06"}]
    assert exc.message.endswith("or from Sat 3 Apr to Tue 6 Apr.")


def test_every_visit_in_the_way_is_named(app, book):
    assert book("2027-03-06T09:00:00-08:00").status_code == 201
    assert book("2027-03-22T09:00:00-07:00", service="extraction").status_code == 201
    # Neither neighbour is 14 days away, and nothing before the first is bookable.
    exc = refusal(app, "2027-03-13T09:00:00-08:00", name_visits=True)  # a proven client
    assert ("You have a facial on Saturday 6 March and a dermatologist extraction on Monday "
            "22 March. Choose a day from Mon 5 Apr.") in exc.message
    assert exc.extra["allowed"] == [{"from": "2027-04-05"}]


def test_the_words_follow_the_clinics_rules(app, book):
    assert book("2027-03-20T09:00:00-07:00").status_code == 201
    with app.app_context():
        clinic = rules.current()
    three_weeks = replace(clinic, rules=replace(clinic.rules, extraction_gap_days=21))
    exc = refusal(app, "2027-03-10T09:00:00-08:00", clinic=three_weeks)
    assert ("needs about three weeks to heal between them, so we book them at least 21 days apart "
            "(about once a month).") in exc.message
    assert exc.extra["allowed"] == [{"from": "2027-04-10"}]  # 27 Feb, the other side, is past
    ten_days = replace(clinic, rules=replace(clinic.rules, extraction_gap_days=10))
    exc = refusal(app, "2027-03-15T09:00:00-07:00", clinic=ten_days)
    assert ("needs time to heal between them, so we book them at least 10 days apart (up to "
            "three times a month).") in exc.message
    assert exc.extra["allowed"] == [{"to": "2027-03-10"}, {"from": "2027-03-30"}]


# --- The API ----------------------------------------------------------------------------------


def test_the_api_answers_the_allowed_days_beside_earliest_date(book):
    assert book("2027-03-20T09:00:00-07:00").status_code == 201
    r = book("2027-03-10T09:00:00-08:00", service="extraction")
    assert r.status_code == 422
    err = r.json["error"]
    assert err["earliest_date"] == "2027-03-01"
    assert err["allowed"] == [{"to": "2027-03-06"}, {"from": "2027-04-03"}]
    assert booking.SOMETHING_CLOSE in err["message"] and "20 March" not in err["message"]


def test_the_document_declares_the_allowed_days(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert set(schemas["AllowedDays"]["properties"]) == {"from", "to"}
    assert schemas["AllowedDays"]["additionalProperties"] is False


# --- The booking page -------------------------------------------------------------------------

DETAILS = {"start": "2027-03-10T09:00:00-08:00", "name": "Dana Client", "phone": "(415) 555-2671",
           "email": "dana@example.com", "sms_consent": "yes", "uses_prescription_topicals": "yes",
           "concerns": ["blackheads", "milia"], "event_date": "2027-05-01"}


def test_the_details_page_links_to_the_picker_at_each_allowed_day(book, client):
    assert book("2027-03-20T09:00:00-07:00").status_code == 201
    r = client.post("/book/extraction/details", data=DETAILS)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert booking.SOMETHING_CLOSE in page and "20 March" not in page
    buttons = re.findall(r'<button[^>]*formaction="/book/extraction/other-day" name="from" '
                         r'value="([\d-]+)">([^<]+)</button>', page)
    assert buttons == [("2027-03-01", "Days up to Sat 6 Mar"),
                       ("2027-04-03", "Days from Sat 3 Apr")]

    picked = client.post("/book/extraction/other-day", data={**DETAILS, "from": "2027-04-03"})
    assert picked.status_code == 303
    assert picked.headers["Location"] == "/book/extraction?from=2027-04-03"
    days = client.get(picked.headers["Location"]).get_data(as_text=True)
    assert 'href="/book/extraction/2027-04-03"' in days  # the fortnight from the allowed day
    assert "/book/extraction/2027-03-31" not in days


def test_what_was_typed_waits_for_the_next_details_page_once(book, client):
    assert book("2027-03-20T09:00:00-07:00").status_code == 201
    client.post("/book/extraction/other-day", data={**DETAILS, "from": "2027-04-03"})
    page = client.get("/book/extraction/details?start=2027-04-05T09:00:00-07:00")
    html = page.get_data(as_text=True)
    for field, value in (("name", "Dana Client"), ("phone", "(415) 555-2671"),
                         ("email", "dana@example.com"), ("event_date", "2027-05-01")):
        assert re.search(rf'name="{field}"[^>]*value="{re.escape(value)}"', html), field
    assert re.search(r'value="milia" checked', html)
    assert re.search(r'name="uses_prescription_topicals" value="yes" checked', html)
    again = client.get("/book/extraction/details?start=2027-04-05T09:00:00-07:00")
    assert "Dana Client" not in again.get_data(as_text=True)


def test_the_public_picker_marks_no_day_too_soon(book, client):
    assert book("2027-03-02T09:00:00-08:00").status_code == 201
    assert "Too soon" not in client.get("/book/extraction").get_data(as_text=True)


# --- Moving a visit from its manage page ------------------------------------------------------


def test_a_refused_move_names_the_allowed_days_and_opens_the_picker_there(book, client):
    assert book("2027-03-20T09:00:00-07:00", service="extraction").status_code == 201
    token = book("2027-03-03T09:00:00-08:00").json["booking"]["token"]
    r = client.post(f"/manage/{token}/reschedule", data={"start": "2027-03-10T09:00:00-08:00"})
    assert r.status_code == 303
    assert r.headers["Location"] == f"/manage/{token}/reschedule?from=2027-03-01"
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert ("You have a dermatologist extraction on Saturday 20 March. Choose a day on or "
            "before Sat 6 Mar, or from Sat 3 Apr.") in page


def test_the_move_picker_marks_days_too_close_to_another_visit(book, client):
    assert book("2027-03-02T09:00:00-08:00", service="extraction").status_code == 201
    token = book("2027-03-20T09:00:00-07:00").json["booking"]["token"]
    page = client.get(f"/manage/{token}/reschedule").get_data(as_text=True)
    days = dict(re.findall(r'<li>\s*<(?:a|span) class="day[^"]*"[^>]*>.*?'
                           r'<span class="dnum">([^<]+)</span>\s*'
                           r'<span class="dfree">([^<]+)</span>', page, re.S))
    assert days["1 Mar"] == "Too close to your dermatologist extraction on Tue 2 Mar"
    assert days["3 Mar"] == "Too soon after your dermatologist extraction on Tue 2 Mar"
    assert days["7 Mar"] == "Closed"  # a Sunday stays closed
    assert days["14 Mar"] == "Closed"
    assert days["13 Mar"].startswith("Too soon after")
    assert days["8 Mar"].startswith("Too soon after")
    assert f'href="/manage/{token}/reschedule/2027-03-10"' not in page  # not a link
    later = client.get(f"/manage/{token}/reschedule?from=2027-03-15").get_data(as_text=True)
    assert "Too soon after your dermatologist extraction on Tue 2 Mar" in later  # the 15th
    assert f'href="/manage/{token}/reschedule/2027-03-16"' in later  # 14 days on: free
    assert f'href="/manage/{token}/reschedule/2027-03-20"' in later  # its own day doesn't count
    assert "need 14 days between them" in page


# --- In the browser ---------------------------------------------------------------------------


@pytest.fixture
def axe_script():
    return axe.install(test_browser._unavailable)


def assert_accessible(page, script) -> None:
    """No serious or critical axe violation and no tap target under 44 px (README, Quickstart)."""
    problems = [axe.describe(v) for v in axe.violations(page, script)
                if v["impact"] in axe.BLOCKING]
    problems += [f"tap target: {one}" for one in page.evaluate(SMALL_TARGETS, TARGET_PX)]
    assert problems == [], page.url


@pytest.mark.browser
def test_a_client_follows_the_refusal_to_an_allowed_day_and_books(book, visit, axe_script):
    assert book("2027-03-20T09:00:00-07:00").status_code == 201
    tab = visit(bypass_csp=True)  # axe is injected as an inline script
    page = tab.open("/book/extraction/details?start=2027-03-10T09:00:00-08:00")
    test_browser.fill_details(page, concerns=("Milia (small hard white bumps)",), topicals="Yes")
    page.get_by_role("button", name="Book dermatologist extraction").click()
    page.get_by_text(booking.SOMETHING_CLOSE).wait_for()
    assert_accessible(page, axe_script)
    tab.shot("cadence-refusal")

    page.get_by_role("button", name="Days from Sat 3 Apr").click()
    page.get_by_role("heading", name="Choose a day").wait_for()
    assert "/book/extraction?from=2027-04-03" in page.url
    assert "555" not in page.url  # the phone number never goes into an address
    page.get_by_role("link", name=re.compile(r"^Mon 5 Apr\b")).click()
    page.get_by_role("link", name="9:00 AM", exact=True).click()
    page.get_by_role("heading", name="Your details").wait_for()
    assert page.get_by_label("Full name").input_value() == "Dana Client"
    assert page.get_by_label("Mobile number").input_value() == "(415) 555-2671"
    assert page.get_by_label("Milia (small hard white bumps)", exact=True).is_checked()
    assert page.get_by_label("Yes", exact=True).is_checked()
    page.get_by_role("button", name="Book dermatologist extraction").click()
    page.get_by_role("heading", name="You're booked").wait_for()


@pytest.mark.browser
def test_the_move_picker_with_too_soon_days_is_accessible(book, visit, axe_script):
    assert book("2027-03-02T09:00:00-08:00", service="extraction").status_code == 201
    token = book("2027-03-20T09:00:00-07:00").json["booking"]["token"]
    for size in ({}, {"viewport": {"width": 1280, "height": 800}, "is_mobile": False,
                      "has_touch": False}):
        tab = visit(bypass_csp=True, **size)
        page = tab.open(f"/manage/{token}/reschedule")
        assert page.get_by_role("link", name=re.compile(r"^Wed 3 Mar")).count() == 0
        assert_accessible(page, axe_script)
    tab.shot("cadence-move-picker")


def test_a_client_from_their_visit_page_sees_too_soon_days(client, book, app):
    """The rebook button posts the visit's token: the public picker marks that client's days."""
    token = book("2027-03-02T11:00:00-08:00", service="extraction").json["booking"]["token"]
    r = client.post("/book/facial/other-day", data={"from": "2027-03-03", "token": token})
    assert r.status_code == 303
    html = client.get(r.location).get_data(as_text=True)
    assert "Too soon after your dermatologist extraction on Tue 2 Mar" in html


def test_a_typed_phone_number_marks_no_days(client, book, app):
    """Anyone may type a number: it must not reveal what that number has booked."""
    book("2027-03-02T11:00:00-08:00", service="extraction")
    r = client.post("/book/facial/other-day", data={"from": "2027-03-03", "name": "Mallory",
                                                     "phone": "+14155552671"})
    assert "Too soon" not in client.get(r.location).get_data(as_text=True)


def test_details_carried_over_are_forgotten_after_half_an_hour(client, book, clock):
    token = book("2027-03-02T11:00:00-08:00", service="extraction").json["booking"]["token"]
    client.post("/book/facial/other-day", data={"from": "2027-03-20", "token": token})
    clock.advance(minutes=31)
    details = client.get("/book/facial/details?start=2027-03-22T10:00:00-07:00")
    assert "+14155552671" not in details.get_data(as_text=True)
