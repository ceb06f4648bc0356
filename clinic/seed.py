"""Demo data: the two services the README describes and one provider of each role."""

from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from .care import AFTERCARE, PREPARATION, WHAT_TO_EXPECT
from .models import Provider, Service, WorkingHours
from .tx import transaction

SERVICES = [
    dict(slug="facial", name="Facial", price_cents=8000, duration_minutes=60, buffer_minutes=15,
         provider_role="aesthetician", includes_extraction=True, purging_checkin=True,
         pause_topicals_days=3,
         description="Deep cleanse, gentle extractions of blackheads and clogged pores, and a "
                     "calming mask. A little redness for a day is normal."),
    dict(slug="extraction", name="Dermatologist extraction", price_cents=20000,
         duration_minutes=30, buffer_minutes=15, provider_role="dermatologist",
         includes_extraction=True, purging_checkin=False, pause_topicals_days=5,
         description="A board-certified dermatologist treats cysts, milia and stubborn or "
                     "inflamed spots safely, with sterile instruments."),
]
PROVIDERS = [
    dict(name="Aesthetician", role="aesthetician", board_certified=False),
    dict(name="Dermatologist", role="dermatologist", board_certified=True),
]
WEEK = range(0, 6)  # Monday to Saturday
OPENS, CLOSES = time(9), time(17)


def seed_demo(session: Session) -> dict[str, int]:
    """Adds what is missing and leaves what exists alone; returns how many rows it added."""
    added = {"services": 0, "providers": 0}
    with transaction(session):
        for data in SERVICES:
            if session.scalar(select(Service).where(Service.slug == data["slug"])) is None:
                slug = data["slug"]
                session.add(Service(**data, preparation=PREPARATION[slug],
                                    what_to_expect=WHAT_TO_EXPECT[slug],
                                    aftercare=AFTERCARE[slug]))
                added["services"] += 1
        for data in PROVIDERS:
            if session.scalar(select(Provider).where(Provider.name == data["name"])) is None:
                provider = Provider(**data)
                provider.hours = [WorkingHours(weekday=d, starts=OPENS, ends=CLOSES)
                                  for d in WEEK]
                session.add(provider)
                added["providers"] += 1
    return added
