"""A dispatcher killed mid-send: after a restart every text has gone out exactly once."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from clinic.extensions import db
from clinic.models import Message

ROOT = Path(__file__).resolve().parent.parent
VISITS = [f"2027-03-0{day}T{hour:02d}:00:00-08:00" for day in (2, 3) for hour in (9, 11, 13, 15)]


def dispatcher_env(migrated: str, twilio) -> dict:
    return {**os.environ, "DATABASE_URL": migrated, "SMS_BACKEND": "twilio",
            "TWILIO_API_BASE_URL": twilio.base_url, "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token, "TWILIO_FROM_NUMBER": "+15005550006",
            "TWILIO_TIMEOUT": "5", "PUBLIC_BASE_URL": "http://clinic.test", "SECRET_KEY": "x",
            "PYTHONUNBUFFERED": "1"}


def wait_for(condition, seconds: float = 60) -> None:
    """Polls another process's progress (not a schedule), for a bounded time."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the dispatcher made no progress"
        time.sleep(0.01)


def statuses(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(Message.status).where(
            Message.kind == "confirmation")))


def test_sigkill_mid_batch_then_restart_sends_every_text_exactly_once(app, book, twilio,
                                                                      migrated):
    for n, start in enumerate(VISITS):
        assert book(start, phone=f"+1415555{3000 + n:04d}").status_code == 201
    real_now = datetime.now(UTC)
    with app.app_context():  # the confirmations are due now on the real clock
        db.session.execute(update(Message).where(Message.kind == "confirmation")
                           .values(due_at=real_now - timedelta(minutes=1)))
        db.session.commit()
    twilio.clock = lambda: datetime.now(UTC)  # the dispatcher runs on the real clock, so Twilio
    twilio.answer_delay = 0.5  # Twilio sends each text at once and answers slowly
    env = dispatcher_env(migrated, twilio)
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler",
                                "run"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(twilio.sent) >= 3)  # the third text is out, its answer not back
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # Only the text in flight lacks an answer; the rest were never claimed.
    assert statuses(app) == ["scheduled"] * 5 + ["sending"] + ["sent"] * 2
    assert len(twilio.sent) == 3

    twilio.answer_delay = 0.0
    later = real_now + timedelta(minutes=6)  # past the dead dispatcher's claim timeout
    restart = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler",
                              "dispatch", "--now", later.isoformat()], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert "settle_unsure: found 1" in restart.stdout
    assert "send_due: sent 5" in restart.stdout

    assert statuses(app) == ["sent"] * 8
    bodies = [s["body"] for s in twilio.sent]
    assert len(bodies) == len(set(bodies)) == 8
    assert [r["outcome"] for r in twilio.requests] == ["accepted"] * 8
    with app.app_context():
        rows = list(db.session.scalars(select(Message).where(Message.kind == "confirmation")))
        assert {m.provider_sid for m in rows} == {s["sid"] for s in twilio.sent}
        assert {m.attempts for m in rows} == {1}
