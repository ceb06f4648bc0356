"""Every client page meets WCAG 2.2 AA at phone and desktop size, as axe-core judges it, and
every tap target is at least 44 by 44 CSS pixels.

axe-core comes from the npm registry (tests/axe.py). Screenshots of each page at each size land in
test-artifacts/accessibility/ for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import axe
import pytest
import test_browser
from conftest import payload
from test_browser import TUE_9, _unavailable

# The booking-flow tests' browser and pages (Debian's Chromium, a context per page).
browser = test_browser.browser
visit = test_browser.visit

pytestmark = pytest.mark.browser

SCREENS = {
    "phone": {},  # the Visit's default: 390 x 844, touch
    "desktop": {"viewport": {"width": 1280, "height": 800}, "is_mobile": False,
                "has_touch": False},
}
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "accessibility"
TARGET_PX = 44

# Every control a client can tap, each measured as what they tap: a check box or radio button
# through its label. Prints "what WxH" for each one smaller than `min` in either direction.
SMALL_TARGETS = """min => {
  const seen = new Set(), small = [];
  for (const el of document.querySelectorAll(
      "a[href], button, select, textarea, input:not([type=hidden]), [tabindex]")) {
    const target = (el.matches("input[type=checkbox], input[type=radio]") && el.closest("label"))
      || el;
    if (seen.has(target)) continue;
    seen.add(target);
    const box = target.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not shown
    if (box.width + 0.01 < min || box.height + 0.01 < min) {
      const text = (target.innerText || target.value || target.name || "").trim().slice(0, 30);
      small.push(`${target.localName}${target.className ? "." + target.className : ""}`
                 + ` "${text}" ${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}"""

DETAILS = "/book/facial/details?start=2027-03-02T10:00:00-08:00"


# How a client reaches each page: `tab` is a Visit, `token()` books a facial through the API
# and returns its manage token.

def _details_with_errors(tab, token, *_):
    page = tab.open(DETAILS)
    page.get_by_role("button", name="Book facial").click()
    page.get_by_role("alert").filter(has_text="Please check the fields marked below").wait_for()


def _not_found(tab, token, *_):
    assert tab.page.goto(tab.base_url + "/manage/no-such-link").status == 404


def _cancelled(tab, token, *_):
    page = tab.open(f"/manage/{token()}")
    page.get_by_role("link", name="Cancel visit").click()
    page.get_by_role("button", name="Yes, cancel visit").click()
    page.get_by_role("status").filter(has_text="Your visit is cancelled").wait_for()


def _after_the_visit(tab, token, client):
    """A completed visit with its aftercare and an answered check-in."""
    from datetime import timedelta

    from conftest import signed_post
    from sqlalchemy import select

    from clinic import clock, visits
    from clinic.extensions import db
    from clinic.models import Appointment

    manage = token()
    with client.application.app_context():
        appt = db.session.scalar(select(Appointment).where(Appointment.manage_token == manage))
        for status, later in (("checked_in", 0), ("completed", 65)):
            visits.change_status(db.session, appt, status,
                                 now=appt.start_at + timedelta(minutes=later),
                                 clinic=clock.clinic(), actor="staff:1")
    signed_post(client, "/sms/inbound", {"MessageSid": "SMa11y", "From": "+14155552671",
                                         "Body": "2"})
    tab.open(f"/manage/{manage}")


PAGES = {
    "services": lambda tab, token, *_: tab.open("/"),
    "days": lambda tab, token, *_: tab.open("/book/facial"),
    # Jumped near the end of the booking window: the day asked for and its month are marked.
    "days-jumped": lambda tab, token, *_: tab.open("/book/facial?from=2027-04-28"),
    "slots": lambda tab, token, *_: tab.open("/book/facial/2027-03-02"),
    "details": lambda tab, token, *_: tab.open(DETAILS),
    "details-errors": _details_with_errors,
    "booked": lambda tab, token, *_: tab.open(f"/booked/{token()}"),
    "manage": lambda tab, token, *_: tab.open(f"/manage/{token()}"),
    "move-days": lambda tab, token, *_: tab.open(f"/manage/{token()}/reschedule"),
    "move-days-jumped": lambda tab, token, *_: tab.open(
        f"/manage/{token()}/reschedule?from=2027-04-28"),
    "move-slots": lambda tab, token, *_: tab.open(f"/manage/{token()}/reschedule/2027-03-03"),
    "confirm-cancel": lambda tab, token, *_: tab.open(f"/manage/{token()}/cancel"),
    "confirm-move": lambda tab, token, *_: tab.open(
        f"/manage/{token()}/reschedule/confirm?start=2027-03-03T14%3A00%3A00-08%3A00"),
    "not-found": _not_found,
    "cancelled": _cancelled,
    "after-the-visit": _after_the_visit,
}


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return axe.install(_unavailable)


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("name", PAGES)
def test_client_page_meets_wcag_22_aa(name, screen, visit, axe_script, client, capsys):
    # axe is injected as an inline script, which the pages' CSP (script-src 'self') would refuse.
    tab = visit(bypass_csp=True, **SCREENS[screen])

    def token() -> str:
        booked = client.post("/api/v1/bookings", json=payload(TUE_9))
        assert booked.status_code == 201, booked.json
        return booked.json["booking"]["token"]

    PAGES[name](tab, token, client)
    page = tab.page
    (SHOTS / screen).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / screen / f"{name}.png"), full_page=True)

    found = axe.violations(page, axe_script)
    blocking = [v for v in found if v["impact"] in axe.BLOCKING]
    advisory = [v for v in found if v["impact"] not in axe.BLOCKING]
    if advisory:
        with capsys.disabled():
            print(f"\n{name} at {screen} size, moderate or minor (not failing):\n  "
                  + "\n  ".join(axe.describe(v) for v in advisory))
    small = page.evaluate(SMALL_TARGETS, TARGET_PX)

    problems = [axe.describe(v) for v in blocking]
    problems += [f"tap target under {TARGET_PX}x{TARGET_PX}px: {one}" for one in small]
    if problems:
        pytest.fail(f"{page.url} at {screen} size:\n  " + "\n  ".join(problems), pytrace=False)
