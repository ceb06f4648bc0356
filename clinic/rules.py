"""The clinic's adjustable numbers (SPEC section 2), in one place."""

from dataclasses import dataclass
from datetime import timedelta

DERMATOLOGIST_CONCERNS = frozenset({"pustules", "cysts", "milia", "infection_signs"})
CONCERNS = (
    "blackheads",
    "whiteheads",
    "clogged_pores",
    "pustules",
    "cysts",
    "milia",
    "infection_signs",
    "other",
)


@dataclass(frozen=True)
class ClinicRules:
    grid: timedelta = timedelta(minutes=15)
    lead_time: timedelta = timedelta(hours=2)
    horizon: timedelta = timedelta(days=60)
    extraction_gap: timedelta = timedelta(days=14)
    event_soon_days: int = 3
    late_change: timedelta = timedelta(hours=24)
    max_range_days: int = 62


DEFAULT_RULES = ClinicRules()
