"""The clinic's care, walked in Debian's Chromium as a client on a phone: the pause date at
booking, the guidance behind the aftercare text's link, and a cancel that asks first and texts."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import test_browser
from sqlalchemy import select
from test_browser import appointments, assert_fits_the_screen, choose_facial_on, fill_details

from clinic import clock, visits
from clinic.extensions import db
from clinic.messaging import bodies
from clinic.models import Appointment, Message

browser = test_browser.browser
visit = test_browser.visit
phone = test_browser.phone

pytestmark = pytest.mark.browser


def text_of(app, kind: str) -> str:
    """What the client's phone shows for a text of that kind, rendered as it would be sent."""
    with app.app_context():
        message = db.session.scalar(select(Message).where(Message.kind == kind))
        return bodies.render(message)


def test_a_client_on_topicals_is_told_when_to_pause_and_finds_the_care_after(phone, app):
    page = phone.open("/")
    choose_facial_on(page, "Thu 4 Mar", "2:00 PM")
    fill_details(page, topicals="Yes")
    page.get_by_role("button", name="Book facial").click()
    page.get_by_role("heading", name="You're booked").wait_for()
    assert "Pause your prescription skin treatments from Monday 1 March" in page.locator(
        "#prepare").inner_text()
    assert_fits_the_screen(page)
    phone.shot("20-booked-topicals")
    assert "Pause prescription skin treatments from Mon 1 Mar." in text_of(app, "confirmation")

    [appt] = appointments(app)
    with app.app_context():
        row = db.session.get(Appointment, appt.id)
        for status, minutes in (("checked_in", 0), ("completed", 65)):
            visits.change_status(db.session, row, status,
                                 now=row.start_at + timedelta(minutes=minutes),
                                 clinic=clock.clinic(), actor="staff:1")
    link = urlsplit(re.search(r"https?://\S+#aftercare", text_of(app, "aftercare")).group(0))
    page = phone.open(f"{link.path}#{link.fragment}")  # the link, on this test's server
    section = page.locator("#aftercare")
    assert "Redness should not last more than 24 hours" in section.inner_text()
    assert "normal purging" in section.inner_text()
    assert_fits_the_screen(page)
    phone.shot("21-aftercare")


def test_cancel_asks_once_then_texts_and_the_booked_page_says_cancelled(phone, app, dispatch,
                                                                        clock, sms):
    page = phone.open("/")
    choose_facial_on(page, "Thu 4 Mar", "2:00 PM")
    fill_details(page)
    page.get_by_role("button", name="Book facial").click()
    page.get_by_role("heading", name="You're booked").wait_for()
    booked_url = page.url
    page.get_by_role("link", name="Manage booking").click()
    page.get_by_role("link", name="Cancel visit").click()
    page.get_by_role("heading", name=re.compile("^Cancel your facial on Thursday 4 March")
                     ).wait_for()
    assert appointments(app)[0].status == "booked"  # asking changed nothing
    page.get_by_role("button", name="Yes, cancel visit").click()
    page.get_by_role("status").filter(has_text="Your visit is cancelled").wait_for()

    dispatch(clock.now + timedelta(hours=2))
    assert any("is cancelled" in body for _, _, body in sms.sent)
    page = phone.open(urlsplit(booked_url).path)
    page.get_by_role("heading", name="This visit is cancelled").wait_for()
    assert page.get_by_role("link", name="Book again").is_visible()
    phone.shot("22-booked-cancelled")
