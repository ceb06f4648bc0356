"""Free slots computed a day at a time: the steady-day path (stretches placed in UTC once)
gives what the one-candidate-at-a-time path gives, and the answer built as plain data is the
FreeSlots model's dump."""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic import availability
from clinic.api import schemas, serialize
from clinic.availability import ProviderSchedule, free_slots

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2027, 3, 1, 16, 0, tzinfo=UTC)


def schedules(rng: random.Random) -> list[ProviderSchedule]:
    found = []
    for pid in (1, 2):
        hours = {d: [(time(9, rng.choice((0, 5, 10))), time(12, rng.choice((0, 25)))),
                     (time(13, 0), time(17, rng.choice((0, 35))))] for d in range(6)}
        busy = []
        for _ in range(12):
            start = datetime(2027, 3, 2, 16, tzinfo=UTC) + timedelta(minutes=5 * rng.randrange(
                0, 12 * 24 * 12))
            busy.append((start, start + timedelta(minutes=rng.choice((30, 75, 240)))))
        found.append(ProviderSchedule(pid, hours, busy))
    return found


@pytest.mark.parametrize("seed", range(5))
def test_steady_days_match_the_candidate_by_candidate_path(monkeypatch, seed):
    rng = random.Random(seed)
    kwargs = dict(duration=timedelta(minutes=rng.choice((30, 60))),
                  buffer=timedelta(minutes=15), first_day=date(2027, 3, 1),
                  last_day=date(2027, 3, 20), now=NOW, tz=LA)
    fast = free_slots(schedules(random.Random(seed)), **kwargs)
    monkeypatch.setattr(availability, "_steady", lambda *args: False)
    exact = free_slots(schedules(random.Random(seed)), **kwargs)
    assert [(s.start.isoformat(), s.end.isoformat(), s.provider_id) for s in fast] == [
        (s.start.isoformat(), s.end.isoformat(), s.provider_id) for s in exact]
    assert fast


def test_a_clock_change_day_takes_the_exact_path(monkeypatch):
    taken = []
    exact = availability._clock_change_day_slots
    monkeypatch.setattr(availability, "_clock_change_day_slots",
                        lambda day, *args: taken.append(day) or exact(day, *args))
    every_day = {d: [(time(0), time(5))] for d in range(7)}
    free_slots([ProviderSchedule(1, every_day)], duration=timedelta(minutes=15),
               buffer=timedelta(0), first_day=date(2027, 3, 13), last_day=date(2027, 3, 15),
               now=datetime(2027, 3, 1, tzinfo=UTC), tz=LA)
    assert taken == [date(2027, 3, 14)]


def test_the_plain_answer_is_the_models_dump():
    found = free_slots(schedules(random.Random(9)), duration=timedelta(minutes=60),
                       buffer=timedelta(minutes=15), first_day=date(2027, 3, 10),
                       last_day=date(2027, 3, 16), now=NOW, tz=LA)  # across spring forward
    model = schemas.FreeSlots(timezone=str(LA), slots=[serialize.slot(s, LA) for s in found])
    assert serialize.free_slots(found, LA) == model.model_dump(mode="json")
