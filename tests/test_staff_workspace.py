"""The staff workspace: who may open what, signing in and out, the schedule and a visit's
actions. Inbox, client records and booking by phone have files of their own."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import NOW, STAFF_PASSWORD, signed_post
from sqlalchemy import select

from clinic import create_app
from clinic.config import TestConfig
from clinic.enums import MessageKind, MessageStatus, VisitStatus
from clinic.extensions import db
from clinic.models import Appointment, AppointmentEvent, Message, Provider

TUE_10 = "2027-03-02T10:00:00-08:00"
XSS = "<script>alert(1)</script>"


def _rules(app, method: str) -> list:
    from clinic.staff.access import OPEN_TO_ALL

    return [r for r in app.url_map.iter_rules()
            if r.endpoint.startswith("staff.") and method in r.methods
            and r.endpoint not in OPEN_TO_ALL]


def _all_paths(app, method: str) -> list[str]:
    with app.test_request_context():
        from flask import url_for
        paths = []
        for rule in _rules(app, method):
            values = {name: 1 if name.endswith("_id") else
                      "2027-03-02" if name == "day" else "facial" for name in rule.arguments}
            paths.append(url_for(rule.endpoint, **values))
        return paths


def _visit_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Appointment.id).order_by(Appointment.id.desc()))


def _seen(html: str) -> str:
    return re.search(r'name="seen" value="([^"]+)"', html).group(1)


# --- Who may open what ------------------------------------------------------------------------


def test_every_staff_page_sends_anonymous_visitors_to_the_login(app, client):
    gets, posts = _all_paths(app, "GET"), _all_paths(app, "POST")
    assert len(gets) >= 8 and len(posts) >= 6  # the workspace's pages are all listed
    for path in gets:
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"].startswith("/staff/login?next="), path
    for path in posts:
        assert client.post(path, data={}).status_code == 302, path


def test_a_staff_account_gets_403_on_admin_pages_and_an_admin_gets_them(app, client, sign_in):
    admin_paths = [p for p in _all_paths(app, "GET")
                   if p.startswith(("/staff/admin/", "/staff/reports"))]
    assert len(admin_paths) >= 8
    sign_in("staff")
    for path in admin_paths:
        assert client.get(path).status_code == 403, path
    assert "Admin</a>" not in client.get("/staff/").text
    client.post("/staff/logout")
    sign_in("admin")
    for path in admin_paths:
        # Paths built with id 1 may name nothing (PostgreSQL's ids go on between tests).
        allowed = (200, 404) if re.search(r"/\d+(/|$)", path) else (200,)
        assert client.get(path).status_code in allowed, path


@pytest.fixture
def csrf_app(migrated, clock):
    config = TestConfig(migrated)
    config.CLOCK = clock
    config.WTF_CSRF_ENABLED = True
    app = create_app(config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_every_staff_form_without_its_csrf_token_is_refused(app, csrf_app, make_staff, book):
    book(TUE_10)
    make_staff("desk@clinic.test")
    http = csrf_app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      http.get("/staff/login").text).group(1)
    assert http.post("/staff/login", data={"email": "desk@clinic.test",
                                           "password": STAFF_PASSWORD}).status_code == 400
    signed = http.post("/staff/login", data={"email": "desk@clinic.test",
                                             "password": STAFF_PASSWORD, "csrf_token": token})
    assert signed.status_code == 303
    for path in _all_paths(csrf_app, "POST"):
        answer = http.post(path, data={"status": "cancelled", "reason": "x", "body": "x"})
        assert answer.status_code == 400, path
        assert "Nothing was changed" in answer.text
    with csrf_app.app_context():
        visit = db.session.scalar(select(Appointment))
        assert visit.status == VisitStatus.BOOKED


def test_a_client_named_like_a_script_is_escaped_on_every_staff_page(app, client, sign_in,
                                                                     book, clock):
    book(TUE_10, client={"name": XSS, "phone": "(415) 555-2671", "email": "x@example.com"})
    visit_id = _visit_id(app)
    with app.app_context():
        client_id = db.session.get(Appointment, visit_id).client_id
    signed_post(client, "/sms/inbound", {"From": "+14155552671", "Body": "<b>hello</b>",
                                         "MessageSid": "SM" + "1" * 32})
    sign_in()
    pages = ["/staff/", "/staff/?date=2027-03-02", "/staff/week?date=2027-03-02",
             f"/staff/visits/{visit_id}", "/staff/inbox", "/staff/clients?q=script",
             f"/staff/clients/{client_id}"]
    for path in pages:
        html = client.get(path).text
        assert XSS not in html and "<b>hello</b>" not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(
        "/staff/?date=2027-03-02").text


# --- Signing in and out -----------------------------------------------------------------------


@pytest.fixture
def limited_app(app, migrated, clock):
    """An app with rate limits on. Made after `app`: the limiter is one object, and the last
    app bound to it decides whether it is on."""
    config = TestConfig(migrated)
    config.CLOCK = clock
    config.RATELIMIT_ENABLED = True
    app = create_app(config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_wrong_passwords_are_refused_and_slowed_down_after_five_a_minute(limited_app,
                                                                        make_staff):
    make_staff("desk@clinic.test")
    http = limited_app.test_client()
    wrong = {"email": "desk@clinic.test", "password": "not the password"}
    answers = [http.post("/staff/login", data=wrong) for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert "do not match an active account" in answers[0].text
    assert answers[5].status_code == 429
    assert "Too many sign-in attempts" in answers[5].text
    # The right password is refused too until the minute is over: the account is limited.
    right = {"email": "desk@clinic.test", "password": STAFF_PASSWORD}
    assert http.post("/staff/login", data=right).status_code == 429


def test_the_limit_is_per_account_as_well_as_per_address(limited_app, make_staff):
    make_staff("desk@clinic.test")
    wrong = {"email": "desk@clinic.test", "password": "not the password"}
    for address in range(5):  # five tries from five addresses
        http = limited_app.test_client()
        http.post("/staff/login", data=wrong,
                  environ_base={"REMOTE_ADDR": f"10.0.0.{address}"})
    answer = limited_app.test_client().post("/staff/login", data=wrong,
                                            environ_base={"REMOTE_ADDR": "10.0.0.99"})
    assert answer.status_code == 429


def test_the_session_cookie_is_httponly_and_lax(client, make_staff):
    make_staff("desk@clinic.test")
    answer = client.post("/staff/login", data={"email": "desk@clinic.test",
                                               "password": STAFF_PASSWORD})
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; https sets it (next test)


def test_over_https_the_session_cookie_is_secure(migrated, clock, make_staff, app):
    config = TestConfig(migrated)
    config.CLOCK = clock
    config.SESSION_COOKIE_SECURE = Config_https().SESSION_COOKIE_SECURE
    https = create_app(config)
    make_staff("desk@clinic.test")
    answer = https.test_client().post(
        "/staff/login", data={"email": "desk@clinic.test", "password": STAFF_PASSWORD},
        base_url="https://clinic.test")
    assert "Secure" in answer.headers["Set-Cookie"]
    with https.app_context():
        db.engine.dispose()


def Config_https():  # noqa: N802 - the production Config, read with an https base URL
    import os

    from clinic.config import Config

    old = os.environ.get("PUBLIC_BASE_URL")
    os.environ["PUBLIC_BASE_URL"] = "https://clinic.example"
    try:
        return Config()
    finally:
        if old is None:
            del os.environ["PUBLIC_BASE_URL"]
        else:
            os.environ["PUBLIC_BASE_URL"] = old


def test_signing_in_renews_the_session_and_signing_out_ends_it_even_for_a_copied_cookie(
        app, client, make_staff):
    make_staff("desk@clinic.test")
    with client.session_transaction() as before:
        before["planted"] = "by someone else"
    client.post("/staff/login", data={"email": "desk@clinic.test", "password": STAFF_PASSWORD})
    with client.session_transaction() as after:
        assert "planted" not in after  # nothing from before sign-in carries over
        copied = dict(after)
    assert client.get("/staff/").status_code == 200
    assert client.post("/staff/logout").status_code == 303
    assert client.get("/staff/").status_code == 302
    with client.session_transaction() as replayed:  # the cookie as it was before sign-out
        replayed.update(copied)
    assert client.get("/staff/").status_code == 302


def test_a_new_password_ends_every_other_session(app, make_staff):
    make_staff("desk@clinic.test")
    desk, tablet = app.test_client(), app.test_client()
    for browser in (desk, tablet):
        browser.post("/staff/login", data={"email": "desk@clinic.test",
                                           "password": STAFF_PASSWORD})
        assert browser.get("/staff/").status_code == 200
    changed = desk.post("/staff/account/password", data={
        "current": STAFF_PASSWORD, "new": "a much longer passphrase", "confirm":
        "a much longer passphrase"})
    assert changed.status_code == 303
    assert desk.get("/staff/").status_code == 200  # this browser goes on
    assert tablet.get("/staff/").status_code == 302  # the other was signed out
    assert app.test_client().post("/staff/login", data={
        "email": "desk@clinic.test", "password": STAFF_PASSWORD}).status_code == 200


def test_a_bad_new_password_changes_nothing_and_says_why(app, client, sign_in):
    sign_in()
    answer = client.post("/staff/account/password", data={
        "current": "wrong", "new": "short", "confirm": "short"})
    assert answer.status_code == 422
    assert "not your current password" in answer.text and "at least 12" in answer.text
    client.post("/staff/logout")
    assert client.post("/staff/login", data={"email": "staff@clinic.test",
                                              "password": STAFF_PASSWORD}).status_code == 303


def test_a_token_made_on_the_account_page_works_once_shown_and_stops_when_revoked(
        app, client, sign_in):
    sign_in()
    page = client.post("/staff/account/tokens")
    token = re.search(r"(clk_[\w-]+)", page.text).group(1)
    assert token not in client.get("/staff/account").text  # shown once
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/staff/appointments?date=2027-03-02", headers=headers).status_code \
        == 200
    token_id = re.search(r"/staff/account/tokens/(\d+)/revoke", page.text).group(1)
    client.post(f"/staff/account/tokens/{token_id}/revoke")
    assert api.get("/api/v1/staff/appointments?date=2027-03-02", headers=headers).status_code \
        == 401


def test_after_sign_in_only_a_staff_path_is_followed(client, make_staff):
    make_staff("desk@clinic.test")
    data = {"email": "desk@clinic.test", "password": STAFF_PASSWORD}
    assert client.post("/staff/login?next=//evil.example/", data=data).headers[
        "Location"] == "/staff/"
    client.post("/staff/logout")
    assert client.post("/staff/login?next=/staff/inbox", data=data).headers[
        "Location"] == "/staff/inbox"


# --- The schedule -----------------------------------------------------------------------------


def test_the_day_shows_each_visit_in_its_providers_column_with_buffer_and_next(
        app, client, sign_in, book, clock):
    book(TUE_10)
    book("2027-03-02T11:00:00-08:00", service="extraction", phone="(415) 555-2672",
         concerns=["cysts"], uses_prescription_topicals=True)
    clock.now = NOW + timedelta(days=1, hours=1)  # Tuesday 09:00
    sign_in()
    html = client.get("/staff/").text
    heads = re.findall(r'<th scope="col"><a [^>]*>([^<]+)</a>', html)
    assert heads == ["Aesthetician", "Dermatologist"]
    assert html.count('class="visit status-booked') == 2
    assert "Cleanup 15 min" in html
    assert re.search(r"Next: <a [^>]*><strong>10:00 AM</strong> Dana Client, Facial", html)
    assert "Pausing topicals" in html
    assert "now-row" in html and "Now 9:00 AM" in html


def test_a_provider_linked_account_sees_its_own_column_first(app, client, sign_in):
    with app.app_context():
        derm = db.session.scalar(select(Provider.id).where(Provider.role == "dermatologist"))
    sign_in(provider_id=derm)
    heads = re.findall(r'<th scope="col"><a [^>]*>([^<]+)</a>', client.get("/staff/").text)
    assert heads == ["Dermatologist", "Aesthetician"]


def test_a_cancelled_visit_frees_its_time_and_is_listed_apart(app, client, sign_in, book):
    token = book(TUE_10).json["booking"]["token"]
    client.post(f"/api/v1/bookings/{token}/cancel")
    sign_in()
    html = client.get("/staff/?date=2027-03-02").text
    assert 'class="visit ' not in html
    assert re.search(r"Cancelled</h2>\s*<ul>\s*<li><a [^>]*>10:00 AM Dana Client", html)


def test_a_date_that_cannot_be_read_shows_today_and_says_so(client, sign_in):
    sign_in()
    answer = client.get("/staff/?date=tomorrow")
    assert answer.status_code == 200
    assert "is not a date" in answer.text and "Monday 1 March" in answer.text


def test_the_week_shows_a_providers_seven_days(app, client, sign_in, book):
    book(TUE_10)
    sign_in()
    html = client.get("/staff/week?date=2027-03-03").text
    assert re.findall(r'<th scope="col"><a [^>]*>([^<]+)</a>', html)[:2] == [
        "Mon 1 Mar", "Tue 2 Mar"]
    assert html.count('<th scope="col"><a') == 7
    assert "Dana Client" in html


# --- A visit's actions ------------------------------------------------------------------------


def test_check_in_then_complete_plans_the_aftercare_and_records_who(app, client, sign_in, book,
                                                                    clock):
    book(TUE_10)
    visit_id = _visit_id(app)
    clock.now = NOW + timedelta(days=1, hours=2)  # Tuesday 10:00
    sign_in()
    page = client.get(f"/staff/visits/{visit_id}").text
    assert ">Check in</button>" in page and ">Complete</button>" not in page
    client.post(f"/staff/visits/{visit_id}/status",
                data={"status": "checked_in", "seen": _seen(page)})
    page = client.get(f"/staff/visits/{visit_id}").text
    assert ">Complete</button>" in page and ">Check in</button>" not in page
    assert ">Confirm</button>" not in page and "Cancel visit" not in page
    clock.advance(hours=1)
    client.post(f"/staff/visits/{visit_id}/status",
                data={"status": "completed", "seen": _seen(page)})
    with app.app_context():
        kinds = set(db.session.scalars(select(Message.kind).where(
            Message.appointment_id == visit_id)))
        assert MessageKind.AFTERCARE in kinds
        events = list(db.session.scalars(select(AppointmentEvent).where(
            AppointmentEvent.appointment_id == visit_id)))
        assert [e.actor for e in events[-2:]] == ["staff:1", "staff:1"] or all(
            e.actor.startswith("staff:") for e in events[-2:])
    page = client.get(f"/staff/visits/{visit_id}").text
    assert "Front Desk" in page or "staff@clinic.test" not in page
    assert "nothing more to do" in page


def test_a_stale_form_says_so_instead_of_acting_twice(app, client, sign_in, book, clock):
    book(TUE_10)
    visit_id = _visit_id(app)
    clock.now = NOW + timedelta(days=1, hours=2)
    sign_in()
    seen = _seen(client.get(f"/staff/visits/{visit_id}").text)
    client.post(f"/staff/visits/{visit_id}/status", data={"status": "checked_in", "seen": seen})
    again = client.post(f"/staff/visits/{visit_id}/status",
                        data={"status": "no_show", "seen": seen}, follow_redirects=True)
    assert "changed while you had it open" in again.text
    with app.app_context():
        assert db.session.get(Appointment, visit_id).status == VisitStatus.CHECKED_IN


def test_cancelling_needs_a_reason_which_is_kept_in_the_history(app, client, sign_in, book):
    book(TUE_10)
    visit_id = _visit_id(app)
    sign_in()
    seen = _seen(client.get(f"/staff/visits/{visit_id}").text)
    refused = client.post(f"/staff/visits/{visit_id}/status",
                          data={"status": "cancelled", "seen": seen, "reason": "  "})
    assert refused.status_code == 422 and "Say why" in refused.text
    client.post(f"/staff/visits/{visit_id}/status",
                data={"status": "cancelled", "seen": seen, "reason": "Client called: flu"})
    page = client.get(f"/staff/visits/{visit_id}").text
    assert "Reason: Client called: flu" in page
    with app.app_context():
        assert db.session.get(Appointment, visit_id).status == VisitStatus.CANCELLED


def test_moving_a_visit_from_its_page_uses_the_clients_rules(app, client, sign_in, book):
    book(TUE_10)
    visit_id = _visit_id(app)
    sign_in()
    page = client.get(f"/staff/visits/{visit_id}/move/2027-03-03").text
    assert "11:00 AM" in page
    moved = client.post(f"/staff/visits/{visit_id}/move", data={
        "seen": _seen(page), "start": "2027-03-03T11:00:00-08:00"})
    assert moved.status_code == 303
    with app.app_context():
        visit = db.session.get(Appointment, visit_id)
        assert visit.start_at.isoformat() == "2027-03-03T19:00:00+00:00"
        assert visit.events[-1].actor.startswith("staff:")
    closed = client.post(f"/staff/visits/{visit_id}/move", data={
        "seen": _seen(client.get(f"/staff/visits/{visit_id}").text),
        "start": "2027-03-07T11:00:00-08:00"}, follow_redirects=True)  # a Sunday
    assert "notice-error" in closed.text


def test_resend_is_offered_only_for_a_text_that_failed_for_a_passing_reason(
        app, client, sign_in, book, dispatch, sms):
    book(TUE_10)
    visit_id = _visit_id(app)
    with app.app_context():
        confirmation = db.session.scalar(select(Message).where(
            Message.appointment_id == visit_id, Message.kind == MessageKind.CONFIRMATION))
        confirmation.status, confirmation.error_code = MessageStatus.FAILED, 21211
        confirmation.note = "invalid number"
        db.session.commit()
        message_id = confirmation.id
    sign_in()
    assert ">Resend</button>" not in client.get(f"/staff/visits/{visit_id}").text
    refused = client.post(f"/staff/visits/{visit_id}/messages/{message_id}/resend",
                          follow_redirects=True)
    assert "refused it for good" in refused.text
    with app.app_context():
        confirmation = db.session.get(Message, message_id)
        confirmation.error_code, confirmation.note = None, "timed out; gave up after 5 attempts"
        confirmation.attempts = 5
        db.session.commit()
    assert ">Resend</button>" in client.get(f"/staff/visits/{visit_id}").text
    client.post(f"/staff/visits/{visit_id}/messages/{message_id}/resend")
    dispatch(NOW)
    dispatch(NOW + timedelta(minutes=5))
    assert len(sms.sent) == 1  # the confirmation, sent once
    with app.app_context():
        assert db.session.get(Message, message_id).status == MessageStatus.SENT
    again = client.post(f"/staff/visits/{visit_id}/messages/{message_id}/resend",
                        follow_redirects=True)
    assert "not failed" in again.text


def test_create_staff_links_an_account_to_a_provider_listed_by_providers(app, runner):
    listed = runner.invoke(args=["providers"])
    assert listed.exit_code == 0
    derm_id = next(line.split("\t")[0] for line in listed.output.splitlines()
                   if "\tdermatologist\t" in line)
    made = runner.invoke(args=["create-staff", "derm@clinic.test", "--name", "Dr Skin",
                               "--provider", derm_id], input=STAFF_PASSWORD + "\n")
    assert made.exit_code == 0 and "working as Dermatologist" in made.output
    refused = runner.invoke(args=["create-staff", "x@clinic.test", "--name", "X",
                                  "--provider", "999"], input=STAFF_PASSWORD + "\n")
    assert refused.exit_code != 0 and "no provider 999" in refused.output


def test_resend_is_not_offered_for_a_text_the_dispatcher_would_skip(app, client, sign_in,
                                                                    book):
    token = book(TUE_10).json["booking"]["token"]
    visit_id = _visit_id(app)
    with app.app_context():
        confirmation = db.session.scalar(select(Message).where(
            Message.kind == MessageKind.CONFIRMATION))
        confirmation.status, confirmation.error_code = MessageStatus.FAILED, 20429
        db.session.commit()
        message_id = confirmation.id
    client.post(f"/api/v1/bookings/{token}/cancel")
    sign_in()
    assert ">Resend</button>" not in client.get(f"/staff/visits/{visit_id}").text
    refused = client.post(f"/staff/visits/{visit_id}/messages/{message_id}/resend",
                          follow_redirects=True)
    assert "would not go out: visit cancelled" in refused.text


def test_a_visit_late_in_the_evening_is_on_the_grid(app, sign_in, client, book):
    from clinic.models import WorkingHours

    with app.app_context():
        aesthetician = db.session.scalar(select(Provider).where(
            Provider.role == "aesthetician"))
        for row in aesthetician.hours:
            if row.weekday == 2:  # Wednesdays until 23:45
                row.ends = row.ends.replace(hour=23, minute=45)
        db.session.commit()
        assert db.session.scalar(select(WorkingHours.ends).where(
            WorkingHours.weekday == 2, WorkingHours.provider_id == aesthetician.id)).hour == 23
    assert book("2027-03-03T22:30:00-08:00").status_code == 201
    sign_in()
    html = client.get("/staff/?date=2027-03-03").text
    assert "10:30 PM–11:30 PM" in html and "Cleanup 15 min" in html
    assert '<span class="quarter">:45</span>' in html.split("11 PM")[-1]


def test_a_new_password_revokes_the_accounts_api_tokens(app, client, sign_in):
    sign_in()
    token = re.search(r"(clk_[\w-]+)", client.post("/staff/account/tokens").text).group(1)
    client.post("/staff/account/password", data={
        "current": STAFF_PASSWORD, "new": "a much longer passphrase",
        "confirm": "a much longer passphrase"})
    answer = app.test_client().get("/api/v1/staff/appointments?date=2027-03-02",
                                   headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def test_a_search_term_never_reaches_the_access_log():
    from clinic.logredact import redact

    for query in ("4155552671", "(415)%20555-2671", "415-555-2671", "%2B1+415+555+2671",
                  "Dana+Client"):
        line = f'127.0.0.1 - - "GET /staff/clients?q={query}&page=2 HTTP/1.1" 200 -'
        assert query not in redact(line) and "q=<redacted>&page=2" in redact(line)


def test_a_set_password_link_never_reaches_the_access_log():
    from clinic.logredact import redact

    token = "Zq3" * 15
    line = f'127.0.0.1 - - "GET /staff/set-password/{token} HTTP/1.1" 200 -'
    assert token not in redact(line) and "/staff/set-password/<token>" in redact(line)


def test_a_retired_provider_with_visits_still_booked_stays_on_the_schedule(app, client,
                                                                           sign_in, book):
    book(TUE_10)
    with app.app_context():
        aesthetician = db.session.scalar(select(Provider).where(
            Provider.role == "aesthetician"))
        aesthetician.active = False
        db.session.commit()
    sign_in()

    def heads(html: str) -> list[str]:
        return re.findall(r'<th scope="col"><a [^>]*>([^<]+)</a>', html)

    assert heads(client.get("/staff/?date=2027-03-02").text) == ["Aesthetician",
                                                                 "Dermatologist"]
    assert heads(client.get("/staff/?date=2027-03-03").text) == ["Dermatologist"]
