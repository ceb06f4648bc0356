"""The client's pages in a real browser: Debian's Chromium, driven by Playwright, at phone size.

Screenshots of the key pages land in test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from conftest import payload
from sqlalchemy import func, select

from clinic.extensions import db
from clinic.models import Appointment

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
ON_CI = os.environ.get("CI", "") == "true"
TIMEOUT_MS = 10_000

TUE_9 = "2027-03-02T09:00:00-08:00"


def _unavailable(reason: str) -> None:
    if ON_CI:
        pytest.fail(reason + ": CI must not skip", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


class Visit:
    """A browser context on the live server, at phone size unless `options` say otherwise
    (Playwright's new_context keywords), recording every request it makes."""

    def __init__(self, browser, base_url: str, **options) -> None:
        self.base_url = base_url
        self.requests: list[str] = []
        self.context = browser.new_context(**{
            "viewport": PHONE, "device_scale_factor": 1, "is_mobile": True, "has_touch": True,
            "locale": "en-US", "timezone_id": "America/Los_Angeles", **options})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()

    def open(self, path: str):
        response = self.page.goto(self.base_url + path)
        assert response is not None, path
        assert response.ok, f"{path} answered {response.status}"
        return self.page

    def foreign_requests(self) -> list[str]:
        """Requests that went anywhere but the app under test: fonts, scripts, trackers."""
        return [url for url in self.requests if not url.startswith(self.base_url + "/")]

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, live_server):
    opened: list[Visit] = []

    def _open(**options) -> Visit:
        opened.append(Visit(browser, live_server, **options))
        return opened[-1]

    yield _open
    for one in opened:
        one.close()
    # Whatever a test did, its pages asked nothing of another host.
    assert [url for one in opened for url in one.foreign_requests()] == []


@pytest.fixture
def phone(visit) -> Visit:
    return visit()


# Steps of the booking flow, as a client takes them.

def choose_facial_on(page, day: str, time: str) -> None:
    """From the list of treatments to the details form of a facial at `day` (e.g. "Tue 2 Mar")."""
    page.locator(".card", has=page.get_by_role("heading", name="Facial", exact=True)).get_by_role(
        "link", name="Choose a time").click()
    page.get_by_role("heading", name="Choose a day").wait_for()
    page.get_by_role("link", name=re.compile(rf"^{re.escape(day)}\b")).click()
    page.get_by_role("link", name=time, exact=True).click()
    page.get_by_role("heading", name="Your details").wait_for()


def fill_details(page, *, name="Dana Client", phone="(415) 555-2671", concerns=("Blackheads",),
                 topicals="No", consent=True) -> None:
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Mobile number").fill(phone)
    for concern in concerns:
        page.get_by_label(concern, exact=True).check()
    if topicals:
        page.get_by_label(topicals, exact=True).check()
    if consent:
        page.get_by_label(re.compile(r"Text me about this visit")).check()


def appointments(app) -> list[Appointment]:
    with app.app_context():
        rows = list(db.session.scalars(select(Appointment).order_by(Appointment.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def count_appointments(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Appointment))


def assert_fits_the_screen(page) -> None:
    """Nothing pushes the page wider than the phone: no sideways scrolling."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]}px wide on a {widths[1]}px screen"


# The tests.

def test_client_books_a_facial_on_a_phone_and_cancels_it(phone, app):
    page = phone.open("/")
    assert_fits_the_screen(page)
    phone.shot("01-services")

    page.locator(".card", has=page.get_by_role("heading", name="Facial", exact=True)).get_by_role(
        "link", name="Choose a time").click()
    page.get_by_role("heading", name="Choose a day").wait_for()
    assert_fits_the_screen(page)
    phone.shot("02-days")

    page.get_by_role("link", name=re.compile(r"^Tue 2 Mar\b")).click()
    page.get_by_role("heading", name="Tuesday 2 March").wait_for()
    assert_fits_the_screen(page)
    phone.shot("03-slots")

    page.get_by_role("link", name="10:00 AM", exact=True).click()
    page.get_by_role("heading", name="Your details").wait_for()
    fill_details(page)
    page.get_by_role("button", name="Book facial").click()

    page.get_by_role("heading", name="You're booked").wait_for()
    assert "Tuesday 2 March, 10:00 AM" in page.locator(".when").inner_text()
    assert_fits_the_screen(page)
    phone.shot("05-booked")

    calendar = page.get_by_role("link", name="Add to calendar")
    href = calendar.get_attribute("href")
    assert href.endswith("/calendar.ics")
    ics = page.request.get(urljoin(page.url, href))
    assert ics.ok
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text()

    page.get_by_role("link", name="Manage booking").click()
    page.get_by_role("heading", name="Your visit").wait_for()
    assert page.locator(".status").inner_text() == "Booked"
    assert_fits_the_screen(page)
    phone.shot("06-manage")

    page.get_by_role("link", name="Cancel visit").click()
    page.get_by_role("heading", name=re.compile(r"^Cancel your facial on Tuesday 2 March")
                     ).wait_for()
    assert_fits_the_screen(page)
    phone.shot("07-confirm-cancel")
    page.get_by_role("button", name="Yes, cancel visit").click()
    page.get_by_role("status").filter(has_text="Your visit is cancelled").wait_for()
    assert page.locator(".status").inner_text() == "Cancelled"
    assert page.get_by_role("link", name="Cancel visit").count() == 0
    assert page.get_by_role("link", name="Book another time").is_visible()
    assert_fits_the_screen(page)
    phone.shot("08-manage-cancelled")

    [appt] = appointments(app)
    assert appt.start_at == datetime(2027, 3, 2, 18, 0, tzinfo=UTC)
    assert (appt.status, appt.cancelled_by) == ("cancelled", "client")


def test_booking_form_shows_field_errors_without_losing_input(phone, app):
    page = phone.open("/")
    choose_facial_on(page, "Tue 2 Mar", "10:00 AM")
    fill_details(page, name="Robin Example", phone="555-0000", consent=False)
    page.get_by_role("button", name="Book facial").click()

    page.get_by_role("alert").filter(has_text="Please check the fields marked below").wait_for()
    phone_input = page.get_by_label("Mobile number")
    error = page.locator("#phone-error")
    assert error.is_visible()
    assert "phone number" in error.inner_text()
    assert phone_input.get_attribute("aria-invalid") == "true"
    assert "phone-error" in phone_input.get_attribute("aria-describedby").split()
    field, message = phone_input.bounding_box(), error.bounding_box()
    assert 0 <= message["y"] - (field["y"] + field["height"]) < 24, "the error sits under the field"

    assert page.get_by_label("Full name").input_value() == "Robin Example"
    assert phone_input.input_value() == "555-0000"
    assert page.get_by_label("Blackheads", exact=True).is_checked()
    assert page.get_by_label("No", exact=True).is_checked()
    assert not page.get_by_label(re.compile(r"Text me about this visit")).is_checked()
    assert page.get_by_label("Full name").get_attribute("aria-invalid") is None
    assert_fits_the_screen(page)
    phone.shot("04-details-errors")
    assert count_appointments(app) == 0

    # With the number fixed, the missing consent is the one thing left to put right.
    phone_input.fill("(415) 555-2671")
    page.get_by_role("button", name="Book facial").click()
    consent_error = page.locator("#sms_consent-error")
    consent_error.wait_for()
    assert "Required" in consent_error.inner_text()
    assert page.locator("#phone-error").count() == 0
    assert page.get_by_label("Full name").input_value() == "Robin Example"
    assert count_appointments(app) == 0

    page.get_by_label(re.compile(r"Text me about this visit")).check()
    page.get_by_role("button", name="Book facial").click()
    page.get_by_role("heading", name="You're booked").wait_for()
    assert count_appointments(app) == 1


def test_facial_with_cysts_suggests_a_dermatologist(phone, app, live_server):
    page = phone.open("/")
    choose_facial_on(page, "Tue 2 Mar", "10:00 AM")
    fill_details(page, concerns=("Deep, painful cysts",))
    page.get_by_role("button", name="Book facial").click()

    suggestion = page.get_by_role("button", name="Book a dermatologist instead")
    suggestion.wait_for()
    assert page.get_by_label("Deep, painful cysts").is_checked()
    assert_fits_the_screen(page)
    phone.shot("04b-details-dermatologist")
    assert count_appointments(app) == 0

    suggestion.click()  # the same day, and everything typed, carried to the dermatologist
    page.get_by_role("heading", name="Choose a day").wait_for()
    assert page.url.startswith(live_server + "/book/extraction")
    assert "from=2027-03-02" in page.url
    assert "Dermatologist extraction" in page.locator(".meta").inner_text()
    page.get_by_role("link", name=re.compile(r"^Tue 2 Mar\b")).click()
    page.get_by_role("link", name="10:00 AM", exact=True).click()
    page.get_by_role("heading", name="Your details").wait_for()
    assert page.get_by_label("Full name").input_value() == "Dana Client"
    assert page.get_by_label("Mobile number").input_value() == "(415) 555-2671"
    assert page.get_by_label("Deep, painful cysts").is_checked()
    page.get_by_role("button", name="Book dermatologist extraction").click()
    page.get_by_role("heading", name="You're booked").wait_for()
    assert count_appointments(app) == 1


def test_time_taken_while_filling_the_form_offers_the_next_free_times(phone, client, app):
    page = phone.open("/")
    choose_facial_on(page, "Tue 2 Mar", "10:00 AM")
    fill_details(page)
    taken = client.post("/api/v1/bookings", json=payload("2027-03-02T10:00:00-08:00",
                                                          phone="(415) 555-2672"))
    assert taken.status_code == 201
    page.get_by_role("button", name="Book facial").click()

    page.get_by_role("alert").filter(has_text="That time was just taken").wait_for()
    nearby = page.get_by_role("alert").get_by_role("button")
    assert nearby.all_inner_texts() == ["11:15 AM, 2 March", "11:30 AM, 2 March",
                                        "11:45 AM, 2 March"]
    assert page.get_by_label("Full name").input_value() == "Dana Client"
    assert_fits_the_screen(page)
    phone.shot("04c-details-time-taken")
    assert count_appointments(app) == 1

    # One tap books the nearby time with everything already typed.
    nearby.first.click()
    page.get_by_role("heading", name="You're booked").wait_for()
    assert "Tuesday 2 March, 11:15 AM" in page.locator(".when").inner_text()
    assert count_appointments(app) == 2


def test_unknown_link_shows_a_friendly_page(phone, live_server):
    page = phone.page
    response = page.goto(live_server + "/manage/no-such-link")
    assert response.status == 404
    page.get_by_role("heading", name="We couldn't find that page").wait_for()
    assert page.get_by_role("link", name="Book a visit").is_visible()
    assert_fits_the_screen(page)
    phone.shot("10-not-found")


def test_client_reschedules_from_the_manage_page(phone, client, app):
    booked = client.post("/api/v1/bookings", json=payload(TUE_9))
    assert booked.status_code == 201, booked.json
    manage_path = urlsplit(booked.json["booking"]["manage_url"]).path

    page = phone.open(manage_path)
    assert "Tuesday 2 March, 9:00 AM" in page.locator(".when").inner_text()
    page.get_by_role("link", name="Change time").click()
    page.get_by_role("heading", name="Choose a new day").wait_for()
    assert_fits_the_screen(page)
    phone.shot("08-reschedule-days")

    page.get_by_role("link", name=re.compile(r"^Wed 3 Mar\b")).click()
    page.get_by_role("heading", name="Wednesday 3 March").wait_for()
    assert_fits_the_screen(page)
    phone.shot("09-reschedule-slots")
    page.get_by_role("link", name="2:00 PM", exact=True).click()
    page.get_by_role("heading", name="Move your facial?").wait_for()
    assert "Wednesday 3 March, 2:00 PM" in page.locator(".when").inner_text()
    assert appointments(app)[0].start_at == datetime(2027, 3, 2, 17, 0, tzinfo=UTC)  # not yet
    phone.shot("10-confirm-move")
    page.get_by_role("button", name="Yes, move it").click()

    page.get_by_role("status").filter(has_text="Your visit has moved").wait_for()
    assert page.url.endswith(manage_path)
    assert "Wednesday 3 March, 2:00 PM" in page.locator(".when").inner_text()
    assert page.locator(".status").inner_text() == "Booked"

    [appt] = appointments(app)
    assert appt.start_at == datetime(2027, 3, 3, 22, 0, tzinfo=UTC)
    assert appt.status == "booked"


def test_pages_work_without_javascript(visit, app):
    no_js = visit(java_script_enabled=False)
    page = no_js.open("/")
    choose_facial_on(page, "Wed 3 Mar", "11:30 AM")
    fill_details(page, name="Sam Nojs", phone="(415) 555-2672")
    page.get_by_role("button", name="Book facial").click()
    page.get_by_role("heading", name="You're booked").wait_for()

    page.get_by_role("link", name="Manage booking").click()
    page.get_by_role("link", name="Change time").click()
    page.get_by_role("link", name=re.compile(r"^Thu 4 Mar\b")).click()
    page.get_by_role("link", name="9:00 AM", exact=True).click()
    page.get_by_role("button", name="Yes, move it").click()
    page.get_by_role("status").filter(has_text="Your visit has moved").wait_for()
    assert "Thursday 4 March, 9:00 AM" in page.locator(".when").inner_text()

    [appt] = appointments(app)
    assert appt.start_at == datetime(2027, 3, 4, 17, 0, tzinfo=UTC)
    assert appt.status == "booked"


def test_pages_load_nothing_from_another_host(phone, live_server, client):
    token = client.post("/api/v1/bookings", json=payload(TUE_9)).json["booking"]["token"]
    paths = [
        "/",
        "/book/facial",
        "/book/facial/2027-03-02",
        "/book/facial/details?start=2027-03-02T11:00:00-08:00",
        "/book/extraction",
        f"/booked/{token}",
        f"/manage/{token}",
        f"/manage/{token}/reschedule",
        f"/manage/{token}/reschedule/2027-03-03",
    ]
    failed: list[str] = []
    phone.page.on("requestfailed", lambda request: failed.append(request.url))
    stylesheets: list[str] = []
    phone.page.on("response",
                  lambda r: stylesheets.append(r.url) if r.url.endswith(".css") else None)
    for path in paths:
        page = phone.open(path)
        # The stylesheet is applied, so it came from this server and the CSP let it in.
        assert page.locator("header.top").evaluate(
            "el => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)", path
    missing = phone.page.goto(live_server + "/manage/no-such-link")
    assert missing.status == 404

    assert phone.requests, "the browser made no requests at all"
    assert phone.foreign_requests() == []
    assert failed == []
    assert stylesheets and all(url.startswith(live_server + "/static/") for url in stylesheets)
