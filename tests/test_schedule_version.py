"""Cached free-slot answers are never stale: the schedule's version rises with every change
free slots depend on, in the same transaction, and with nothing else; a worker's cached answer
is reused only for the version and the bookable minute it was computed for."""

from __future__ import annotations

import threading
from datetime import time, timedelta

import pytest
from conftest import NOW, payload
from sqlalchemy import select, update

from clinic import create_app, schedule_version
from clinic.config import TestConfig
from clinic.extensions import db
from clinic.models import Appointment, Client, ClinicSettings, Provider, Service, TimeOff
from clinic.schedule_version import VersionedCache
from clinic.tx import transaction

DAY = "/api/v1/availability?service=facial&from=2027-03-02&to=2027-03-02"


def starts(client, path: str = DAY) -> list[str]:
    r = client.get(path)
    assert r.status_code == 200, r.get_json()
    return [s["start"] for s in r.get_json()["slots"]]


def version(app) -> int:
    return versions(app)[0]


def versions(app) -> tuple[int, int]:
    """The schedule's number and the catalogue's."""
    with app.app_context():
        return schedule_version.read(db.session)


def test_a_booking_takes_its_slot_out_of_the_next_answer(client, book):
    before = starts(client)
    assert book(before[0]).status_code == 201
    after = starts(client)
    assert before[0] not in after
    assert after == [s for s in before if s not in _covered(before[0], before)]


def _covered(taken: str, offered: list[str]) -> set[str]:
    """Starts within the facial's 60 minutes plus 15 of cleanup of `taken` (one provider)."""
    from datetime import datetime

    t = datetime.fromisoformat(taken)
    return {s for s in offered
            if t - timedelta(minutes=75) < datetime.fromisoformat(s) < t + timedelta(minutes=75)}


def test_a_cancellation_gives_the_slot_back(client, book):
    before = starts(client)
    token = book(before[0]).get_json()["booking"]["token"]
    assert before[0] not in starts(client)
    assert client.post(f"/api/v1/bookings/{token}/cancel", json={}).status_code == 200
    assert starts(client) == before


def test_a_rescheduled_visit_moves_in_the_next_answer(client, book):
    before = starts(client)
    token = book(before[0]).get_json()["booking"]["token"]
    later = before[-1]
    r = client.post(f"/api/v1/bookings/{token}/reschedule", json={"start": later})
    assert r.status_code == 200, r.get_json()
    after = starts(client)
    assert before[0] in after and later not in after


@pytest.mark.parametrize("change", ["time_off", "hours", "retired", "duration", "settings"])
def test_every_admin_change_reaches_the_next_answer(app, client, change):
    before = starts(client)
    with app.app_context():
        s = db.session
        aesthetician = s.scalar(select(Provider).where(Provider.role == "aesthetician"))
        if change == "time_off":
            from datetime import UTC, datetime
            s.add(TimeOff(provider_id=aesthetician.id,
                          starts_at=datetime(2027, 3, 2, 16, tzinfo=UTC),
                          ends_at=datetime(2027, 3, 2, 20, tzinfo=UTC)))
        elif change == "hours":
            for stretch in aesthetician.hours:
                stretch.ends = time(12)
        elif change == "retired":
            aesthetician.active = False
        elif change == "duration":
            s.scalar(select(Service).where(Service.slug == "facial")).duration_minutes = 90
        else:
            s.merge(ClinicSettings(id=1, rules={"grid": 30}))
        s.commit()
    after = starts(client)
    assert after != before
    if change == "settings":
        assert all(int(s[14:16]) % 30 == 0 for s in after)


def test_only_the_catalogue_and_rules_raise_the_catalogues_number(app, book, client):
    """The rules are kept by the catalogue's number: bookings leave it alone."""
    schedule, catalogue = versions(app)
    assert book(starts(client)[0]).status_code == 201
    assert versions(app) == (schedule + 1, catalogue)
    with app.app_context():
        db.session.add(TimeOff(provider_id=db.session.scalar(select(Provider.id)),
                               starts_at=NOW + timedelta(days=20),
                               ends_at=NOW + timedelta(days=21)))
        db.session.commit()
    assert versions(app) == (schedule + 2, catalogue)
    with app.app_context():
        db.session.merge(ClinicSettings(id=1, rules={"lead_time": 2}))
        db.session.commit()
    assert versions(app) == (schedule + 3, catalogue + 1)


def test_history_written_past_the_orm_raises_it(app, clock):
    from clinic import clock as app_clock
    from clinic.history import fill_history

    then = version(app)
    with app.app_context():
        fill_history(db.session, now=clock.now, clinic=app_clock.clinic(), days=3, per_day=2)
    assert version(app) > then


def test_bulk_statements_count_as_changes(app, client):
    assert starts(client)
    with app.app_context():
        db.session.execute(update(Provider).where(Provider.role == "aesthetician")
                           .values(active=False))
        db.session.commit()
    assert starts(client) == []


def test_other_writes_leave_the_version_alone(app, client, book, clock):
    first = starts(client)[0]
    token = book(first).get_json()["booking"]["token"]
    then = version(app)
    with app.app_context():
        visit = db.session.scalar(select(Appointment).where(Appointment.manage_token == token))
        visit.intake = {"uses_prescription_topicals": True, "concerns": []}
        db.session.scalar(select(Client)).name = "Dana Renamed"
        db.session.commit()
        assert visit.status == "booked"  # loaded, as every status change loads it first
        visit.status = "confirmed"  # still holds its time
        db.session.commit()
    assert version(app) == then
    with app.app_context():
        db.session.scalar(select(Appointment)).status = "cancelled"
        db.session.commit()
    assert version(app) == then + 1


def test_the_numbers_are_read_again_after_a_transaction_ends(app):
    """A request that commits or rolls back, then reads slots, must not use the numbers it
    read before: what it reads afterwards may be newer."""
    with app.app_context():
        first = schedule_version.current()
        with app.app_context():  # another request, meanwhile
            db.session.scalar(select(Provider)).name = "Renamed meanwhile"
            db.session.commit()
        assert schedule_version.current() == first  # one request, one reading
        db.session.rollback()
        assert schedule_version.current() == first + 1


def test_a_rolled_back_change_leaves_the_version_alone(app):
    then = version(app)
    with app.app_context(), pytest.raises(RuntimeError):
        with transaction(db.session):
            db.session.scalar(select(Provider)).active = False
            db.session.flush()
            raise RuntimeError("refused")
    assert version(app) == then
    with app.app_context():
        db.session.scalar(select(Provider)).active = False
        db.session.commit()  # and the flag did not outlive the rollback into this one wrongly
    assert version(app) == then + 1


def test_each_committed_change_raises_it_once(app):
    then = version(app)
    with app.app_context():
        provider = db.session.scalar(select(Provider))
        provider.name = "Renamed once"
        db.session.flush()
        provider.name = "Renamed twice"
        db.session.commit()
    assert version(app) == then + 1


def test_the_answer_follows_the_clock(client, clock):
    """The lead time moves with now: a cached answer is not reused a minute later."""
    before = starts(client, "/api/v1/availability?service=facial&from=2027-03-01&to=2027-03-01")
    assert before
    clock.advance(hours=2)
    after = starts(client, "/api/v1/availability?service=facial&from=2027-03-01&to=2027-03-01")
    assert after and len(after) < len(before)
    assert after == before[len(before) - len(after):]


def test_another_worker_sees_a_booking_at_once(app, migrated, clock, client):
    """Two apps on one database stand for two gunicorn workers, each with its own cache."""
    other_config = TestConfig(migrated)
    other_config.CLOCK = clock
    other_app = create_app(other_config)
    other = other_app.test_client()
    try:
        before = starts(other)
        assert starts(other) == before  # now cached in the other worker
        assert client.post("/api/v1/bookings", json=payload(before[0])).status_code == 201
        assert before[0] not in starts(other)
    finally:
        with other_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_concurrent_changes_each_raise_it(app, dialect):
    """Threads writing at once (SQLite: one at a time; PostgreSQL: the version row's lock
    taken just before COMMIT) end with one rise each and no deadlock."""
    with app.app_context():
        ids = [p.id for p in db.session.scalars(select(Provider))]
    then, errors = version(app), []

    def rename(n: int) -> None:
        try:
            with app.app_context():
                for i in range(5):
                    with transaction(db.session):
                        provider = db.session.get(Provider, ids[(n + i) % len(ids)])
                        provider.name = f"Provider {n}-{i}"
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=rename, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert version(app) == then + 30


def test_slots_computed_after_another_read_are_used_not_kept(app, clock):
    """The numbers must be read before the rows an answer is computed from; read after them
    (PostgreSQL reads each statement afresh), the answer is not kept under them."""
    from datetime import date

    from clinic import clock as app_clock

    def day_slots():
        service = db.session.scalar(select(Service).where(Service.slug == "facial"))
        providers = list(db.session.scalars(select(Provider).where(
            Provider.role == service.provider_role)))
        return schedule_version.slots_between(
            db.session, service, providers, date(2027, 3, 2), date(2027, 3, 2), now=clock.now,
            clinic=app_clock.clinic())

    kept = schedule_version.cache
    with app.app_context():
        assert day_slots()  # the service was read before the numbers
        assert len(kept("slots")._entries) == 0
    with app.app_context():
        schedule_version.current()  # the numbers first
        assert day_slots()
        assert len(kept("slots")._entries) == 1


def test_the_cache_never_returns_an_older_versions_value():
    cache: VersionedCache[str, str] = VersionedCache(size=2)
    made = []

    def make(value):
        return lambda: made.append(value) or value

    assert cache.get("a", 1, make("a1")) == "a1"
    assert cache.get("a", 1, make("a1 again")) == "a1"
    assert cache.get("a", 2, make("a2")) == "a2"
    cache.get("b", 2, make("b2"))
    cache.get("c", 2, make("c2"))  # beyond the size: the least recently used ("a") goes
    assert cache.get("a", 2, make("a2 again")) == "a2 again"
    assert made == ["a1", "a2", "b2", "c2", "a2 again"]
