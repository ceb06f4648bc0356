"""The message plan: kinds, times, quiet hours, clock changes (pure functions)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from clinic.messaging.plan import after_visit, pre_visit, quiet
from clinic.rules import Clinic

CLINIC = Clinic(ZoneInfo("America/Los_Angeles"))

LA = ZoneInfo("America/Los_Angeles")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LA)


def plan(start, now, topicals=True, pause_days=3):
    return {p.kind: p for p in pre_visit(start=start, now=now, uses_topicals=topicals,
                                         pause_days=pause_days, clinic=CLINIC)}


def test_booking_plans_confirmation_pause_and_reminder():
    p = plan(local(2027, 3, 10, 14, 0), local(2027, 3, 1, 8, 0))
    assert p["confirmation"].due == local(2027, 3, 1, 8, 0)
    assert p["pre_visit_pause"].due == local(2027, 3, 7, 10, 0)  # 3 days before, at 10:00
    assert p["reminder"].due == local(2027, 3, 9, 14, 0)  # 24 h before
    assert p["pre_visit_pause"].not_after == p["reminder"].not_after == local(2027, 3, 10, 14, 0)


def test_no_pause_message_without_prescription_topicals():
    assert "pre_visit_pause" not in plan(local(2027, 3, 10, 14), local(2027, 3, 1, 8), False)


def test_extraction_pause_starts_five_days_before():
    p = plan(local(2027, 3, 10, 14), local(2027, 3, 1, 8), pause_days=5)
    assert p["pre_visit_pause"].due == local(2027, 3, 5, 10, 0)


def test_pause_moment_passed_sends_right_after_confirmation():
    p = plan(local(2027, 3, 3, 14, 0), local(2027, 3, 1, 11, 0))
    assert p["pre_visit_pause"].due == local(2027, 3, 1, 11, 0)


def test_no_reminder_when_booked_less_than_24_hours_ahead():
    p = plan(local(2027, 3, 2, 10, 0), local(2027, 3, 1, 11, 0))
    assert "reminder" not in p


def test_quiet_hours_move_a_reminder_to_nine():
    p = plan(local(2027, 3, 10, 8, 0), local(2027, 3, 1, 8, 0), topicals=False)
    # 24 h before is 08:00, inside quiet hours: it waits for 09:00 the same day.
    assert p["reminder"].due == local(2027, 3, 9, 9, 0)
    assert p["reminder"].skipped is None


def test_evening_moment_moves_to_next_morning():
    assert quiet(local(2027, 3, 1, 20, 0), CLINIC) == local(2027, 3, 2, 9, 0)
    assert quiet(local(2027, 3, 1, 19, 59), CLINIC) == local(2027, 3, 1, 19, 59)
    assert quiet(local(2027, 3, 2, 8, 59), CLINIC) == local(2027, 3, 2, 9, 0)


def test_pre_visit_message_pushed_past_the_start_is_skipped():
    # Booked at 21:00 for 09:00 tomorrow: the pause text would wait until 09:00, the start.
    p = plan(local(2027, 3, 2, 9, 0), local(2027, 3, 1, 21, 0))
    assert p["pre_visit_pause"].skipped
    assert p["confirmation"].due == local(2027, 3, 1, 21, 0)  # the answer to booking is at once


def test_visit_plans_aftercare_checkins_and_rebook():
    end = local(2027, 3, 2, 10, 0)
    p = {x.kind: x for x in after_visit(end=end, now=local(2027, 3, 2, 10, 5),
                                        purging_checkin=True, includes_extraction=True,
                                        clinic=CLINIC)}
    assert p["aftercare"].due == local(2027, 3, 2, 10, 5)
    assert p["redness_checkin"].due == local(2027, 3, 3, 10, 0)
    assert p["purging_checkin"].due == local(2027, 3, 4, 10, 0)
    assert p["rebook"].due == local(2027, 3, 16, 10, 0)


def test_purging_checkin_only_for_services_that_have_it():
    kinds = [x.kind for x in after_visit(end=local(2027, 3, 2, 10), now=local(2027, 3, 2, 10),
                                         purging_checkin=False, includes_extraction=True,
                                         clinic=CLINIC)]
    assert kinds == ["aftercare", "redness_checkin", "rebook"]


def test_checkin_after_a_late_visit_waits_for_morning():
    p = {x.kind: x for x in after_visit(end=local(2027, 3, 2, 16, 30),
                                        now=local(2027, 3, 2, 20, 30), purging_checkin=True,
                                        includes_extraction=False, clinic=CLINIC)}
    assert p["aftercare"].due == local(2027, 3, 3, 9, 0)


def test_dst_visits_get_reminders_at_the_same_local_time_the_day_before():
    spring = plan(local(2027, 3, 15, 9, 0), datetime(2027, 3, 1, 16, tzinfo=UTC))
    assert spring["reminder"].due.astimezone(LA).isoformat() == "2027-03-14T09:00:00-07:00"
    assert spring["pre_visit_pause"].due.astimezone(LA).isoformat() == "2027-03-12T10:00:00-08:00"
    fall = plan(local(2027, 11, 8, 9, 0), datetime(2027, 11, 1, 16, tzinfo=UTC))
    assert fall["reminder"].due.astimezone(LA).isoformat() == "2027-11-07T09:00:00-08:00"
    assert fall["pre_visit_pause"].due.astimezone(LA).isoformat() == "2027-11-05T10:00:00-07:00"


def test_reminder_is_24_elapsed_hours_before_even_across_the_clock_change():
    # A Sunday visit on the day clocks go forward: 24 hours earlier reads 13:00 the day before.
    p = plan(local(2027, 3, 14, 14, 0), datetime(2027, 3, 1, 16, tzinfo=UTC), topicals=False)
    assert p["reminder"].due.astimezone(LA).isoformat() == "2027-03-13T13:00:00-08:00"
    elapsed = local(2027, 3, 14, 14, 0).astimezone(UTC) - p["reminder"].due.astimezone(UTC)
    assert elapsed == timedelta(hours=24)
