"""A dispatcher killed mid-send: after a restart every text has gone out exactly once.

The dispatcher claims due texts a batch at a time (`dispatch.CLAIM_BATCH`, more than the eight
here) and sends them one by one, so a SIGKILL leaves the whole unanswered part of the batch
`sending`: those Twilio answered (their SIDs are recorded together once the batch is through),
the text in flight (Twilio has it) and those claimed but never handed over. Each is settled
with Twilio's message list: the ones Twilio has are found and kept, never sent again; the
others are not there, so they go back in line and are sent once, their attempt counted.
"""

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
    # The batch claimed all eight: two answered (their SIDs not yet recorded: the batch's
    # answers are recorded together once it is through), the third in flight, five never
    # handed over.
    assert statuses(app) == ["sending"] * 8
    assert len(twilio.sent) == 3

    twilio.answer_delay = 0.0
    later = real_now + timedelta(minutes=6)  # past the dead dispatcher's claim timeout
    restart = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler",
                              "dispatch", "--now", later.isoformat()], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert restart.returncode == 0, restart.stdout + restart.stderr
    # Twilio's list has the two answered and the one in flight (kept, not sent again) and
    # none of the other five, which go back in line after the retry backoff.
    assert "settle_unsure: found 3, resend 5" in restart.stdout
    assert statuses(app) == ["scheduled"] * 5 + ["sent"] * 3
    assert len(twilio.sent) == 3
    after_backoff = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler",
                                    "dispatch", "--now", (later + timedelta(minutes=1))
                                    .isoformat()], cwd=ROOT, env=env, capture_output=True,
                                   text=True, timeout=120)
    assert after_backoff.returncode == 0, after_backoff.stdout + after_backoff.stderr
    assert "send_due: sent 5" in after_backoff.stdout

    assert statuses(app) == ["sent"] * 8
    bodies = [s["body"] for s in twilio.sent]
    assert len(bodies) == len(set(bodies)) == 8  # each text went out exactly once
    assert [r["outcome"] for r in twilio.requests] == ["accepted"] * 8
    with app.app_context():
        rows = list(db.session.scalars(select(Message).where(Message.kind == "confirmation")))
        assert {m.provider_sid for m in rows} == {s["sid"] for s in twilio.sent}
        # Three went out on their first attempt; the five never handed over on their second.
        assert sorted(m.attempts for m in rows) == [1] * 3 + [2] * 5
