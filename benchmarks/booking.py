"""B2 booking: 16 clients POSTing /api/v1/bookings for a fixed time, on SQLite and PostgreSQL.

The demo clinic, served by gunicorn. The clients take the free facial and extraction slots of
the bookable window (from the availability endpoint); half of their requests aim at the same
six slots, half at a random one; every request has a fresh phone number (a number may book
five times a day). Then SQL checks that no two non-cancelled visits of one provider overlap,
buffer included.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text

from .common import (
    Figure,
    Progress,
    Settings,
    gunicorn,
    load_median,
    migrate_and_seed,
    postgres_reachable,
    wipe_postgres,
)

CLIENTS = 16
OVERLAPS = """
SELECT count(*) FROM appointment a JOIN appointment b
  ON a.provider_id = b.provider_id AND a.id < b.id
 WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
   AND a.start_at < b.busy_until AND b.start_at < a.busy_until
"""


def run(settings: Settings, progress: Progress) -> list[Figure]:
    figures: list[Figure] = []
    databases = [("SQLite", f"sqlite:///{settings.workdir / 'b2.db'}")]
    if settings.pg:
        why = postgres_reachable(settings.pg)
        if why:
            figures.append(Figure("B2", "PostgreSQL", None, detail=f"left out: {why}"))
        else:
            wipe_postgres(settings.pg)
            databases.append(("PostgreSQL", settings.pg))
    for n, (name, url) in enumerate(databases):
        advance = progress.task(f"B2 {name}: migrate, seed, load", 3)
        migrate_and_seed(url)
        advance(1)
        with gunicorn(url, settings.workdir / f"b2-{name}.log") as server:
            slots = _slots(server)
            healthz, _ = load_median(server.base, CLIENTS, settings, paths=["/healthz"])
            advance(1)
            rate, runs = load_median(server.base, CLIENTS, settings, kind="book", slots=slots,
                                     hot=6, seed=n, run=n)
            advance(1)
        codes: dict[str, int] = {}
        for r in runs:
            for code, count in r["codes"].items():
                codes[code] = codes.get(code, 0) + count
        errors = sum(r["errors"] for r in runs)
        engine = create_engine(url)
        with engine.connect() as conn:
            overlaps = conn.execute(text(OVERLAPS)).scalar()
            visits = conn.execute(text(
                "SELECT count(*) FROM appointment WHERE status <> 'cancelled'")).scalar()
        engine.dispose()
        other = {k: v for k, v in codes.items() if k not in ("201", "409")}
        figures.append(Figure(
            "B2", f"bookings ÷ healthz, {CLIENTS} clients, {name}", round(rate / healthz, 3), "",
            ">= 0.2", detail=f"{rate:.0f} vs {healthz:.0f} req/s; 201: {codes.get('201', 0)}, "
                             f"409: {codes.get('409', 0)}"
                             + (f", other: {other}" if other else "")
                             + (f", connection errors {errors}" if errors else "")
                             + f"; p50 {runs[0]['p50_ms']} ms, p99 {runs[0]['p99_ms']} ms"))
        figures.append(Figure("B2", f"overlapping visits after the load, {name}", overlaps, "",
                              "<= 0", detail=f"{visits} visits held, {len(slots)} slots aimed at"))
    return figures


def _slots(server) -> list[list[str]]:
    """Every free facial and extraction start in the bookable window."""
    tz = ZoneInfo("America/Los_Angeles")
    today = datetime.now(tz).date()
    out = []
    for service in ("facial", "extraction"):
        status, raw = server.get(f"/api/v1/availability?service={service}&from={today}"
                                 f"&to={today + timedelta(days=61)}")
        assert status == 200, raw
        out += [[service, s["start"]] for s in json.loads(raw)["slots"]]
    assert out, "no free slot to book"
    return out
