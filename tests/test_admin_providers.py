"""Provider admin: who may open it, details, weekly hours with breaks, time off across clock
changes, retiring, the audit trail, and never stranding a booked visit unasked."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import NOW
from sqlalchemy import func, select

from clinic import providers_admin as domain
from clinic.enums import VisitStatus
from clinic.extensions import db
from clinic.models import Appointment, AuditEntry, Provider, TimeOff, WorkingHours

LA = ZoneInfo("America/Los_Angeles")
XSS = "<script>alert(1)</script>"
TUE = "2027-03-02"
TUE_10 = "2027-03-02T10:00:00-08:00"
TUE_11 = "2027-03-02T11:00:00-08:00"
DEMO_WEEK = {d: "09:00-17:00" for d in range(6)} | {6: ""}


# --- Helpers ----------------------------------------------------------------------------------


def hours_form(**days) -> dict:
    """The hours form with the demo week, days given as mon=…, tue=… replaced."""
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    week = dict(DEMO_WEEK)
    for name, value in days.items():
        week[names.index(name)] = value
    return {f"hours_{d}": v for d, v in week.items()}


def stored_hours(app, provider_id: int) -> dict[int, list[tuple[time, time]]]:
    with app.app_context():
        rows = db.session.scalars(select(WorkingHours).where(
            WorkingHours.provider_id == provider_id).order_by(WorkingHours.starts))
        week: dict[int, list[tuple[time, time]]] = {}
        for row in rows:
            week.setdefault(row.weekday, []).append((row.starts, row.ends))
        db.session.remove()
    return week


def audit(app, provider_id: int | None = None) -> list[tuple[str, str, dict, dict]]:
    with app.app_context():
        query = select(AuditEntry).where(AuditEntry.subject == "provider").order_by(AuditEntry.id)
        if provider_id is not None:
            query = query.where(AuditEntry.subject_id == provider_id)
        rows = [(e.action, e.actor, e.before, e.after) for e in db.session.scalars(query)]
        db.session.remove()
    return rows


def starts(client, day: str, service: str = "facial") -> list[str]:
    """The free starts that day as HH:MM clinic time."""
    answer = client.get(f"/api/v1/availability?service={service}&from={day}&to={day}")
    assert answer.status_code == 200, answer.text
    return [s["start"][11:16] for s in answer.get_json()["slots"]]


def booked_id(book, start: str, phone: str = "(415) 555-2671") -> int:
    answer = book(start, client={"name": "Dana Client", "phone": phone,
                                 "email": "dana@example.com"})
    assert answer.status_code == 201, answer.text
    return answer.get_json()["booking"]["id"]


def visit_status(app, visit_id: int) -> tuple[VisitStatus, int]:
    with app.app_context():
        visit = db.session.get(Appointment, visit_id)
        found = (visit.status, visit.provider_id)
        db.session.remove()
    return found


def active(app, provider_id: int) -> bool:
    with app.app_context():
        found = db.session.get(Provider, provider_id).active
        db.session.remove()
    return found


def acknowledged(page: str) -> str:
    match = re.search(r'name="acknowledged" value="([^"]*)"', page)
    assert match, "the confirmation page carries no list of the visits shown"
    return match.group(1)


def field_error(page: str, name: str) -> str:
    match = re.search(rf'id="{name}-error">([^<]*)<', page)
    assert match, f"no message beside {name}"
    return html.unescape(match.group(1))


# --- Who may open it --------------------------------------------------------------------------


def test_staff_gets_403_on_every_provider_admin_route_and_nothing_changes(app, client, sign_in,
                                                                         providers):
    rules = [r for r in app.url_map.iter_rules()
             if r.endpoint.startswith("staff.provider")]
    assert {r.endpoint for r in rules} >= {
        "staff.providers", "staff.provider", "staff.provider_create", "staff.provider_hours",
        "staff.provider_time_off_add", "staff.provider_time_off_remove",
        "staff.provider_retire", "staff.provider_restore"}
    sign_in("staff")
    pid = providers.aesthetician
    with app.test_request_context():
        from flask import url_for
        targets = [(url_for(r.endpoint, **{a: pid if a == "provider_id" else 1
                                           for a in r.arguments}), m)
                   for r in rules for m in ("GET", "POST") if m in r.methods]
    form = {"name": "Mallory", "role": "aesthetician", "confirm": "yes", "first_day": TUE,
            **hours_form(tue="")}
    for path, method in targets:
        answer = client.open(path, method=method, data=form if method == "POST" else None)
        assert answer.status_code == 403, (method, path)
    assert active(app, pid)
    assert stored_hours(app, pid)[1] == [(time(9), time(17))]
    assert audit(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count(TimeOff.id))) == 0
        assert db.session.scalar(select(func.count(Provider.id))) == 2


def test_an_admin_sees_the_providers_with_their_hours(client, sign_in, providers):
    sign_in("admin")
    page = client.get("/staff/admin/providers")
    assert page.status_code == 200
    assert "Mon–Sat 09:00–17:00" in page.text
    assert f'href="/staff/admin/providers/{providers.dermatologist}"' in page.text
    assert client.get("/staff/admin/providers/9999").status_code == 404


# --- Weekly hours -----------------------------------------------------------------------------


def test_a_lunch_break_makes_its_hour_unbookable(app, client, sign_in, providers, book):
    assert "12:00" in starts(client, TUE)  # open all day before
    sign_in("admin")
    answer = client.post(f"/staff/admin/providers/{providers.aesthetician}/hours",
                         data=hours_form(tue="09:00-12:00, 13:00-17:00"))
    assert answer.status_code == 303
    assert stored_hours(app, providers.aesthetician)[1] == [(time(9), time(12)),
                                                            (time(13), time(17))]
    free = starts(client, TUE)
    assert "11:00" in free and "13:00" in free  # a facial ending at 12:00 still fits
    assert not [s for s in free if "11:15" <= s <= "12:45"]  # nothing runs into the break
    for start in ("2027-03-02T12:00:00-08:00", "2027-03-02T11:30:00-08:00"):
        refused = book(start)
        assert refused.status_code == 422, refused.text
        assert refused.get_json()["error"]["code"] == "outside_hours"
    assert book("2027-03-02T13:00:00-08:00").status_code == 201
    assert "12:00" in starts(client, "2027-03-03")  # other days keep their hours


@pytest.mark.parametrize("typed, message", [
    ("09:07-12:00", "is not on the 5 minutes"),
    ("09:00-13:00, 12:00-17:00", "overlap"),
    ("17:00-09:00", "ends before it starts"),
    ("09:00-12:00, 12:00-17:00", "touch"),
    ("9 to lunch", "isn't a time"),
    ("23:00-25:00", "isn't a time of day"),
])
def test_bad_hours_are_refused_beside_the_day_keeping_what_was_typed(app, client, sign_in,
                                                                    providers, typed, message):
    sign_in("admin")
    answer = client.post(f"/staff/admin/providers/{providers.aesthetician}/hours",
                         data=hours_form(tue=typed, wed="10:00-14:00"))
    assert answer.status_code == 422
    assert message in field_error(answer.text, "hours_1")
    assert f'value="{typed}"' in html.unescape(answer.text)
    assert 'value="10:00-14:00"' in answer.text  # the other days as typed too
    assert stored_hours(app, providers.aesthetician)[2] == [(time(9), time(17))]
    assert audit(app) == []


def test_hours_can_be_typed_loosely_and_end_at_midnight():
    assert domain.parse_day("9-12,13:00 – 17:30") == [(540, 720), (780, 1050)]
    assert domain.parse_day("0930 to 1200") == [(570, 720)]
    assert domain.parse_day("closed") == [] and domain.parse_day("  ") == []
    week = domain.parse_week({4: "18:00-24:00"})
    assert week == {4: [(time(18), domain.END_OF_DAY)]}
    assert domain.week_fields(week)[4] == "18:00–24:00"
    with pytest.raises(domain.ProviderError) as refused:
        domain.parse_week({0: "24:00-24:00", 3: "00:00-09:12"})
    assert set(refused.value.fields) == {"hours_0", "hours_3"}


# --- Time off ---------------------------------------------------------------------------------


def test_a_day_off_makes_that_day_unbookable(app, client, sign_in, providers, book):
    assert starts(client, "2027-03-03")
    sign_in("admin")
    answer = client.post(f"/staff/admin/providers/{providers.aesthetician}/time-off",
                         data={"first_day": "2027-03-03", "reason": "Training"})
    assert answer.status_code == 303
    assert starts(client, "2027-03-03") == []
    assert starts(client, "2027-03-04") and starts(client, TUE)
    assert book("2027-03-03T10:00:00-08:00").status_code == 409
    page = client.get(f"/staff/admin/providers/{providers.aesthetician}").text
    assert "Wed 3 Mar 2027, whole day: Training" in page


def test_hours_off_on_one_day_block_only_those_hours(app, client, sign_in, providers):
    sign_in("admin")
    answer = client.post(f"/staff/admin/providers/{providers.aesthetician}/time-off",
                         data={"first_day": TUE, "from_time": "13:00", "until_time": "15:00"})
    assert answer.status_code == 303
    free = starts(client, TUE)
    assert "11:00" in free and "15:00" in free
    assert not [s for s in free if "12:00" < s < "15:00"]  # 12:00 + 60 min + cleanup overlaps


def test_a_whole_day_off_spans_the_clinic_day_across_clock_changes(app, client, sign_in,
                                                                   providers):
    sign_in("admin")
    pid = providers.aesthetician
    assert client.post(f"/staff/admin/providers/{pid}/hours",
                       data=hours_form(sun="09:00-17:00")).status_code == 303
    assert starts(client, "2027-03-14")  # Sunday the clocks go forward: open now
    answer = client.post(f"/staff/admin/providers/{pid}/time-off",
                         data={"first_day": "2027-03-14"})
    assert answer.status_code == 303
    with app.app_context():
        row = db.session.scalar(select(TimeOff))
        span = (row.starts_at, row.ends_at)
        db.session.remove()
    assert span == (datetime(2027, 3, 14, 8, tzinfo=UTC), datetime(2027, 3, 15, 7, tzinfo=UTC))
    assert span[1] - span[0] == timedelta(hours=23)
    assert starts(client, "2027-03-14") == []
    assert starts(client, "2027-03-15")[0] == "09:00"  # Monday opens on time
    assert starts(client, "2027-03-13")[-1] == "16:00"  # Saturday runs to its close
    # Autumn: the day the clocks go back is 25 hours; several days run midnight to midnight.
    fall = domain.parse_time_off("2027-11-07", "", "", "", "", tz=LA)
    assert fall.ends_at - fall.starts_at == timedelta(hours=25)
    week = domain.parse_time_off("2027-03-13", "2027-03-15", "", "", "", tz=LA)
    assert (week.starts_at, week.ends_at) == (datetime(2027, 3, 13, 8, tzinfo=UTC),
                                              datetime(2027, 3, 16, 7, tzinfo=UTC))
    assert week.label == "Sat 13 Mar 2027 to Mon 15 Mar 2027, whole days"


def test_bad_time_off_is_refused_beside_its_fields(app, client, sign_in, providers):
    sign_in("admin")
    path = f"/staff/admin/providers/{providers.aesthetician}/time-off"
    cases = [
        ({"first_day": ""}, "first_day", "Enter a day"),
        ({"first_day": "2027-03-05", "last_day": "2027-03-04"}, "last_day", "before the first"),
        ({"first_day": TUE, "from_time": "15:00", "until_time": "13:00"}, "until_time",
         "Ends before it starts"),
        ({"first_day": TUE, "from_time": "13:00"}, "until_time", "Enter when"),
        ({"first_day": "2027-03-14", "from_time": "02:15", "until_time": "04:00"}, "from_time",
         "clocks skip"),
        ({"first_day": TUE, "reason": "x" * 201}, "reason", "At most 200"),
    ]
    for form, name, message in cases:
        answer = client.post(path, data=form)
        assert answer.status_code == 422, form
        assert message in field_error(answer.text, name), form
    with app.app_context():
        assert db.session.scalar(select(func.count(TimeOff.id))) == 0
    assert audit(app) == []


def test_removing_time_off_frees_the_day_again(app, client, sign_in, providers):
    sign_in("admin")
    pid = providers.aesthetician
    client.post(f"/staff/admin/providers/{pid}/time-off", data={"first_day": "2027-03-03"})
    with app.app_context():
        off_id = db.session.scalar(select(TimeOff.id))
    assert client.post(f"/staff/admin/providers/{pid}/time-off/{off_id}/remove"
                       ).status_code == 303
    assert starts(client, "2027-03-03")
    assert [a[0] for a in audit(app, pid)] == ["time_off_added", "time_off_removed"]


# --- Nothing silently orphaned ----------------------------------------------------------------


def test_hours_that_would_strand_a_visit_list_it_and_change_nothing_until_confirmed(
        app, client, sign_in, providers, book):
    visit = booked_id(book, TUE_10)
    sign_in("admin")
    pid = providers.aesthetician
    form = hours_form(tue="13:00-17:00")
    asked = client.post(f"/staff/admin/providers/{pid}/hours", data=form)
    assert asked.status_code == 200
    assert f'href="/staff/visits/{visit}"' in asked.text
    assert "Dana Client" in asked.text and "Facial" in asked.text
    assert "Change anyway" in asked.text and "call" in asked.text
    assert 'name="confirm" value="yes"' in asked.text
    assert 'name="hours_1" value="13:00-17:00"' in asked.text  # the same values, posted again
    assert stored_hours(app, pid)[1] == [(time(9), time(17))]  # nothing changed
    assert audit(app) == []

    done = client.post(f"/staff/admin/providers/{pid}/hours",
                       data={**form, "confirm": "yes", "acknowledged": acknowledged(asked.text)})
    assert done.status_code == 303
    assert stored_hours(app, pid)[1] == [(time(13), time(17))]
    assert visit_status(app, visit) == (VisitStatus.BOOKED, pid)  # still booked, same provider
    [(action, _, _, after)] = audit(app, pid)
    assert action == "hours_changed" and after["visits_left_booked"] == [visit]
    page = client.get(f"/staff/admin/providers/{pid}").text
    assert "stays booked" in page  # the flash says staff must call
    assert "Booked visits to call about" in page and f"/staff/visits/{visit}" in page


def test_hours_that_strand_nothing_need_no_confirmation(app, client, sign_in, providers, book):
    booked_id(book, "2027-03-02T14:00:00-08:00")
    sign_in("admin")
    answer = client.post(f"/staff/admin/providers/{providers.aesthetician}/hours",
                         data=hours_form(tue="13:00-17:00"))
    assert answer.status_code == 303
    assert stored_hours(app, providers.aesthetician)[1] == [(time(13), time(17))]


def test_time_off_over_a_visit_lists_it_and_waits_for_confirmation(app, client, sign_in,
                                                                   providers, book):
    visit = booked_id(book, TUE_10)
    sign_in("admin")
    pid = providers.aesthetician
    form = {"first_day": TUE, "from_time": "10:30", "until_time": "12:00", "reason": "Dentist"}
    asked = client.post(f"/staff/admin/providers/{pid}/time-off", data=form)
    assert asked.status_code == 200
    assert f'href="/staff/visits/{visit}"' in asked.text and "In the time off" in asked.text
    with app.app_context():
        assert db.session.scalar(select(func.count(TimeOff.id))) == 0
    done = client.post(f"/staff/admin/providers/{pid}/time-off",
                       data={**form, "confirm": "yes", "acknowledged": acknowledged(asked.text)})
    assert done.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count(TimeOff.id))) == 1
    assert visit_status(app, visit)[0] == VisitStatus.BOOKED
    [(action, _, _, after)] = audit(app, pid)
    assert action == "time_off_added" and after["visits_left_booked"] == [visit]
    assert "Dentist" in after["time_off"]


def test_a_visit_booked_after_the_question_is_asked_about_again(app, client, sign_in,
                                                                providers, book):
    first = booked_id(book, TUE_10)
    sign_in("admin")
    pid = providers.aesthetician
    form = hours_form(tue="15:00-17:00")
    asked = client.post(f"/staff/admin/providers/{pid}/hours", data=form)
    assert acknowledged(asked.text) == str(first)
    second = booked_id(book, "2027-03-02T12:00:00-08:00", phone="(415) 555-2672")
    again = client.post(f"/staff/admin/providers/{pid}/hours",
                        data={**form, "confirm": "yes", "acknowledged": str(first)})
    assert again.status_code == 200
    assert "More visits were booked since you were asked" in again.text
    assert f"/staff/visits/{second}" in again.text
    assert stored_hours(app, pid)[1] == [(time(9), time(17))]


def test_visits_past_cancelled_or_of_others_do_not_count(app, client, sign_in, providers, book,
                                                         clock):
    cancelled = book(TUE_10).get_json()["booking"]
    assert client.post(f"/api/v1/bookings/{cancelled['token']}/cancel").status_code == 200
    with app.app_context():
        provider = db.session.get(Provider, providers.aesthetician)
        proposal = domain.Proposal(hours={}, active=None)
        assert domain.conflicts(db.session, provider, proposal, now=NOW, tz=LA) == []
        db.session.remove()
    visit = booked_id(book, TUE_11, phone="(415) 555-2673")
    with app.app_context():
        provider = db.session.get(Provider, providers.aesthetician)
        later = datetime(2027, 3, 2, 20, tzinfo=UTC)  # after the visit has started
        assert [v.id for v in domain.conflicts(db.session, provider, domain.Proposal(hours={}),
                                               now=NOW, tz=LA)] == [visit]
        assert domain.conflicts(db.session, provider, domain.Proposal(hours={}), now=later,
                                tz=LA) == []
        with pytest.raises(domain.NeedsConfirmation) as asked:
            domain.set_hours(db.session, providers.aesthetician, {}, now=NOW, tz=LA,
                             actor="staff:1")
        assert [v.id for v in asked.value.visits] == [visit]
        db.session.remove()
    assert stored_hours(app, providers.aesthetician)[1] == [(time(9), time(17))]


def test_changing_the_role_with_visits_of_the_old_one_asks_first(app, client, sign_in,
                                                                 providers, book):
    visit = booked_id(book, TUE_10)
    sign_in("admin")
    pid = providers.aesthetician
    form = {"name": "Aesthetician", "role": "dermatologist"}
    asked = client.post(f"/staff/admin/providers/{pid}", data=form)
    assert asked.status_code == 200 and f"/staff/visits/{visit}" in asked.text
    with app.app_context():
        assert db.session.get(Provider, pid).role == "aesthetician"
    done = client.post(f"/staff/admin/providers/{pid}",
                       data={**form, "confirm": "yes", "acknowledged": str(visit)})
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(Provider, pid).role == "dermatologist"
    assert visit_status(app, visit)[0] == VisitStatus.BOOKED


# --- Retiring ---------------------------------------------------------------------------------


def test_retiring_asks_about_booked_visits_then_no_new_bookings(app, client, sign_in,
                                                                providers, book):
    visit = booked_id(book, TUE_10)
    sign_in("admin")
    pid = providers.aesthetician
    asked = client.post(f"/staff/admin/providers/{pid}/retire")
    assert asked.status_code == 200 and f"/staff/visits/{visit}" in asked.text
    assert active(app, pid)
    done = client.post(f"/staff/admin/providers/{pid}/retire",
                       data={"confirm": "yes", "acknowledged": acknowledged(asked.text)})
    assert done.status_code == 303
    assert not active(app, pid)
    assert visit_status(app, visit)[0] == VisitStatus.BOOKED
    assert starts(client, "2027-03-03") == []
    refused = book("2027-03-03T10:00:00-08:00", phone="(415) 555-2672")
    assert refused.status_code in (409, 422) and refused.status_code != 201
    assert pid not in [p["id"] for p in client.get("/api/v1/providers").get_json()["providers"]]
    assert "Retired" in client.get("/staff/admin/providers").text

    assert client.post(f"/staff/admin/providers/{pid}/restore").status_code == 303
    assert active(app, pid) and starts(client, "2027-03-03")
    assert [a[0] for a in audit(app, pid)] == ["retired", "restored"]


def test_retiring_with_nothing_booked_needs_no_confirmation(app, client, sign_in, providers):
    sign_in("admin")
    assert client.post(f"/staff/admin/providers/{providers.dermatologist}/retire"
                       ).status_code == 303
    assert not active(app, providers.dermatologist)
    assert starts(client, TUE, service="extraction") == []


# --- Details and the audit trail --------------------------------------------------------------


def test_creating_and_editing_a_provider_is_in_the_audit_trail(app, client, sign_in):
    sign_in("admin", name="Ada Admin")
    created = client.post("/staff/admin/providers",
                          data={"name": "  Noor   Haddad ", "role": "dermatologist",
                                "board_certified": "yes"})
    assert created.status_code == 303
    pid = int(created.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        p = db.session.get(Provider, pid)
        assert (p.name, p.role, p.board_certified, p.active) == (
            "Noor Haddad", "dermatologist", True, True)
    assert client.post(f"/staff/admin/providers/{pid}",
                       data={"name": "Noor Haddad MD", "role": "dermatologist",
                             "board_certified": "yes"}).status_code == 303
    client.post(f"/staff/admin/providers/{pid}/hours", data=hours_form(sat=""))
    trail = audit(app, pid)
    assert [a[0] for a in trail] == ["created", "edited", "hours_changed"]
    assert {a[1] for a in trail} == {trail[0][1]} and trail[0][1].startswith("staff:")
    assert trail[1][2:] == ({"name": "Noor Haddad"}, {"name": "Noor Haddad MD"})
    assert trail[2][2] == {"hours": "No hours"}
    assert trail[2][3] == {"hours": "Mon–Fri 09:00–17:00"}
    page = client.get(f"/staff/admin/providers/{pid}").text
    assert "by Ada Admin" in page and "“Noor Haddad” → “Noor Haddad MD”" in page
    # Saving the same again writes nothing.
    client.post(f"/staff/admin/providers/{pid}/hours", data=hours_form(sat=""))
    assert len(audit(app, pid)) == 3


def test_bad_details_are_refused_beside_their_fields(app, client, sign_in, providers):
    sign_in("admin")
    answer = client.post("/staff/admin/providers",
                         data={"name": "Kim", "role": "aesthetician", "board_certified": "yes"})
    assert answer.status_code == 422
    assert "Only a dermatologist" in field_error(answer.text, "board_certified")
    assert 'value="Kim"' in answer.text
    answer = client.post(f"/staff/admin/providers/{providers.aesthetician}",
                         data={"name": " ", "role": "surgeon"})
    assert answer.status_code == 422
    assert field_error(answer.text, "name") and field_error(answer.text, "role")
    answer = client.post("/staff/admin/providers", data={"name": "x" * 121, "role": "aesthetician"})
    assert "At most 120" in field_error(answer.text, "name")
    with app.app_context():
        assert db.session.scalar(select(func.count(Provider.id))) == 2
    assert audit(app) == []


def test_a_provider_named_like_a_script_is_escaped(app, client, sign_in):
    sign_in("admin")
    created = client.post("/staff/admin/providers", data={"name": XSS, "role": "aesthetician"})
    assert created.status_code == 303
    pid = int(created.headers["Location"].rsplit("/", 1)[1])
    for path in ("/staff/admin/providers", f"/staff/admin/providers/{pid}"):
        html = client.get(path).text
        assert XSS not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    refused = client.post(f"/staff/admin/providers/{pid}", data={"name": XSS, "role": "x"})
    assert refused.status_code == 422 and XSS not in refused.text
