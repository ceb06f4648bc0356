"""The clinic's rules as admins change them: the very next request follows them, in web pages,
the API and the dispatcher alike, and each change is in the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from clinic import rules, settings
from clinic.extensions import db
from clinic.messaging.models import Message
from clinic.rules import DEFAULT_RULES

TUE_10 = "2027-03-02T10:00:00-08:00"


#: A three-week gap, with the rebook window moved to stay inside what it allows.
THREE_WEEKS = {"extraction_gap_days": 21, "rebook_window_days_0": 21, "rebook_window_days_1": 35,
               "rebook_after_days": 21}


def form(**changes) -> dict[str, str]:
    """The settings form as an admin sends it: the defaults, with `changes` (a window's ends
    as rebook_window_days_0 / _1)."""
    values = settings.typed(DEFAULT_RULES)
    for name, value in changes.items():
        values[name.replace("_days_", "_days.")] = str(value)
    return values


@pytest.fixture
def admin(sign_in):
    return sign_in("admin")


def test_a_longer_extraction_gap_refuses_a_booking_the_next_request(admin, book):
    assert book("2027-03-02T10:00:00-08:00", service="extraction").status_code == 201
    admin.post("/staff/admin/settings", data=form(**THREE_WEEKS))
    refused = book("2027-03-18T10:00:00-08:00", service="extraction")  # 16 days later
    assert refused.status_code == 422 and refused.json["error"]["code"] == "too_soon"
    admin.post("/staff/admin/settings", data=form())
    assert book("2027-03-18T10:00:00-08:00", service="extraction").status_code == 201


def test_a_longer_lead_time_refuses_a_start_it_used_to_allow(admin, book):
    soon = "2027-03-01T11:00:00-08:00"  # three hours after now
    admin.post("/staff/admin/settings", data=form(lead_time=24))
    refused = book(soon)
    assert refused.status_code == 422, refused.json
    admin.post("/staff/admin/settings", data=form(lead_time=2))
    assert book(soon).status_code == 201


def test_longer_quiet_hours_move_a_reminder_planned_after_the_change(app, admin, book):
    def reminder_due(token: str) -> datetime:
        with app.app_context():
            return db.session.scalar(select(Message.due_at).where(
                Message.kind == "reminder", Message.appointment.has(manage_token=token)))

    before = book("2027-03-03T09:30:00-08:00", phone="(415) 555-2672").json["booking"]["token"]
    assert reminder_due(before) == datetime(2027, 3, 2, 17, 30, tzinfo=UTC)  # Tue 09:30
    saved = admin.post("/staff/admin/settings", data=form(quiet_until="10:00"))
    assert saved.status_code == 303
    after = book("2027-03-04T09:30:00-08:00").json["booking"]["token"]
    assert reminder_due(after) == datetime(2027, 3, 3, 18, 0, tzinfo=UTC)  # waits for 10:00
    assert reminder_due(before) == datetime(2027, 3, 2, 17, 30, tzinfo=UTC)  # history kept


def test_a_job_reads_the_rules_anew_in_its_own_app_context(app, admin):
    admin.post("/staff/admin/settings", data=form(quiet_from="19:00", max_attempts=3))
    with app.app_context():  # what every scheduler job opens
        current = rules.current()
        assert current.rules.quiet_from.hour == 19 and current.rules.max_attempts == 3


def test_each_change_is_audited_with_who_before_and_after(app, admin):
    admin.post("/staff/admin/settings", data=form(event_soon_days=5, send_at="11:00"))
    page = admin.get("/staff/admin/settings").text
    assert "Warn when an event is within: 3 → 5" in page
    assert "Pause and rebook texts go out at: 10:00 → 11:00" in page
    with app.app_context():
        (entry,) = settings.history(db.session)
        assert entry.actor.startswith("staff:")
        assert entry.before == {"event_soon_days": "3", "send_at": "10:00"}
        assert entry.after == {"event_soon_days": "5", "send_at": "11:00"}
    again = admin.post("/staff/admin/settings", data=form(event_soon_days=5, send_at="11:00"),
                       follow_redirects=True)
    assert "Nothing changed." in again.text
    with app.app_context():
        assert len(settings.history(db.session)) == 1


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"extraction_gap_days": "-3"}, "extraction_gap_days", "A whole number of days."),
    ({"horizon": "0"}, "horizon", "From 1 to 365 days."),
    ({"grid": "7"}, "grid", "One of 5, 10, 15, 20, 30, 60 minutes."),
    ({"quiet_from": "09:00"}, "quiet_until", "must end at another time"),
    ({"quiet_from": "25:00"}, "quiet_from", "A time like 09:00"),
    ({"send_at": "21:00"}, "send_at", "falls in the quiet hours"),
    ({"rebook_window_days_0": "10"}, "rebook_window_days.0", "before the extraction gap"),
    ({"rebook_window_days_1": "12"}, "rebook_window_days.1", "close after it opens"),
    ({"lead_time": "168", "horizon": "7"}, "horizon", "after the earliest start"),
])
def test_bad_rules_are_refused_with_a_message_and_nothing_saved(app, admin, changes, field,
                                                                message):
    answer = admin.post("/staff/admin/settings", data=form(**changes))
    assert answer.status_code == 422
    assert message in answer.text
    typed = next(iter(changes.values()))
    assert f'value="{typed}"' in answer.text  # what was typed is kept
    with app.app_context():
        assert settings.history(db.session) == []
        assert rules.current().rules == DEFAULT_RULES


def test_staff_cannot_open_or_change_the_rules(app, sign_in):
    staff = sign_in()
    assert staff.get("/staff/admin/settings").status_code == 403
    assert staff.post("/staff/admin/settings", data=form(lead_time=24)).status_code == 403
    with app.app_context():
        assert rules.current().rules == DEFAULT_RULES


def test_the_stored_row_holds_only_what_differs_from_the_defaults(app, admin):
    from clinic.models import ClinicSettings

    admin.post("/staff/admin/settings", data=form(**THREE_WEEKS))
    with app.app_context():
        assert db.session.get(ClinicSettings, 1).rules == {
            "extraction_gap_days": 21, "rebook_after_days": 21, "rebook_window_days.0": 21,
            "rebook_window_days.1": 35}


@pytest.mark.parametrize(("quiet_from", "quiet_until", "at", "sent_at"), [
    ("20:00", "09:00", "12:00", "12:00"),  # across midnight: midday is not quiet
    ("20:00", "09:00", "21:00", "09:00+1"),
    ("20:00", "09:00", "08:00", "09:00"),
    ("01:00", "07:00", "12:00", "12:00"),  # within one night: midday is not quiet either
    ("01:00", "07:00", "03:00", "07:00"),
    ("01:00", "07:00", "00:30", "00:30"),
    ("22:00", "23:00", "22:30", "23:00"),
])
def test_quiet_hours_hold_texts_only_inside_them_whichever_shape(quiet_from, quiet_until, at,
                                                                  sent_at):
    from dataclasses import replace
    from datetime import date, time, timedelta
    from zoneinfo import ZoneInfo

    from clinic.messaging.plan import at_local, quiet
    from clinic.rules import Clinic

    tz = ZoneInfo("America/Los_Angeles")
    clinic = Clinic(tz=tz, rules=replace(DEFAULT_RULES, quiet_from=time.fromisoformat(
        quiet_from), quiet_until=time.fromisoformat(quiet_until)))
    day = date(2027, 3, 2)
    wall, _, next_day = sent_at.partition("+")
    expected = at_local(day + timedelta(days=int(next_day or 0)), time.fromisoformat(wall), tz)
    assert quiet(at_local(day, time.fromisoformat(at), tz), clinic) == expected


def test_a_grid_the_services_do_not_fit_is_refused_naming_them(app, admin):
    answer = admin.post("/staff/admin/settings", data=form(grid=20))
    assert answer.status_code == 422
    assert "Facial (60 min)" not in answer.text and "Dermatologist extraction (30 min)" in \
        answer.text
    assert admin.post("/staff/admin/settings", data=form(grid=30)).status_code == 303


@pytest.mark.parametrize("digits", ["²", "٣", "１２"])
def test_digits_other_than_0_to_9_are_refused_plainly(app, admin, digits):
    answer = admin.post("/staff/admin/settings", data=form(event_soon_days=digits))
    assert answer.status_code == 422 and "A whole number of days." in answer.text
