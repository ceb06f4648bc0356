"""No double booking, ever: real threads over real HTTP against the suite's database file
(SQLite) or server (PostgreSQL, with TEST_DATABASE_URL)."""

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from conftest import payload
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from clinic.extensions import db
from clinic.models import Appointment
from clinic.rules import Clinic

CLINIC = Clinic(ZoneInfo("America/Los_Angeles"))

SLOT = "2027-03-02T09:00:00-08:00"


def post(url: str, body: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def race(n: int, attempt) -> Counter:
    barrier = threading.Barrier(n)
    results: list[int] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        status = attempt(i)
        with lock:
            results.append(status)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Counter(results)


def test_fifty_clients_racing_for_one_slot_get_one_booking(live_server, app):
    url = live_server + "/api/v1/bookings"
    statuses = race(50, lambda i: post(url, payload(SLOT, phone=f"+1415555{2600 + i:04d}")))
    assert statuses == Counter({201: 1, 409: 49})
    with app.app_context():
        assert db.session.scalar(select(func.count(Appointment.id))) == 1


def test_racing_reschedules_onto_one_slot_move_one_visit(live_server, client, app):
    tokens = [
        client.post("/api/v1/bookings", json=payload(
            f"2027-03-0{3 + i // 4}T{9 + 2 * (i % 4):02d}:00:00-08:00",
            phone=f"+1415555{2700 + i:04d}")).json["booking"]["token"]
        for i in range(10)
    ]
    statuses = race(10, lambda i: post(
        f"{live_server}/api/v1/bookings/{tokens[i]}/reschedule", {"start": SLOT}))
    assert statuses == Counter({200: 1, 409: 9})


@pytest.mark.postgres
def test_postgres_exclusion_constraint_refuses_overlap_written_around_the_app(app, book, dialect):
    if dialect != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's; SQLite serialises writers")
    book(SLOT)
    with app.app_context():
        row = db.session.execute(text(
            "SELECT service_id, provider_id, client_id FROM appointment")).one()
        with pytest.raises(IntegrityError, match="no_overlapping_visits"):
            db.session.execute(text(
                "INSERT INTO appointment (service_id, provider_id, client_id, start_at, end_at,"
                " busy_until, status, price_cents, currency, intake, manage_token, late_change,"
                " created_at, created_by, updated_at) VALUES (:s, :p, :c,"
                " '2027-03-02 17:30', '2027-03-02 18:30', '2027-03-02 18:45', 'booked', 1,"
                " 'USD', '{}', 'x', false, now(), 'test', now())"),
                {"s": row.service_id, "p": row.provider_id, "c": row.client_id})
        db.session.rollback()


@pytest.mark.sqlite
def test_sqlite_booking_takes_the_write_lock_up_front(app, dialect, book):
    if dialect != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's; PostgreSQL has the exclusion constraint")
    seen = _statements(app, lambda: book(SLOT), 201)
    # The check that decides, reading the provider's visits, is made under the lock, before
    # the visit is written (an earlier read without the lock only answers refusals).
    begin = seen.index("BEGIN IMMEDIATE")
    insert = next(i for i, s in enumerate(seen) if s.startswith("INSERT INTO appointment "))
    assert any("FROM appointment" in s for s in seen[begin:insert])


def test_sqlite_a_taken_time_is_refused_without_the_write_lock(app, dialect, book):
    """Losing the race for a time is answered from a read: the 409 never queues behind the
    bookings that write."""
    if dialect != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    assert book(SLOT).status_code == 201
    seen = _statements(app, lambda: book(SLOT, phone="+14155550123"), 409)
    assert any("FROM appointment" in s for s in seen)
    assert "BEGIN IMMEDIATE" not in seen and not any(s.startswith("INSERT") for s in seen)


def _statements(app, request, status: int) -> list[str]:
    """The SQL statements a request runs."""
    seen: list[str] = []
    with app.app_context():
        from sqlalchemy import event

        def capture(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            assert request().status_code == status
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
    return seen


def test_a_refused_booking_releases_its_write_lock(app, book, clock):
    """A rule that refuses inside the write transaction must not leave the database locked."""
    import pytest as _pytest

    from clinic import booking
    from clinic.booking import BookingError, BookingRequest, ClientDetails
    from clinic.timeutil import parse_aware

    book(SLOT, service="extraction")
    request = BookingRequest(
        service="extraction", start=parse_aware("2027-03-03T09:00:00-08:00"),
        client=ClientDetails("Dana Client", "+14155552671"), sms_consent=True,
        uses_prescription_topicals=False)
    with app.app_context():

        with _pytest.raises(BookingError, match="14 days"):
            booking.book(db.session, request, now=clock.now,
                         clinic=CLINIC)
        # Still inside the same app context and session: another writer gets in at once.
        other = db.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        with other.begin():
            other.execute(text("UPDATE provider SET active = active"))
        other.close()


def test_auto_completion_leaves_a_visit_staff_are_changing(app, book, dialect):
    """PostgreSQL: a visit row locked by a staff change is skipped, not overwritten."""
    if dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers")

    from clinic import visits
    from clinic.timeutil import parse_aware

    book(SLOT)
    later = parse_aware("2027-03-02T13:00:00-08:00")
    with app.app_context():
        staff = db.engine.connect()
        staff_tx = staff.begin()
        staff.execute(text("SELECT id FROM appointment FOR UPDATE"))
        try:
            done = visits.complete_unclosed(db.session, now=later,
                                            clinic=CLINIC)
            assert done == 0
        finally:
            staff_tx.rollback()
            staff.close()
        assert visits.complete_unclosed(db.session, now=later,
                                        clinic=CLINIC) == 1
