"""UTC in, clinic time out: the one datetime column type and the edges where zones appear."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, hands back aware UTC, and refuses naive datetimes outright."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused: {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def local_datetime(day: date, wall: time, tz: ZoneInfo) -> datetime | None:
    """The aware instant of a wall-clock time, or None when the clocks skip it (spring forward)."""
    candidate = datetime.combine(day, wall, tzinfo=tz)
    roundtrip = candidate.astimezone(UTC).astimezone(tz)
    if roundtrip.replace(tzinfo=None) != candidate.replace(tzinfo=None):
        return None
    return candidate


def day_bounds_utc(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which a clinic day starts and the next one starts (23, 24 or 25 h)."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def iso_local(moment: datetime, tz: ZoneInfo) -> str:
    """ISO 8601 with the clinic's offset, to the second."""
    return moment.astimezone(tz).isoformat(timespec="seconds")


def parse_aware(text: str) -> datetime:
    """An ISO 8601 instant that must carry an offset; raises ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("expected an ISO 8601 string")
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("needs a UTC offset, like 2027-03-15T09:00:00-07:00")
    if not 2000 <= value.year <= 2200:
        raise ValueError("out of range")
    return value.astimezone(UTC)


def clock_time(local: datetime) -> str:
    """'9:00 AM': how clients read a time."""
    hour = local.hour % 12 or 12
    return f"{hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def now_utc() -> datetime:
    return datetime.now(UTC)
