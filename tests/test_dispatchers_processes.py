"""Dispatchers as deployed (`flask --app wsgi scheduler run`, one process each, on PostgreSQL,
on the real clock, against a fake Twilio): they share the work and hand each text over once,
and a dispatcher killed mid-send loses nothing and sends nothing twice.

These run the very command the systemd unit `deploy/clinic-dispatcher@.service` runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text, update

from clinic.extensions import db
from clinic.messaging.dispatch import CLAIM_BATCH
from clinic.models import Appointment, Message, MessageEvent

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).with_name("flask")
SENDER = "+15005550006"
#: The dispatcher's status callback carries `?m=<message id>.<attempt>`.
REF = re.compile(r"[?&]m=(\d+)\.(\d+)$")
VISITS = [f"2027-03-0{day}T{hour:02d}:00:00-08:00" for day in (2, 3) for hour in (9, 13)]


@pytest.fixture
def postgres(dialect):
    if dialect != "postgresql":
        pytest.skip("several dispatcher processes are a PostgreSQL setup (FOR UPDATE SKIP "
                    "LOCKED); SQLite runs one: set TEST_DATABASE_URL to run these")


def dispatcher_env(migrated: str, twilio, name: str, sender: str = SENDER) -> dict:
    """What `/etc/clinic/clinic.env` and the unit give a dispatcher, pointed at the fake
    Twilio; PGAPPNAME names its connections in pg_stat_activity, as the unit does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "DB_"))}
    return {**env, "PGAPPNAME": name, "DATABASE_URL": migrated, "SMS_BACKEND": "twilio",
            "TWILIO_API_BASE_URL": twilio.base_url, "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token, "TWILIO_FROM_NUMBER": sender,
            "TWILIO_TIMEOUT": "5", "PUBLIC_BASE_URL": "http://clinic.test", "SECRET_KEY": "x",
            "CLINIC_TIMEZONE": "America/Los_Angeles", "PYTHONUNBUFFERED": "1"}


class Dispatchers:
    """`scheduler run` processes; whatever happens, none outlives the test."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen] = {}
        self.everyone: list[subprocess.Popen] = []

    def start(self, name: str, env: dict) -> subprocess.Popen:
        command = [str(FLASK), "--app", "wsgi", "scheduler", "run"] if FLASK.exists() else \
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"]
        with open(self.logs / f"{name}.log", "ab") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
        self.running[name] = process
        self.everyone.append(process)
        return process

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}"
                         for p in sorted(self.logs.glob("*.log")))

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.running.items() if p.poll() is not None}
        assert not dead, f"dispatchers exited: {dead}\n{self.output()}"

    def kill(self, name: str) -> None:
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> dict[str, int]:
        """SIGTERM, as systemd stops them: each finishes the text in flight and exits."""
        for process in self.running.values():
            process.send_signal(signal.SIGTERM)
        codes = {name: process.wait(timeout=30) for name, process in self.running.items()}
        self.running.clear()
        return codes

    def cleanup(self) -> None:
        for process in self.everyone:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def dispatchers(tmp_path):
    group = Dispatchers(tmp_path)
    try:
        yield group
    finally:
        group.cleanup()


def due_texts(app, book, count: int) -> list[tuple[int, str]]:
    """`count` staff replies, each with its own body, due now on the real clock, spread over
    a few visits and clients; the booking's own texts are set aside. Returns (id, body)."""
    for n, start in enumerate(VISITS):
        assert book(start, phone=f"+1415555{4000 + n:04d}").status_code == 201
    now = datetime.now(UTC)
    with app.app_context():
        db.session.execute(update(Message).values(status="cancelled"))
        visits = list(db.session.execute(select(Appointment.id, Appointment.client_id)))
        db.session.execute(insert(Message), [
            dict(appointment_id=visits[n % len(visits)].id,
                 client_id=visits[n % len(visits)].client_id, kind="staff_reply",
                 body=f"Clear Skin Clinic: note {n} of {count}, written for this test.",
                 due_at=now - timedelta(seconds=1), status="scheduled", attempts=0,
                 created_at=now, updated_at=now) for n in range(count)])
        db.session.commit()
        return list(db.session.execute(
            select(Message.id, Message.body).where(Message.kind == "staff_reply")))


def count_sent(app) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).where(Message.status == "sent"))
        finally:
            db.session.remove()


def wait_for(condition, seconds: float, dispatchers: Dispatchers, what: str,
             every: float = 0.1) -> None:
    """Polls the other processes' progress (not a schedule), for a bounded time."""
    deadline = time.monotonic() + seconds
    while not condition():
        dispatchers.check_alive()
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s\n" + \
            dispatchers.output()
        time.sleep(every)


def connections(app) -> Counter:
    """Connections to this database now, by application name."""
    with app.app_context():
        try:
            return Counter(dict(db.session.execute(text(
                "SELECT application_name, count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() GROUP BY application_name")).all()))
        finally:
            db.session.remove()


def handed_over(twilio) -> Counter:
    """How many times each (message id, attempt) reached the fake Twilio."""
    refs = Counter()
    for sent in list(twilio.sent):
        match = REF.search(sent["status_callback"] or "")
        assert match, sent["status_callback"]
        refs[int(match.group(1)), int(match.group(2))] += 1
    return refs


def assert_each_sent_once(app, twilio, texts: list[tuple[int, str]]) -> dict[int, int]:
    """Every text handed to Twilio exactly once (whatever its attempt), `sent` with the SID
    Twilio gave it. Returns each message's attempts."""
    refs = handed_over(twilio)
    times = Counter(message_id for message_id, _ in refs.elements())
    assert [message_id for message_id, n in times.items() if n > 1] == []
    assert sorted(times) == sorted(message_id for message_id, _ in texts)
    assert Counter(s["body"] for s in twilio.sent) == Counter(body for _, body in texts)
    with app.app_context():
        rows = db.session.execute(select(Message.id, Message.status, Message.attempts,
                                         Message.provider_sid)
                                  .where(Message.kind == "staff_reply")).all()
        db.session.remove()
    assert Counter(status for _, status, _, _ in rows) == {"sent": len(texts)}
    assert {sid for *_, sid in rows} == {s["sid"] for s in twilio.sent}
    assert {(message_id, attempts) for message_id, _, attempts, _ in rows} == set(refs)
    return {message_id: attempts for message_id, _, attempts, _ in rows}


def count_status(app, status: str) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).where(Message.status == status))
        finally:
            db.session.remove()


COUNT = 3000
SHARERS = 3


def test_three_dispatcher_processes_share_3000_texts_and_send_each_once(
        app, book, twilio, migrated, postgres, dispatchers):
    texts = due_texts(app, book, COUNT)
    twilio.clock = lambda: datetime.now(UTC)  # the dispatchers run on the real clock
    # Each dispatcher sends from its own number only so that the fake's log tells who sent
    # what; deployed, they share one sender (a lost answer is looked up by that sender).
    senders = {f"+1500555000{n}": f"dispatcher-{n}" for n in range(1, SHARERS + 1)}
    began = time.monotonic()
    for sender, name in senders.items():
        dispatchers.start(name, dispatcher_env(migrated, twilio, name, sender))
    wait_for(lambda: len(twilio.sent) > 0, 60, dispatchers, "no dispatcher started sending")
    first = time.monotonic()
    peak: Counter = Counter()

    def all_sent() -> bool:
        for name, count in connections(app).items():
            peak[name] = max(peak[name], count)
        return count_sent(app) == COUNT

    wait_for(all_sent, 300, dispatchers, f"{COUNT} texts sent")
    done = time.monotonic()
    assert dispatchers.stop_all() == {name: 0 for name in senders.values()}

    assert set(assert_each_sent_once(app, twilio, texts).values()) == {1}
    assert [r["outcome"] for r in twilio.requests] == ["accepted"] * COUNT
    shares = Counter(senders[s["from"]] for s in twilio.sent)
    print(f"\n{COUNT} texts, {SHARERS} dispatchers: {done - began:.1f} s from start "
          f"({done - first:.1f} s from the first send, {COUNT / (done - first):.0f} a second); "
          f"shares {dict(sorted(shares.items()))}; connections at most "
          f"{ {name: peak[name] for name in senders.values()} }")
    assert set(shares) == set(senders.values()), f"not every dispatcher sent: {shares}"
    assert min(shares.values()) >= COUNT // (SHARERS * 10), f"the work was not shared: {shares}"
    # deploy/README.md budgets three connections a dispatcher: one per job at most.
    assert all(1 <= peak[name] <= 3 for name in senders.values()), peak


def connections_to(pid: int, port: int) -> set[int]:
    """The local ports of a process's open TCP connections to 127.0.0.1:`port` (Linux)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    ports = set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == port:
            ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def test_a_dispatcher_killed_mid_send_restarts_and_nothing_goes_out_twice(
        app, book, twilio, migrated, postgres, dispatchers):
    # More than two claims' worth, so both dispatchers have a batch and some wait in line.
    texts = due_texts(app, book, 2 * CLAIM_BATCH + 20)
    twilio.clock = lambda: datetime.now(UTC)
    twilio.answer_delay = 0.5  # Twilio sends each text at once and answers slowly
    # When the fake accepted a text from each client port: which dispatcher is waiting for
    # which answer, with both dispatchers configured alike.
    accepted_from: dict[int, float] = {}
    accept = twilio._accept

    def noting_accept(handler, *args):
        message = accept(handler, *args)
        if message:
            accepted_from[handler.client_address[1]] = time.monotonic()
        return message

    twilio._accept = noting_accept
    fake_port = int(twilio.base_url.rsplit(":", 1)[1])
    envs = {name: dispatcher_env(migrated, twilio, name)  # one sender, as deployed
            for name in ("dispatcher-1", "dispatcher-2")}
    for name, env in envs.items():
        dispatchers.start(name, env)
    victim = dispatchers.running["dispatcher-1"]

    def victim_mid_send() -> bool:
        """Twilio has answered several texts of each dispatcher (their SIDs wait for the end
        of its batch) and has just taken one of dispatcher-1's (under 0.2 s ago) without
        answering."""
        if len(twilio.sent) < 8:
            return False
        waiting = connections_to(victim.pid, fake_port)
        return any(time.monotonic() - accepted_from.get(port, 0) < 0.2 for port in waiting)

    wait_for(victim_mid_send, 60, dispatchers, "dispatcher-1 mid-send", every=0.02)
    dispatchers.kill("dispatcher-1")
    twilio.answer_delay = 0.0

    # The survivor takes everything else; then it is stopped too (SIGTERM: it finishes the
    # text in flight and records its batch), so what the dead one left can be counted.
    wait_for(lambda: count_status(app, "scheduled") == 0, 60, dispatchers,
             "the other dispatcher took the rest")
    assert dispatchers.stop_all() == {"dispatcher-2": 0}
    refs = handed_over(twilio)
    with app.app_context():
        left = list(db.session.scalars(select(Message).where(Message.status == "sending")))
        # Twilio has those answered whose SIDs were not yet recorded and the one in flight;
        # the rest of the dead dispatcher's batch never reached it.
        with_twilio = [m.id for m in left if (m.id, m.attempts) in refs]
        never_sent = [m.id for m in left if m.id not in with_twilio]
        assert len(with_twilio) >= 2 and never_sent
        assert all(message_id not in {i for i, _ in refs} for message_id in never_sent)
        assert all(m.check_at == m.claimed_at + timedelta(minutes=5) for m in left)
        for message in left:  # five minutes pass: the dead dispatcher's claims time out
            message.check_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
        db.session.remove()

    # systemd restarts it (Restart=always); its first settle run asks Twilio's message list
    # about each: those Twilio has are found and kept, the others go back in line.
    dispatchers.start("dispatcher-1", envs["dispatcher-1"])
    wait_for(lambda: count_status(app, "sending") == 0, 60, dispatchers, "claims settled")
    with app.app_context():  # their retry backoff (15 to 30 s) passes
        db.session.execute(update(Message).where(Message.status == "scheduled")
                           .values(due_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    dispatchers.start("dispatcher-2", envs["dispatcher-2"])  # the other comes back too
    wait_for(lambda: count_sent(app) == len(texts), 60, dispatchers, "everything sent")
    assert dispatchers.stop_all() == {"dispatcher-1": 0, "dispatcher-2": 0}

    attempts = assert_each_sent_once(app, twilio, texts)
    assert len(twilio.sent) == len(texts)
    assert {i for i, n in attempts.items() if n != 1} == set(never_sent)
    with app.app_context():
        history = {message_id: [e.outcome for e in db.session.scalars(
            select(MessageEvent).where(MessageEvent.message_id == message_id)
            .order_by(MessageEvent.id))] for message_id in [*with_twilio, *never_sent]}
        db.session.remove()
    assert all(history[i] == ["found"] for i in with_twilio), history
    assert all(history[i] == ["resend", "sent"] for i in never_sent), history
    print(f"\nkilled mid-send: {len(with_twilio)} texts Twilio had (answered or in flight) "
          f"found in its list, {len(never_sent)} claimed but never handed over, sent once on a "
          f"second attempt")
