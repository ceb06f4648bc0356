"""The owner's weekly report: bookings, revenue, cancellations, no-shows, rebooking, check-in
answers and text delivery, by clinic week (Monday 00:00 to Monday 00:00, clinic time).

Every figure is counted by the database: each query puts a row in its week with a CASE over
the UTC instants of the local Mondays (a balanced tree of comparisons, so a row costs about
log2(weeks) of them), and groups on it. The edges are worked out here, in Python, from the
clinic's time zone, so a week is right across clock changes on SQLite and PostgreSQL alike.
Nothing here loops over visits; Python only sums a few numbers per week.

`rows()` is the one place a figure is written as text: the page and the CSV both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, exists, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from .enums import CHECKINS, BookedVia, MessageKind, MessageStatus, ReplyAction, VisitStatus
from .messaging.models import InboundMessage, Message
from .messaging.senders import OPTED_OUT, UNDELIVERABLE
from .models import Appointment, Service
from .rules import Clinic
from .timeutil import UTCDateTime

DEFAULT_WEEKS = 12  #: full weeks before the current one, by default
MAX_DAYS = 731  #: the longest range: two years
FIRST_YEAR, LAST_YEAR = 2000, 2100
DAY_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}")

#: Texts that were handed to Twilio; their final status.
HANDED_OVER = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED,
               MessageStatus.UNKNOWN)
CHECKIN_REPLIES = (ReplyAction.CHECKIN_OK, ReplyAction.REDNESS_BAD, ReplyAction.PURGING_BAD)
#: Why a text failed, in the owner's words, in column order.
FAILURE_CLASSES = {"opted_out": "opted out", "undeliverable": "undeliverable",
                   "other": "other refusals", "gave_up": "gave up retrying"}


class RangeError(ValueError):
    """A from/to the report cannot use; the message says why, in the owner's words."""


# ---------------------------------------------------------------------------------------------
# The range


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def default_range(today: date) -> tuple[date, date]:
    """The last 12 full weeks and the current one, up to today."""
    return monday(today) - timedelta(weeks=DEFAULT_WEEKS), today


def parse_range(from_text: str | None, to_text: str | None, today: date) -> tuple[date, date]:
    """Days as typed (YYYY-MM-DD; either may be left empty) -> (first day, last day)."""
    start = _day(from_text, "start")
    end = _day(to_text, "end")
    if start is None and end is None:
        return default_range(today)
    if end is None:
        end = max(today, start)
    if start is None:
        start = monday(end) - timedelta(weeks=DEFAULT_WEEKS)
    if start > end:
        raise RangeError(f"The start ({start.isoformat()}) is after the end ({end.isoformat()}): "
                         "choose a start on or before the end.")
    if (end - start).days > MAX_DAYS:
        raise RangeError(f"That is {(end - start).days + 1} days; a report covers at most two "
                         f"years ({MAX_DAYS} days). Choose a later start or an earlier end.")
    return start, end


def _day(text: str | None, which: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    shown = text[:20]
    if not DAY_FORMAT.fullmatch(text):
        raise RangeError(f"The {which} “{shown}” isn't a date: write it as YYYY-MM-DD, "
                         "like 2027-03-01.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise RangeError(f"The {which} “{shown}” isn't a day on the calendar.") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise RangeError(f"The {which} must fall between {FIRST_YEAR} and {LAST_YEAR}.")
    return day


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant a clinic day starts."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def bucket(column, edges: list[datetime]):
    """The index i of the bucket [edges[i], edges[i+1]) holding `column`, as a CASE tree.

    Rows outside [edges[0], edges[-1]) must be filtered out by the query (they get a bucket at
    either end otherwise)."""
    return pick(column, edges, [literal_column(str(i), Integer) for i in range(len(edges) - 1)])


def pick(column, edges: list[datetime], values: list):
    """values[i] for the bucket [edges[i], edges[i+1]) holding `column`: a balanced CASE tree,
    about log2(len(values)) comparisons a row."""
    def tree(lo: int, hi: int):
        if hi - lo == 1:
            return values[lo]
        mid = (lo + hi) // 2
        return case((column < edges[mid], tree(lo, mid)), else_=tree(mid, hi))
    return tree(0, len(values))


# ---------------------------------------------------------------------------------------------
# The figures


@dataclass
class Week:
    """One clinic week's figures."""

    monday: date
    bookings: dict[int, int] = field(default_factory=dict)  #: service id -> visits created
    revenue: dict[int, int] = field(default_factory=dict)  #: service id -> cents, completed
    cancelled: int = 0
    late_changes: int = 0
    completed: int = 0
    no_show: int = 0
    rebook_base: int = 0  #: completed visits of services that include extraction
    rebooked: int = 0
    rebooked_via_text: int = 0  #: of those, booked from the rebook text's link
    checkin_ok: int = 0
    redness_ok: int = 0
    purging_ok: int = 0
    redness_bad: int = 0
    purging_bad: int = 0
    texts: dict[str, int] = field(default_factory=dict)  #: status -> count, handed over
    failures: dict[str, int] = field(default_factory=dict)  #: failure class -> count

    @property
    def checkin_replies(self) -> int:
        return self.checkin_ok + self.redness_bad + self.purging_bad

    @property
    def texts_sent(self) -> int:
        return sum(self.texts.values())


@dataclass
class Report:
    first: date  #: the first day asked for
    last: date  #: the last day asked for
    services: list[tuple[int, str, str]]  #: (id, slug, name), in column order
    weeks: list[Week]
    rebook_window: tuple[int, int]
    #: Weeks whose visits' rebook windows have not all closed yet: their rate may still rise.
    open_from: date | None = None
    max_attempts: int = 5  #: the rules' tries before a text fails, for the definitions

    @property
    def last_sunday(self) -> date:
        return self.weeks[-1].monday + timedelta(days=6)


def build(session: Session, first: date, last: date, clinic: Clinic, now: datetime) -> Report:
    """Every figure for the clinic weeks from the one holding `first` to the one holding
    `last`."""
    tz = clinic.tz
    mondays = []
    day = monday(first)
    while day <= last:
        mondays.append(day)
        day += timedelta(weeks=1)
    edges = [_midnight(d, tz) for d in mondays] + [_midnight(day, tz)]
    weeks = [Week(d) for d in mondays]
    services = [(s.id, s.slug, s.name) for s in session.execute(
        select(Service.id, Service.slug, Service.name).order_by(Service.id))]
    soonest, latest = clinic.rules.rebook_window_days

    _bookings(session, edges, weeks)
    _visits(session, edges, weeks)
    _cancellations(session, edges, weeks)
    _rebooking(session, edges, weeks, tz, (soonest, latest))
    _checkins(session, edges, weeks)
    _texts(session, edges, weeks)

    # The last visit day whose window has closed by today: later weeks may still rebook.
    today = now.astimezone(tz).date()
    closed_through = today - timedelta(days=latest + 1)
    open_from = next((w.monday for w in weeks if w.monday + timedelta(days=6) > closed_through),
                     None)
    return Report(first, last, services, weeks, (soonest, latest), open_from,
                  clinic.rules.max_attempts)


def _grouped(session: Session, inner, *keys, measures=()):
    """Groups an inner select (which labels its week `w`) by `w` and `keys`."""
    sub = inner.subquery()
    columns = [sub.c.w] + [sub.c[k] for k in keys]
    return session.execute(
        select(*columns, func.count().label("n"), *[m(sub) for m in measures])
        .group_by(*columns)).all()


def _bookings(session, edges, weeks) -> None:
    """Visits created in the week, by service."""
    col = Appointment.created_at
    inner = select(bucket(col, edges).label("w"), Appointment.service_id.label("service")) \
        .where(col >= edges[0], col < edges[-1])
    for w, service, n in _grouped(session, inner, "service"):
        weeks[w].bookings[service] = n


def _visits(session, edges, weeks) -> None:
    """Visits starting in the week: completed (with their booked price), no-shows, late
    changes."""
    col = Appointment.start_at
    inner = select(bucket(col, edges).label("w"), Appointment.service_id.label("service"),
                   Appointment.status.label("status"),
                   Appointment.price_cents.label("price"),
                   case((Appointment.late_change, 1), else_=0).label("late")) \
        .where(col >= edges[0], col < edges[-1])
    rows = _grouped(session, inner, "service", "status",
                    measures=(lambda s: func.sum(s.c.price).label("cents"),
                              lambda s: func.sum(s.c.late).label("late")))
    for w, service, status, n, cents, late in rows:
        week = weeks[w]
        week.late_changes += int(late or 0)
        if status == VisitStatus.COMPLETED:
            week.completed += n
            week.revenue[service] = week.revenue.get(service, 0) + int(cents or 0)
        elif status == VisitStatus.NO_SHOW:
            week.no_show += n


def _cancellations(session, edges, weeks) -> None:
    col = Appointment.cancelled_at
    inner = select(bucket(col, edges).label("w")).where(
        Appointment.status == VisitStatus.CANCELLED, col >= edges[0], col < edges[-1])
    for w, n in _grouped(session, inner):
        weeks[w].cancelled += n


def _rebooking(session, edges, weeks, tz, window: tuple[int, int]) -> None:
    """Completed extraction visits starting in the week, and how many of them the client
    followed with another extraction visit (not cancelled) starting `window` clinic days
    later. Each visit's window is looked up by the same kind of CASE tree, over clinic days:
    from the midnight `soonest` days after its day to the one `latest + 1` days after, so a
    day is right across clock changes."""
    soonest, latest = window
    first_day = monday(weeks[0].monday)
    days = (weeks[-1].monday - first_day).days + 7
    day_edges = [_midnight(first_day + timedelta(days=i), tz)
                 for i in range(days + latest + 2)]
    col = Appointment.start_at
    base = (select(bucket(col, edges).label("w"), Appointment.id.label("id"),
                   Appointment.client_id.label("client_id"),
                   pick(col, day_edges[:days + 1],
                        [literal(day_edges[d + soonest], UTCDateTime()) for d in range(days)]
                        ).label("lo"),
                   pick(col, day_edges[:days + 1],
                        [literal(day_edges[d + latest + 1], UTCDateTime())
                         for d in range(days)]).label("hi"))
            .join(Service, Service.id == Appointment.service_id)
            .where(Appointment.status == VisitStatus.COMPLETED,
                   Service.includes_extraction.is_(True), col >= edges[0], col < edges[-1])
            .cte("rebook_base").prefix_with("MATERIALIZED"))
    later, later_service = aliased(Appointment), aliased(Service)
    again = (later.client_id == base.c.client_id,
             later.start_at >= base.c.lo,
             later.start_at < base.c.hi,
             later.id != base.c.id,
             later.status != VisitStatus.CANCELLED,
             later_service.id == later.service_id,
             later_service.includes_extraction.is_(True))
    rebooked = exists().where(*again)
    via_text = exists().where(*again, later.booked_via == BookedVia.REBOOK_TEXT)
    inner = select(base.c.w, case((rebooked, 1), else_=0).label("again"),
                   case((via_text, 1), else_=0).label("via_text"))
    for w, n, again_n, via_n in _grouped(
            session, inner, measures=(lambda s: func.sum(s.c.again).label("again"),
                                      lambda s: func.sum(s.c.via_text).label("via_text"))):
        weeks[w].rebook_base += n
        weeks[w].rebooked += int(again_n or 0)
        weeks[w].rebooked_via_text += int(via_n or 0)


def _checkins(session, edges, weeks) -> None:
    """Replies to check-ins by the week they came in. A "2" (all fine) answers the check-in
    the visit was sent last before it: that says whether it was the redness or the purging
    one."""
    asked = (select(Message.kind)
             .where(Message.appointment_id == InboundMessage.appointment_id,
                    Message.kind.in_(CHECKINS),
                    Message.status.in_((MessageStatus.SENT, MessageStatus.DELIVERED)),
                    Message.sent_at <= InboundMessage.received_at)
             .order_by(Message.sent_at.desc(), Message.id.desc()).limit(1)
             .correlate(InboundMessage).scalar_subquery())
    col = InboundMessage.received_at
    inner = select(bucket(col, edges).label("w"), InboundMessage.action.label("action"),
                   case((InboundMessage.action == ReplyAction.CHECKIN_OK, asked),
                        else_=None).label("kind")) \
        .where(InboundMessage.action.in_(CHECKIN_REPLIES), col >= edges[0], col < edges[-1])
    for w, action, kind, n in _grouped(session, inner, "action", "kind"):
        week = weeks[w]
        if action == ReplyAction.REDNESS_BAD:
            week.redness_bad += n
        elif action == ReplyAction.PURGING_BAD:
            week.purging_bad += n
        else:
            week.checkin_ok += n
            if kind == MessageKind.REDNESS_CHECKIN:
                week.redness_ok += n
            elif kind == MessageKind.PURGING_CHECKIN:
                week.purging_ok += n


def failure_class(note, error_code):
    """Why a failed text failed: the dispatcher's error code first, then its note."""
    return case(
        (or_(error_code.in_(sorted(OPTED_OUT)), note.like("number has opted out%")),
         "opted_out"),
        (or_(error_code.in_(sorted(UNDELIVERABLE)), note.like("undeliverable%")),
         "undeliverable"),
        (or_(note.like("%gave up after%"), note.like("%a retry would arrive after%")),
         "gave_up"),
        else_="other")


def _texts(session, edges, weeks) -> None:
    """Texts handed to Twilio, by the week they were (last) due, with their final status."""
    col = Message.due_at
    inner = select(bucket(col, edges).label("w"), Message.status.label("status"),
                   case((Message.status == MessageStatus.FAILED,
                         failure_class(Message.note, Message.error_code)),
                        else_=None).label("why")) \
        .where(Message.status.in_(HANDED_OVER), col >= edges[0], col < edges[-1])
    for w, status, why, n in _grouped(session, inner, "status", "why"):
        week = weeks[w]
        week.texts[str(status)] = week.texts.get(str(status), 0) + n
        if why:
            week.failures[why] = week.failures.get(why, 0) + n


# ---------------------------------------------------------------------------------------------
# As text: the page's tables and the CSV share these cells


NOT_APPLICABLE = "n/a"


def percent(part: int, whole: int) -> str:
    """'12.5' (one decimal, half up), or 'n/a' when there is nothing to divide by."""
    if not whole:
        return NOT_APPLICABLE
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{value}"


def dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass(frozen=True)
class Column:
    key: str  #: the CSV header
    label: str  #: the page's header
    group: str  #: which table on the page


def columns(report: Report) -> list[Column]:
    cols = [Column("week", "Week of", "")]
    for _, slug, name in report.services:
        cols.append(Column(f"bookings_{slug}", f"Booked: {name}", "bookings"))
    cols.append(Column("bookings_total", "Booked: all", "bookings"))
    for _, slug, name in report.services:
        cols.append(Column(f"revenue_{slug}", f"Revenue: {name} ($)", "bookings"))
    cols.append(Column("revenue_total", "Revenue: all ($)", "bookings"))
    cols += [
        Column("cancelled", "Cancelled", "visits"),
        Column("late_changes", "Late changes", "visits"),
        Column("completed", "Completed", "visits"),
        Column("no_show", "No-shows", "visits"),
        Column("no_show_rate_pct", "No-show rate (%)", "visits"),
        Column("rebook_eligible", "Completed with extraction", "rebooking"),
        Column("rebooked", "Rebooked in window", "rebooking"),
        Column("rebook_rate_pct", "Rebooking rate (%)", "rebooking"),
        Column("rebooked_via_text", "Via the rebook text", "rebooking"),
        Column("checkin_replies", "Replies", "checkins"),
        Column("redness_answers", "Redness answers", "checkins"),
        Column("still_red", "Still red or swollen", "checkins"),
        Column("still_red_pct", "Still red or swollen (%)", "checkins"),
        Column("purging_answers", "Purging answers", "checkins"),
        Column("painful", "Painful or worsening", "checkins"),
        Column("painful_pct", "Painful or worsening (%)", "checkins"),
        Column("texts_sent", "Texts sent", "texts"),
        Column("delivered", "Delivered", "texts"),
        Column("delivery_rate_pct", "Delivery rate (%)", "texts"),
    ]
    for key, words in FAILURE_CLASSES.items():
        cols.append(Column(f"failed_{key}", f"Failed: {words}", "texts"))
    return cols


def rows(report: Report) -> list[list[str]]:
    """One row of cells per week, in `columns()` order."""
    out = []
    for w in report.weeks:
        redness = w.redness_ok + w.redness_bad
        purging = w.purging_ok + w.purging_bad
        row = [w.monday.isoformat()]
        row += [str(w.bookings.get(sid, 0)) for sid, _, _ in report.services]
        row.append(str(sum(w.bookings.values())))
        row += [dollars(w.revenue.get(sid, 0)) for sid, _, _ in report.services]
        row.append(dollars(sum(w.revenue.values())))
        row += [str(w.cancelled), str(w.late_changes), str(w.completed), str(w.no_show),
                percent(w.no_show, w.completed + w.no_show),
                str(w.rebook_base), str(w.rebooked), percent(w.rebooked, w.rebook_base),
                str(w.rebooked_via_text),
                str(w.checkin_replies), str(redness), str(w.redness_bad),
                percent(w.redness_bad, redness),
                str(purging), str(w.purging_bad), percent(w.purging_bad, purging),
                str(w.texts_sent), str(w.texts.get(MessageStatus.DELIVERED, 0)),
                percent(w.texts.get(MessageStatus.DELIVERED, 0), w.texts_sent)]
        row += [str(w.failures.get(key, 0)) for key in FAILURE_CLASSES]
        out.append(row)
    return out


#: Each figure's definition, one line each, as the page states them.
DEFINITIONS = [
    ("Booked", "visits created that week (online or by phone), by service, whatever "
               "became of them."),
    ("Revenue", "visits completed, by the week they started, at the price booked (never "
                "today's price)."),
    ("Cancelled", "visits cancelled, by the week they were cancelled."),
    ("Late changes", "visits starting that week that were cancelled or moved within the "
                     "late-change time before their start."),
    ("No-show rate", "no-shows ÷ (completed + no-shows) among visits starting that week."),
    ("Rebooking rate", "of completed visits that include extraction starting that week, the "
                       "share whose client has another such visit, not cancelled, starting "
                       "{soonest}–{latest} clinic days later."),
    ("Via the rebook text", "of those rebookings, the ones booked from the rebook text's "
                            "link (visits booked before bookings kept where they came from "
                            "count as not)."),
    ("Check-in replies", "answers to the redness and purging check-ins (1 or 2), by the "
                         "week they came in."),
    ("Still red or swollen", "“1” ÷ all answers to the redness check-in."),
    ("Painful or worsening", "“1” ÷ all answers to the purging check-in."),
    ("Delivery rate", "delivered ÷ texts handed to Twilio (sent, delivered, failed or "
                      "unknown), by the week they were due."),
    ("Failures", "opted out (21610), undeliverable number (21211, 21614, 30005, 30006), "
                 "gave up retrying ({attempts} attempts, or past the text's moment), other "
                 "refusals."),
]


def definitions(report: Report) -> list[tuple[str, str]]:
    soonest, latest = report.rebook_window
    return [(term, text.format(soonest=soonest, latest=latest, attempts=report.max_attempts))
            for term, text in DEFINITIONS]


# ---------------------------------------------------------------------------------------------
# The charts: SVG drawn here, no script, nothing loaded from anywhere

CHARTS = ("rates", "bookings")
SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
DASHES = ("", "10,5", "3,4", "14,4,3,4", "1,6")  #: each series its own line, not only a colour


def _pygal():
    """pygal, imported on first use, without the import hook it adds to `sys.meta_path` for
    its map plugins (unused here): the hook lacks `find_spec`, so every later import in the
    process would warn."""
    import sys

    import pygal

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]
    return pygal


def chart_svg(report: Report, which: str) -> str:
    pygal = _pygal()
    from pygal.style import Style

    style = Style(background="#ffffff", plot_background="#ffffff", foreground="#1f2a30",
                  foreground_strong="#1f2a30", foreground_subtle="#5b6770",
                  colors=("#1d4e4a", "#b3261e", "#1f4fa3", "#7a4b00", "#5b2a86"),
                  font_family="system-ui, sans-serif", label_font_size=13,
                  major_label_font_size=13, legend_font_size=14, title_font_size=16)
    labels = [f"{w.monday:%d %b}" for w in report.weeks]
    table = rows(report)
    keys = [c.key for c in columns(report)]

    def series(key: str) -> list[float | None]:
        i = keys.index(key)
        return [None if r[i] == NOT_APPLICABLE else float(r[i]) for r in table]

    if which == "rates":
        chart = pygal.Line(title="Weekly rates (%)", range=(0, 100), **_options(style))
        wanted = [("No-show rate", "no_show_rate_pct"), ("Rebooking rate", "rebook_rate_pct"),
                  ("Delivery rate", "delivery_rate_pct"),
                  ("Still red or swollen", "still_red_pct")]
    else:
        chart = pygal.Line(title="Visits booked each week", **_options(style))
        wanted = [(f"Booked: {name}", f"bookings_{slug}") for _, slug, name in report.services]
        wanted.append(("Cancelled", "cancelled"))
    chart.x_labels = labels
    for n, (title, key) in enumerate(wanted):
        dash = DASHES[n % len(DASHES)]
        chart.add(title, series(key),
                  stroke_style={"width": 3, **({"dasharray": dash} if dash else {})},
                  dots_size=3 + n)
    # pygal always writes its tooltip script's settings: an image runs no script; drop it.
    return SCRIPT.sub("", chart.render(is_unicode=True))


def _options(style) -> dict:
    return dict(style=style, js=[], disable_xml_declaration=True, width=960, height=380,
                legend_at_bottom=True, legend_at_bottom_columns=3, x_label_rotation=0,
                truncate_legend=-1, show_minor_x_labels=True, allow_interruptions=True,
                print_values=False, tooltip_border_radius=0, explicit_size=False)
