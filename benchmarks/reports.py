"""B5 reports: the owner's 12-week report on a big history.

100,000 visits (10,000 with --quick) with their texts, replies and follow-ups, written by
`clinic.history.fill_history` over a year (plain rows over four years, visits with texts and
check-in replies, when that module is missing); then the 12-week report (the page's figures and
its CSV), median of 5, and a two-year report for scale.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from .common import Figure, Progress, Settings, app_for

NOW = datetime(2027, 3, 1, 16, 0, tzinfo=UTC)
PROVIDERS = 40  #: visits are spread over them so none overlap (PostgreSQL's exclusion)
FIRST = NOW - timedelta(days=4 * 365)
CHUNK = 5000


def run(settings: Settings, progress: Progress) -> list[Figure]:
    from clinic import clock, reports
    from clinic.extensions import db
    from clinic.messaging.models import InboundMessage, Message
    from clinic.models import Appointment

    visits = 2_000 if settings.tiny else 10_000 if settings.quick else 100_000
    url = settings.database("b5")
    app = app_for(url)
    app.config["CLOCK"] = lambda: NOW
    with app.app_context():
        began = time.perf_counter()
        how = fill(visits, progress)
        if how is None:
            how = "plain rows"
            build(random.Random(7), visits, visits // 5, progress)
        counts = {name: db.session.scalar(select(func.count()).select_from(model))
                  for name, model in (("visits", Appointment), ("texts", Message),
                                      ("replies", InboundMessage))}
        built = time.perf_counter() - began
        clinic = clock.clinic()
        first, last = reports.default_range(NOW.astimezone(clinic.tz).date())

        def report(since):
            def once():
                reports.rows(reports.build(db.session, since, last, clinic, NOW))
                db.session.rollback()
            timings = []
            for _ in range(5):
                began = time.perf_counter()
                once()
                timings.append((time.perf_counter() - began) * 1000)
            return statistics.median(timings), timings

        ms, timings = report(first)
        two_years = None if settings.tiny else report(last - timedelta(days=reports.MAX_DAYS))[0]
        db.engine.dispose()
    shown = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    return [
        Figure("B5", f"12-week report, {visits:,} visits", round(ms, 1), "ms", "<= 300",
               detail=f"{shown} ({how}, built in {built:.0f} s); runs "
                      + ", ".join(f"{t:.0f}" for t in timings)),
    ] + ([] if two_years is None else [
        Figure("B5", f"2-year report, {visits:,} visits", round(two_years, 1), "ms",
               detail="no goal; for scale")])


def fill(visits: int, progress: Progress) -> str | None:
    """The history by `clinic.history.fill_history`, when it exists; how it was made."""
    try:
        from clinic.history import fill_history
    except ImportError:
        return None
    from clinic import clock
    from clinic.extensions import db

    clinic = clock.clinic()
    days = 365
    open_days = days * 6 / 7 + 12  # Monday to Saturday, and two weeks ahead
    fill_history(db.session, now=NOW, clinic=clinic, days=days, per_day=visits / open_days,
                 seed=7, progress=progress.callback(f"B5 fill_history, ~{visits:,} visits"))
    return "clinic.history.fill_history"


def build(rng: random.Random, VISITS: int, CLIENTS: int, progress: Progress) -> None:
    from clinic.extensions import db
    from clinic.messaging.models import InboundMessage, Message
    from clinic.models import Appointment, Client, Provider, Service

    STEP = (NOW + timedelta(days=30) - FIRST) / (VISITS // PROVIDERS)
    advance = progress.task(f"B5 {VISITS:,} visits with texts and replies", 3)
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
    advance(1)

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
    advance(1)
    for at in range(0, len(replies), CHUNK):
        db.session.execute(insert(InboundMessage), replies[at:at + CHUNK])
    db.session.commit()
    advance(1)


def _text(appt_id, client_id, kind, due, status, code=None, note=None) -> dict:
    handed = status != "scheduled"
    return dict(appointment_id=appt_id, client_id=client_id, kind=kind, due_at=due,
                status=status, attempts=int(handed), error_code=code, note=note,
                claimed_at=due if handed else None,
                sent_at=due if status in ("sent", "delivered") else None,
                created_at=due - timedelta(days=1), updated_at=due)
