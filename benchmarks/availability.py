"""Availability cost as history grows: a 62-day query with 0, 10k and 100k past visits on file.

Run: python benchmarks/availability.py [DATABASE_URL]   (default: a temporary SQLite file)
"""

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from flask_migrate import upgrade
from sqlalchemy import insert, select

from clinic import create_app
from clinic.config import TestConfig
from clinic.extensions import db
from clinic.models import Appointment, Client, Provider, Service
from clinic.seed import seed_demo

NOW = datetime(2027, 3, 1, 16, 0, tzinfo=UTC)


def add_history(first: int, last: int, service: Service, provider: Provider,
                client: Client) -> None:
    """Back-to-back half-hour visits, the newest a week before now, oldest about six years."""
    rows = []
    for i in range(first, last):
        s = NOW - timedelta(days=7) - timedelta(minutes=30 * (i + 1))
        rows.append(dict(service_id=service.id, provider_id=provider.id, client_id=client.id,
                         start_at=s, end_at=s + timedelta(minutes=30),
                         busy_until=s + timedelta(minutes=30), status="completed",
                         price_cents=8000, currency="USD", intake={},
                         manage_token=f"bench-{provider.id}-{i}", late_change=False,
                         created_at=s, created_by="bench", updated_at=s))
    for chunk in range(0, len(rows), 5000):
        db.session.execute(insert(Appointment), rows[chunk:chunk + 5000])
    db.session.commit()


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    config = TestConfig(url)
    config.CLOCK = lambda: NOW
    app = create_app(config)
    with app.app_context():
        upgrade()
        seed_demo(db.session)
        service = db.session.scalar(select(Service).where(Service.slug == "facial"))
        provider = db.session.scalar(select(Provider).where(Provider.role == "aesthetician"))
        client = Client(name="Bench", phone="+14155550199", created_at=NOW)
        db.session.add(client)
        db.session.commit()
        http = app.test_client()
        total = 0
        for target in (0, 10_000, 100_000):
            add_history(total, target, service, provider, client)
            total = target
            query = "/api/v1/availability?service=facial&from=2027-03-01&to=2027-05-01"
            http.get(query)
            timings = []
            for _ in range(15):
                began = time.perf_counter()
                slots = http.get(query).json["slots"]
                timings.append((time.perf_counter() - began) * 1000)
            ms = sorted(timings)[len(timings) // 2]
            print(f"history {total:>7} visits: median {ms:6.1f} ms per 62-day query, "
                  f"{len(slots)} slots")


if __name__ == "__main__":
    main()
