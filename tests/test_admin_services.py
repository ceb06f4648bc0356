"""Admin: services under /staff/admin/services. Only admins reach them; a new price shows at
once on the booking page and in the API while visits already booked keep theirs; a retired
service is offered nowhere and can't be booked; bad input, stale forms and hostile names are
refused or escaped; every change is in the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import NOW
from sqlalchemy import func, select

from clinic import services_admin as domain
from clinic.extensions import db
from clinic.models import Appointment, AuditEntry, Service, StaffUser

TUE_10 = "2027-03-02T10:00:00-08:00"
WED_10 = "2027-03-17T10:00:00-07:00"  #: 15 days on: the extraction cadence allows it
XSS = "<script>alert(1)</script>"
LIST = "/staff/admin/services"


# --- Helpers ----------------------------------------------------------------------------------


def service_row(app, slug: str = "facial") -> dict:
    with app.app_context():
        row = db.session.scalar(select(Service).where(Service.slug == slug))
        values = None if row is None else {**domain.stored(row), "id": row.id}
        db.session.remove()
    return values


def facial_id(app) -> int:
    return service_row(app)["id"]


def count(app, model) -> int:
    with app.app_context():
        found = db.session.scalar(select(func.count(model.id)))
        db.session.remove()
    return found


def audit_entries(app, service_id: int) -> list[dict]:
    with app.app_context():
        rows = [dict(actor=e.actor, action=e.action, before=e.before, after=e.after)
                for e in db.session.scalars(select(AuditEntry).where(
                    AuditEntry.subject == "service", AuditEntry.subject_id == service_id)
                    .order_by(AuditEntry.id))]
        db.session.remove()
    return rows


def visit_price(app, visit_id: int) -> int:
    with app.app_context():
        price = db.session.get(Appointment, visit_id).price_cents
        db.session.remove()
    return price


def seen_of(page: str) -> str:
    match = re.search(r'name="seen" value="([^"]*)"', page)
    assert match, "the edit form carries no seen field"
    return match.group(1)


def edit_form(app, http, service_id: int, **changes) -> dict:
    """The edit form as the page draws it (every field, and its `seen`), with `changes`."""
    page = http.get(f"{LIST}/{service_id}")
    assert page.status_code == 200, page.text
    with app.app_context():
        values = domain.form_values(db.session.get(Service, service_id))
        db.session.remove()
    form = {k: v for k, v in values.items() if v != ""}  # an unticked box is not sent
    form.update(changes, seen=seen_of(page.text))
    return {k: v for k, v in form.items() if v is not None}


def new_service(**changes) -> dict:
    form = {"name": "Peel", "price": "120", "duration_minutes": "45", "buffer_minutes": "10",
            "provider_role": "aesthetician", "pause_topicals_days": "4",
            "description": "A gentle peel.", "preparation": "Come as you are.",
            "what_to_expect": "Tingling.", "aftercare": "Sunscreen.\nNo scrubs for a week."}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def offered_on_booking_page(http) -> list[str]:
    return re.findall(r'href="/book/([a-z0-9-]+)"', http.get("/").text)


def offered_by_api(http) -> dict[str, dict]:
    answer = http.get("/api/v1/services")
    assert answer.status_code == 200
    return {s["slug"]: s for s in answer.get_json()["services"]}


def booked(book, start: str = TUE_10, **changes) -> dict:
    answer = book(start, **changes)
    assert answer.status_code == 201, answer.text
    return answer.get_json()["booking"]


# --- Who may open what ------------------------------------------------------------------------


def _routes(app) -> list[tuple[str, str]]:
    """(method, path) of every admin services route, found in the URL map."""
    with app.test_request_context():
        from flask import url_for
        found = []
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/staff/admin/services"):
                continue
            path = url_for(rule.endpoint, **{name: 1 for name in rule.arguments})
            found += [(method, path) for method in sorted(rule.methods & {"GET", "POST"})]
    return found


def test_a_plain_staff_account_gets_403_on_every_admin_services_route(app, client, sign_in):
    routes = _routes(app)
    assert {m for m, _ in routes} == {"GET", "POST"} and len(routes) >= 6, routes
    before = service_row(app)
    sign_in()
    for method, path in routes:
        answer = client.open(path, method=method,
                             data=new_service(seen="x") if method == "POST" else None)
        assert answer.status_code == 403, (method, path)
    assert service_row(app) == before
    assert count(app, Service) == 2 and count(app, AuditEntry) == 0


def test_an_admin_sees_every_service_with_its_facts_and_a_way_to_add_one(app, client,
                                                                         sign_in):
    sign_in("admin")
    page = client.get(LIST)
    assert page.status_code == 200
    body = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    facial = f'href="/staff/admin/services/{facial_id(app)}">Facial</a>'
    assert facial in body
    assert "$80" in body and "60 min + 15 min" in body and "Aesthetician" in body
    assert "Dermatologist extraction" in body and "$200" in body
    assert 'href="/staff/admin/services/new"' in page.text
    assert client.get(f"{LIST}/new").status_code == 200
    assert client.get(f"{LIST}/999999").status_code == 404


# --- Prices ----------------------------------------------------------------------------------


def test_a_new_price_shows_at_once_and_visits_already_booked_keep_theirs(app, client, sign_in,
                                                                        book):
    earlier = booked(book)
    assert earlier["price_cents"] == 8000
    sign_in("admin")
    sid = facial_id(app)
    saved = client.post(f"{LIST}/{sid}", data=edit_form(app, client, sid, price="$95.50"))
    assert saved.status_code == 303, saved.text
    assert saved.headers["Location"] == f"{LIST}/{sid}"

    assert "$95.50" in client.get("/").text and "$80" not in client.get("/").text
    assert offered_by_api(client)["facial"]["price_cents"] == 9550
    # The visit booked before keeps the price it was booked at, wherever it is read.
    assert visit_price(app, earlier["id"]) == 8000
    assert client.get(f"/api/v1/bookings/{earlier['token']}").get_json()[
        "booking"]["price_cents"] == 8000
    assert "$80" in client.get(f"/manage/{earlier['token']}").text
    # A new booking pays the new price.
    later = booked(book, WED_10)
    assert later["price_cents"] == 9550 and visit_price(app, later["id"]) == 9550


@pytest.mark.parametrize(("typed", "cents"), [
    ("80", 8000), ("80.00", 8000), ("$80.50", 8050), ("80.5", 8050), (" $ 1,200 ", 120000),
    ("0.99", 99), ("9999.99", 999999),
])
def test_prices_are_read_as_dollars_people_type(typed, cents):
    assert domain.parse_price(typed) == cents


@pytest.mark.parametrize("typed", ["", "abc", "0", "0.00", "-5", "10000", "10000.00", "80.505",
                                   "1e3", "80,5", "٨٠", "$", "12345678901"])
def test_prices_that_are_not_a_price_below_ten_thousand_dollars_are_refused(typed):
    with pytest.raises(ValueError):
        domain.parse_price(typed)


# --- Retiring --------------------------------------------------------------------------------


def test_a_retired_service_is_offered_nowhere_and_booking_it_is_refused(app, client, sign_in,
                                                                        book):
    earlier = booked(book)
    sign_in("admin")
    sid = facial_id(app)
    assert "facial" in offered_on_booking_page(client) and "facial" in offered_by_api(client)

    retired = client.post(f"{LIST}/{sid}/retire")
    assert retired.status_code == 303
    assert service_row(app)["active"] is False
    assert "facial" not in offered_on_booking_page(client)
    assert "Facial" not in client.get("/").text
    assert "facial" not in offered_by_api(client)
    assert "extraction" in offered_by_api(client)  # only the one retired goes
    refused = book(WED_10)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "unknown_service"
    assert client.get("/book/facial").status_code == 404
    # Never deleted: the visit already booked stays booked, and the list still shows it.
    assert count(app, Service) == 2
    assert client.get(f"/api/v1/bookings/{earlier['token']}").get_json()[
        "booking"]["status"] == "booked"
    assert "Retired" in client.get(LIST).text

    restored = client.post(f"{LIST}/{sid}/restore")
    assert restored.status_code == 303
    assert "facial" in offered_on_booking_page(client) and "facial" in offered_by_api(client)
    assert booked(book, WED_10)["service"] == "facial"
    assert [e["action"] for e in audit_entries(app, sid)] == ["retired", "restored"]
    assert audit_entries(app, sid)[0]["before"] == {"active": True}
    assert audit_entries(app, sid)[0]["after"] == {"active": False}


def test_retiring_twice_writes_one_entry(app, client, sign_in):
    sign_in("admin")
    sid = facial_id(app)
    assert client.post(f"{LIST}/{sid}/retire").status_code == 303
    assert client.post(f"{LIST}/{sid}/retire").status_code == 303
    assert len(audit_entries(app, sid)) == 1


# --- Bad input -------------------------------------------------------------------------------


def test_bad_input_gets_a_message_per_field_keeps_what_was_typed_and_writes_nothing(
        app, client, sign_in):
    sign_in("admin")
    answer = client.post(LIST, data=new_service(name="", price="abc", duration_minutes="7",
                                                buffer_minutes="7", pause_topicals_days="31",
                                                description="Kept <b>as typed</b>"))
    assert answer.status_code == 422
    page = answer.text
    errors = dict(re.findall(r'<span class="field-error" id="([a-z_]+)-error">([^<]+)</span>',
                             page))
    assert set(errors) == {"name", "price", "duration_minutes", "buffer_minutes",
                           "pause_topicals_days"}
    assert "name" in errors["name"].lower()
    assert "dollars" in errors["price"]
    assert "15 to 480" in errors["duration_minutes"]
    assert "multiple of 5" in errors["buffer_minutes"]
    assert "30" in errors["pause_topicals_days"]
    for name in errors:  # each message is tied to its field
        assert re.search(rf'id="{name}"[^>]*aria-invalid="true"[^>]*'
                         rf'aria-describedby="[^"]*{name}-error', page), name
    assert 'value="abc"' in page and 'value="7"' in page and 'value="31"' in page
    assert "Kept &lt;b&gt;as typed&lt;/b&gt;</textarea>" in page
    assert re.search(r'id="name" name="name" value=""', page)
    assert count(app, Service) == 2 and count(app, AuditEntry) == 0


def test_bad_input_to_an_edit_changes_nothing(app, client, sign_in):
    sign_in("admin")
    sid = facial_id(app)
    before = service_row(app)
    answer = client.post(f"{LIST}/{sid}", data=edit_form(
        app, client, sid, name="   ", price="abc", duration_minutes="50", provider_role="nurse",
        aftercare="x" * 2001))
    assert answer.status_code == 422
    assert 'value="abc"' in answer.text and 'value="50"' in answer.text
    assert "multiple of 15" in answer.text
    assert "At most 2000 characters" in answer.text
    assert "Choose who gives this service" in answer.text
    assert service_row(app) == before and count(app, AuditEntry) == 0


@pytest.mark.parametrize(("field", "typed"), [
    ("name", "x" * 121), ("name", "Fa\x00cial"), ("name", "Fa\x1bcial"),
    ("duration_minutes", "495"), ("duration_minutes", "50"), ("duration_minutes", "60.0"),
    ("duration_minutes", "６０"), ("buffer_minutes", "125"), ("buffer_minutes", "-5"),
    ("pause_topicals_days", "31"), ("provider_role", "AESTHETICIAN"),
    ("includes_extraction", "maybe"), ("description", "x" * 2001),
    ("aftercare", "line one\x07"),
])
def test_each_field_refuses_what_the_clinic_cannot_use(field, typed):
    with pytest.raises(domain.ServiceError) as refused:
        domain.read_fields(new_service(**{field: typed}), grid=timedelta(minutes=15))
    assert set(refused.value.fields) == {field}


def test_texts_keep_their_lines_and_the_duration_follows_the_clinics_grid():
    clean = domain.read_fields(new_service(aftercare="One.\r\nTwo.  \n\nThree.",
                                           duration_minutes="90", buffer_minutes="0",
                                           pause_topicals_days="0", includes_extraction="on"),
                               grid=timedelta(minutes=15))
    assert clean["aftercare"] == "One.\nTwo.\n\nThree."
    assert clean["duration_minutes"] == 90 and clean["buffer_minutes"] == 0
    assert clean["includes_extraction"] is True and clean["purging_checkin"] is False
    with pytest.raises(domain.ServiceError) as refused:
        domain.read_fields(new_service(duration_minutes="45"), grid=timedelta(minutes=30))
    assert "multiple of 30" in refused.value.fields["duration_minutes"]


# --- Creating, slugs, the audit trail --------------------------------------------------------


def test_a_new_service_is_offered_with_a_slug_from_its_name_that_never_changes(app, client,
                                                                            sign_in):
    sign_in("admin")
    made = client.post(LIST, data=new_service(name="  Peel   Deluxe  ", includes_extraction="on"))
    assert made.status_code == 303
    row = service_row(app, "peel-deluxe")
    assert row is not None and row["name"] == "Peel Deluxe" and row["price_cents"] == 12000
    assert row["active"] is True and row["includes_extraction"] is True
    assert row["purging_checkin"] is False
    assert row["aftercare"] == "Sunscreen.\nNo scrubs for a week."
    assert made.headers["Location"] == f"{LIST}/{row['id']}"
    assert "peel-deluxe" in offered_on_booking_page(client)
    assert offered_by_api(client)["peel-deluxe"]["price_cents"] == 12000
    [created] = audit_entries(app, row["id"])
    assert created["action"] == "created" and created["before"] == {}
    assert created["after"]["slug"] == "peel-deluxe" and created["after"]["price_cents"] == 12000

    # Renaming keeps the slug; a second service with the name gets a slug of its own.
    renamed = client.post(f"{LIST}/{row['id']}",
                          data=edit_form(app, client, row["id"], name="Café Peel"))
    assert renamed.status_code == 303
    assert service_row(app, "peel-deluxe")["name"] == "Café Peel"
    assert client.post(LIST, data=new_service(name="Facial")).status_code == 303
    assert service_row(app, "facial-2")["name"] == "Facial"
    assert client.post(LIST, data=new_service(name="Café Peel!")).status_code == 303
    assert service_row(app, "cafe-peel")["name"] == "Café Peel!"
    assert client.post(LIST, data=new_service(name="¡¡¡")).status_code == 303
    assert service_row(app, "service") is not None


def test_the_audit_trail_records_who_changed_what_from_what(app, client, sign_in):
    sign_in("admin")
    sid = facial_id(app)
    saved = client.post(f"{LIST}/{sid}", data=edit_form(
        app, client, sid, name="Deep Facial", price="95.50", purging_checkin=None))
    assert saved.status_code == 303
    [entry] = audit_entries(app, sid)
    with app.app_context():
        admin = db.session.scalar(select(StaffUser).where(StaffUser.email == "admin@clinic.test"))
        actor, name = admin.actor, admin.name
        db.session.remove()
    assert entry["actor"] == actor and entry["action"] == "edited"
    assert entry["before"] == {"name": "Facial", "price_cents": 8000, "purging_checkin": True}
    assert entry["after"] == {"name": "Deep Facial", "price_cents": 9550,
                              "purging_checkin": False}
    page = client.get(f"{LIST}/{sid}").text
    history = page.split('id="audit-h"', 1)[1]
    assert f"by {name}" in history and "staff:" not in history
    assert "“$80” → “$95.50”" in history and "“Facial” → “Deep Facial”" in history
    assert "“Yes” → “No”" in history

    # Saving the form unchanged writes nothing.
    again = client.post(f"{LIST}/{sid}", data=edit_form(app, client, sid))
    assert again.status_code == 303 and len(audit_entries(app, sid)) == 1


def test_a_stale_edit_is_refused_and_keeps_what_was_typed(app, client, sign_in):
    sign_in("admin")
    sid = facial_id(app)
    mine = edit_form(app, client, sid, price="85")
    theirs = edit_form(app, client, sid, price="90")
    assert mine["seen"] == theirs["seen"]
    assert client.post(f"{LIST}/{sid}", data=theirs).status_code == 303

    refused = client.post(f"{LIST}/{sid}", data=mine)
    assert refused.status_code == 422
    assert "Someone changed this service after you opened this page" in refused.text
    assert 'id="price-error">Changed meanwhile; saved now as “$90”.' in refused.text
    assert 'value="85"' in refused.text
    assert service_row(app)["price_cents"] == 9000
    assert len(audit_entries(app, sid)) == 1
    # The page now carries a fresh `seen`: saving again is a knowing choice, and goes through.
    assert seen_of(refused.text) != mine["seen"]
    again = client.post(f"{LIST}/{sid}", data={**mine, "seen": seen_of(refused.text)})
    assert again.status_code == 303 and service_row(app)["price_cents"] == 8500


def test_a_retired_service_makes_an_open_edit_form_stale(app, client, sign_in):
    sign_in("admin")
    sid = facial_id(app)
    form = edit_form(app, client, sid, price="85")
    assert client.post(f"{LIST}/{sid}/retire").status_code == 303
    assert client.post(f"{LIST}/{sid}", data=form).status_code == 422
    assert service_row(app)["price_cents"] == 8000


def test_the_domain_refuses_a_stale_seen_and_an_unknown_service(app):
    with app.app_context():
        sid = db.session.scalar(select(Service.id).where(Service.slug == "facial"))
        with pytest.raises(domain.StaleEdit):
            domain.update_service(db.session, sid, {"price": "81"}, now=NOW, actor="staff:1",
                                  seen="not-the-fingerprint")
        with pytest.raises(domain.UnknownService):
            domain.retire_service(db.session, 999999, now=NOW, actor="staff:1")
        seen = domain.fingerprint(db.session.get(Service, sid))
        entry = domain.update_service(db.session, sid, {"price": "81"}, now=NOW,
                                      actor="staff:1", seen=seen)
        assert entry.before == {"price_cents": 8000} and entry.after == {"price_cents": 8100}
        assert db.session.get(Service, sid).slug == "facial"
        db.session.remove()


# --- Escaping --------------------------------------------------------------------------------


def test_a_service_named_like_a_script_is_shown_as_text(app, client, sign_in):
    sign_in("admin")
    made = client.post(LIST, data=new_service(name=XSS, description=XSS))
    assert made.status_code == 303
    row = service_row(app, "script-alert-1-script")
    assert row is not None and row["name"] == XSS
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in (LIST, made.headers["Location"], "/"):
        page = client.get(path).text
        assert XSS not in page, path
        assert escaped in page, path
    # Its history too (after an edit), and a page re-drawn with errors.
    client.post(made.headers["Location"], data=edit_form(app, client, row["id"], price="121"))
    assert XSS not in client.get(made.headers["Location"]).text
    bad = client.post(LIST, data=new_service(name=XSS, price="abc"))
    assert bad.status_code == 422 and XSS not in bad.text and escaped in bad.text
