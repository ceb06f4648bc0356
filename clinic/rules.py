"""The clinic's adjustable numbers (SPEC section 2), in one place."""

from dataclasses import dataclass
from datetime import timedelta

DERMATOLOGIST_CONCERNS = frozenset({"pustules", "cysts", "milia", "infection_signs"})
#: Intake concerns and how the client sees them.
CONCERN_LABELS = {
    "blackheads": "Blackheads",
    "whiteheads": "Whiteheads",
    "clogged_pores": "Clogged pores",
    "pustules": "Pustules (red bumps with pus)",
    "cysts": "Deep, painful cysts",
    "milia": "Milia (small hard white bumps)",
    "infection_signs": "Painful, warm or growing spots",
    "other": "Something else",
}
CONCERNS = tuple(CONCERN_LABELS)


def a_role(role: str) -> str:
    """'an aesthetician', 'a dermatologist'."""
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


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
