"""Free slots: the pure function, and GET /api/v1/availability."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from clinic.availability import ProviderSchedule, free_slots, load_schedules
from clinic.extensions import db

LA = ZoneInfo("America/Los_Angeles")
WEEKDAYS = {d: [(time(9), time(17))] for d in range(6)}
NOW = datetime(2027, 3, 1, 16, 0, tzinfo=UTC)  # Monday 08:00 in Los Angeles


def slots(schedules, first, last=None, *, now=NOW, minutes=60, buffer=15):
    return free_slots(schedules, duration=timedelta(minutes=minutes),
                      buffer=timedelta(minutes=buffer), first_day=first,
                      last_day=last or first, now=now, tz=LA)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LA)


def test_slots_sit_on_a_15_minute_grid_inside_working_hours():
    found = slots([ProviderSchedule(1, WEEKDAYS)], date(2027, 3, 2))
    starts = [s.start.astimezone(LA) for s in found]
    assert starts[0] == local(2027, 3, 2, 9, 0)
    assert starts[-1] == local(2027, 3, 2, 16, 0)  # a 60-minute visit must end by 17:00
    assert len(starts) == 29
    assert all(s.minute % 15 == 0 for s in starts)


def test_no_slots_on_a_day_off():
    assert slots([ProviderSchedule(1, WEEKDAYS)], date(2027, 3, 7)) == []  # Sunday


def test_first_slot_is_two_hours_from_now():
    found = slots([ProviderSchedule(1, WEEKDAYS)], date(2027, 3, 1),
                  now=local(2027, 3, 1, 10, 5).astimezone(UTC))
    assert found[0].start == local(2027, 3, 1, 12, 15)


def test_no_slot_past_60_days():
    now = local(2027, 3, 1, 12, 0).astimezone(UTC)
    found = slots([ProviderSchedule(1, WEEKDAYS)], date(2027, 4, 29), date(2027, 5, 1), now=now)
    assert found[-1].start == local(2027, 4, 30, 12, 0)  # exactly 60 days after now


def test_visit_and_its_buffer_block_overlapping_starts():
    busy = [(local(2027, 3, 2, 11, 0), local(2027, 3, 2, 12, 15))]
    found = {s.start for s in slots([ProviderSchedule(1, WEEKDAYS, busy)], date(2027, 3, 2))}
    assert local(2027, 3, 2, 9, 45) in found  # ends 10:45 + 15 cleanup = 11:00
    assert local(2027, 3, 2, 10, 0) not in found
    assert local(2027, 3, 2, 12, 0) not in found
    assert local(2027, 3, 2, 12, 15) in found


def test_time_off_blocks_slots():
    off = [(local(2027, 3, 2, 0, 0), local(2027, 3, 3, 0, 0))]
    assert slots([ProviderSchedule(1, WEEKDAYS, off)], date(2027, 3, 2)) == []


def test_any_provider_fills_a_start_once_with_the_first_free():
    busy = [(local(2027, 3, 2, 9, 0), local(2027, 3, 2, 10, 15))]
    found = slots([ProviderSchedule(1, WEEKDAYS, busy), ProviderSchedule(2, WEEKDAYS)],
                  date(2027, 3, 2))
    nine = [s for s in found if s.start == local(2027, 3, 2, 9, 0)]
    assert [s.provider_id for s in nine] == [2]
    assert len({s.start for s in found}) == len(found)


def test_9am_has_pacific_daylight_offset_after_spring_forward():
    found = slots([ProviderSchedule(1, WEEKDAYS)], date(2027, 3, 15))
    assert found[0].start.astimezone(LA).isoformat() == "2027-03-15T09:00:00-07:00"
    assert found[0].start.astimezone(UTC).hour == 16


def test_9am_has_pacific_standard_offset_after_fall_back():
    now = datetime(2027, 11, 1, 16, 0, tzinfo=UTC)
    found = slots([ProviderSchedule(1, WEEKDAYS)], date(2027, 11, 8), now=now)
    assert found[0].start.astimezone(LA).isoformat() == "2027-11-08T09:00:00-08:00"
    assert found[0].start.astimezone(UTC).hour == 17


def test_clock_change_days_themselves_have_a_full_grid():
    night = {6: [(time(0), time(5))]}  # a Sunday shift across the change
    spring = slots([ProviderSchedule(1, night)], date(2027, 3, 14), minutes=15, buffer=0)
    fall = slots([ProviderSchedule(1, night)], date(2027, 11, 7), minutes=15, buffer=0,
                 now=datetime(2027, 11, 1, tzinfo=UTC))
    assert len(spring) == 16  # 02:00-03:00 does not exist that night
    assert len(fall) == 20  # 01:00-02:00 happens twice; its first pass is offered


def test_availability_api_on_dst_dates(client, clock):
    r = client.get("/api/v1/availability?service=facial&from=2027-03-15&to=2027-03-15")
    assert r.status_code == 200
    assert r.json["timezone"] == "America/Los_Angeles"
    assert r.json["slots"][0]["start"] == "2027-03-15T09:00:00-07:00"
    clock.now = datetime(2027, 11, 1, 16, 0, tzinfo=UTC)
    r = client.get("/api/v1/availability?service=facial&from=2027-11-08&to=2027-11-08")
    assert r.json["slots"][0]["start"] == "2027-11-08T09:00:00-08:00"


def test_availability_for_a_chosen_provider(client, providers):
    r = client.get(f"/api/v1/availability?service=extraction&from=2027-03-02&to=2027-03-02"
                   f"&provider={providers.dermatologist}")
    assert {s["provider_id"] for s in r.json["slots"]} == {providers.dermatologist}
    assert r.json["slots"][-1]["start"] == "2027-03-02T16:30:00-08:00"


def test_availability_hides_booked_times(client, book):
    book("2027-03-02T09:00:00-08:00")
    r = client.get("/api/v1/availability?service=facial&from=2027-03-02&to=2027-03-02")
    assert r.json["slots"][0]["start"] == "2027-03-02T10:15:00-08:00"


def test_availability_range_over_62_days_is_422(client):
    r = client.get("/api/v1/availability?service=facial&from=2027-03-01&to=2027-05-02")
    assert r.status_code == 422
    assert "to" in r.json["error"]["fields"]
    r = client.get("/api/v1/availability?service=facial&from=2027-03-01&to=2027-05-01")
    assert r.status_code == 200


def test_availability_needs_known_service_and_dates(client):
    r = client.get("/api/v1/availability?service=peel&from=2027-03-02&to=2027-03-02")
    assert r.json["error"]["code"] == "unknown_service"
    r = client.get("/api/v1/availability?service=facial&from=tomorrow&to=2027-03-02")
    assert r.status_code == 422 and "from" in r.json["error"]["fields"]
    r = client.get("/api/v1/availability?service=facial&from=2027-03-05&to=2027-03-02")
    assert r.status_code == 422 and "to" in r.json["error"]["fields"]


def test_availability_reads_only_visits_inside_the_window(app, book, clock):
    """History before the window is never loaded: the query is bounded on the start index."""
    from clinic.models import Provider

    book("2027-03-02T09:00:00-08:00")
    book("2027-04-20T09:00:00-07:00", phone="(415) 555-2672")
    with app.app_context():
        providers = list(db.session.scalars(db.select(Provider)))
        window = (local(2027, 3, 2, 0, 0), local(2027, 3, 3, 0, 0))
        schedules = load_schedules(db.session, providers, window)
    blocked = [b for s in schedules for b in s.blocked]
    assert blocked == [(local(2027, 3, 2, 9, 0), local(2027, 3, 2, 10, 15))]
