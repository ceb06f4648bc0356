"""B1 availability and B4's web-worker memory.

The demo clinic plus nine more aestheticians (retired, brought in for the 10-provider case),
two booked visits a day each in the coming fortnight, and 0 / 1,000 / 100,000 past visits
(plain rows, spread over the ten aestheticians). At each size, for 1 and 10 providers:
the domain (`availability.slots_between`, in process) and the endpoint
`GET /api/v1/availability?service=facial` over 14 days under 8 keep-alive clients, against
`GET /healthz` under the same load. Afterwards the gunicorn workers' peak RSS (B4), and, for
scale, the endpoint with every answer computed afresh (`SLOT_CACHE_SIZE=0`).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import insert, select, update

from .common import Figure, Progress, Settings, gunicorn, load_median, median_ms, peak_rss_mb

CLIENTS = 8
EXTRA = 9  #: aestheticians added for the 10-provider case


def sizes(settings: Settings) -> list[int]:
    return [0, 1_000, 20_000] if settings.quick else [0, 1_000, 100_000]


def run(settings: Settings, progress: Progress) -> list[Figure]:
    from clinic import availability, clock
    from clinic.booking import providers_for
    from clinic.extensions import db
    from clinic.models import Appointment, Client, Provider, Service, WorkingHours
    from clinic.seed import CLOSES, OPENS, WEEK

    from .common import app_for

    url = settings.database("b1")
    app = app_for(url)
    figures: list[Figure] = []
    with app.app_context():
        session = db.session
        service = session.scalar(select(Service).where(Service.slug == "facial"))
        first = session.scalar(select(Provider).where(Provider.role == "aesthetician"))
        extra = [Provider(name=f"Bench aesthetician {n}", role="aesthetician",
                          board_certified=False, active=False,
                          hours=[WorkingHours(weekday=d, starts=OPENS, ends=CLOSES) for d in WEEK])
                 for n in range(EXTRA)]
        session.add_all(extra)
        client = Client(name="Bench", phone="+14155550199", created_at=clock.now())
        session.add(client)
        session.commit()
        aestheticians = [first.id, *(p.id for p in extra)]
        clinic, now = clock.clinic(), clock.now()
        today = now.astimezone(clinic.tz).date()
        _book_fortnight(session, Appointment, service, aestheticians, client.id, today, clinic.tz,
                        now)
        path = (f"/api/v1/availability?service=facial&from={today}"
                f"&to={today + timedelta(days=13)}")

        def set_providers(count: int) -> None:
            session.execute(update(Provider).where(Provider.id.in_([p.id for p in extra]))
                            .values(active=count > 1))
            session.commit()

        def domain() -> int:
            chosen = providers_for(session, service, None)
            slots = availability.slots_between(session, service, chosen, today,
                                               today + timedelta(days=13), now=clock.now(),
                                               clinic=clock.clinic())
            session.rollback()
            return len(slots)

        with gunicorn(url, settings.workdir / "b1-gunicorn.log") as server:
            healthz, _ = load_median(server.base, CLIENTS, settings, paths=["/healthz"])
            figures.append(Figure("B1", f"GET /healthz, {CLIENTS} clients", healthz, "req/s"))
            made = 0
            domain_ms: dict[tuple[int, int], float] = {}
            endpoint: dict[tuple[int, int], float] = {}
            for size in sizes(settings):
                if size > made:
                    _history(session, Appointment, service, aestheticians, client.id, now,
                             made, size, progress)
                    made = size
                for count in (1, 10):
                    set_providers(count)
                    slots = domain()
                    ms, _ = median_ms(domain, 7 if settings.quick else 20)
                    status, _ = server.get(path)
                    assert status == 200, status
                    rate, runs = load_median(server.base, CLIENTS, settings, paths=[path])
                    bad = sum(v for r in runs for k, v in r["codes"].items() if k != "200")
                    domain_ms[size, count], endpoint[size, count] = ms, rate
                    label = f"{size:,} past visits, {count} provider{'s' * (count > 1)}"
                    figures.append(Figure("B1", f"domain, {label}", round(ms, 2), "ms",
                                          detail=f"{slots} slots"))
                    figures.append(Figure(
                        "B1", f"endpoint ÷ healthz, {label}", round(rate / healthz, 3), "",
                        ">= 0.4", detail=f"{rate:.0f} req/s; p50 {runs[0]['p50_ms']} ms"
                                         + (f"; {bad} non-200" if bad else "")))
            top = sizes(settings)[-1]
            for count in (1, 10):
                many = f"{count} provider{'s' * (count > 1)}"
                figures.append(Figure(
                    "B1", f"domain growth {top:,} ÷ 1,000 visits, {many}",
                    round(domain_ms[top, count] / domain_ms[1_000, count], 3), "×", "<= 1.3"))
                figures.append(Figure(
                    "B1", f"endpoint growth {top:,} ÷ 1,000 visits, {many}",
                    round(endpoint[1_000, count] / endpoint[top, count], 3), "×", "<= 1.3",
                    detail="time per request, from req/s"))
            peaks = [peak_rss_mb(pid) or 0 for pid in server.workers()]
            figures.append(Figure("B4", "web worker peak RSS (VmHWM) after B1's load",
                                  round(max(peaks), 1), "MB", "<= 120",
                                  detail="workers: " + ", ".join(f"{p:.0f}" for p in peaks)))
        # For scale, no goal: the same endpoint with every answer computed afresh, as after
        # each change to the schedule (the workers keep no answers: SLOT_CACHE_SIZE=0).
        top = sizes(settings)[-1]
        with gunicorn(url, settings.workdir / "b1-uncached.log", SLOT_CACHE_SIZE="0") as server:
            healthz, _ = load_median(server.base, CLIENTS, settings, paths=["/healthz"])
            for count in (1, 10):
                set_providers(count)
                rate, runs = load_median(server.base, CLIENTS, settings, paths=[path])
                figures.append(Figure(
                    "B1", f"endpoint ÷ healthz, every answer computed, {top:,} past visits, "
                          f"{count} provider{'s' * (count > 1)}", round(rate / healthz, 3), "",
                    detail=f"{rate:.0f} vs {healthz:.0f} req/s; p50 {runs[0]['p50_ms']} ms; "
                           "SLOT_CACHE_SIZE=0, no goal"))
    return figures


def _book_fortnight(session, Appointment, service, providers, client_id, today, tz, now):
    """Two booked visits a working day per provider (10:00 and 14:00) for 14 days."""
    rows = []
    for offset in range(14):
        day = today + timedelta(days=offset)
        if day.weekday() == 6:
            continue
        for hour in (10, 14):
            start = datetime.combine(day, time(hour), tz)
            if start < now:
                continue
            for pid in providers:
                end = start + timedelta(minutes=service.duration_minutes)
                rows.append(_visit(service, pid, client_id, start, end, "booked", now,
                                   f"bench-f-{pid}-{offset}-{hour}"))
    session.execute(insert(Appointment), rows)
    session.commit()


def _history(session, Appointment, service, providers, client_id, now, first, last, progress):
    """Past visits first..last: back to back per provider, the newest two days ago."""
    advance = progress.task(f"B1 past visits {first:,} → {last:,}", last - first)
    step = timedelta(minutes=service.duration_minutes + service.buffer_minutes)
    rows = []
    for i in range(first, last):
        start = now - timedelta(days=2) - step * (i // len(providers) + 1)
        end = start + timedelta(minutes=service.duration_minutes)
        rows.append(_visit(service, providers[i % len(providers)], client_id, start, end,
                           "completed", start, f"bench-h-{i}"))
        if len(rows) == 5000:
            session.execute(insert(Appointment), rows)
            advance(len(rows))
            rows = []
    if rows:
        session.execute(insert(Appointment), rows)
        advance(len(rows))
    session.commit()


def _visit(service, provider_id, client_id, start, end, status, created, token) -> dict:
    return dict(service_id=service.id, provider_id=provider_id, client_id=client_id,
                start_at=start, end_at=end,
                busy_until=end + timedelta(minutes=service.buffer_minutes), status=status,
                price_cents=service.price_cents, currency="USD", intake={}, manage_token=token,
                late_change=False, created_at=created, created_by="bench", updated_at=created)
