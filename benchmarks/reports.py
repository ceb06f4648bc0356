"""The owner's report on a big history: 100,000 visits over about four years, with their texts
(about five a visit) and check-in replies, then a 12-week report (the page's figures and its
CSV), median of 5.

Run: python benchmarks/reports.py [DATABASE_URL]   (default: a temporary SQLite file)
"""

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from clinic import create_app, reports
from clinic.config import TestConfig
from clinic.extensions import db
from clinic.messaging.models import InboundMessage, Message
from clinic.models import Appointment, Client, Provider, Service
from clinic.seed import seed_demo

NOW = datetime(2027, 3, 1, 16, 0, tzinfo=UTC)
VISITS = 100_000
CLIENTS = 20_000
PROVIDERS = 40  #: visits are spread over them so none overlap (PostgreSQL's exclusion)
FIRST = NOW - timedelta(days=4 * 365)
STEP = (NOW + timedelta(days=30) - FIRST) / (VISITS // PROVIDERS)
CHUNK = 5000


def build(rng: random.Random) -> None:
    services = list(db.session.scalars(select(Service).order_by(Service.id)))
    role_providers = {}
    for n in range(PROVIDERS):
        role = services[n % 2].provider_role
        provider = Provider(name=f"Bench {n}", role=role, board_certified=True)
        db.session.add(provider)
        role_providers.setdefault(role, []).append(provider)
    db.session.flush()
    providers = [p for n in range(PROVIDERS // 2) for p in
                 (role_providers[services[0].provider_role][n],
                  role_providers[services[1].provider_role][n])]
    db.session.execute(insert(Client), [
        dict(name=f"Bench {i}", phone=f"+1415{i:07d}", created_at=FIRST) for i in range(CLIENTS)])
    client_ids = list(db.session.scalars(select(Client.id)))
    db.session.commit()

    visits = []
    for i in range(VISITS):
        service = services[i % 2]
        start = FIRST + STEP * (i // PROVIDERS) + timedelta(minutes=15 * rng.randrange(8))
        end = start + timedelta(minutes=service.duration_minutes)
        roll = rng.random()
        if start > NOW:
            status = "booked"
        else:
            status = ("no_show" if roll < .08 else "cancelled" if roll < .18 else "completed")
        created = start - timedelta(days=rng.randrange(1, 40), minutes=rng.randrange(600))
        visits.append(dict(
            service_id=service.id, provider_id=providers[i % PROVIDERS].id,
            client_id=rng.choice(client_ids), start_at=start, end_at=end,
            busy_until=end + timedelta(minutes=service.buffer_minutes), status=status,
            price_cents=service.price_cents, currency="USD", intake={},
            manage_token=f"bench-{i}", late_change=roll > .97, created_at=created,
            created_by="bench", updated_at=start,
            cancelled_at=(start - timedelta(hours=rng.randrange(1, 200))
                          if status == "cancelled" else None)))
    for at in range(0, len(visits), CHUNK):
        db.session.execute(insert(Appointment), visits[at:at + CHUNK])
    db.session.commit()

    rows = db.session.execute(select(Appointment.id, Appointment.client_id, Appointment.start_at,
                                     Appointment.end_at, Appointment.status)).all()
    texts, replies, sid = [], [], 0
    for appt_id, client_id, start, end, status in rows:
        start, end = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
        plan = [("confirmation", start - timedelta(days=8)),
                ("reminder", start - timedelta(days=1))]
        if status == "completed":
            plan += [("aftercare", end), ("redness_checkin", end + timedelta(hours=24)),
                     ("purging_checkin", end + timedelta(hours=48))]
        for kind, due in plan:
            if due > NOW:
                texts.append(_text(appt_id, client_id, kind, due, "scheduled"))
                continue
            roll = rng.random()
            if roll < .03:
                failed = rng.choice([(21610, "number has opted out (21610)"),
                                     (30006, "undeliverable (30006)"),
                                     (30003, "carrier error 30003; gave up after 5 attempts"),
                                     (30007, "carrier error 30007")])
                texts.append(_text(appt_id, client_id, kind, due, "failed", *failed))
            else:
                texts.append(_text(appt_id, client_id, kind, due,
                                   "sent" if roll < .1 else "delivered"))
            if kind.endswith("checkin") and rng.random() < .4:
                sid += 1
                bad = rng.random() < .2
                action = ("checkin_ok" if not bad else
                          "redness_bad" if kind == "redness_checkin" else "purging_bad")
                replies.append(dict(message_sid=f"SMbench{sid}", client_id=client_id,
                                    from_phone="+14150000000", body="1" if bad else "2",
                                    action=action, appointment_id=appt_id,
                                    received_at=due + timedelta(minutes=rng.randrange(5, 300))))
    for at in range(0, len(texts), CHUNK):
        db.session.execute(insert(Message), texts[at:at + CHUNK])
    for at in range(0, len(replies), CHUNK):
        db.session.execute(insert(InboundMessage), replies[at:at + CHUNK])
    db.session.commit()


def _text(appt_id, client_id, kind, due, status, code=None, note=None) -> dict:
    handed = status != "scheduled"
    return dict(appointment_id=appt_id, client_id=client_id, kind=kind, due_at=due,
                status=status, attempts=int(handed), error_code=code, note=note,
                claimed_at=due if handed else None,
                sent_at=due if status in ("sent", "delivered") else None,
                created_at=due - timedelta(days=1), updated_at=due)


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    config = TestConfig(url)
    config.CLOCK = lambda: NOW
    app = create_app(config)
    with app.app_context():
        upgrade()
        seed_demo(db.session)
        began = time.perf_counter()
        build(random.Random(7))
        counts = {name: db.session.scalar(select(func.count()).select_from(model))
                  for name, model in (("visits", Appointment), ("texts", Message),
                                      ("replies", InboundMessage))}
        print(f"built {counts} in {time.perf_counter() - began:.0f} s on "
              f"{db.engine.dialect.name}")
        from clinic import clock
        clinic = clock.clinic()
        first, last = reports.default_range(NOW.astimezone(clinic.tz).date())
        timings = []
        for _ in range(5):
            began = time.perf_counter()
            report = reports.build(db.session, first, last, clinic, NOW)
            reports.rows(report)
            timings.append((time.perf_counter() - began) * 1000)
            db.session.rollback()
        each = ", ".join(f"{t:.0f}" for t in timings)
        print(f"12-week report ({first} to {last}, {len(report.weeks)} weeks): median "
              f"{statistics.median(timings):.1f} ms of 5 ({each})")
        first2 = last - timedelta(days=reports.MAX_DAYS)
        timings = []
        for _ in range(5):
            began = time.perf_counter()
            reports.rows(reports.build(db.session, first2, last, clinic, NOW))
            timings.append((time.perf_counter() - began) * 1000)
            db.session.rollback()
        print(f"2-year report: median {statistics.median(timings):.1f} ms of 5")
        db.engine.dispose()


if __name__ == "__main__":
    main()
