"""Migrations upgrade a database that holds data, and go back down, on the suite's database."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import MetaData, Table, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from clinic import create_app
from clinic.config import TestConfig
from clinic.extensions import db
from clinic.models import Appointment, Message, MessageEvent

WHEN = datetime(2027, 3, 2, 17, 0, tzinfo=UTC)


@pytest.fixture
def empty_url(migrated, tmp_path):
    """A database of its own, empty, of the same kind as the suite's."""
    if migrated.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/upgrade.db"
        return
    name = f"clinic_migrations_{os.getpid()}"
    admin = create_engine(migrated, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(migrated).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def fill(session) -> None:
    """A visit with a sent text and its history, as a clinic's database holds them, written
    with only the columns the database's revision has (reflected), so any revision can hold it."""
    rows = {
        "service": dict(id=1, slug="facial", name="Facial", description="", price_cents=8000,
                        currency="USD", duration_minutes=60, buffer_minutes=15,
                        provider_role="aesthetician", includes_extraction=True,
                        purging_checkin=True, pause_topicals_days=3, active=True),
        "provider": dict(id=1, name="Aesthetician", role="aesthetician", board_certified=False,
                         active=True),
        "client": dict(id=1, name="A Client", phone="+14155552671", created_at=WHEN),
        "appointment": dict(id=1, service_id=1, provider_id=1, client_id=1, start_at=WHEN,
                            end_at=WHEN + timedelta(hours=1),
                            busy_until=WHEN + timedelta(minutes=75), status="booked",
                            price_cents=8000, currency="USD", intake={},
                            manage_token="t" * 32, late_change=False, created_at=WHEN,
                            created_by="client", updated_at=WHEN),
        "message": dict(id=1, appointment_id=1, client_id=1, kind="confirmation", due_at=WHEN,
                        status="sent", attempts=1, body="Booked.", provider_sid="SM1",
                        created_at=WHEN, updated_at=WHEN),
        "message_event": dict(id=1, message_id=1, at=WHEN, outcome="sent", provider_sid="SM1"),
    }
    metadata = MetaData()
    for name, values in rows.items():
        table = Table(name, metadata, autoload_with=session.connection())
        session.execute(table.insert().values({  # times stored as naive UTC, as UTCDateTime does
            k: v.replace(tzinfo=None) if isinstance(v, datetime) else v
            for k, v in values.items() if k in table.c}))
    session.commit()


def counts(session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(table))
                 for table in (Appointment, Message, MessageEvent))


def bogus_kind_refused(session) -> bool:
    try:
        session.execute(text("UPDATE message SET kind = 'bogus'"))
        session.commit()
    except IntegrityError:
        session.rollback()
        return True
    session.execute(text("UPDATE message SET kind = 'confirmation'"))
    session.commit()
    return False


def test_the_enum_checks_upgrade_a_database_with_data_and_go_back_down(empty_url):
    app = create_app(TestConfig(empty_url))
    with app.app_context():
        upgrade(revision="0003")
        fill(db.session)
        assert not bogus_kind_refused(db.session)  # 0003 had no CHECK on a text's kind
        upgrade()
        assert counts(db.session) == (1, 1, 1)
        assert bogus_kind_refused(db.session)
        downgrade(revision="0003")
        assert counts(db.session) == (1, 1, 1)
        assert not bogus_kind_refused(db.session)
        upgrade()
        assert counts(db.session) == (1, 1, 1)
        assert db.session.scalar(select(Message.status)) == "sent"
        db.session.remove()
        db.engine.dispose()


def test_every_migration_goes_down_to_nothing_and_up_again(empty_url):
    app = create_app(TestConfig(empty_url))
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        upgrade()
        names = set(db.inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert {"appointment", "message", "message_event", "followup", "inbound_message"} <= names


def test_foreign_keys_hold_after_a_migration_run_that_had_nothing_to_do(empty_url):
    from clinic.models import AppointmentEvent

    app = create_app(TestConfig(empty_url))
    with app.app_context():
        upgrade()
        upgrade()  # already at head: nothing to do
        db.session.add(AppointmentEvent(appointment_id=424242, at=WHEN, actor="system",
                                        action="booked"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def test_cancellation_texts_come_with_0005_and_go_with_its_downgrade(empty_url):
    app = create_app(TestConfig(empty_url))
    with app.app_context():
        upgrade(revision="0003")
        fill(db.session)
        upgrade()
        db.session.execute(text("UPDATE message SET kind = 'cancellation'"))
        db.session.commit()
        downgrade(revision="0004")
        assert counts(db.session) == (1, 0, 0)  # a kind 0004 cannot hold is gone, history too
        db.session.rollback()  # end the read, or PostgreSQL's ALTER TABLE waits for it
        upgrade()
        db.session.remove()
        db.engine.dispose()


def test_0006_gives_existing_services_their_care_texts(empty_url):
    from clinic import care

    app = create_app(TestConfig(empty_url))
    with app.app_context():
        upgrade(revision="0005")
        fill(db.session)
        upgrade()
        assert db.session.execute(text(
            "SELECT preparation, aftercare FROM service WHERE slug = 'facial'")).one() == (
            care.PREPARATION["facial"], care.AFTERCARE["facial"])
        db.session.rollback()
        downgrade(revision="0005")
        assert "preparation" not in {c["name"] for c in db.inspect(db.engine).get_columns(
            "service")}
        upgrade()
        db.session.remove()
        db.engine.dispose()
