"""The staff workspace in Debian's Chromium: a front desk's day, end to end, and every key page
checked with axe-core at desk (1280x800) and tablet (768x1024) size.

Screenshots land in test-artifacts/screenshots/staff/ for a person to look at.
"""

from __future__ import annotations

import re
from datetime import timedelta

import axe
import pytest
from conftest import NOW, STAFF_PASSWORD, payload, signed_post
from sqlalchemy import select
from test_browser import SCREENSHOTS, _unavailable, browser, visit  # noqa: F401 - fixtures

from clinic.enums import FollowupStatus, MessageKind, VisitStatus
from clinic.extensions import db
from clinic.messaging.models import Followup, Message
from clinic.models import Appointment, Client

pytestmark = pytest.mark.browser

DESK = {"viewport": {"width": 1280, "height": 800}, "is_mobile": False, "has_touch": False}
TABLET = {"viewport": {"width": 768, "height": 1024}, "is_mobile": False, "has_touch": True}
SHOTS = SCREENSHOTS / "staff"
TUE_10 = "2027-03-02T10:00:00-08:00"


@pytest.fixture(scope="module")
def axe_script():
    return axe.install(_unavailable)


def sign_in(tab, email: str) -> None:
    page = tab.open("/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Today").wait_for()


def check(page, axe_script, name: str, screen: str) -> None:
    """A full-page screenshot, then axe-core: no serious or critical WCAG 2.2 AA violation."""
    (SHOTS / screen).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / screen / f"{name}.png"), full_page=True)
    blocking = [v for v in axe.violations(page, axe_script) if v["impact"] in axe.BLOCKING]
    assert not blocking, f"{name} at {screen}:\n  " + "\n  ".join(
        axe.describe(v) for v in blocking)


def test_a_front_desk_runs_a_visit_answers_a_worried_client_and_books_a_caller(
        app, client, make_staff, visit, axe_script, clock, dispatch):  # noqa: F811
    booked = client.post("/api/v1/bookings", json=payload(TUE_10, client={
        "name": "Dana Client", "phone": "(415) 555-2671", "email": "dana@example.com"}))
    assert booked.status_code == 201
    make_staff("desk@clinic.test", name="Front Desk")
    clock.now = NOW + timedelta(days=1, hours=1, minutes=50)  # Tuesday 09:50
    tab = visit(bypass_csp=True, **DESK)
    sign_in(tab, "desk@clinic.test")
    page = tab.page

    # Today's schedule shows the visit as next; the desk opens it and checks the client in.
    page.get_by_text("Next:").wait_for()
    page.locator("a.block", has_text="Dana Client").click()
    page.get_by_role("heading", name=re.compile("Dana Client")).wait_for()
    clock.now = NOW + timedelta(days=1, hours=2)  # 10:00
    page.get_by_role("button", name="Check in", exact=True).click()
    page.get_by_text("Checked in.").wait_for()
    clock.now = NOW + timedelta(days=1, hours=3)  # 11:00
    page.get_by_role("button", name="Complete", exact=True).click()
    page.get_by_text("the aftercare text and check-ins are planned").wait_for()
    with app.app_context():
        visit_row = db.session.scalar(select(Appointment))
        assert visit_row.status == VisitStatus.COMPLETED
        assert db.session.scalar(select(Message.id).where(
            Message.kind == MessageKind.AFTERCARE)) is not None

    # The redness check-in goes out the next day; the client answers 1: an urgent follow-up.
    dispatch(NOW + timedelta(days=2, hours=3, minutes=5))
    clock.now = NOW + timedelta(days=2, hours=3, minutes=10)
    signed_post(client, "/sms/inbound", {"From": "+14155552671", "Body": "1",
                                         "MessageSid": "SM" + "7" * 32})
    page = tab.open("/staff/")
    assert page.locator(".count").inner_text().startswith("1")
    page.get_by_role("link", name=re.compile("^Inbox")).click()
    item = page.locator("[id^=item-]").first
    item.get_by_role("textbox").first.fill("Sorry to hear it. Can you come in at 2 today?")
    item.get_by_role("button", name="Reply", exact=True).click()
    page.get_by_text("Can you come in at 2 today?").first.wait_for()
    sent = dispatch(clock.now)
    assert sent is not None
    with app.app_context():
        reply = db.session.scalar(select(Message).where(Message.kind == MessageKind.STAFF_REPLY))
        assert reply.status == "sent" and reply.body.endswith("Can you come in at 2 today?")
    page = tab.open("/staff/inbox")
    item = page.locator("[id^=item-]").first
    item.get_by_role("textbox").last.fill("Called her: coming in at 2.")
    item.get_by_role("button", name="Resolve", exact=True).click()
    page.locator(".notice").first.wait_for()
    with app.app_context():
        assert db.session.scalar(select(Followup.status)) == FollowupStatus.CLOSED

    # A caller books by phone.
    page = tab.open("/staff/book")
    page.get_by_role("link", name="Choose a time for a facial").click()
    page.get_by_role("link", name=re.compile(r"^Thu 4 Mar\b")).click()
    page.get_by_role("link", name="11:00 AM", exact=True).click()
    page.get_by_label("Full name").fill("Robin Caller")
    page.get_by_label("Mobile number").fill("(415) 555-0199")
    page.get_by_label(re.compile("agreed by phone")).check()
    page.get_by_label("Blackheads", exact=True).check()
    page.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Book facial").click()
    page.get_by_role("heading", name=re.compile("Robin Caller")).wait_for()
    with app.app_context():
        caller = db.session.scalar(select(Client).where(Client.name == "Robin Caller"))
        assert caller.sms_consent_via == "by phone, taken by Front Desk"


@pytest.mark.parametrize("screen", ["desk", "tablet"])
def test_the_key_staff_pages_read_at_a_glance_and_pass_axe(
        app, client, make_staff, visit, axe_script, clock, screen):  # noqa: F811
    for hour, (service, phone) in zip((9, 10, 11, 13), [
            ("facial", "(415) 555-2671"), ("extraction", "(415) 555-2672"),
            ("facial", "(415) 555-2673"), ("extraction", "(415) 555-2674")]):
        extra = {"concerns": ["cysts"]} if service == "extraction" else {}
        answer = client.post("/api/v1/bookings", json=payload(
            f"2027-03-02T{hour:02d}:00:00-08:00", service=service, phone=phone,
            uses_prescription_topicals=hour == 10, **extra,
            client={"name": f"Client <b>{hour}</b>", "phone": phone}))
        assert answer.status_code == 201, answer.json
    signed_post(client, "/sms/inbound", {"From": "+14155552673", "Body": "Can I wear makeup?",
                                         "MessageSid": "SM" + "8" * 32})
    make_staff("desk@clinic.test", name="Front Desk")
    clock.now = NOW + timedelta(days=1, hours=2, minutes=20)  # Tuesday 10:20
    tab = visit(bypass_csp=True, **(DESK if screen == "desk" else TABLET))
    sign_in(tab, "desk@clinic.test")
    with app.app_context():
        visit_id = db.session.scalar(select(Appointment.id).order_by(Appointment.id))
        client_id = db.session.scalar(select(Client.id).order_by(Client.id))
    pages = {
        "schedule": "/staff/",
        "week": "/staff/week?date=2027-03-02",
        "visit": f"/staff/visits/{visit_id}",
        "inbox": "/staff/inbox",
        "clients": "/staff/clients?q=client",
        "client": f"/staff/clients/{client_id}",
        "book": "/staff/book",
        "account": "/staff/account",
    }
    for name, path in pages.items():
        page = tab.open(path)
        check(page, axe_script, name, screen)
    tab.context.clear_cookies()
    check(tab.open("/staff/login"), axe_script, "login", screen)
