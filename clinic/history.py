"""A past for the demo clinic: a year of visits, their texts, clients' replies and follow-ups.

`fill_history` walks each provider's working days from `days` ago to two weeks ahead and
fills a share of each day on the slot grid, never overlapping (buffers included), so the
staff schedule, a visit's page, the inbox and the reports have something true-looking to show.
Every row follows the product's own rules: texts are planned by `messaging.plan` (quiet hours,
the reminder only when booked more than a day ahead, the pause text for topicals users),
outcomes and texts go together (a no-show gets no aftercare, a cancellation cancels what was
not sent), a client's extraction visits keep the cadence gap, and replies mean what
`messaging.replies` would make of them.

Framework-free: a session, `now` and the clinic (`rules.Clinic`). Deterministic for a seed
(`random.Random(seed)`), except each visit's manage link, which is a real secret as always.
Rows go in with bulk inserts carrying their ids, a transaction per chunk of a few thousand
visits, so 100,000 visits take seconds. Run it before the app serves (the ids are taken from
the tables' current ends); it refuses to run over a history that is already there.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import jinja2
from sqlalchemy import JSON, Enum, func, select, text, update
from sqlalchemy.orm import Session

from . import schedule_version
from .booking import new_token
from .enums import (
    HOLDING,
    BookedVia,
    FollowupStatus,
    MessageKind,
    MessageStatus,
    Outcome,
    Priority,
    ReplyAction,
    StaffRole,
    VisitEvent,
    VisitStatus,
)
from .messaging import plan
from .messaging.bodies import MAX_LENGTH, fit, short_day, since
from .messaging.models import Followup, InboundMessage, Message, MessageEvent
from .models import (
    Appointment,
    AppointmentEvent,
    Client,
    Provider,
    Service,
    StaffUser,
    TimeOff,
    WorkingHours,
)
from .rules import Clinic
from .timeutil import UTCDateTime, clock_time, day_bounds_utc, local_datetime
from .tx import dialect, transaction

PER_DAY = 12  #: visits on an open day: a small clinic
MAX_FILL = 0.75  #: above this share of the providers' slots, more providers are added
CHUNK = 2000  #: visits written per transaction
AHEAD_DAYS = 14  #: visits already booked ahead
DEMO_BASE_URL = "http://127.0.0.1:5000"
SQLITE_CACHE_KB = 131072  #: page cache while writing, so index pages stay in memory
DESK_EMAIL = "desk@demo.clinic"  #: the staff account history's staff actions are by
COUNTS = ("visits", "clients", "messages", "replies", "followups")

AREAS = ("415", "628", "510", "650", "408", "925", "707")  #: clients: <area> 555 1000-9999
UNKNOWN_AREA = "209"  #: texts from numbers the clinic does not know
FIRST_NAMES = (
    "Ava", "Maya", "Sofia", "Chloe", "Priya", "Grace", "Lena", "Nora", "Zoe", "Hana", "Iris",
    "Ruby", "Elena", "Mia", "Leah", "Aisha", "Julia", "Tara", "Mei", "Camila", "Sara", "Emma",
    "Olivia", "Noah", "Liam", "Ethan", "Daniel", "Omar", "Lucas", "Mateo", "Kai", "Jordan",
    "Alex", "Sam", "Riley", "Taylor", "Jamie", "Morgan", "Devon", "Rosa",
)
LAST_NAMES = (
    "Nguyen", "Garcia", "Smith", "Chen", "Patel", "Johnson", "Kim", "Lopez", "Brown", "Singh",
    "Williams", "Martinez", "Lee", "Davis", "Wong", "Rodriguez", "Miller", "Tanaka", "Wilson",
    "Hernandez", "Moore", "Park", "Taylor", "Anderson", "Thomas", "Jackson", "White", "Harris",
    "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Scott", "Green", "Baker", "Adams",
    "Nelson", "Rivera",
)
SKIN = ("blackheads", "whiteheads", "clogged_pores", "other")
DERM = ("cysts", "milia", "pustules", "infection_signs", "blackheads", "clogged_pores")
#: Weekday (0 Monday) weights of demand, and a mild season peaking before the holidays.
WEEKDAY = (0.9, 0.95, 1.0, 1.0, 1.1, 1.15, 1.0)
UNRECOGNISED = (
    "Running 10 min late, sorry!", "Is there parking nearby?", "Can I wear makeup after?",
    "Thank you so much!", "Can I move it to the afternoon?", "Do you take HSA cards?",
    "My skin is a little itchy today, is that normal?", "Who is this?", "ok", "Thanks",
    "Can I use my retinol again tonight?", "See you then", "Is it ok to work out today?",
    "How long should I wait before my next one?", "👍",
)
UNKNOWN_TEXTS = ("Hi, do you sell gift cards?", "Do you do teen facials?",
                 "What are your hours on Saturday?", "Wrong number?")
STAFF_REPLIES = {
    "redness bad": ("Sorry to hear that. A cool compress and a plain moisturiser help; if it "
                    "isn't better tomorrow, call us and we'll see you.",
                    "Thanks for letting us know. Dr. will call you this afternoon."),
    "purging bad": ("That can happen for a few days. Don't squeeze; if it keeps getting worse, "
                    "call us.",),
    "unrecognised reply": ("Yes, that's fine!", "Thanks for letting us know, see you soon.",
                           "Please call us and we'll sort it out."),
}
NOTES = {
    "redness bad": ("Called: redness settling with a cold compress; no visit needed.",
                    "Called, sent photo: mild irritation. Advised plain moisturiser.",
                    "Seen next day by the dermatologist; fine.", "Left a voicemail, then texted."),
    "purging bad": ("Called: normal purging, advised patience and no picking.",
                    "Offered a check-up; client declined, will text if worse."),
    "unrecognised reply": ("Answered by text.", "Called back.", "Nothing needed.",
                           "Moved the visit by phone."),
}
SMS_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "sms"
MINUTE = timedelta(minutes=1)


def fill_history(session: Session, *, now: datetime, clinic: Clinic, days: int = 365,
                 per_day: float | None = None, seed: int = 0,
                 progress: Callable[[int, int], None] | None = None,
                 base_url: str = DEMO_BASE_URL) -> dict[str, int]:
    """Writes `days` of past and two weeks of booked visits with their texts, replies and
    follow-ups; returns how many of each it wrote (all 0 when a history is already there).

    The demo's services and providers must exist (`seed_demo`). `per_day` is visits on an
    open day (default 12); when the providers could not see that many, providers of each
    role are added with the first one's hours. `progress(done, total)` is called per day.
    `base_url` starts the links in the texts' bodies (the app's PUBLIC_BASE_URL).
    """
    if has_history(session, now=now, clinic=clinic, days=days):
        return dict.fromkeys(COUNTS, 0)
    history = History(session, now=now, clinic=clinic, days=days, per_day=per_day,
                      seed=seed, base_url=base_url)
    for batch in history.batches(progress):
        write(session, batch)
    return history.counts()


def has_history(session: Session, *, now: datetime, clinic: Clinic, days: int = 365) -> bool:
    """Whether a history is there already: a visit more than 30 days old, or one in the
    oldest week a run of `days` would write."""
    first = day_bounds_utc(now.astimezone(clinic.tz).date() - timedelta(days=days),
                           clinic.tz)[0]
    limit = max(now - timedelta(days=30), min(first + timedelta(days=7), now - timedelta(days=1)))
    return session.scalar(select(Appointment.id).where(Appointment.start_at < limit)
                          .limit(1)) is not None


# --- What is generated ------------------------------------------------------------------------


@dataclass
class Batch:
    """Rows for one transaction, by table, each with its id where others refer to it."""

    clients: list[dict] = field(default_factory=list)
    visits: list[dict] = field(default_factory=list)
    visit_events: list[dict] = field(default_factory=list)
    inbound: list[dict] = field(default_factory=list)
    followups: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    message_events: list[dict] = field(default_factory=list)
    inbound_links: list[dict] = field(default_factory=list)  #: {id, followup_id}
    client_updates: list[dict] = field(default_factory=list)  #: opted out / undeliverable


@dataclass(frozen=True)
class _Service:
    """What the history needs of a service, read once (rows expire at every commit)."""

    id: int
    slug: str
    name: str
    price_cents: int
    currency: str
    duration_minutes: int
    buffer_minutes: int
    provider_role: str
    includes_extraction: bool
    purging_checkin: bool
    pause_topicals_days: int


@dataclass(frozen=True)
class _Provider:
    id: int
    role: str
    hours: dict  #: weekday -> [(opens, closes)] in minutes of the day, in order


@dataclass
class _Client:
    id: int
    name: str
    phone: str
    topicals: bool
    created_at: datetime
    free_from: datetime  #: nothing of theirs happens before this: their next booking after
    last_day: date | None = None  #: clinic day of their last visit that was not cancelled
    pending: bool = False  #: a visit of theirs is promised (coming back) but not placed yet
    opted_out_at: datetime | None = None
    undeliverable_at: datetime | None = None
    reached: bool = False  #: a text has reached them: their number takes texts
    written: bool = False  #: its row is in an earlier batch: changes go as updates
    open_followup: tuple[int, datetime | None] | None = None  #: (id, closed_at)


@dataclass
class _Comeback:
    """A client coming back within the rebook window, with the same provider."""

    client: _Client
    service: _Service
    lo: date
    hi: date
    kind: str  #: "desk" (booked before leaving), "text" (the rebook text's link), "online"
    not_before: datetime  #: booked at or after this


class History:
    """The generator: `batches()` yields the rows; `write` puts a batch in the database."""

    def __init__(self, session: Session, *, now: datetime, clinic: Clinic, days: int,
                 per_day: float | None, seed: int, base_url: str) -> None:
        self.session, self.now, self.clinic = session, now.astimezone(UTC), clinic
        self.tz, self.rules = clinic.tz, clinic.rules
        self.rng = random.Random(seed)
        self.base_url = base_url.rstrip("/")
        self.today = self.now.astimezone(self.tz).date()
        self.first_day = self.today - timedelta(days=days)
        self.last_day = self.today + timedelta(days=AHEAD_DAYS)
        self.per_day = PER_DAY if per_day is None else per_day
        self.price_change = self.now - timedelta(days=max(1, days) * 0.45)
        self.desk = f"staff:{_desk_account(session, self.now)}"
        self.services = [_Service(
            s.id, s.slug, s.name, s.price_cents, s.currency, s.duration_minutes,
            s.buffer_minutes, s.provider_role, s.includes_extraction, s.purging_checkin,
            s.pause_topicals_days)
            for s in session.scalars(select(Service).where(Service.active).order_by(Service.id))]
        if not self.services:
            raise ValueError("no services: run seed_demo first")
        self.fill = self._providers_for(self.per_day)
        self._load_existing()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(SMS_TEMPLATES), autoescape=False)
        self.n = dict.fromkeys(COUNTS, 0)
        self.comebacks: dict[tuple[int, date], list[_Comeback]] = defaultdict(list)
        self.pool: list[_Client] = []
        self.phone_index = 0
        self.batch = Batch()
        self._dirty: set[int] = set()  #: clients whose opt-out or reachability changed
        self._by_id: dict[int, _Client] = {}
        self._skeletons: dict[tuple, str] = {}

    # --- setting up ---------------------------------------------------------------------------

    def _providers_for(self, per_day: float) -> float:
        """The share of each provider's slots to fill; adds providers when it would be high."""
        by_role: dict[str, list[_Service]] = defaultdict(list)
        for service in self.services:
            by_role[service.provider_role].append(service)
        self.role_services = dict(by_role)
        while True:
            rows = [p for p in self.session.scalars(
                select(Provider).where(Provider.active, Provider.role.in_(list(by_role)))
                .order_by(Provider.id)) if p.hours]
            if not rows:
                raise ValueError("no providers with working hours: run seed_demo first")
            self.providers = [_Provider(p.id, p.role, _stretches(p)) for p in rows]
            self.hours = {p.id: p.hours for p in self.providers}
            weekly = sum(self._capacity(p, wd, s) for p in self.providers
                         for wd in range(7) for s in p.hours.get(wd, ()))
            open_days = sum(1 for wd in range(7) if any(p.hours.get(wd)
                                                        for p in self.providers))
            fill = per_day / (weekly / max(open_days, 1)) if weekly else 1.0
            if fill <= MAX_FILL:
                return fill
            with transaction(self.session):  # one more provider of each role
                for role in by_role:
                    model = next((p for p in rows if p.role == role), None)
                    if model is None:
                        continue
                    count = sum(1 for p in rows if p.role == role)
                    extra = Provider(name=f"{model.name} {count + 1}", role=role,
                                     board_certified=model.board_certified)
                    extra.hours = [WorkingHours(weekday=h.weekday, starts=h.starts, ends=h.ends)
                                   for h in model.hours]
                    self.session.add(extra)

    def _capacity(self, provider: _Provider, weekday: int, stretch: tuple[int, int]) -> float:
        """How many visits fit in one stretch, back to back, on average over the services."""
        grid = _grid_minutes(self.rules)
        opens, closes = stretch
        first = -(-opens // grid) * grid
        fits = []
        for service in self.role_services[provider.role]:
            step = -(-(service.duration_minutes + service.buffer_minutes) // grid)
            last = (closes - service.duration_minutes) // grid * grid
            fits.append(0 if last < first else (last - first) // grid // step + 1)
        return sum(fits) / len(fits)

    def _load_existing(self) -> None:
        """What the history must leave alone: visits and time off already on file, numbers
        already taken, and where each table's ids end."""
        start = day_bounds_utc(self.first_day, self.tz)[0] - timedelta(days=1)
        end = day_bounds_utc(self.last_day, self.tz)[1] + timedelta(days=1)
        self.blocked: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for pid, s, e in self.session.execute(
                select(Appointment.provider_id, Appointment.start_at, Appointment.busy_until)
                .where(Appointment.status.in_(HOLDING), Appointment.start_at >= start,
                       Appointment.start_at < end)):
            self.blocked[pid].append((s, e))
        for pid, s, e in self.session.execute(
                select(TimeOff.provider_id, TimeOff.starts_at, TimeOff.ends_at)
                .where(TimeOff.starts_at < end, TimeOff.ends_at > start)):
            self.blocked[pid].append((s, e))
        self.taken = set(self.session.scalars(select(Client.phone)))
        self.ids = {model: (self.session.scalar(select(func.max(model.id))) or 0)
                    for model in (Client, Appointment, Message, InboundMessage, Followup)}
        self.session.rollback()  # end the read, before the first write takes its lock

    def _id(self, model) -> int:
        self.ids[model] += 1
        return self.ids[model]

    # --- walking the days ---------------------------------------------------------------------

    def batches(self, progress: Callable[[int, int], None] | None = None) -> Iterator[Batch]:
        total = (self.last_day - self.first_day).days + 1
        in_batch = 0
        for index in range(total):
            day = self.first_day + timedelta(days=index)
            in_batch += self._day(day)
            if self.rng.random() < 1 / 40:
                self._unknown_number(day)
            if in_batch >= CHUNK:
                yield self._take()
                in_batch = 0
            if progress is not None:
                progress(index + 1, total)
        if self.batch.visits or self.batch.inbound:
            yield self._take()

    def _take(self) -> Batch:
        batch, self.batch = self.batch, Batch()
        for client in map(self._by_id.get, sorted(self._dirty)):
            if client.written:
                batch.client_updates.append(dict(id=client.id, opted_out_at=client.opted_out_at,
                                                 undeliverable_at=client.undeliverable_at))
        for row in batch.clients:
            client = self._by_id[row["id"]]
            row["opted_out_at"], row["undeliverable_at"] = (client.opted_out_at,
                                                            client.undeliverable_at)
            client.written = True
        self._dirty.clear()
        return batch

    def _day(self, day: date) -> int:
        """One clinic day for every provider; returns how many visits it wrote."""
        rng, wd = self.rng, day.weekday()
        ahead = (day - self.today).days
        share = self.fill * WEEKDAY[wd] / (sum(WEEKDAY[:6]) / 6)
        share *= 1 + 0.1 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 340) / 365)
        if ahead > 0:
            share *= max(0.12, 0.92 - 0.06 * ahead)  # still being booked
        share = min(share, 0.97)
        placed = 0
        for provider in self.providers:
            stretches = self.hours[provider.id].get(wd, ())
            waiting = self.comebacks.pop((provider.id, day), [])
            if not stretches:
                self._carry(waiting, provider, day)
                continue
            wanted = []
            for stretch in stretches:
                cap = int(round(self._capacity(provider, wd, stretch) + 0.49))
                wanted.append(sum(1 for _ in range(cap) if rng.random() < share))
            shortfall = len(waiting) - sum(wanted)
            if shortfall > 0:
                wanted[-1] += shortfall  # promised visits come first; the fit trims extras
            busy_until = None
            slots = []
            for stretch, n in zip(stretches, wanted, strict=True):
                found, busy_until = self._positions(provider, day, stretch, n, busy_until)
                slots += found
            for service, start in slots:
                comeback = next((c for c in waiting if c.service.id == service.id), None)
                if comeback is not None:
                    waiting.remove(comeback)
                self._visit(provider, service, day, start, comeback)
                placed += 1
            self._carry(waiting, provider, day)
        return placed

    def _carry(self, waiting: list[_Comeback], provider: _Provider, day: date) -> None:
        """Promised visits that found no place today try the provider's next working day."""
        for comeback in waiting:
            nxt = day + timedelta(days=1)
            while nxt <= comeback.hi and not self.hours[provider.id].get(nxt.weekday()):
                nxt += timedelta(days=1)
            if nxt <= min(comeback.hi, self.last_day):
                self.comebacks[(provider.id, nxt)].append(comeback)
            else:
                comeback.client.pending = False

    def _positions(self, provider: _Provider, day: date, stretch: tuple[int, int], n: int,
                   busy_until: int | None) -> tuple[list[tuple[_Service, datetime]], int | None]:
        """`n` visits spread at random over one stretch of the grid, one after another with
        their buffers: the free time is dealt out in whole grid steps between them."""
        if n <= 0:
            return [], busy_until
        rng, grid = self.rng, _grid_minutes(self.rules)
        opens, closes = stretch
        first = -(-max(opens, busy_until or 0) // grid) * grid
        services = [rng.choice(self.role_services[provider.role]) for _ in range(n)]
        while services:
            steps = [-(-(s.duration_minutes + s.buffer_minutes) // grid) for s in services]
            last = (closes - services[-1].duration_minutes) // grid * grid
            slack = (last - first) // grid - sum(steps[:-1]) if last >= first else -1
            if slack >= 0:
                break
            services.pop()
        if not services:
            return [], busy_until
        cuts = sorted(rng.sample(range(slack + len(services)), len(services)))
        found, at = [], first // grid
        for i, (service, step) in enumerate(zip(services, steps, strict=True)):
            at += cuts[i] - (cuts[i - 1] + 1 if i else 0)
            minutes = at * grid
            start = local_datetime(day, time(minutes // 60, minutes % 60), self.tz)
            at += step
            if start is None:
                continue
            start = start.astimezone(UTC)
            busy = start + timedelta(minutes=service.duration_minutes + service.buffer_minutes)
            if any(s < busy and start < e for s, e in self.blocked.get(provider.id, ())):
                continue
            if found and start < found[-1][2]:
                continue  # a clock change inside the stretch: never overlap
            found.append((service, start, busy))
            busy_until = minutes + service.duration_minutes + service.buffer_minutes
        return [(s, start) for s, start, _ in found], busy_until

    # --- one visit --------------------------------------------------------------------------

    def _visit(self, provider: _Provider, service: _Service, day: date, start: datetime,
               comeback: _Comeback | None) -> None:
        rng, now, rules = self.rng, self.now, self.rules
        end = start + timedelta(minutes=service.duration_minutes)
        busy = end + timedelta(minutes=service.buffer_minutes)
        client = created = None
        new = False
        if comeback is not None:
            client, via = comeback.client, comeback.kind
            client.pending = False
            created = self._created(start, comeback.not_before, soon=via == "desk")
            if created is None:
                client = None
        if client is None:
            client, created, new = self._client_for(day, start)
            via = rng.choices(("online", "phone", "api"), (62, 33, 5))[0]
        booked_via = BookedVia({"desk": "phone", "text": "rebook_text"}.get(via, via))
        by_staff = booked_via == BookedVia.PHONE
        created_by = self.desk if by_staff else "client"
        consent = "by phone, taken by Front Desk" if by_staff else "online"
        if new:
            self.batch.clients[-1]["sms_consent_via"] = consent
        visit_id = self._id(Appointment)
        price = service.price_cents
        if created < self.price_change:
            price = round(price * 0.9 / 500) * 500  # before this year's price rise
        concerns = _concerns(rng, service)
        event = None
        if rng.random() < 0.08:
            event = (start.astimezone(self.tz).date()
                     + timedelta(days=rng.randint(1, 20))).isoformat()
        visit = dict(
            id=visit_id, service_id=service.id, provider_id=provider.id, client_id=client.id,
            start_at=start, end_at=end, busy_until=busy, status=VisitStatus.BOOKED,
            price_cents=price, currency=service.currency,
            intake={"uses_prescription_topicals": client.topicals, "concerns": concerns,
                    "event_date": event, "name_given": client.name},
            manage_token=new_token(), late_change=False, created_at=created,
            created_by=created_by, booked_via=booked_via, cancelled_at=None, cancelled_by=None,
            updated_at=created)
        self.batch.visits.append(visit)
        self.n["visits"] += 1
        events = [(created, created_by, VisitEvent.BOOKED,
                   {"start": start.isoformat(), "consent": consent})]

        # What became of it.
        status, cancelled_at, cancelled_by, done_at, done_by, checked_in = (
            VisitStatus.BOOKED, None, None, None, None, None)
        roll = rng.random()
        if start > now:
            if roll < 0.06:
                cancelled_at = _between(rng, created, now)
        elif end > now or end + rules.auto_complete_after > now:
            if roll < 0.05 and start + 30 * MINUTE <= now:
                status, done_at = VisitStatus.NO_SHOW, start + rng.randint(15, 30) * MINUTE
            else:
                checked_in = start - rng.randint(0, 10) * MINUTE
                done = end + rng.randint(0, 15) * MINUTE
                if done <= now and roll < 0.75:
                    status, done_at, done_by = VisitStatus.COMPLETED, done, self.desk
                else:
                    status = VisitStatus.CHECKED_IN  # nobody closed it yet
        elif roll < 0.10:
            late = rng.random() < 0.3
            if late or start - created < rules.late_change:
                cancelled_at = max(start - rng.randint(60, 23 * 60) * MINUTE, created + MINUTE)
            else:
                cancelled_at = _between(rng, created, start - rules.late_change)
        elif roll < 0.14:
            status, done_at = VisitStatus.NO_SHOW, start + rng.randint(15, 30) * MINUTE
        else:
            status = VisitStatus.COMPLETED
            if rng.random() < 0.8:
                checked_in = start - rng.randint(0, 10) * MINUTE
            if rng.random() < 0.9:
                done_at, done_by = end + rng.randint(0, 15) * MINUTE, self.desk
            else:  # nobody closed it: the scheduler did, two hours after its end
                done_at = end + rules.auto_complete_after + rng.randint(0, 5) * MINUTE
                done_by = "system"
        if checked_in is not None:
            checked_in = max(checked_in, created)
        if cancelled_at is not None:
            status = VisitStatus.CANCELLED
            cancelled_by = "client" if rng.random() < 0.7 else self.desk

        # Coming back inside the rebook window, decided as the visit is completed.
        again = None
        if (status == VisitStatus.COMPLETED and service.includes_extraction
                and rng.random() < 0.32):
            again = self._promise(provider, service, client, end, done_at)

        # Its texts, in the order they were due, and the client's answers.
        planned = self._plan(service, client, start, end, created, status, cancelled_at,
                             done_at, again)
        fields = self._fields(service, start, visit["manage_token"], client.topicals)
        confirmed_at, rebook = self._texts(visit, client, planned, fields, start, cancelled_at)
        if again is not None and again.kind == "text" and rebook not in (
                MessageStatus.SENT, MessageStatus.DELIVERED):
            again.kind = "online"  # no rebook text reached them: they came back on their own

        if confirmed_at is not None:
            events.append((confirmed_at, "client", VisitEvent.CONFIRMED, {"via": "sms"}))
        before = VisitStatus.CONFIRMED if confirmed_at else VisitStatus.BOOKED
        if checked_in is not None:
            events.append((checked_in, self.desk, VisitEvent.CHECKED_IN, {"from": before}))
            before = VisitStatus.CHECKED_IN
        if status in (VisitStatus.COMPLETED, VisitStatus.NO_SHOW) and done_at is not None:
            events.append((done_at, done_by or self.desk, VisitEvent(status), {"from": before}))
        if cancelled_at is not None:
            late = start - cancelled_at < rules.late_change
            detail = {"late": late} if cancelled_by == "client" else {"from": before, "late": late}
            events.append((cancelled_at, cancelled_by, VisitEvent.CANCELLED, detail))
            visit.update(late_change=late, cancelled_at=cancelled_at, cancelled_by=cancelled_by)
        elif status == VisitStatus.BOOKED and confirmed_at is not None:
            status = VisitStatus.CONFIRMED
        visit["status"] = status
        visit["updated_at"] = max(at for at, *_ in events)
        for at, actor, action, detail in events:
            self.batch.visit_events.append(dict(appointment_id=visit_id, at=at, actor=actor,
                                                action=action, detail=detail))
        if status != VisitStatus.CANCELLED:
            client.last_day = day
        client.free_from = max(client.free_from, busy, visit["updated_at"])

    def _client_for(self, day: date, start: datetime) -> tuple[_Client, datetime, bool]:
        """A returning client free to come (the cadence gap and the rebook window behind
        them), or a new one; and when they booked."""
        rng = self.rng
        if self.pool and rng.random() < 0.6:
            for _ in range(4):
                client = rng.choice(self.pool)
                if client.pending or (client.last_day and (day - client.last_day).days < 31):
                    continue
                if (client.opted_out_at or client.undeliverable_at) and rng.random() < 0.7:
                    continue
                created = self._created(start, client.free_from)
                if created is not None:
                    return client, created, False
        created = self._created(start, start - self.rules.horizon)
        if created is None:  # cannot happen for a start two hours or more after the range
            created = start - self.rules.lead_time
        return self._new_client(created), created, True

    def _created(self, start: datetime, not_before: datetime, *,
                 soon: bool = False) -> datetime | None:
        """When a visit was booked: from two hours to 60 days before its start, no later
        than now and no earlier than `not_before`."""
        rng = self.rng
        lo = max(not_before, start - self.rules.horizon)
        hi = min(self.now, start - self.rules.lead_time)
        if lo > hi:
            return None
        if soon:
            at = lo + rng.randint(2, 12) * MINUTE
        else:
            roll = rng.random()
            hours = (rng.uniform(2, 30) if roll < 0.15 else rng.uniform(24, 240) if roll < 0.65
                     else rng.uniform(240, 1080))
            at = start - timedelta(hours=hours)
        if at > hi:
            at = hi - (hi - lo) * rng.random() * 0.2
        at = max(lo, at)
        return at.replace(microsecond=0) if at.replace(microsecond=0) >= lo else at

    def _new_client(self, created: datetime) -> _Client:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        client = _Client(id=self._id(Client), name=f"{first} {last}", phone=self._phone(),
                         topicals=rng.random() < 0.25, created_at=created, free_from=created)
        email = (f"{first}.{last}{client.id}@example.com".lower()
                 if rng.random() < 0.65 else None)
        self.batch.clients.append(dict(
            id=client.id, name=client.name, phone=client.phone, email=email,
            sms_consent_at=created, opted_out_at=None, undeliverable_at=None,
            sms_consent_via="online", created_at=created))
        self.pool.append(client)
        self._by_id[client.id] = client
        self.n["clients"] += 1
        return client

    def _phone(self) -> str:
        """The next unused number: <area> 555 1000-9999, the last four digits shuffled."""
        while True:
            i = self.phone_index
            self.phone_index += 1
            block, line = divmod(i, 9000)
            area = AREAS[block % len(AREAS)]
            exchange = 555 + block // len(AREAS)
            phone = f"+1{area}{exchange}{1000 + line * 7919 % 9000}"
            if phone not in self.taken:
                self.taken.add(phone)
                return phone

    def _promise(self, provider: _Provider, service: _Service, client: _Client, end: datetime,
                 done_at: datetime) -> _Comeback | None:
        """The client books again inside the window: at the desk before leaving, or later
        online, from the rebook text's link or not. Returns the promise, placed later."""
        rng = self.rng
        soonest, latest = self.rules.rebook_window_days
        day = end.astimezone(self.tz).date()
        rebook_due = plan.at_local(day + timedelta(days=self.rules.rebook_after_days),
                                   self.rules.send_at, self.tz)
        roll = rng.random()
        if roll < 0.35 or rebook_due > self.now - timedelta(hours=1):
            kind, lo, not_before = "desk", day + timedelta(days=soonest), done_at
        else:
            kind = "text" if roll < 0.78 else "online"
            lo = max(day + timedelta(days=soonest),
                     rebook_due.astimezone(self.tz).date() + timedelta(days=1))
            not_before = rebook_due + rng.randint(2, 600) * MINUTE
        hi = min(day + timedelta(days=latest), self.last_day)
        works = [lo + timedelta(days=k) for k in range((hi - lo).days + 1)
                 if self.hours[provider.id].get((lo + timedelta(days=k)).weekday())]
        if not works or (kind == "desk" and done_at + 12 * MINUTE > self.now):
            return None
        target = rng.choice(works)
        comeback = _Comeback(client, service, target, hi, kind, not_before)
        client.pending = True
        self.comebacks[(provider.id, target)].append(comeback)
        return comeback

    # --- its texts ----------------------------------------------------------------------------

    def _plan(self, service: _Service, client: _Client, start: datetime, end: datetime,
              created: datetime, status: str, cancelled_at: datetime | None,
              done_at: datetime | None, again: _Comeback | None) -> list[tuple]:
        """(kind, due, not_after, planned at, note when skipped, cancelled at) per text."""
        items = [(p.kind, p.due, p.not_after, created, p.skipped, None)
                 for p in plan.pre_visit(start=start, now=created, uses_topicals=client.topicals,
                                         pause_days=service.pause_topicals_days,
                                         clinic=self.clinic)]
        if cancelled_at is not None:
            items = [(k, due, na, at, skip, cancelled_at if skip is None and due > cancelled_at
                      else None) for k, due, na, at, skip, _ in items]
            due = plan.quiet(cancelled_at, self.clinic)
            skip = "quiet hours would push it past the visit" if due >= start else None
            items.append((MessageKind.CANCELLATION, due, start, cancelled_at, skip, None))
        if status == VisitStatus.COMPLETED and done_at is not None:
            for p in plan.after_visit(end=end, now=done_at, purging_checkin=service.purging_checkin,
                                      includes_extraction=service.includes_extraction,
                                      clinic=self.clinic):
                skip = None
                if p.kind == MessageKind.REBOOK and again is not None and again.kind == "desk":
                    skip = "client has already booked again"  # found so when it was due
                items.append((p.kind, p.due, None, done_at, skip, None))
        items.sort(key=lambda item: item[1])
        return items

    def _texts(self, visit: dict, client: _Client, planned: list[tuple], fields: dict,
               start: datetime, cancelled_at: datetime | None) -> tuple[datetime | None, str]:
        """Writes the visit's texts as the dispatcher would have settled them by now, and the
        replies they drew; returns when the client confirmed with C, if they did, and what
        became of the rebook text."""
        rng, now = self.rng, self.now
        confirmed_at, rebook = None, None
        for kind, due, not_after, planned_at, skip, cancelled in planned:
            row = self._message(visit, client, kind, due, not_after, planned_at)
            if kind == MessageKind.REBOOK:
                rebook = row
            if skip is not None and (kind != MessageKind.REBOOK or due <= now):
                _settle(row, MessageStatus.SKIPPED, due if kind == MessageKind.REBOOK
                        else planned_at, skip)
                continue
            if cancelled is not None:
                _settle(row, MessageStatus.CANCELLED, cancelled, "visit cancelled")
                continue
            if due > now:
                continue  # still scheduled: the dispatcher sends it when due
            reason = None
            if client.opted_out_at and client.opted_out_at <= due:
                reason = "client opted out"
            elif client.undeliverable_at and client.undeliverable_at <= due:
                reason = "number cannot receive texts"
            if reason:
                _settle(row, MessageStatus.SKIPPED, due, reason)
                continue
            sent_at = self._hand_over(row, client, fields, may_fail=due >= client.free_from)
            if sent_at is None:
                continue
            client.free_from = max(client.free_from, row["updated_at"])
            # What the client answered.
            if (kind == MessageKind.REMINDER and rng.random() < 0.35):
                at = sent_at + rng.randint(1, 300) * MINUTE
                if at < start and at <= now and (cancelled_at is None or at < cancelled_at):
                    self._reply(client, "C" if rng.random() < 0.8 else "c",
                                ReplyAction.CONFIRM, at, visit["id"])
                    confirmed_at = at
            elif kind in (MessageKind.REDNESS_CHECKIN, MessageKind.PURGING_CHECKIN):
                answers = rng.random() < (0.45 if kind == MessageKind.REDNESS_CHECKIN else 0.35)
                at = sent_at + rng.randint(2, 600) * MINUTE
                if answers and at <= now:
                    bad = rng.random() < (0.12 if kind == MessageKind.REDNESS_CHECKIN else 0.08)
                    action = (ReplyAction.CHECKIN_OK if not bad else
                              ReplyAction.REDNESS_BAD if kind == MessageKind.REDNESS_CHECKIN
                              else ReplyAction.PURGING_BAD)
                    self._reply(client, "1" if bad else "2", action, at, visit["id"])
            roll = rng.random()
            at = sent_at + rng.randint(1, 240) * MINUTE
            stop = 0.006 if kind == MessageKind.REBOOK else 0.0015
            if at > now:
                continue
            if roll < stop and at >= client.free_from:
                self._reply(client, rng.choice(("STOP", "Stop", "stop", "UNSUBSCRIBE")),
                            ReplyAction.OPT_OUT, at, None)
                client.opted_out_at = at
                self._dirty.add(client.id)
            elif roll < stop + 0.005:
                self._reply(client, rng.choice(UNRECOGNISED), ReplyAction.FOLLOWUP, at,
                            visit["id"])
            elif roll < stop + 0.0054:
                self._reply(client, "HELP", ReplyAction.HELP, at, None)
        return confirmed_at, rebook["status"] if rebook else None

    def _message(self, visit: dict, client: _Client, kind: str, due: datetime,
                 not_after: datetime | None, planned_at: datetime, *,
                 followup_id: int | None = None, written_by: str | None = None,
                 body: str | None = None) -> dict:
        row = dict(id=self._id(Message), appointment_id=visit["id"], client_id=client.id,
                   kind=kind, due_at=due, not_after=not_after, status=MessageStatus.SCHEDULED,
                   attempts=0, body=body, provider_sid=None, error_code=None, note=None,
                   claimed_at=None, check_at=None, sent_at=None, written_by=written_by,
                   followup_id=followup_id, created_at=planned_at, updated_at=planned_at)
        self.batch.messages.append(row)
        self.n["messages"] += 1
        return row

    def _hand_over(self, row: dict, client: _Client, fields: dict, *,
                   may_fail: bool) -> datetime | None:
        """One text handed to Twilio: mostly delivered; sometimes only sent, retried, failed
        for good (with Twilio's code) or unknown. Returns when it went out, if it did."""
        rng = self.rng
        if row["body"] is None:
            row["body"] = self._body(row["kind"], fields)
        at = row["due_at"] + timedelta(seconds=rng.uniform(0.5, 15))
        roll = rng.random()
        attempts = 1
        if 0.970 <= roll < 0.977:  # refused before it left, then sent on a later attempt
            self._event(row, at, Outcome.RETRY, None, None,
                        "could not reach Twilio (ConnectTimeout); retrying")
            at += timedelta(seconds=rng.uniform(15, 30))
            attempts = 2
        row.update(attempts=attempts, claimed_at=at)
        sid = _sid(rng)
        if roll >= 0.977 and not may_fail:
            roll = 0.5
        if roll < 0.95 or 0.970 <= roll < 0.977:
            delivered = at + timedelta(seconds=rng.uniform(2, 40))
            self._event(row, at, Outcome.SENT, sid, None, None)
            status = MessageStatus.DELIVERED
            if delivered <= self.now:
                self._event(row, delivered, Outcome.DELIVERED, sid, None, None)
            else:
                status, delivered = MessageStatus.SENT, at
            row.update(status=status, provider_sid=sid, sent_at=at, updated_at=delivered)
            client.reached = True
            return at
        if roll < 0.970:  # Twilio took it; no delivery report came back
            self._event(row, at, Outcome.SENT, sid, None, None)
            row.update(status=MessageStatus.SENT, provider_sid=sid, sent_at=at, updated_at=at)
            return at
        if roll >= 0.9995:
            why = "no answer from Twilio (ReadTimeout)"
            self._event(row, at, Outcome.UNSURE, None, None,
                        f"{why}; asking Twilio whether it went out")
            end = at + timedelta(hours=1, minutes=1)
            note = (f"Twilio could not say for an hour whether it went out ({why}): "
                    "check before resending")
            self._event(row, end, Outcome.UNKNOWN, None, None, note)
            row.update(status=MessageStatus.UNKNOWN, note=note, updated_at=end)
            return None
        code, note, marks = rng.choices((
            (30007, "carrier error 30007", None),
            (30003, "carrier error 30003; gave up after 5 attempts", None),
            (30006, "undeliverable (30006)", "undeliverable_at"),
            (21614, "undeliverable (21614)", "undeliverable_at"),
            (21610, "number has opted out (21610)", "opted_out_at"),
            (None, "could not reach Twilio (ConnectTimeout); a retry would arrive after the visit",
             None)), (35, 20, 15, 8, 10, 12))[0]
        if (code is None and row["not_after"] is None) or (marks and client.reached):
            code, note, marks = 30007, "carrier error 30007", None  # a number that worked
        if code == 30003:  # sent five times, each reported failed by the carrier
            for attempt in range(1, 5):
                old = _sid(rng)
                self._event(row, at, Outcome.SENT, old, None, None)
                at += timedelta(seconds=rng.uniform(3, 30))
                self._event(row, at, Outcome.RETRY, old, 30003, "carrier error 30003; retrying")
                at += timedelta(seconds=15 * 2 ** attempt * rng.uniform(0.5, 1))
            attempts = 5
        if code in (21610, 21614, None):  # refused when handed over: nothing went out
            self._event(row, at, Outcome.FAILED, None, code, note)
            row.update(status=MessageStatus.FAILED, attempts=attempts, claimed_at=at,
                       error_code=code, note=note, updated_at=at)
        else:
            self._event(row, at, Outcome.SENT, sid, None, None)
            failed = at + timedelta(seconds=rng.uniform(2, 60))
            self._event(row, failed, Outcome.FAILED, sid, code, note)
            row.update(status=MessageStatus.FAILED, attempts=attempts, claimed_at=at,
                       provider_sid=sid, sent_at=at, error_code=code, note=note,
                       updated_at=failed)
        if marks is not None:
            setattr(client, marks, row["updated_at"])
            self._dirty.add(client.id)
        return None

    def _event(self, row: dict, at: datetime, outcome: str, sid: str | None,
               code: int | None, note: str | None) -> None:
        self.batch.message_events.append(dict(message_id=row["id"], at=at, outcome=outcome,
                                              provider_sid=sid, error_code=code, note=note))

    def _fields(self, service: _Service, start: datetime, token: str, topicals: bool) -> dict:
        """What the SMS templates are rendered with (as `messaging.bodies.render`)."""
        clinic, local = self.clinic, start.astimezone(self.tz)
        soonest, latest = self.rules.rebook_window_days
        pause = plan.pause_day(start, service.pause_topicals_days, self.tz) if topicals else None
        return dict(
            clinic_name=clinic.name, address=clinic.address, clinic_phone=clinic.phone,
            weeks_since=since(self.rules.rebook_after_days), service_name=service.name.lower(),
            when=f"{local:%a} {local.day} {local:%b} at {clock_time(local)}",
            link=f"{self.base_url}/manage/{token}", slug=service.slug,
            window_from=short_day(local + timedelta(days=soonest)),
            window_to=short_day(local + timedelta(days=latest)),
            pause_from=short_day(pause) if pause else None, moved=False)

    def _body(self, kind: str, fields: dict) -> str:
        """The body `messaging.bodies.render` would write, from the same templates. Each
        template is rendered once per shape with markers for the values, which are then put
        in: a hundred thousand visits' texts in seconds rather than minutes."""
        via = "?via=rebook" if kind == MessageKind.REBOOK else ""
        values = {**fields, "book_link": f"{self.base_url}/book/{fields['slug']}{via}"}
        body = self._fill(kind, values)
        if len(body) > MAX_LENGTH and values["address"]:  # the address only where it fits
            body = self._fill(kind, {**values, "address": ""})
        return body

    def _fill(self, kind: str, values: dict) -> str:
        shape = (kind, *(bool(v) for v in values.values()))
        parts = self._skeletons.get(shape)
        if parts is None:  # the template's text, split at each value: (text, key) pairs
            marked = {k: f"\x00{k}\x00" if v else v for k, v in values.items()}
            pieces = fit(self.templates.get_template(f"{kind}.txt").render(**marked)) \
                .split("\x00")
            parts = self._skeletons[shape] = list(zip(pieces[::2], pieces[1::2] + [None]))
        return "".join(text + (str(values[key]) if key else "") for text, key in parts)

    # --- replies and follow-ups ---------------------------------------------------------------

    def _reply(self, client: _Client | None, body: str, action: str, at: datetime,
               visit_id: int | None, *, phone: str | None = None) -> None:
        rng = self.rng
        row = dict(id=self._id(InboundMessage), message_sid=_sid(rng),
                   client_id=client.id if client else None,
                   from_phone=client.phone if client else phone, body=body, action=action,
                   appointment_id=visit_id, received_at=at, followup_id=None)
        self.batch.inbound.append(row)
        self.n["replies"] += 1
        if client is not None:
            client.free_from = max(client.free_from, at)
        if action not in (ReplyAction.REDNESS_BAD, ReplyAction.PURGING_BAD,
                          ReplyAction.FOLLOWUP):
            return
        if action == ReplyAction.FOLLOWUP and client is not None and client.open_followup:
            followup_id, closed_at = client.open_followup
            if closed_at is None or at < closed_at:  # joins the conversation still open
                self.batch.inbound_links.append(dict(id=row["id"], followup_id=followup_id))
                return
        reason = {ReplyAction.FOLLOWUP: "unrecognised reply"}.get(action,
                                                                 action.replace("_", " "))
        followup = dict(id=self._id(Followup), client_id=row["client_id"],
                        appointment_id=visit_id, inbound_id=row["id"], reason=reason,
                        priority=Priority.HIGH if action == ReplyAction.REDNESS_BAD
                        else Priority.NORMAL, status=FollowupStatus.OPEN, created_at=at,
                        closed_at=None, closed_by=None, note=None)
        self.batch.followups.append(followup)
        self.batch.inbound_links.append(dict(id=row["id"], followup_id=followup["id"]))
        self.n["followups"] += 1
        closed = at + timedelta(minutes=rng.randint(10, 26 * 60))
        recent = self.now - at < timedelta(days=3)
        if closed > self.now or (recent and rng.random() < 0.7) or rng.random() < 0.015:
            closed = None  # still in the inbox
        if client is not None:
            client.open_followup = (followup["id"], closed)
        if closed is not None:
            followup.update(status=FollowupStatus.CLOSED, closed_at=closed, closed_by=self.desk,
                            note=rng.choice(NOTES[reason]))
        if client is None or visit_id is None or rng.random() > 0.45:
            return
        # Staff answered by text from the inbox, and the client sometimes wrote back.
        until = closed or self.now
        due = at + (until - at) * rng.uniform(0.1, 0.6)
        if (client.opted_out_at and client.opted_out_at <= due) or (
                client.undeliverable_at and client.undeliverable_at <= due):
            return
        words = rng.choice(STAFF_REPLIES[reason])
        message = self._message({"id": visit_id}, client, MessageKind.STAFF_REPLY, due, None,
                                due, followup_id=followup["id"], written_by=self.desk,
                                body=f"{self.clinic.name}: {words}")
        sent_at = self._hand_over(message, client, {}, may_fail=False)
        thanks = (sent_at or due) + rng.randint(1, 30) * MINUTE
        if sent_at is not None and rng.random() < 0.3 and thanks < until:
            self._reply(client, rng.choice(("Thank you!", "Ok will do", "Great, thanks")),
                        ReplyAction.FOLLOWUP, thanks, visit_id)

    def _unknown_number(self, day: date) -> None:
        """Now and then a text from a number the clinic doesn't know: staff see it."""
        at = local_datetime(day, time(self.rng.randint(8, 20), self.rng.randint(0, 59)),
                            self.tz)
        if at is None or at > self.now:
            return
        phone = f"+1{UNKNOWN_AREA}555{self.rng.randint(1000, 9999)}"
        self._reply(None, self.rng.choice(UNKNOWN_TEXTS), ReplyAction.FOLLOWUP,
                    at.astimezone(UTC), None, phone=phone)

    def counts(self) -> dict[str, int]:
        return dict(self.n)


# --- writing ----------------------------------------------------------------------------------


def write(session: Session, batch: Batch) -> None:
    """One batch in one transaction: bulk inserts with the ids the generator gave.

    Rows go straight to the driver, each value converted once the way its column type would
    (UTC datetimes, JSON, enums as text): SQLAlchemy's per-value processing would take most
    of the time at this volume."""
    tables = ((Client, batch.clients), (Appointment, batch.visits),
              (AppointmentEvent, batch.visit_events), (InboundMessage, batch.inbound),
              (Followup, batch.followups), (Message, batch.messages),
              (MessageEvent, batch.message_events))
    with transaction(session):
        if dialect(session) == "sqlite":  # the unique random keys' indexes (SIDs, links)
            session.connection().exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
        for model, rows in tables:
            if rows and "id" in rows[0]:
                end = session.scalar(select(func.max(model.id))) or 0
                if end >= min(row["id"] for row in rows):
                    raise RuntimeError(f"{model.__tablename__} rows were added while the "
                                       "history was written; run it before the app serves")
        if batch.client_updates:
            session.execute(update(Client), batch.client_updates)
        for model, rows in tables:
            if rows:
                _insert(session, model.__table__, rows)
        if batch.inbound_links:
            session.execute(update(InboundMessage), batch.inbound_links)
        if batch.visits:  # written past the ORM: the workers' free slots must not outlive it
            schedule_version.bump(session)
        if dialect(session) == "postgresql":  # ids given: move the sequences past them
            for model, rows in tables:
                if rows and "id" in rows[0]:
                    name = model.__tablename__
                    session.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT MAX(id) FROM {name}))"))


def _insert(session: Session, table, rows: list[dict]) -> None:
    conn = session.connection()
    keys = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)}) "
           f"VALUES ({', '.join([mark] * len(keys))})")
    converters = [_converter(table.c[key].type, conn.dialect.name) for key in keys]
    plain = [i for i, c in enumerate(converters) if c is None]
    if len(plain) == len(keys):
        data = [tuple(row.values()) for row in rows]
    else:
        data = []
        for row in rows:
            values = list(row.values())
            for i, convert in enumerate(converters):
                if convert is not None and values[i] is not None:
                    values[i] = convert(values[i])
            data.append(tuple(values))
    for at in range(0, len(data), 10000):
        conn.exec_driver_sql(sql, data[at:at + 10000])


def _converter(column_type, dialect_name: str) -> Callable | None:
    """How a value is stored, as the column's type would write it; None: as it is."""
    if isinstance(column_type, UTCDateTime):
        if dialect_name == "sqlite":  # SQLAlchemy's SQLite format, so comparisons hold
            return lambda v: (v if v.tzinfo is UTC else v.astimezone(UTC)) \
                .isoformat(" ", "microseconds")[:26]
        return lambda v: v.astimezone(UTC).replace(tzinfo=None)
    if isinstance(column_type, JSON):
        return json.dumps
    if isinstance(column_type, Enum):
        return str
    return None


# --- small pieces -------------------------------------------------------------------------------


def _desk_account(session: Session, now: datetime) -> int:
    """The front desk's staff account, who completes visits and answers the inbox in the
    history; created without a usable password (an admin can send it a link)."""
    from .auth import unusable_password_hash

    found = session.scalar(select(StaffUser.id).where(StaffUser.email == DESK_EMAIL))
    if found is not None:
        session.rollback()
        return found
    password_hash = unusable_password_hash()
    with transaction(session):
        user = StaffUser(email=DESK_EMAIL, name="Front Desk", role=StaffRole.STAFF,
                         password_hash=password_hash, created_at=now)
        session.add(user)
        session.flush()
        user_id = user.id
    return user_id


def _stretches(provider: _Provider) -> dict[int, list[tuple[int, int]]]:
    """Weekday -> working stretches in minutes of the day, in order."""
    found: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for row in provider.hours:
        found[row.weekday].append((row.starts.hour * 60 + row.starts.minute,
                                   row.ends.hour * 60 + row.ends.minute))
    return {wd: sorted(rows) for wd, rows in found.items()}


def _grid_minutes(rules) -> int:
    return int(rules.grid.total_seconds() // 60)


def _concerns(rng: random.Random, service: _Service) -> list[str]:
    choices = DERM if service.provider_role == "dermatologist" else SKIN
    first = rng.choice(choices)
    if rng.random() < 0.67:
        return [first]
    return sorted({first, rng.choice(choices)})


def _between(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    if hi <= lo:
        return lo
    return (lo + (hi - lo) * rng.random()).replace(microsecond=0)


def _settle(row: dict, status: str, at: datetime, note: str | None) -> None:
    row.update(status=status, note=note, updated_at=max(at, row["created_at"]))


def _sid(rng: random.Random) -> str:
    return f"SM{rng.getrandbits(128):032x}"
