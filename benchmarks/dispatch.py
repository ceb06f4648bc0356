"""Dispatcher cost as history grows: sending 200 due texts with 0, 50k and 200k sent ones on file.

Run: python benchmarks/dispatch.py [DATABASE_URL]   (default: a temporary SQLite file)
"""

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_migrate import upgrade
from sqlalchemy import insert, select, update

from clinic import create_app
from clinic.config import TestConfig
from clinic.extensions import db
from clinic.messaging import bodies, dispatch
from clinic.messaging.senders import MemorySender
from clinic.models import Appointment, Client, Message, Provider, Service
from clinic.rules import Clinic
from clinic.seed import seed_demo

NOW = datetime(2027, 3, 1, 16, 0, tzinfo=UTC)
DUE = 200


def rows(appt: Appointment, count: int, status: str, due: datetime) -> list[dict]:
    return [dict(appointment_id=appt.id, client_id=appt.client_id, kind="confirmation",
                 due_at=due, not_after=appt.start_at, status=status, attempts=1,
                 created_at=due, updated_at=due) for _ in range(count)]


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    app = create_app(TestConfig(url))
    tz = ZoneInfo("America/Los_Angeles")
    with app.app_context():
        upgrade()
        seed_demo(db.session)
        service = db.session.scalar(select(Service).where(Service.slug == "facial"))
        provider = db.session.scalar(select(Provider).where(Provider.role == "aesthetician"))
        client = Client(name="Bench", phone="+14155550199", created_at=NOW)
        start = NOW + timedelta(days=2)
        appt = Appointment(service=service, provider=provider, client=client, start_at=start,
                           end_at=start + timedelta(hours=1),
                           busy_until=start + timedelta(minutes=75), price_cents=8000,
                           intake={}, manage_token="bench-token-0123456789", created_at=NOW,
                           updated_at=NOW)
        db.session.add(appt)
        db.session.commit()
        history = 0
        for target in (0, 50_000, 200_000):
            for chunk in range(history, target, 10_000):
                db.session.execute(insert(Message), rows(appt, min(10_000, target - chunk),
                                                         "sent", NOW - timedelta(days=30)))
            history = target
            db.session.execute(update(Message).where(Message.status != "sent")
                               .values(status="cancelled"))
            db.session.execute(insert(Message), rows(appt, DUE, "scheduled", NOW))
            db.session.commit()
            began = time.perf_counter()
            counts = dispatch.send_due(db.session, clock=lambda: NOW, sender=MemorySender(),
                                       render=bodies.render, clinic=Clinic(tz),
                                       rng=random.Random(1))
            ms = (time.perf_counter() - began) * 1000
            print(f"history {history:>7} sent texts: {ms:7.1f} ms for {DUE} due "
                  f"({ms / DUE:.2f} ms each), { {str(k): v for k, v in counts.items()} }")


if __name__ == "__main__":
    main()
