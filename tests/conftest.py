"""Fixtures: one migrated database per run (SQLite file, or TEST_DATABASE_URL), emptied per test."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from contract import Contract
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from clinic import create_app
from clinic.config import TestConfig
from clinic.extensions import db
from clinic.seed import seed_demo

#: Monday 1 March 2027, 08:00 in Los Angeles: two weeks before clocks go forward.
NOW = datetime(2027, 3, 1, 16, 0, tzinfo=UTC)
ON_CI = os.environ.get("CI", "").lower() == "true"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now
        #: While `dispatch(at)` runs, the instant it runs as of: the fake Twilio's clock too.
        self.dispatching: datetime | None = None

    def __call__(self) -> datetime:
        return self.now

    def world(self) -> datetime:
        """What time it is for services outside the app (the fake Twilio)."""
        return self.dispatching or self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'clinic.db'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except OperationalError as exc:
        reason = f"no database server answers at TEST_DATABASE_URL ({exc.orig.__class__.__name__})"
        if ON_CI:
            pytest.fail(reason + ": CI must not skip", pytrace=False)
        pytest.skip(reason)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def migrated(database_url) -> str:
    """Runs the real Alembic migration once; tests then share the schema."""
    from flask_migrate import upgrade

    app = create_app(TestConfig(database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def contract():
    """Checks every /api/ answer the test receives against the API's document (contract.py);
    the test fails at teardown, listing each answer the document does not describe."""
    checker = Contract()
    yield checker
    if checker.violations:
        pytest.fail("API answers that break /api/v1/openapi.json:\n" +
                    "\n".join(checker.violations), pytrace=False)


@pytest.fixture
def app(migrated, clock, contract):
    config = TestConfig(migrated)
    config.CLOCK = clock
    app = create_app(config)
    contract.wrap(app)
    with app.app_context():
        seed_demo(db.session)
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in db.metadata.sorted_tables:  # links that close a cycle go first
                for key in table.foreign_keys:
                    if key.use_alter:
                        conn.execute(table.update().values({key.parent.name: None}))
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def staff_auth(runner) -> dict:
    """The Authorization header of a new staff account's API token."""
    created = runner.invoke(args=["create-staff", "desk@clinic.test", "--name", "Desk"],
                            input="correct horse battery\n")
    assert created.exit_code == 0, created.output
    issued = runner.invoke(args=["issue-token", "desk@clinic.test"])
    assert issued.exit_code == 0, issued.output
    return {"Authorization": f"Bearer {issued.output.strip()}"}


@pytest.fixture
def dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


@pytest.fixture
def live_server(app):
    """The app on a real threaded HTTP server on localhost, for concurrency and browsers."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@dataclass
class Ids:
    aesthetician: int
    dermatologist: int


@pytest.fixture
def providers(app) -> Ids:
    from sqlalchemy import select

    from clinic.models import Provider

    with app.app_context():
        rows = {p.role: p.id for p in db.session.scalars(select(Provider))}
    return Ids(rows["aesthetician"], rows["dermatologist"])


def payload(start: str, service: str = "facial", phone: str = "(415) 555-2671", **changes) -> dict:
    """A valid booking body; keyword arguments replace its parts."""
    body = {
        "service": service,
        "start": start,
        "client": {"name": "Dana Client", "phone": phone, "email": "dana@example.com"},
        "sms_consent": True,
        "intake": {"uses_prescription_topicals": False, "concerns": ["blackheads"]},
    }
    for key, value in changes.items():
        if key in ("uses_prescription_topicals", "concerns", "event_date"):
            body["intake"][key] = value
        else:
            body[key] = value
    return body


@pytest.fixture
def sms(app):
    """The memory sender the app's jobs use under TestConfig."""
    from clinic.messaging.senders import sender_from_config

    return sender_from_config(app.config)


@pytest.fixture
def dispatch(app, clock):
    """Runs every scheduler job once as of a given instant, as `scheduler dispatch --now`."""
    from scheduler.jobs import run_all_once

    def _dispatch(at: datetime):
        clock.dispatching = at
        try:
            return run_all_once(app, at)
        finally:
            clock.dispatching = None

    return _dispatch


def signed_post(client, path: str, form: dict, token: str = "test-auth-token"):
    """Posts a form the way Twilio does, signed for PUBLIC_BASE_URL + path."""
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(token).compute_signature("http://clinic.test" + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


@pytest.fixture
def book(client):
    """Books through the API and returns the response."""

    def _book(start: str, **changes):
        return client.post("/api/v1/bookings", json=payload(start, **changes))

    return _book


@pytest.fixture
def twilio(app, clock):
    """A fake Twilio server the app's jobs send to through the real twilio client; its clock
    is the test's."""
    from fake_twilio import FakeTwilio

    with FakeTwilio(auth_token="test-auth-token", clock=clock.world) as fake:
        app.config.update(SMS_BACKEND="twilio", TWILIO_API_BASE_URL=fake.base_url,
                          TWILIO_ACCOUNT_SID=fake.account_sid, TWILIO_AUTH_TOKEN=fake.auth_token,
                          TWILIO_TIMEOUT=0.5)
        yield fake


STAFF_PASSWORD = "correct horse battery"


@pytest.fixture
def make_staff(app):
    """Creates a staff account: make_staff(email, role="staff", provider_id=None) -> its id."""
    from clinic.auth import create_staff

    def make(email: str = "desk@clinic.test", role: str = "staff",
             provider_id: int | None = None, name: str = "Front Desk") -> int:
        with app.app_context():
            user = create_staff(db.session, email, name, role, STAFF_PASSWORD, now=NOW)
            if provider_id is not None:
                user.provider_id = provider_id
                db.session.commit()
            staff_id = user.id
            db.session.remove()
        return staff_id

    return make


@pytest.fixture
def sign_in(client, make_staff):
    """Signs the test client in as a new staff account: sign_in(role="staff", **account)."""
    def sign(role: str = "staff", email: str | None = None, **account):
        email = email or f"{role}@clinic.test"
        make_staff(email, role=role, **account)
        answer = client.post("/staff/login", data={"email": email, "password": STAFF_PASSWORD})
        assert answer.status_code == 303, answer.text
        return client

    return sign
