"""Admin pages in Debian's Chromium: an admin changes the facial's price and gives a provider a
day off; the rules, a provider's hours and the reports are screenshotted at 1280x800 and
checked with axe-core. Screenshots land in test-artifacts/screenshots/admin/."""

from __future__ import annotations

import re
from datetime import timedelta

import axe
import pytest
from conftest import NOW, payload
from sqlalchemy import select
from test_browser import SCREENSHOTS, _unavailable, browser, visit  # noqa: F401 - fixtures
from test_browser_staff import DESK, sign_in
from test_reports import seed_history

from clinic.extensions import db
from clinic.models import Appointment, Provider, Service, TimeOff

pytestmark = pytest.mark.browser

SHOTS = SCREENSHOTS / "admin"


@pytest.fixture(scope="module")
def axe_script():
    return axe.install(_unavailable)


def check(page, axe_script, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    blocking = [v for v in axe.violations(page, axe_script) if v["impact"] in axe.BLOCKING]
    assert not blocking, f"{name}:\n  " + "\n  ".join(axe.describe(v) for v in blocking)


def test_an_admin_changes_a_price_and_gives_a_provider_a_day_off(
        app, client, make_staff, visit, axe_script, clock):  # noqa: F811
    booked = client.post("/api/v1/bookings", json=payload("2027-03-02T10:00:00-08:00"))
    assert booked.status_code == 201
    make_staff("owner@clinic.test", role="admin", name="Clinic Owner")
    tab = visit(bypass_csp=True, **DESK)
    sign_in(tab, "owner@clinic.test")

    page = tab.open("/staff/admin/services")
    page.get_by_role("link", name=re.compile("^Facial")).first.click()
    page.get_by_label("Price").fill("95")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("keep the price they were booked at").wait_for()
    assert "$95" in tab.open("/").locator("main").inner_text()
    with app.app_context():
        assert db.session.scalar(select(Service.price_cents).where(Service.slug == "facial")) \
            == 9500
        assert db.session.scalar(select(Appointment.price_cents)) == 8000

    with app.app_context():
        derm = db.session.scalar(select(Provider.id).where(Provider.role == "dermatologist"))
    page = tab.open(f"/staff/admin/providers/{derm}")
    page.get_by_label("Day (first day)").fill("2027-03-05")
    page.get_by_label("Reason (optional)").fill("Conference")
    page.get_by_role("button", name="Add time off").click()
    page.locator(".notice").first.wait_for()
    with app.app_context():
        (off,) = db.session.scalars(select(TimeOff)).all()
        assert off.ends_at - off.starts_at == timedelta(hours=24)
    free = client.get("/api/v1/availability?service=extraction&from=2027-03-05&to=2027-03-05")
    assert free.status_code == 200 and free.json["slots"] == []
    check(tab.open(f"/staff/admin/providers/{derm}"), axe_script, "provider")


def test_the_admin_pages_read_at_a_glance_and_pass_axe(
        app, client, make_staff, visit, axe_script, clock):  # noqa: F811 - visit: a fixture
    seed_history(app)  # twelve weeks of visits, texts and replies, this week's too
    make_staff("owner@clinic.test", role="admin", name="Clinic Owner")
    clock.now = NOW + timedelta(days=1)
    tab = visit(bypass_csp=True, **DESK)
    sign_in(tab, "owner@clinic.test")
    with app.app_context():
        service_id = db.session.scalar(select(Service.id).where(Service.slug == "facial"))
    for name, path in {"admin": "/staff/admin/", "settings": "/staff/admin/settings",
                       "services": "/staff/admin/services",
                       "service": f"/staff/admin/services/{service_id}",
                       "providers": "/staff/admin/providers", "staff": "/staff/admin/staff",
                       "reports": "/staff/reports"}.items():
        check(tab.open(path), axe_script, name)
    page = tab.open("/staff/admin/settings")
    page.get_by_label("Days between two extraction visits").fill("-1")
    page.get_by_role("button", name="Save rules").click()
    page.get_by_text("Nothing was saved").wait_for()
    check(page, axe_script, "settings-errors")
