"""Client search and records in the staff workspace: finding a client by any form of their
number or part of their name, what the record shows, and edits with an audit trail that
refuse bad input and stale forms."""

import re
from datetime import timedelta

import pytest
from conftest import signed_post
from sqlalchemy import func, select

from clinic import clients as domain
from clinic.extensions import db
from clinic.models import AuditEntry, Client, Message, StaffUser

DANA = {"name": "Dana Fairweather", "phone": "(415) 555-2671"}
OLU = {"name": "Olu Brightman", "phone": "(415) 555-2672"}
TUE_10 = "2027-03-02T10:00:00-08:00"
WED_11 = "2027-03-03T11:00:00-08:00"
LATER = "2027-03-16T10:00:00-07:00"  #: 14 days on: the cadence allows a second visit


def booked(book, who: dict, start: str = TUE_10, **changes) -> int:
    answer = book(start, client={**who, "email": "dana@example.com"}, **changes)
    assert answer.status_code == 201, answer.text
    return answer.get_json()["booking"]["id"]


def client_id(app, phone: str = "+14155552671") -> int:
    with app.app_context():
        found = db.session.scalar(select(Client.id).where(Client.phone == phone))
        db.session.remove()
    return found


def stored(app, cid: int) -> tuple[str, str | None]:
    with app.app_context():
        row = db.session.get(Client, cid)
        details = (row.name, row.email)
        db.session.remove()
    return details


def audit_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count(AuditEntry.id)))
        db.session.remove()
    return count


def seen_of(page: str) -> str:
    match = re.search(r'name="seen" value="([^"]*)"', page)
    assert match, "the edit form carries no seen field"
    return match.group(1)


def results(page: str) -> list[str]:
    """The names in the results table, in order."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r'<a href="/staff/clients/\d+">([^<]*)</a>', body)


# --- Search ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["+1 415 555 2671", "(415) 555-2671", "415.555.2671",
                                   "4155552671", "+14155552671", "1-415-555-2671", "5552671",
                                   "2671"])
def test_search_finds_a_client_by_any_form_of_their_number(book, sign_in, typed):
    booked(book, DANA)
    booked(book, OLU, WED_11)
    http = sign_in()
    page = http.get("/staff/clients", query_string={"q": typed})
    assert page.status_code == 200
    assert results(page.text) == ["Dana Fairweather"]


def test_a_whole_number_typed_is_marked_as_the_clients_own(book, sign_in):
    booked(book, DANA)
    http = sign_in()
    assert "Number matches" in http.get("/staff/clients?q=(415) 555-2671").text
    assert "Number matches" not in http.get("/staff/clients?q=2671").text


def test_fewer_than_four_digits_match_no_number(book, sign_in):
    booked(book, DANA)
    page = sign_in().get("/staff/clients?q=671")
    assert results(page.text) == []
    assert "No client matches “671”" in page.text


@pytest.mark.parametrize("typed", ["fairweather", "FAIRW", "dana", "Weath", "  dana  "])
def test_search_finds_a_client_by_part_of_the_name_in_any_case(book, sign_in, typed):
    booked(book, DANA)
    booked(book, OLU, WED_11)
    page = sign_in().get("/staff/clients", query_string={"q": typed})
    assert results(page.text) == ["Dana Fairweather"]


def test_search_results_show_phone_visits_and_next_visit(book, sign_in):
    booked(book, DANA)
    booked(book, DANA, LATER)
    page = sign_in().get("/staff/clients?q=dana").text
    row = page.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert "(415) 555-2671" in row
    assert "<td>2</td>" in row
    assert "Tuesday 2 March, 10:00 AM" in row  # the next visit
    assert "None yet" in row  # no visit has happened


def test_no_match_says_so(book, sign_in):
    booked(book, DANA)
    page = sign_in().get("/staff/clients?q=zebedee")
    assert page.status_code == 200
    assert results(page.text) == []
    assert "No client matches “zebedee”" in page.text


def test_a_name_with_wildcards_is_searched_as_typed(book, sign_in):
    booked(book, {"name": "Ana 100% Real", "phone": DANA["phone"]})
    booked(book, OLU, WED_11)
    http = sign_in()
    assert results(http.get("/staff/clients", query_string={"q": "100%"}).text) == [
        "Ana 100% Real"]
    assert results(http.get("/staff/clients", query_string={"q": "%"}).text) == [
        "Ana 100% Real"]
    assert results(http.get("/staff/clients", query_string={"q": "_"}).text) == []


def test_names_that_begin_with_the_search_come_first(app, book, clock):
    booked(book, {"name": "Adana Zee", "phone": OLU["phone"]}, WED_11)
    booked(book, {"name": "Dana Young", "phone": DANA["phone"]})
    with app.app_context():
        found = domain.search(db.session, "DANA", region="US", now=clock.now)
        assert [f.client.name for f in found] == ["Dana Young", "Adana Zee"]
        db.session.remove()


def test_an_empty_search_lists_the_clients_seen_most_recently(book, sign_in, clock):
    booked(book, DANA)
    booked(book, OLU, WED_11)
    http = sign_in()
    before = http.get("/staff/clients").text
    assert results(before) == []  # nobody has come in yet
    assert "No client has had a visit yet" in before
    clock.advance(days=3)
    page = http.get("/staff/clients").text
    assert results(page) == ["Olu Brightman", "Dana Fairweather"]  # latest visit first
    row = page.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert "Wednesday 3 March, 11:00 AM" in row  # Olu's last visit


def test_cancelled_visits_are_not_counted(app, book, client, clock):
    booked(book, DANA)
    later = book(LATER, client=DANA)
    assert later.status_code == 201, later.text
    token = later.get_json()["booking"]["token"]
    assert client.post(f"/api/v1/bookings/{token}/cancel", json={}).status_code == 200
    with app.app_context():
        (found,) = domain.search(db.session, "dana", region="US", now=clock.now)
        assert found.visits == 1
        assert found.next_at.isoformat() == "2027-03-02T18:00:00+00:00"
        db.session.remove()


def test_client_pages_need_a_signed_in_account(client, book, app):
    booked(book, DANA)
    assert client.get("/staff/clients").status_code in (302, 303)
    assert client.get(f"/staff/clients/{client_id(app)}").status_code in (302, 303)


# --- The record -----------------------------------------------------------------------------


def test_the_record_shows_details_visits_texts_and_consent(app, book, sign_in, clock):
    visit = booked(book, DANA)
    cid = client_id(app)
    with app.app_context():  # the confirmation went out; a later text failed
        texts = {m.kind: m for m in db.session.scalars(select(Message))}
        assert set(texts) >= {"confirmation", "reminder"}
        texts["confirmation"].status = "sent"
        texts["confirmation"].sent_at = clock.now + timedelta(minutes=1)
        texts["reminder"].status = "failed"
        texts["reminder"].error_code = 30006
        texts["reminder"].note = "landline or unreachable carrier"
        db.session.commit()
        db.session.remove()
    page = sign_in().get(f"/staff/clients/{cid}")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Dana Fairweather</h1>" in text
    assert 'href="tel:+14155552671"' in text
    assert "dana@example.com" in text
    # The visit, linking to its page.
    assert f'href="/staff/visits/{visit}">Tuesday 2 March, 10:00 AM</a>' in text
    assert "<td>Facial</td>" in text and "<td>Aesthetician</td>" in text
    assert ">Booked</span>" in text and "<td>$80</td>" in text
    # The confirmation text, sent.
    assert "Booking confirmation" in text
    assert re.search(r'class="pill pill-sent">Sent</span><br>\s*Sent Monday 1 March, 8:01 AM',
                     text)
    assert "Reminder" in text and 'class="pill pill-failed">Failed</span>' in text
    assert "Error 30006: landline or unreachable carrier" in text
    # Consent as given.
    assert "Given online on Monday 1 March, 8:00 AM" in text
    assert "Opted out</dt>\n    <dd>No</dd>" in text


def test_consent_taken_by_phone_says_who_took_it(app, book, sign_in):
    booked(book, DANA)
    cid = client_id(app)
    with app.app_context():
        db.session.get(Client, cid).sms_consent_via = "by phone, taken by Sam Desk"
        db.session.commit()
        db.session.remove()
    text = sign_in().get(f"/staff/clients/{cid}").text
    assert "Given by phone, taken by Sam Desk on Monday 1 March, 8:00 AM" in text


def test_the_record_shows_replies_opt_out_and_open_inbox_items(app, book, client, sign_in):
    booked(book, DANA)
    cid = client_id(app)
    form = {"MessageSid": "SMq1", "From": "+14155552671", "To": "+15005550006",
            "Body": "is <b>redness</b> normal?"}
    assert signed_post(client, "/sms/inbound", form).status_code == 200
    form = {**form, "MessageSid": "SMq2", "Body": "STOP"}
    assert signed_post(client, "/sms/inbound", form).status_code == 200
    with app.app_context():
        from clinic.models import Followup
        item = db.session.scalar(select(Followup.id).where(Followup.client_id == cid))
        db.session.remove()
    assert item is not None
    text = sign_in().get(f"/staff/clients/{cid}").text
    assert "is &lt;b&gt;redness&lt;/b&gt; normal?" in text
    assert "<b>redness</b>" not in text
    assert "Opted out of texts" in text and "Sent to the inbox" in text
    assert "They can text START to opt back in." in text
    assert f'href="/staff/inbox#item-{item}"' in text


def test_an_unknown_client_is_404(sign_in):
    http = sign_in()
    assert http.get("/staff/clients/999999").status_code == 404
    answer = http.post("/staff/clients/999999", data={"name": "X", "email": "", "seen": "0"})
    assert answer.status_code == 404


# --- Editing --------------------------------------------------------------------------------


def test_editing_writes_an_audit_entry_and_shows_it(app, book, sign_in):
    booked(book, DANA)
    cid = client_id(app)
    http = sign_in()
    page = http.get(f"/staff/clients/{cid}").text
    assert seen_of(page) == "0"
    assert "No changes since the client first booked." in page
    answer = http.post(f"/staff/clients/{cid}", data={
        "name": "Dana  Fair-Weather ", "email": "Dana.F@Example.COM", "seen": "0"})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/staff/clients/{cid}")
    assert stored(app, cid) == ("Dana Fair-Weather", "Dana.F@example.com")
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        staff = db.session.scalar(select(StaffUser))
        assert (entry.subject, entry.subject_id, entry.action) == ("client", cid, "edited")
        assert entry.actor == f"staff:{staff.id}"
        assert entry.before == {"name": "Dana Fairweather", "email": "dana@example.com"}
        assert entry.after == {"name": "Dana Fair-Weather", "email": "Dana.F@example.com"}
        entry_id, staff_name = entry.id, staff.name
        db.session.remove()
    page = http.get(f"/staff/clients/{cid}").text
    assert "Saved." in page
    assert seen_of(page) == str(entry_id)
    trail = page.split('id="audit-h"', 1)[1]
    assert f"<strong>{staff_name}</strong>" in trail
    assert "Name: “Dana Fairweather” → “Dana Fair-Weather”" in trail
    assert "Email: “dana@example.com” → “Dana.F@example.com”" in trail


def test_only_changed_fields_are_audited_and_no_change_writes_nothing(app, book, sign_in):
    booked(book, DANA)
    cid = client_id(app)
    http = sign_in()
    http.post(f"/staff/clients/{cid}", data={"name": "Dana Fairweather", "email": "",
                                             "seen": "0"})
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        assert entry.before == {"email": "dana@example.com"} and entry.after == {"email": None}
        seen = entry.id
        db.session.remove()
    assert stored(app, cid) == ("Dana Fairweather", None)
    answer = http.post(f"/staff/clients/{cid}", data={"name": "Dana Fairweather", "email": "",
                                                      "seen": str(seen)}, follow_redirects=True)
    assert domain.NOTHING_CHANGED in answer.text
    assert audit_count(app) == 1


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"name": "Dana New", "email": "not-an-email"}, "email",
     "That doesn't look like an email address"),
    ({"name": "   ", "email": "new@example.com"}, "name", "Enter the client's name."),
    ({"name": "x" * 121, "email": "new@example.com"}, "name", "At most 120 characters"),
    ({"name": "Dana\x07Bell", "email": "new@example.com"}, "name",
     "Contains characters that can't be used here."),
])
def test_bad_input_is_refused_with_typed_values_kept_and_nothing_written(
        app, book, sign_in, form, field, message):
    booked(book, DANA)
    cid = client_id(app)
    http = sign_in()
    answer = http.post(f"/staff/clients/{cid}", data={**form, "seen": "0"})
    assert answer.status_code == 422
    text = answer.text
    error = re.search(rf'<span class="field-error" id="{field}-error">([^<]*)</span>', text)
    assert error and message in error.group(1).replace("&#39;", "'")
    assert re.search(rf'id="{field}" name="{field}" value="[^"]*"[^>]*aria-invalid="true"', text)
    other = "email" if field == "name" else "name"
    assert f'id="{other}" name="{other}" value="{form[other]}"' in text  # what was typed
    if field == "email":
        assert 'value="not-an-email"' in text
    assert stored(app, cid) == ("Dana Fairweather", "dana@example.com")
    assert audit_count(app) == 0


def test_a_stale_form_is_refused_and_shows_the_details_now(app, book, sign_in):
    booked(book, DANA)
    cid = client_id(app)
    http = sign_in()
    opened = seen_of(http.get(f"/staff/clients/{cid}").text)  # two people open the page
    first = http.post(f"/staff/clients/{cid}", data={
        "name": "Dana First", "email": "dana@example.com", "seen": opened})
    assert first.status_code == 303
    second = http.post(f"/staff/clients/{cid}", data={
        "name": "Dana Second", "email": "second@example.com", "seen": opened})
    assert second.status_code == 422
    assert "Someone else changed this client&#39;s details meanwhile; here they are now" \
        in second.text
    assert stored(app, cid) == ("Dana First", "dana@example.com")
    assert audit_count(app) == 1
    # The page shows the details as they are now, what was typed beside them, and a fresh form.
    assert 'id="name" name="name" value="Dana First"' in second.text
    assert "Dana Second" in second.text.split('id="problem"', 1)[1].split("</div>", 1)[0]
    again = http.post(f"/staff/clients/{cid}", data={
        "name": "Dana Second", "email": "second@example.com", "seen": seen_of(second.text)})
    assert again.status_code == 303
    assert stored(app, cid) == ("Dana Second", "second@example.com")


def test_a_missing_or_garbled_seen_field_is_treated_as_stale(app, book, sign_in):
    booked(book, DANA)
    cid = client_id(app)
    http = sign_in()
    for seen in ("", "abc", "-1"):
        answer = http.post(f"/staff/clients/{cid}", data={"name": "Other", "email": "",
                                                          "seen": seen})
        assert answer.status_code == 422
    assert stored(app, cid) == ("Dana Fairweather", "dana@example.com")


def test_update_client_refuses_in_the_domain_too(app, book, clock):
    booked(book, DANA)
    cid = client_id(app)
    with app.app_context():
        with pytest.raises(domain.ClientError) as caught:
            domain.update_client(db.session, cid, name="", email="bad", now=clock.now,
                                 actor="staff:1", seen_at=0)
        assert set(caught.value.fields) == {"name", "email"}
        entry = domain.update_client(db.session, cid, name="Dana B", email="d@EXAMPLE.org",
                                     now=clock.now, actor="staff:1", seen_at=0)
        assert entry.after == {"name": "Dana B", "email": "d@example.org"}
        with pytest.raises(domain.StaleEdit):
            domain.update_client(db.session, cid, name="Dana C", email=None, now=clock.now,
                                 actor="staff:1", seen_at=0)
        db.session.remove()


# --- Escaping -------------------------------------------------------------------------------


def test_a_client_named_like_a_script_is_shown_as_text(app, book, sign_in):
    script = "<script>alert(1)</script>"
    booked(book, {"name": script, "phone": DANA["phone"]})
    cid = client_id(app)
    http = sign_in()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    found = http.get("/staff/clients", query_string={"q": "script"}).text
    assert escaped in found and script not in found
    record = http.get(f"/staff/clients/{cid}").text
    assert escaped in record and script not in record
    answer = http.post(f"/staff/clients/{cid}", data={
        "name": '"><img src=x onerror=alert(2)>', "email": "", "seen": "0"},
        follow_redirects=True)
    assert "<img src=x" not in answer.text
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in answer.text  # in the trail

