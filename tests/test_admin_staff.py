"""Admin: staff accounts. Creating one with a one-time set-password link, editing, resetting,
deactivating and reactivating, the last admin's protection, and the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import STAFF_PASSWORD
from sqlalchemy import func, select

from clinic import auth, staff_admin
from clinic.extensions import db
from clinic.models import ApiToken, AuditEntry, Provider, StaffSession, StaffUser

XSS = "<script>alert(1)</script>"
NEW_PASSWORD = "a brand new passphrase"
LINK = re.compile(r"http://[^\s<\"]+/staff/set-password/([A-Za-z0-9_-]+)")
API = "/api/v1/staff/appointments?date=2027-03-01"


def _id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(StaffUser.id).where(StaffUser.email == email))


def _user(app, staff_id: int) -> StaffUser:
    with app.app_context():
        user = db.session.get(StaffUser, staff_id)
        db.session.expunge(user)
        return user


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _audit(app, staff_id: int) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).where(
            AuditEntry.subject == "staff", AuditEntry.subject_id == staff_id)
            .order_by(AuditEntry.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _create(client, email="new@clinic.test", name="New Person", role="staff", provider=""):
    return client.post("/staff/admin/staff", data={"name": name, "email": email, "role": role,
                                                    "provider": provider})


def _link_path(html: str) -> str:
    match = LINK.search(html)
    assert match, html
    return "/staff/set-password/" + match.group(1)


def _signs_in(app, email: str, password: str) -> bool:
    return app.test_client().post("/staff/login", data={
        "email": email, "password": password}).status_code == 303


def _own_client(app, email: str, password: str = STAFF_PASSWORD):
    other = app.test_client()
    assert other.post("/staff/login", data={"email": email, "password": password}
                      ).status_code == 303
    return other


def _token(app, staff_id: int, clock) -> dict:
    with app.app_context():
        token = auth.new_token(db.session, db.session.get(StaffUser, staff_id), now=clock.now)
    return {"Authorization": f"Bearer {token}"}


# --- Who may ------------------------------------------------------------------------------


def test_a_staff_account_gets_403_on_every_admin_staff_route(app, client, sign_in, make_staff):
    other = make_staff("other@clinic.test")
    sign_in()
    gets = ["/staff/admin/staff", f"/staff/admin/staff/{other}"]
    posts = ["/staff/admin/staff", f"/staff/admin/staff/{other}",
             f"/staff/admin/staff/{other}/deactivate", f"/staff/admin/staff/{other}/reactivate",
             f"/staff/admin/staff/{other}/link"]
    for path in gets:
        assert client.get(path).status_code == 403, path
    for path in posts:
        answer = client.post(path, data={"name": "X", "email": "x@clinic.test",
                                         "role": "admin", "provider": ""})
        assert answer.status_code == 403, path
    assert _count(app, StaffUser) == 2 and _count(app, AuditEntry) == 0
    assert _user(app, other).active
    # Every route of this page is listed above: a new one must be added to this test.
    rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/staff/admin/staff")}
    assert len(rules) == 5


def test_admin_staff_pages_send_anonymous_visitors_to_the_login(app, client, make_staff):
    other = make_staff("other@clinic.test")
    assert client.get("/staff/admin/staff").status_code == 302
    assert client.post(f"/staff/admin/staff/{other}/deactivate").status_code == 302
    assert _user(app, other).active


# --- Creating an account and its one-time link ------------------------------------------


def test_an_admin_creates_an_account_whose_person_sets_a_password_and_signs_in(
        app, client, sign_in, providers, clock):
    sign_in("admin")
    created = _create(client, email="Nia@Clinic.test", name="Nia Aesthetician",
                      provider=str(providers.aesthetician))
    assert created.status_code == 200
    assert "not shown again" in created.text
    path = _link_path(created.text)
    token = path.rsplit("/", 1)[1]
    staff_id = _id(app, "nia@clinic.test")
    user = _user(app, staff_id)
    # Only the SHA-256 of the link's token is kept, for 72 hours.
    assert user.set_password_hash == staff_admin.digest(token) and token not in str(
        vars(user))
    assert user.set_password_until == clock.now + timedelta(hours=72)
    assert user.provider_id == providers.aesthetician and user.role == "staff"
    # Shown once: not in a flash, the cookie, the list or the account's page.
    with client.session_transaction() as cookie:
        assert token not in str(dict(cookie))
    for page in ("/staff/admin/staff", f"/staff/admin/staff/{staff_id}", "/staff/"):
        assert token not in client.get(page).text
    assert "Waiting for a password" in client.get("/staff/admin/staff").text
    # No password works before one is set.
    assert not _signs_in(app, "nia@clinic.test", "")
    assert not _signs_in(app, "nia@clinic.test", STAFF_PASSWORD)

    visitor = app.test_client()  # signed out
    form = visitor.get(path)
    assert form.status_code == 200 and "Set your password" in form.text
    assert 'name="csrf_token"' in form.text
    short = visitor.post(path, data={"new": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 12" in short.text
    differ = visitor.post(path, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert differ.status_code == 422 and "differ" in differ.text
    done = visitor.post(path, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/staff/login"
    assert "Your password is set" in visitor.get("/staff/login").text
    # No session was started: the person signs in.
    assert visitor.get("/staff/").status_code == 302
    assert visitor.post("/staff/login", data={"email": "nia@clinic.test",
                                              "password": NEW_PASSWORD}).status_code == 303
    assert "Nia Aesthetician" in visitor.get("/staff/").text
    # One use: the link is gone, and the page says so without naming anyone.
    again = app.test_client().get(path)
    assert again.status_code == 404 and "doesn't work" in again.text
    assert "nia@clinic.test" not in again.text
    assert app.test_client().post(path, data={"new": "another passphrase!",
                                              "confirm": "another passphrase!"}
                                  ).status_code == 404
    assert _signs_in(app, "nia@clinic.test", NEW_PASSWORD)
    assert _user(app, staff_id).set_password_hash is None
    assert "Active" in client.get("/staff/admin/staff").text


def test_the_link_expires_after_72_hours(app, client, sign_in, clock):
    sign_in("admin")
    path = _link_path(_create(client).text)
    clock.advance(hours=71, minutes=59)
    assert app.test_client().get(path).status_code == 200
    clock.advance(minutes=1)
    expired = app.test_client().get(path)
    assert expired.status_code == 404 and "doesn't work" in expired.text
    assert app.test_client().post(path, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
                                  ).status_code == 404
    assert not _signs_in(app, "new@clinic.test", NEW_PASSWORD)
    assert "Link expired" in client.get("/staff/admin/staff").text


def test_an_unknown_link_gets_the_same_page_as_a_used_one(app):
    for path in ("/staff/set-password/nothing-like-it", "/staff/set-password/" + "a" * 43):
        answer = app.test_client().get(path)
        assert answer.status_code == 404 and "doesn't work" in answer.text


def test_a_new_link_resets_the_account_ending_its_sessions_password_and_tokens(
        app, client, sign_in, make_staff, clock):
    desk = make_staff("desk@clinic.test")
    desk_browser = _own_client(app, "desk@clinic.test")
    api = _token(app, desk, clock)
    assert app.test_client().get(API, headers=api).status_code == 200
    sign_in("admin")
    first = client.post(f"/staff/admin/staff/{desk}/link")
    assert first.status_code == 200
    assert desk_browser.get("/staff/").status_code == 302
    assert app.test_client().get(API, headers=api).status_code == 401
    assert not _signs_in(app, "desk@clinic.test", STAFF_PASSWORD)
    # A second link replaces the first.
    second = _link_path(client.post(f"/staff/admin/staff/{desk}/link").text)
    assert app.test_client().get(_link_path(first.text)).status_code == 404
    visitor = app.test_client()
    assert visitor.post(second, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
                        ).status_code == 303
    assert _signs_in(app, "desk@clinic.test", NEW_PASSWORD)
    assert [e.action for e in _audit(app, desk)] == ["link_issued", "link_issued",
                                                     "password_set"]


def test_an_admin_cannot_reset_their_own_password_here(app, client, sign_in):
    sign_in("admin")
    me = _id(app, "admin@clinic.test")
    answer = client.post(f"/staff/admin/staff/{me}/link")
    assert answer.status_code == 422 and "your account page" in answer.text
    assert _user(app, me).set_password_hash is None
    assert client.get("/staff/").status_code == 200


# --- Bad input ------------------------------------------------------------------------------


def test_bad_input_gets_messages_beside_the_fields_and_writes_nothing(
        app, client, sign_in, make_staff):
    make_staff("taken@clinic.test")
    sign_in("admin")
    users, audits = _count(app, StaffUser), _count(app, AuditEntry)
    bad = _create(client, email="not an email", name="", provider="999")
    assert bad.status_code == 422
    assert "look like an email address" in bad.text
    assert "Enter the person&#39;s name" in bad.text
    assert "no such provider" in bad.text
    assert 'value="not an email"' in bad.text  # what was typed is kept
    assert bad.text.count('aria-invalid="true"') == 3
    taken = _create(client, email="TAKEN@clinic.test", name="Kept Name")
    assert taken.status_code == 422 and "already uses this email" in taken.text
    assert 'value="Kept Name"' in taken.text
    odd_role = _create(client, role="owner")
    assert odd_role.status_code == 422 and "Choose admin or staff" in odd_role.text
    assert odd_role.text.count('name="csrf_token"') >= 2
    assert (_count(app, StaffUser), _count(app, AuditEntry)) == (users, audits)
    # The same on an account's own page.
    desk = _id(app, "taken@clinic.test")
    edit = client.post(f"/staff/admin/staff/{desk}", data={
        "name": "Front Desk", "email": "admin@clinic.test", "role": "staff", "provider": "x"})
    assert edit.status_code == 422
    assert "already uses this email" in edit.text and "no such provider" in edit.text
    assert _user(app, desk).email == "taken@clinic.test"
    assert _count(app, AuditEntry) == audits


def test_an_unknown_account_is_404(client, sign_in):
    sign_in("admin")
    assert client.get("/staff/admin/staff/9999").status_code == 404
    assert client.post("/staff/admin/staff/9999/deactivate").status_code == 404
    assert client.post("/staff/admin/staff/9999", data={
        "name": "A", "email": "a@clinic.test", "role": "staff"}).status_code == 404


# --- Deactivating ------------------------------------------------------------------------------


def test_deactivating_ends_its_sessions_and_tokens_at_once(app, client, sign_in, make_staff,
                                                           clock):
    desk = make_staff("desk@clinic.test")
    desk_browser = _own_client(app, "desk@clinic.test")
    api = _token(app, desk, clock)
    assert desk_browser.get("/staff/").status_code == 200
    assert app.test_client().get(API, headers=api).status_code == 200
    sign_in("admin")
    done = client.post(f"/staff/admin/staff/{desk}/deactivate")
    assert done.status_code == 303
    assert done.headers["Location"] == f"/staff/admin/staff/{desk}"
    assert "Deactivated" in client.get(done.headers["Location"]).text
    # Its open session goes to the login; its token answers 401.
    next_page = desk_browser.get("/staff/")
    assert next_page.status_code == 302 and next_page.headers["Location"].startswith(
        "/staff/login")
    assert app.test_client().get(API, headers=api).status_code == 401
    assert not _signs_in(app, "desk@clinic.test", STAFF_PASSWORD)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(
            StaffSession.staff_user_id == desk, StaffSession.ended_at.is_(None))) == 0
        assert db.session.scalar(select(func.count()).where(
            ApiToken.staff_user_id == desk, ApiToken.revoked_at.is_(None))) == 0
    # Reactivated, it signs in with its password again; the revoked token stays revoked.
    assert client.post(f"/staff/admin/staff/{desk}/reactivate").status_code == 303
    assert _signs_in(app, "desk@clinic.test", STAFF_PASSWORD)
    assert app.test_client().get(API, headers=api).status_code == 401
    entries = _audit(app, desk)
    assert [e.action for e in entries] == ["deactivated", "reactivated"]
    assert entries[0].after == {"active": False, "sessions_ended": 1, "tokens_revoked": 1}


def test_the_loader_and_the_api_refuse_an_inactive_account_by_themselves(
        app, make_staff, clock):
    """Even with its session and token left open, an inactive account gets nothing."""
    desk = make_staff("desk@clinic.test")
    desk_browser = _own_client(app, "desk@clinic.test")
    api = _token(app, desk, clock)
    with app.app_context():
        db.session.get(StaffUser, desk).active = False
        db.session.commit()
    assert desk_browser.get("/staff/").status_code == 302
    assert app.test_client().get(API, headers=api).status_code == 401
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(
            StaffSession.staff_user_id == desk, StaffSession.ended_at.is_(None))) == 1


def test_deactivating_an_account_waiting_for_its_password_kills_the_link(app, client, sign_in):
    sign_in("admin")
    path = _link_path(_create(client).text)
    new = _id(app, "new@clinic.test")
    assert client.post(f"/staff/admin/staff/{new}/deactivate").status_code == 303
    assert app.test_client().get(path).status_code == 404
    assert client.post(f"/staff/admin/staff/{new}/reactivate").status_code == 303
    assert app.test_client().get(path).status_code == 404
    assert "Link expired" in client.get("/staff/admin/staff").text


# --- The last admin -----------------------------------------------------------------------


def test_the_last_admin_cannot_deactivate_or_demote_themselves(app, client, sign_in):
    sign_in("admin")
    me = _id(app, "admin@clinic.test")
    off = client.post(f"/staff/admin/staff/{me}/deactivate")
    assert off.status_code == 422 and "last active admin" in off.text
    demote = client.post(f"/staff/admin/staff/{me}", data={
        "name": "Admin", "email": "admin@clinic.test", "role": "staff", "provider": ""})
    assert demote.status_code == 422 and "last active admin" in demote.text
    assert 'id="role-error"' in demote.text
    user = _user(app, me)
    assert user.active and user.role == "admin"
    assert _audit(app, me) == []
    assert client.get("/staff/admin/staff").status_code == 200  # still signed in, still admin


def test_no_admin_can_lock_themselves_out_but_may_demote_another(app, client, sign_in,
                                                                  make_staff):
    other = make_staff("second@clinic.test", role="admin", name="Second Admin")
    sign_in("admin")
    me = _id(app, "admin@clinic.test")
    assert client.post(f"/staff/admin/staff/{me}/deactivate").status_code == 422
    own = client.post(f"/staff/admin/staff/{me}", data={
        "name": "Admin", "email": "admin@clinic.test", "role": "staff"})
    assert own.status_code == 422 and "your own account" in own.text
    assert _user(app, me).role == "admin"
    # Another admin: yes, and then I am the last one.
    assert client.post(f"/staff/admin/staff/{other}", data={
        "name": "Second Admin", "email": "second@clinic.test", "role": "staff"}
        ).status_code == 303
    assert _user(app, other).role == "staff"
    assert _own_client(app, "second@clinic.test").get("/staff/admin/staff").status_code == 403


# --- Edits and the audit trail ----------------------------------------------------------------


def test_every_change_is_in_the_audit_trail_with_who(app, client, sign_in, make_staff,
                                                     providers):
    sign_in("admin", name="Ada Admin")
    admin = _id(app, "admin@clinic.test")
    _create(client, email="nia@clinic.test", name="Nia")
    nia = _id(app, "nia@clinic.test")
    saved = client.post(f"/staff/admin/staff/{nia}", data={
        "name": "Nia B", "email": "nia@clinic.test", "role": "admin",
        "provider": str(providers.dermatologist)})
    assert saved.status_code == 303
    assert "Saved." in client.get(saved.headers["Location"]).text
    unchanged = client.post(f"/staff/admin/staff/{nia}", data={
        "name": "Nia B", "email": "nia@clinic.test", "role": "admin",
        "provider": str(providers.dermatologist)})
    assert unchanged.status_code == 303
    client.post(f"/staff/admin/staff/{nia}/deactivate")
    client.post(f"/staff/admin/staff/{nia}/reactivate")
    entries = _audit(app, nia)
    assert [e.action for e in entries] == ["created", "edited", "deactivated", "reactivated"]
    assert {e.actor for e in entries} == {f"staff:{admin}"}
    assert entries[1].before == {"name": "Nia", "role": "staff", "provider_id": None}
    assert entries[1].after == {"name": "Nia B", "role": "admin",
                                "provider_id": providers.dermatologist}
    # The link itself is never in the trail: only until when it works.
    assert set(entries[0].after) == {"name", "email", "role", "provider_id", "link_until"}
    page = client.get(f"/staff/admin/staff/{nia}").text
    assert "Ada Admin" in page and "Changes to this account" in page
    with app.app_context():
        derm = db.session.get(Provider, providers.dermatologist).name
    assert f"“{derm}”" in page
    listing = client.get("/staff/admin/staff").text
    assert listing.count("Ada Admin") >= 4 and "Reactivated" in listing


def test_the_list_shows_role_provider_state_and_last_sign_in(app, client, sign_in, make_staff,
                                                             providers, clock):
    make_staff("derm@clinic.test", provider_id=providers.dermatologist, name="Dr Derm")
    make_staff("never@clinic.test", name="Never Signed")
    _own_client(app, "derm@clinic.test")
    sign_in("admin")
    html = client.get("/staff/admin/staff").text
    row = re.search(r"<tr>\s*<td>Dr Derm</td>.*?</tr>", html, re.S).group(0)
    with app.app_context():
        derm = db.session.get(Provider, providers.dermatologist).name
    assert derm in row and "Active" in row and "Monday 1 March" in row
    never = re.search(r"<tr>\s*<td>Never Signed</td>.*?</tr>", html, re.S).group(0)
    assert "Never" in never.replace("Never Signed", "")


@pytest.mark.parametrize("where", ["list", "account"])
def test_a_name_like_a_script_is_escaped(app, client, sign_in, where):
    sign_in("admin")
    created = _create(client, name=XSS, email="x@clinic.test")
    assert created.status_code == 200 and XSS not in created.text
    staff_id = _id(app, "x@clinic.test")
    path = "/staff/admin/staff" if where == "list" else f"/staff/admin/staff/{staff_id}"
    html = client.get(path).text
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
