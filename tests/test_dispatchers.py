"""Several dispatcher processes on PostgreSQL: every due text is sent exactly once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from clinic.extensions import db
from clinic.models import Appointment, Message

ROOT = Path(__file__).resolve().parent.parent
COUNT = 2000


def test_two_dispatcher_processes_send_each_of_2000_messages_once(app, book, dialect, twilio,
                                                                  migrated, clock):
    if dialect != "postgresql":
        pytest.skip("several dispatchers are a PostgreSQL setup; SQLite runs one")
    book("2027-03-02T09:00:00-08:00")
    with app.app_context():
        appt = db.session.scalar(select(Appointment))
        db.session.execute(insert(Message), [
            dict(appointment_id=appt.id, client_id=appt.client_id, kind="confirmation",
                 due_at=clock.now, not_after=appt.start_at, status="scheduled", attempts=0,
                 created_at=clock.now,
                 updated_at=clock.now) for _ in range(COUNT - 1)])
        db.session.commit()
    env = {**os.environ, "DATABASE_URL": migrated, "SMS_BACKEND": "twilio",
           "TWILIO_API_BASE_URL": twilio.base_url, "TWILIO_ACCOUNT_SID": twilio.account_sid,
           "TWILIO_AUTH_TOKEN": twilio.auth_token, "TWILIO_FROM_NUMBER": "+15005550006",
           "PUBLIC_BASE_URL": "http://clinic.test", "SECRET_KEY": "x"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "dispatch", "--now",
               clock.now.isoformat()]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    sent_by = [int(out.split("send_due: sent ")[1].split()[0].rstrip(","))
               if "send_due: sent " in out else 0 for out in outputs]
    assert sum(sent_by) == COUNT, outputs
    assert all(n > 0 for n in sent_by), f"one dispatcher did all the work: {sent_by}"
    assert len(twilio.sent) == COUNT
    assert len({s["sid"] for s in twilio.sent}) == COUNT
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Message.status == "sent")) == COUNT
        assert db.session.scalar(select(func.count(func.distinct(Message.provider_sid)))) == COUNT
        assert db.session.scalar(select(func.max(Message.attempts))) == 1
