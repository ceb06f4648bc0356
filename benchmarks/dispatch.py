"""B3 dispatch and B4's dispatcher memory.

1,000,000 planned texts (100,000 with --quick) of which 10,000 (2,000) are due, inserted as
plain rows: confirmations for booked visits, the rest reminders due later this year.

- the dispatcher's query for the next due text at 10,000 (2,000) planned rows and at the full
  table;
- texts/s through the memory sender (`dispatch.send_due` in process, for a fixed time; due
  texts are topped up first so it never runs out before its time, and again for the next);
- texts/s through the real twilio client (`TwilioSender`) against tests/fake_twilio.py's server,
  against a bare loop of `client.messages.create` on the same server;
- `flask scheduler dispatch` working through the due rows left on the full table: its peak RSS;
- `flask scheduler run`: the delay from due to sent for texts falling due while it runs.
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta

from sqlalchemy import func, insert, select, text, update

from .common import (
    ROOT,
    Figure,
    Progress,
    Settings,
    app_for,
    env_for,
    median_ms,
    peak_rss_mb,
    stop,
)

POLL = 15  #: seconds between the dispatcher's runs (scheduler/jobs.py)


def fake_twilio():
    """tests/fake_twilio.py's FakeTwilio (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fake_twilio", ROOT / "tests" / "fake_twilio.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fake_twilio", module)
    spec.loader.exec_module(module)
    return module.FakeTwilio


def run(settings: Settings, progress: Progress) -> list[Figure]:
    from clinic import clock
    from clinic.enums import MessageStatus
    from clinic.extensions import db
    from clinic.messaging import bodies, dispatch
    from clinic.messaging.models import Message
    from clinic.messaging.senders import MemorySender, TwilioSender, _http_client
    from clinic.models import Appointment, Client, Provider, Service

    planned, due = (100_000, 2_000) if settings.quick else (1_000_000, 10_000)
    seconds = 3.0 if settings.quick else 8.0
    url = settings.database("b3")
    app = app_for(url)
    figures: list[Figure] = []
    with app.app_context():
        session = db.session
        now = clock.now()
        service = session.scalar(select(Service).where(Service.slug == "facial"))
        provider = session.scalar(select(Provider).where(Provider.role == "aesthetician"))
        visits = 1_000
        session.execute(insert(Client), [dict(name=f"Bench {i}", phone=f"+1415{3000000 + i}",
                                              created_at=now) for i in range(visits)])
        clients = list(session.scalars(select(Client.id).order_by(Client.id)))[-visits:]
        step = timedelta(minutes=service.duration_minutes + service.buffer_minutes)
        starts = [now + timedelta(days=3) + step * i for i in range(visits)]
        session.execute(insert(Appointment), [dict(
            service_id=service.id, provider_id=provider.id, client_id=clients[i],
            start_at=s, end_at=s + timedelta(minutes=service.duration_minutes),
            busy_until=s + step, status="booked", price_cents=service.price_cents,
            currency="USD", intake={}, manage_token=f"bench-d-{i}", late_change=False,
            created_at=now, created_by="bench", updated_at=now) for i, s in enumerate(starts)])
        appts = session.execute(select(Appointment.id, Appointment.client_id,
                                       Appointment.start_at).order_by(Appointment.id)).all()
        session.commit()

        def rows(first: int, last: int, kind: str, due_at) -> list[dict]:
            out = []
            for i in range(first, last):
                appt_id, client_id, start = appts[i % len(appts)]
                out.append(dict(appointment_id=appt_id, client_id=client_id, kind=kind,
                                due_at=due_at(i), not_after=start, status="scheduled",
                                attempts=0, created_at=now, updated_at=now))
            return out

        def insert_rows(count: int, kind: str, due_at, label: str) -> None:
            advance = progress.task(label, count)
            for first in range(0, count, 20_000):
                last = min(count, first + 20_000)
                session.execute(insert(Message), rows(first, last, kind, due_at))
                advance(last - first)
            session.commit()

        def due_query() -> None:
            dispatch._next(session, (Message.status == MessageStatus.SCHEDULED,
                                     Message.due_at <= clock.now()), (Message.due_at, Message.id))
            session.rollback()

        insert_rows(due, "confirmation", lambda i: now - timedelta(minutes=10, seconds=-i / 100),
                    f"B3 {due:,} due texts")
        small, _ = median_ms(due_query, 50, warmup=5)
        insert_rows(planned - due, "reminder",
                    lambda i: now + timedelta(days=1, minutes=(i * 7919) % 400_000),
                    f"B3 {planned - due:,} texts due later")
        if url.startswith("postgresql"):
            session.execute(text("ANALYZE message"))
            session.commit()
        big, _ = median_ms(due_query, 50, warmup=5)
        figures.append(Figure("B3", f"next-due query, {planned:,} ÷ {due:,} planned",
                              round(big / small, 3), "×", "<= 1.5",
                              detail=f"{small:.3f} ms → {big:.3f} ms (median of 50)"))

        clinic = clock.clinic()

        def timed_send(sender) -> tuple[float, int]:
            halt = threading.Event()
            timer = threading.Timer(seconds, halt.set)
            began = time.perf_counter()
            timer.start()
            counts = dispatch.send_due(session, clock=clock.now, sender=sender,
                                       render=bodies.render, clinic=clinic, stop=halt)
            elapsed = time.perf_counter() - began
            timer.cancel()
            sent = counts.get("sent", 0)
            return sent / elapsed, sum(counts.values())

        def top_up(count: int) -> None:
            """At least `count` texts due, so a timed send never runs out before its time."""
            waiting = session.scalar(select(func.count()).select_from(Message).where(
                Message.status == MessageStatus.SCHEDULED, Message.due_at <= clock.now()))
            if waiting < count:
                insert_rows(count - waiting, "confirmation",
                            lambda i: clock.now() - timedelta(minutes=10, seconds=-i / 100),
                            f"B3 {count - waiting:,} more due texts")
            session.rollback()

        top_up(int(3_000 * seconds))
        rate, done = timed_send(MemorySender())
        figures.append(Figure("B3", "texts/s, memory sender (in process)", round(rate), "/s",
                              ">= 2000", detail=f"{done:,} handled in ~{seconds:g} s"))

        FakeTwilio = fake_twilio()
        top_up(int(1_000 * seconds))
        with FakeTwilio() as fake:
            sender = TwilioSender(fake.account_sid, fake.auth_token, from_number="+15005550006",
                                  api_base_url=fake.base_url, timeout=10)
            twilio_rate, done = timed_send(sender)
            sender.close()
            from twilio.rest import Client as TwilioClient

            bare = TwilioClient(fake.account_sid, fake.auth_token,
                                http_client=_http_client(fake.base_url, 10))
            began, count = time.perf_counter(), 0
            while time.perf_counter() - began < seconds:
                bare.messages.create(to="+14155552671", from_="+15005550006",
                                     body="Clear Skin Clinic: your facial is booked.")
                count += 1
            bare_rate = count / (time.perf_counter() - began)
        figures.append(Figure("B3", "twilio client + fake Twilio: dispatcher ÷ bare loop",
                              round(twilio_rate / bare_rate, 3), "", ">= 0.5",
                              detail=f"{twilio_rate:.0f} vs {bare_rate:.0f} texts/s"))

        # B4: the dispatcher process working through what is still due on the full table.
        left_cap = 500 if settings.quick else 3_000
        waiting = list(session.scalars(select(Message.id).where(
            Message.status == MessageStatus.SCHEDULED, Message.due_at <= clock.now())
            .order_by(Message.due_at, Message.id)))
        if len(waiting) > left_cap:
            cut = waiting[left_cap:]
            for at in range(0, len(cut), 500):
                session.execute(update(Message).where(Message.id.in_(cut[at:at + 500]))
                                .values(status="cancelled"))
        elif len(waiting) < left_cap:  # B3's senders got through them: give it some to send
            session.execute(insert(Message), rows(0, left_cap - len(waiting), "confirmation",
                                                  lambda i: clock.now() - timedelta(minutes=1)))
        session.commit()
        total = session.scalar(select(func.count()).select_from(Message))
        session.rollback()  # no read transaction left open across the child's writes
        peak, took, output = _dispatch_once(url)
        figures.append(Figure("B4", "dispatcher peak RSS (VmHWM), `scheduler dispatch`",
                              round(peak, 1), "MB", "<= 200",
                              detail=f"{left_cap:,} due of {total:,} rows in "
                                     f"{took:.1f} s: {output}"))

        # The delay from due to sent under `scheduler run`.
        session.rollback()
        probes = 4 if settings.quick else 8
        spread = 8.0 if settings.quick else 20.0
        start = clock.now() + timedelta(seconds=3)
        session.execute(insert(Message), rows(0, probes, "confirmation",
                                              lambda i: start + timedelta(
                                                  seconds=spread * i / max(1, probes - 1))))
        session.commit()
        probe_ids = list(session.scalars(select(Message.id).order_by(Message.id.desc())
                                         .limit(probes)))
        delays, peak_run = _scheduler_run(session, Message, probe_ids, spread + 2 * POLL + 15)
        worst = max(delays) if len(delays) == probes else None
        figures.append(Figure(
            "B3", "due → sent under `scheduler run` (worst)",
            None if worst is None else round(worst, 1), "s", f"<= {POLL}",
            detail=(f"{len(delays)}/{probes} sent; median {statistics.median(delays):.1f} s"
                    if delays else "none sent") + f"; process peak RSS {peak_run:.0f} MB"))
        db.engine.dispose()
    return figures


def _dispatch_once(url: str) -> tuple[float, float, str]:
    """`flask scheduler dispatch` as a child process; its peak RSS, time and output."""
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler",
                             "dispatch"], cwd=ROOT, env=env_for(url), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, peak_rss_mb(proc.pid) or 0)
        time.sleep(0.05)
    output = proc.stdout.read()
    took = time.perf_counter() - began
    if proc.returncode:
        raise RuntimeError(f"scheduler dispatch failed:\n{output}")
    sent = [line for line in output.splitlines() if line.startswith("send_due")]
    return peak, took, (sent[0] if sent else output.strip()[-200:])


def _scheduler_run(session, Message, ids: list[int], timeout: float) -> tuple[list[float], float]:
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
                            cwd=ROOT, env=env_for(str(session.get_bind().url
                                                      .render_as_string(hide_password=False))),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0.0
    delays: list[float] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            peak = max(peak, peak_rss_mb(proc.pid) or 0)
            rows = session.execute(select(Message.due_at, Message.sent_at)
                                   .where(Message.id.in_(ids), Message.sent_at.is_not(None))).all()
            session.rollback()
            if len(rows) == len(ids):
                delays = [(sent - due).total_seconds() for due, sent in rows]
                break
            time.sleep(0.5)
        else:
            delays = [(sent - due).total_seconds() for due, sent in rows]
    finally:
        stop(proc)
    return delays, peak
