"""The day pickers (booking a visit, moving one) reach any bookable day in one step: a date
field and a link for each month of the booking window, without JavaScript. A day typed out of
range or malformed opens the nearest bookable day; a wide screen puts the summary beside the days.

Today is Monday 1 March 2027 (conftest.NOW); the last bookable day is Friday 30 April.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import test_browser
from conftest import payload
from test_browser import TUE_9, assert_fits_the_screen

browser = test_browser.browser
visit = test_browser.visit

DESKTOP = {"viewport": {"width": 1280, "height": 800}, "is_mobile": False, "has_touch": False}


@pytest.fixture
def move_picker(book) -> str:
    """The move picker of a facial booked for Tuesday 2 March."""
    booked = book(TUE_9)
    assert booked.status_code == 201, booked.json
    return f"/manage/{booked.json['booking']['token']}/reschedule"


@pytest.fixture(params=["book", "move"])
def picker(request) -> str:
    """Each picker's address without a day."""
    return "/book/facial" if request.param == "book" else request.getfixturevalue("move_picker")


def shown(page: str) -> list[str]:
    """The days a picker page shows, as "12 Apr"."""
    return re.findall(r'<span class="dnum">([^<]+)</span>', page)


def links(page: str) -> dict[str, str]:
    """Each link's text (markup and spaces squeezed out) to its address."""
    found = re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', page, re.S)
    return {" ".join(re.sub(r"<[^>]+>", " ", text).split()): html.unescape(href)
            for href, text in found}


def from_of(href: str) -> str | None:
    return parse_qs(urlsplit(href).query).get("from", [None])[0]


def get(client, path: str, **args) -> str:
    r = client.get(path, query_string=args or None)
    assert r.status_code == 200, (path, args, r.status_code)
    return r.get_data(as_text=True)


def jump_form(page: str) -> dict[str, str]:
    """The date field of the jump form: its attributes."""
    form = re.search(r'<form class="jump" method="get" action="([^"]+)">(.*?)</form>', page, re.S)
    assert form, "no jump form"
    field = re.search(r'<input type="date"([^>]*)>', form.group(2), re.S)
    assert field, "no date field"
    return {"action": html.unescape(form.group(1)),
            **dict(re.findall(r'(\w+)="([^"]*)"', field.group(1)))}


# --- Over HTTP --------------------------------------------------------------------------------


def test_the_jump_form_offers_every_bookable_day(client, picker):
    field = jump_form(get(client, picker))
    assert field["action"] == picker
    assert (field["name"], field["id"]) == ("from", "from")
    assert (field["min"], field["max"], field["value"]) == ("2027-03-01", "2027-04-30",
                                                             "2027-03-01")
    assert '<label for="from">Go to a day</label>' in get(client, picker)


def test_six_weeks_ahead_is_one_step(client, picker):
    page = get(client, picker, **{"from": "2027-04-12"})
    days = shown(page)
    assert (days[0], days[-1], len(days)) == ("12 Apr", "25 Apr", 14)
    assert "Mon 12 Apr to Sun 25 Apr" in page
    assert jump_form(page)["value"] == "2027-04-12"
    assert f'href="{picker}/2027-04-12' in page  # a day to choose
    assert "day-asked" not in page  # the day asked for opens the fortnight: nothing to mark
    pager = links(page)
    assert from_of(pager["← Earlier"]) == "2027-03-29"
    assert from_of(pager["Later →"]) == "2027-04-17"  # the last fortnight, not past the window


def test_a_link_for_each_month_opens_its_first_bookable_day(client, picker):
    page = get(client, picker, **{"from": "2027-03-20"})
    found = links(page)
    assert from_of(found["March"]) == "2027-03-01"
    assert from_of(found["April"]) == "2027-04-01"
    assert "May" not in found
    assert re.search(r'aria-current="true">March</a>', page)

    april = get(client, found["April"])
    assert shown(april)[0] == "1 Apr"
    assert shown(april)[-1] == "14 Apr"
    assert re.search(r'aria-current="true">April</a>', april)
    assert not re.search(r'aria-current="true">March</a>', april)


def test_the_booking_picker_keeps_the_chosen_provider(client, providers):
    page = get(client, "/book/facial", provider=str(providers.aesthetician))
    assert f'<input type="hidden" name="provider" value="{providers.aesthetician}">' in page
    for name in ("March", "April", "Later →"):
        query = parse_qs(urlsplit(links(page)[name]).query)
        assert query["provider"] == [str(providers.aesthetician)], name
    jumped = get(client, "/book/facial", provider=str(providers.aesthetician),
                 **{"from": "2027-04-12"})
    assert f'href="/book/facial/2027-04-12?provider={providers.aesthetician}"' in jumped


def test_a_day_near_the_end_shows_the_last_fortnight_and_marks_it(client, picker):
    page = get(client, picker, **{"from": "2027-04-28"})
    days = shown(page)
    assert (days[0], days[-1]) == ("17 Apr", "30 Apr")  # no day past the booking window
    assert jump_form(page)["value"] == "2027-04-28"
    asked = re.findall(r'class="day[^"]*day-asked"[^>]*aria-current="true">\s*'
                       r'<span class="dname">(\w+)</span>\s*<span class="dnum">([^<]+)<', page)
    assert asked == [("Wed", "28 Apr")]
    assert "Later →" not in links(page)
    assert from_of(links(page)["← Earlier"]) == "2027-04-03"
    # The window ends at 8:00 on the 30th, before opening: its times open tomorrow.
    labels = dict(re.findall(r'<span class="dnum">([^<]+)</span>\s*'
                             r'<span class="dfree">([^<]+)</span>', page))
    assert (labels["29 Apr"], labels["30 Apr"]) == ("29 times", "Not open yet")


@pytest.mark.parametrize("typed,first,value", [
    ("2027-02-10", "1 Mar", "2027-03-01"),  # before today: today
    ("2026-12-31", "1 Mar", "2027-03-01"),
    ("2027-05-20", "17 Apr", "2027-04-30"),  # past the window: its last day
    ("2199-12-31", "17 Apr", "2027-04-30"),
    ("9999-12-31", "1 Mar", "2027-03-01"),  # malformed or absurd: the first bookable day
    ("0001-01-01", "1 Mar", "2027-03-01"),
    ("2027-04-31", "1 Mar", "2027-03-01"),
    ("2027-4-12", "1 Mar", "2027-03-01"),
    ("12/04/2027", "1 Mar", "2027-03-01"),
    ("tomorrow", "1 Mar", "2027-03-01"),
    ("", "1 Mar", "2027-03-01"),
    ("2027-04-12T00:00", "1 Mar", "2027-03-01"),
    ("２０２７-04-12", "1 Mar", "2027-03-01"),
    ("2027-04-12" * 50, "1 Mar", "2027-03-01"),
])
def test_a_bad_day_opens_the_nearest_bookable_one(client, picker, typed, first, value):
    page = get(client, picker, **{"from": typed})
    assert shown(page)[0] == first
    assert jump_form(page)["value"] == value


def test_repeated_or_extra_arguments_are_harmless(client, picker):
    r = client.get(picker + "?from=2027-04-12&from=nonsense&provider=x&month=5")
    assert r.status_code == 200
    assert shown(r.get_data(as_text=True))[0] == "12 Apr"


def test_the_move_picker_still_marks_too_soon_days_after_a_jump(book, client):
    assert book("2027-04-14T09:00:00-07:00", service="extraction").status_code == 201
    token = book("2027-03-20T09:00:00-07:00").json["booking"]["token"]
    page = get(client, f"/manage/{token}/reschedule", **{"from": "2027-04-12"})
    assert "Too close to your dermatologist extraction on Wed 14 Apr" in page
    assert "Too soon after your dermatologist extraction on Wed 14 Apr" in page
    assert f'href="/manage/{token}/reschedule/2027-04-13"' not in page
    assert "need 14 days between them" in page


# --- In the browser ---------------------------------------------------------------------------


def _boxes(page) -> dict[str, dict]:
    return {name: page.locator(selector).bounding_box() for name, selector in (
        ("side", ".picker-side"), ("days", "ol.days"), ("summary", ".picker-summary"))}


@pytest.mark.browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_client_jumps_six_weeks_ahead_in_one_step(visit, client, size):
    booked = client.post("/api/v1/bookings", json=payload(TUE_9))
    move_path = f"/manage/{booked.json['booking']['token']}/reschedule"
    tab = visit(**(DESKTOP if size == "desktop" else {}))
    page = tab.open("/book/facial")
    page.get_by_role("heading", name="Mon 1 Mar to Sun 14 Mar").wait_for()
    assert_fits_the_screen(page)
    tab.shot(f"30-days-{size}")

    page.get_by_label("Go to a day").fill("2027-04-12")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="Mon 12 Apr to Sun 25 Apr").wait_for()
    assert urlsplit(page.url).path == "/book/facial"
    assert parse_qs(urlsplit(page.url).query)["from"] == ["2027-04-12"]
    assert page.get_by_label("Go to a day").input_value() == "2027-04-12"
    assert_fits_the_screen(page)
    boxes = _boxes(page)
    if size == "desktop":
        # The summary and the jump sit beside the days, a week to a row.
        assert boxes["side"]["x"] + boxes["side"]["width"] <= boxes["days"]["x"]
        assert abs(boxes["summary"]["y"] - boxes["days"]["y"]) < 80
        tops = page.locator("ol.days > li").evaluate_all(
            "items => items.map(li => Math.round(li.getBoundingClientRect().top))")
        assert len(set(tops)) == 2, tops
        assert page.locator(".picker-more").is_visible()  # the service's description
    else:
        assert boxes["side"]["y"] + boxes["side"]["height"] <= boxes["days"]["y"]
        assert not page.locator(".picker-more").is_visible()
    tab.shot(f"31-days-jumped-{size}")

    page.get_by_role("link", name=re.compile(r"^Mon 12 Apr\b")).click()
    page.get_by_role("heading", name="Monday 12 April").wait_for()

    # Moving a visit: the month link opens April, the field a day near the window's end.
    page = tab.open(move_path)
    page.get_by_role("navigation", name="Months").get_by_role("link", name="April").click()
    page.get_by_role("heading", name="Thu 1 Apr to Wed 14 Apr").wait_for()
    page.get_by_label("Go to a day").fill("2027-04-28")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="Sat 17 Apr to Fri 30 Apr").wait_for()
    asked = page.locator(".day-asked[aria-current=true]")
    assert asked.count() == 1
    assert "28 Apr" in asked.inner_text()
    assert page.get_by_role("link", name="Later →").count() == 0
    assert_fits_the_screen(page)
    tab.shot(f"32-move-days-near-the-end-{size}")


@pytest.mark.browser
def test_the_jump_works_without_javascript(visit):
    tab = visit(java_script_enabled=False)
    page = tab.open("/book/facial")
    page.get_by_label("Go to a day").fill("2027-04-12")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="Mon 12 Apr to Sun 25 Apr").wait_for()
    page.get_by_role("link", name="March", exact=True).click()
    page.get_by_role("heading", name="Mon 1 Mar to Sun 14 Mar").wait_for()
