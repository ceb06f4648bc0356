"""The owner's weekly report at /staff/reports and /staff/reports.csv.

`seed_history` writes twelve weeks of visits, texts and replies straight through the models,
every outcome chosen by a rule written beside it; the expected figures below are worked out by
hand from those rules (see each list's comment) and written as literals.

Weeks (clinic time, America/Los_Angeles, no clock change in range): week k starts Monday
7 Dec 2026 + k weeks; week 12 is the current one (NOW is Monday 1 March 2027, 08:00).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

from conftest import NOW
from sqlalchemy import select, update

from clinic.extensions import db
from clinic.messaging.models import InboundMessage, Message
from clinic.models import Appointment, Client, Provider, Service

TZ = ZoneInfo("America/Los_Angeles")
WEEK0 = date(2026, 12, 7)
WEEKS = [(WEEK0 + timedelta(weeks=k)).isoformat() for k in range(13)]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).astimezone(UTC)


class History:
    """Writes visits, texts and replies; each visit gets its own client unless named."""

    def __init__(self, session):
        self.session = session
        self.services = {s.slug: s for s in session.scalars(select(Service))}
        self.providers = {p.role: p for p in session.scalars(select(Provider))}
        self.clients: dict[str, Client] = {}
        self.n = 0

    def client(self, name: str | None = None) -> Client:
        if name and name in self.clients:
            return self.clients[name]
        self.n += 1
        c = Client(name=name or f"Client {self.n}", phone=f"+1415555{self.n:04d}",
                   sms_consent_at=NOW - timedelta(days=200), created_at=NOW - timedelta(days=200))
        self.session.add(c)
        if name:
            self.clients[name] = c
        return c

    def visit(self, slug: str, start: datetime, status: str = "completed", *,
              client: str | None = None, price: int | None = None, created: datetime | None = None,
              cancelled_at: datetime | None = None, late: bool = False,
              via: str | None = None) -> Appointment:
        service = self.services[slug]
        end = start + timedelta(minutes=service.duration_minutes)
        self.n += 1
        appt = Appointment(
            service=service, provider=self.providers[service.provider_role],
            client=self.client(client), start_at=start, end_at=end,
            busy_until=end + timedelta(minutes=service.buffer_minutes), status=status,
            price_cents=service.price_cents if price is None else price, intake={},
            manage_token=f"report-{self.n}", late_change=late, booked_via=via,
            created_at=created or start - timedelta(days=7), cancelled_at=cancelled_at,
            updated_at=start)
        self.session.add(appt)
        return appt

    def text(self, appt: Appointment, kind: str, due: datetime, status: str = "delivered", *,
             code: int | None = None, note: str | None = None) -> Message:
        handed = status in ("sent", "delivered", "failed", "unknown")
        m = Message(appointment=appt, client=appt.client, kind=kind, due_at=due, status=status,
                    attempts=1 if handed else 0, error_code=code, note=note,
                    claimed_at=due if handed else None,
                    sent_at=due if status in ("sent", "delivered") else None,
                    created_at=due - timedelta(days=1), updated_at=due)
        self.session.add(m)
        return m

    def reply(self, appt: Appointment, body: str, action: str, at: datetime) -> None:
        self.n += 1
        self.session.add(InboundMessage(
            message_sid=f"SMreport{self.n}", client=appt.client, from_phone=appt.client.phone,
            body=body, action=action, appointment=appt, received_at=at))


#: Visits whose client comes back (or doesn't): (service, week, j) -> client name.
SHARED = {
    # C1: a facial every other Monday: each one is followed 14 days later (inside the window),
    # except week 10's (nothing after it).
    **{("facial", k, 4): "C1" for k in (0, 2, 4, 6, 8, 10)},
    ("facial", 3, 4): "C4", ("facial", 7, 12): "C4",  # Mon 28 Dec -> Wed 27 Jan: 30 days, in
    ("facial", 5, 4): "C5", ("facial", 9, 18): "C5",  # Mon 11 Jan -> Thu 11 Feb: 31 days, out
    ("extraction", 9, 1): "C6", ("facial", 11, 18): "C6",  # Fri 12 Feb -> Thu 25 Feb: 13, out
    ("extraction", 2, 1): "C7", ("facial", 5, 3): "C7",  # 17 days, but cancelled: not counted
    ("extraction", 4, 1): "C8", ("facial", 7, 0): "C8",  # 17 days, a no-show: still counted
    ("extraction", 1, 1): "C9", ("extraction", 5, 1): "C9",  # Fri 18 Dec -> Fri 15 Jan: 28, in
}

#: How some of the visits that came back were booked: C4's from the rebook text's link (week 3
#: counts it), C9's on the booking pages (week 1 does not).
VIA_REBOOK_TEXT = {("facial", 7, 12): "rebook_text", ("facial", 7, 0): "online"}

FAILURES = {  # week -> an extra failed text: (error code, note)
    2: (21610, "number has opted out (21610)"),
    3: (30006, "undeliverable (30006)"),
    4: (30003, "carrier error 30003; gave up after 5 attempts"),
    5: (21408, "Permission to send an SMS has not been enabled"),
    6: (None, "connection refused; a retry would arrive after the visit"),
}


def seed_history(app) -> None:
    """Weeks 0-11, week k (Monday M):

    - facials j = 0 .. 9+k: j at day j//6 (Mon..Thu), 09:00 + 2 h * (j % 6), booked at $80
      (week 0's j=4 at $70); j=0,1 no-show; j=2 cancelled an hour after booking (not late);
      j=3 cancelled 2 h before its start (late); the rest completed; week 6's j=5 moved late,
      then completed.
    - extractions j = 0 .. 3 + k%3: Friday 09:00 + 2 h * j, $200; j=0 no-show, the rest
      completed.
    - every visit created exactly 7 days before it starts (so in week k-1).
    - texts, due in week k: the redness (Wed) and purging (Thu) check-ins of facials j=6 and
      j=7, and k reminders, all delivered; 2 sent; 1 failed (carrier error 30007: "other");
      1 each scheduled, skipped and cancelled (not handed over); FAILURES adds one; week 7
      has one `unknown`.
    - replies: facial j=6: redness "1" when k%3==0, "2" when k%3==1, none when k%3==2;
      purging "2" when k is even, "1" when odd. Facial j=7: redness "2" always; purging "2"
      when k%4==0. Plus an opt-out and an unrecognised reply each week (not check-in answers).

    Week 12 (now): 3 facials (Tue) and 2 extractions (Fri) booked for later this week,
    created last week; a facial for next Monday booked this morning; one confirmation
    delivered at 07:00 today, one reminder still scheduled.
    """
    with app.app_context():
        h = History(db.session)
        for k in range(12):
            monday = WEEK0 + timedelta(weeks=k)
            checkin_visits = {}
            for j in range(10 + k):
                day = monday + timedelta(days=j // 6)
                start = local(day, 9 + 2 * (j % 6))
                kw = dict(client=SHARED.get(("facial", k, j)),
                          via=VIA_REBOOK_TEXT.get(("facial", k, j)))
                if k == 0 and j == 4:
                    kw["price"] = 7000
                if j < 2:
                    appt = h.visit("facial", start, "no_show", **kw)
                elif j == 2:
                    appt = h.visit("facial", start, "cancelled",
                                   cancelled_at=start - timedelta(days=7, hours=-1), **kw)
                elif j == 3:
                    appt = h.visit("facial", start, "cancelled", late=True,
                                   cancelled_at=start - timedelta(hours=2), **kw)
                else:
                    appt = h.visit("facial", start, late=(k == 6 and j == 5), **kw)
                if j in (6, 7):
                    checkin_visits[j] = appt
            friday = monday + timedelta(days=4)
            for j in range(4 + k % 3):
                h.visit("extraction", local(friday, 9 + 2 * j),
                        "no_show" if j == 0 else "completed",
                        client=SHARED.get(("extraction", k, j)))

            a, b = checkin_visits[6], checkin_visits[7]
            wed, thu = monday + timedelta(days=2), monday + timedelta(days=3)
            for appt, hour in ((a, 10), (b, 12)):
                h.text(appt, "redness_checkin", local(wed, hour))
                h.text(appt, "purging_checkin", local(thu, hour))
            for i in range(k):
                h.text(a, "reminder", local(monday, 6, 0) + timedelta(minutes=37 * i))
            h.text(a, "confirmation", local(monday, 0, 5), "sent")
            h.text(b, "confirmation", local(monday + timedelta(days=6), 23, 55), "sent")
            h.text(a, "aftercare", local(monday, 7), "failed", code=30007,
                   note="carrier error 30007")
            h.text(b, "rebook", local(monday, 7), "scheduled")
            h.text(b, "reminder", local(monday, 8), "skipped", note="moment passed")
            h.text(b, "aftercare", local(monday, 9), "cancelled")
            if k in FAILURES:
                code, note = FAILURES[k]
                h.text(b, "reminder", local(monday, 10), "failed", code=code, note=note)
            if k == 7:
                h.text(b, "reminder", local(monday, 11), "unknown", note="Twilio could not say")

            if k % 3 == 0:
                h.reply(a, "1", "redness_bad", local(wed, 11))
            elif k % 3 == 1:
                h.reply(a, "2", "checkin_ok", local(wed, 11))
            h.reply(a, "2" if k % 2 == 0 else "1", "checkin_ok" if k % 2 == 0 else "purging_bad",
                    local(thu, 11))
            h.reply(b, "2", "checkin_ok", local(wed, 13))
            if k % 4 == 0:
                h.reply(b, "2", "checkin_ok", local(thu, 13))
            h.reply(b, "STOP", "opt_out", local(thu, 14))
            h.reply(a, "thanks!", "followup", local(thu, 15))

        tue, fri = date(2027, 3, 2), date(2027, 3, 5)
        upcoming = [h.visit("facial", local(tue, hour), "booked") for hour in (9, 11, 13)]
        upcoming += [h.visit("extraction", local(fri, hour), "booked") for hour in (9, 11)]
        h.visit("facial", local(date(2027, 3, 8), 10), "booked",
                created=NOW - timedelta(minutes=30))
        h.text(upcoming[0], "confirmation", NOW - timedelta(hours=1))
        h.text(upcoming[0], "reminder", local(date(2027, 3, 1), 9), "scheduled")
        db.session.commit()
        db.session.remove()


# The figures, week 0 .. week 12, worked out from the rules above.
EXPECTED = {
    # created in week k = started in week k+1: facials 10+(k+1), extractions 4+(k+1)%3;
    # week 11: the 3 + 2 booked for this week; week 12: next Monday's facial.
    "bookings_facial": [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 3, 1],
    "bookings_extraction": [5, 6, 4, 5, 6, 4, 5, 6, 4, 5, 6, 2, 0],
    "bookings_total": [16, 18, 17, 19, 21, 20, 22, 24, 23, 25, 27, 5, 1],
    # completed facials 6+k at $80 (week 0: one at $70); extractions 3+k%3 at $200.
    "revenue_facial": ["470.00", "560.00", "640.00", "720.00", "800.00", "880.00", "960.00",
                       "1040.00", "1120.00", "1200.00", "1280.00", "1360.00", "0.00"],
    "revenue_extraction": ["600.00", "800.00", "1000.00", "600.00", "800.00", "1000.00",
                           "600.00", "800.00", "1000.00", "600.00", "800.00", "1000.00", "0.00"],
    "revenue_total": ["1070.00", "1360.00", "1640.00", "1320.00", "1600.00", "1880.00",
                      "1560.00", "1840.00", "2120.00", "1800.00", "2080.00", "2360.00", "0.00"],
    # the late cancellation of week k, and next week's j=2 cancelled when booked in week k.
    "cancelled": [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 0],
    "late_changes": [1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 0],
    # (6+k) + (3+k%3)
    "completed": [9, 11, 13, 12, 14, 16, 15, 17, 19, 18, 20, 22, 0],
    "no_show": [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0],
    # 3/12, 3/14, 3/16, 3/15, 3/17, 3/19, 3/18, 3/20, 3/22, 3/21, 3/23, 3/25
    "no_show_rate_pct": ["25.0", "21.4", "18.8", "20.0", "17.6", "15.8", "16.7", "15.0", "13.6",
                         "14.3", "13.0", "12.0", "n/a"],
    # every completed visit includes extraction (facials do too)
    "rebook_eligible": [9, 11, 13, 12, 14, 16, 15, 17, 19, 18, 20, 22, 0],
    # C1 in weeks 0 2 4 6 8; C9 week 1; C4 week 3; C8 week 4
    "rebooked": [1, 1, 1, 1, 2, 0, 1, 0, 1, 0, 0, 0, 0],
    # 1/9, 1/11, 1/13, 1/12, 2/14, 0/16, 1/15, 0/17, 1/19, 0/18, 0/20, 0/22
    "rebook_rate_pct": ["11.1", "9.1", "7.7", "8.3", "14.3", "0.0", "6.7", "0.0", "5.3", "0.0",
                        "0.0", "0.0", "n/a"],
    "rebooked_via_text": ["0", "0", "0", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0"],
    "checkin_replies": [4, 3, 2, 3, 4, 2, 3, 3, 3, 3, 3, 2, 0],
    "redness_answers": [2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 0],
    "still_red": [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0],
    "still_red_pct": ["50.0", "0.0", "0.0", "50.0", "0.0", "0.0", "50.0", "0.0", "0.0", "50.0",
                      "0.0", "0.0", "n/a"],
    "purging_answers": [2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 0],
    "painful": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0],
    "painful_pct": ["0.0", "100.0", "0.0", "100.0", "0.0", "100.0", "0.0", "100.0", "0.0",
                    "100.0", "0.0", "100.0", "n/a"],
    # delivered 4+k (week 12: 1), + 2 sent + failed + unknown
    "texts_sent": [7, 8, 10, 11, 12, 13, 14, 15, 15, 16, 17, 18, 1],
    "delivered": [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 1],
    # 4/7, 5/8, 6/10, 7/11, 8/12, 9/13, 10/14, 11/15, 12/15, 13/16 (81.25: half up), ...
    "delivery_rate_pct": ["57.1", "62.5", "60.0", "63.6", "66.7", "69.2", "71.4", "73.3",
                          "80.0", "81.3", "82.4", "83.3", "100.0"],
    "failed_opted_out": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    "failed_undeliverable": [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    "failed_other": [1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 0],
    "failed_gave_up": [0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0],
}


def csv_table(answer) -> tuple[list[str], list[list[str]]]:
    table = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    return table[0], table[1:]


def page_table(html: str) -> dict[str, list[str]]:
    """Each column the page's tables show, by its key, week by week."""
    found: dict[str, list[str]] = {}
    weeks: list[str] = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", html, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
        weeks = [unescape(re.search(r'<th scope="row">(.*?)</th>', r).group(1)) for r in rows]
        for row in rows:
            for key, value in re.findall(r'<td data-key="([^"]+)">(.*?)</td>', row):
                found.setdefault(key, []).append(unescape(value))
    found["week"] = weeks
    return found


def expected_cells() -> dict[str, list[str]]:
    return {key: [str(v) for v in values] for key, values in EXPECTED.items()}


def test_the_page_and_the_csv_show_the_figures_worked_out_by_hand(app, sign_in):
    seed_history(app)
    admin = sign_in("admin")
    page = admin.get("/staff/reports")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    shown = page_table(html)
    assert shown["week"] == WEEKS
    for key, values in expected_cells().items():
        assert shown[key] == values, key

    answer = admin.get("/staff/reports.csv")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == \
        "attachment; filename=clinic-report-2026-12-07-2027-03-01.csv"
    header, rows = csv_table(answer)
    assert len(rows) == 13
    by_key = {key: [row[i] for row in rows] for i, key in enumerate(header)}
    assert by_key["week"] == WEEKS
    for key, values in expected_cells().items():
        assert by_key[key] == values, key
    # The CSV is the page: every column, every week.
    assert set(header) == set(shown)
    for key in header:
        assert by_key[key] == shown[key], key

    # Each figure is defined on the page, and the charts are images with words.
    for term in ("No-show rate", "Rebooking rate", "Delivery rate", "Still red or swollen"):
        assert f"<dt>{term}</dt>" in html
    assert html.count('<img src="/staff/reports.svg?') == 2
    assert 'scope="col"' in html and 'scope="row"' in html


def test_revenue_is_the_price_booked_not_todays(app, sign_in):
    seed_history(app)
    admin = sign_in("admin")
    before = admin.get("/staff/reports.csv").get_data(as_text=True)
    with app.app_context():
        db.session.execute(update(Service).values(price_cents=Service.price_cents * 3))
        db.session.commit()
    assert admin.get("/staff/reports.csv").get_data(as_text=True) == before
    header, rows = csv_table(admin.get("/staff/reports.csv"))
    assert rows[0][header.index("revenue_total")] == "1070.00"


def test_a_chosen_range_covers_whole_weeks(app, sign_in):
    seed_history(app)
    admin = sign_in("admin")
    answer = admin.get("/staff/reports.csv?from=2026-12-16&to=2026-12-29")
    assert answer.headers["Content-Disposition"] == \
        "attachment; filename=clinic-report-2026-12-16-2026-12-29.csv"
    header, rows = csv_table(answer)
    assert [r[0] for r in rows] == ["2026-12-14", "2026-12-21", "2026-12-28"]
    assert [r[header.index("completed")] for r in rows] == ["11", "13", "12"]
    assert [r[header.index("rebooked")] for r in rows] == ["1", "1", "1"]


def test_weeks_follow_clinic_mondays_across_the_clock_change(app, sign_in):
    """Clocks go back on Sunday 1 Nov 2026: the week of 26 Oct is 169 hours long."""
    with app.app_context():
        h = History(db.session)
        sun_late = local(date(2026, 11, 1), 23, 30)  # 07:30 UTC on the 2nd: still week of 26 Oct
        mon_early = local(date(2026, 11, 2), 0, 30)
        for n, created in enumerate((local(date(2026, 10, 25), 23, 50),
                                     local(date(2026, 10, 26), 0, 10), sun_late, mon_early)):
            h.visit("facial", local(date(2026, 12, 1), 9 + 2 * n), "booked", created=created)
        # Fri 30 Oct 09:00 PDT -> Fri 13 Nov 08:00 PST: 14 clinic days (13 days 24 h later).
        h.visit("extraction", local(date(2026, 10, 30), 9), client="D1")
        h.visit("extraction", local(date(2026, 11, 13), 8), "booked", client="D1",
                via="rebook_text")
        # Sat 31 Oct 16:00 PDT -> Fri 13 Nov 15:00 PST: 13 clinic days, outside.
        h.visit("extraction", local(date(2026, 10, 31), 16), client="D2")
        h.visit("extraction", local(date(2026, 11, 13), 15), "booked", client="D2")
        db.session.commit()
    answer = sign_in("admin").get("/staff/reports.csv?from=2026-10-26&to=2026-11-08")
    header, rows = csv_table(answer)
    col = header.index
    assert [r[0] for r in rows] == ["2026-10-26", "2026-11-02"]
    assert [r[col("bookings_facial")] for r in rows] == ["2", "1"]
    assert [r[col("rebook_eligible")] for r in rows] == ["2", "0"]
    assert [r[col("rebooked")] for r in rows] == ["1", "0"]
    assert [r[col("rebooked_via_text")] for r in rows] == ["1", "0"]


def test_staff_without_the_admin_role_get_403(app, sign_in):
    desk = sign_in()
    for path in ("/staff/reports", "/staff/reports.csv", "/staff/reports.svg"):
        assert desk.get(path).status_code == 403, path


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for path in ("/staff/reports", "/staff/reports.csv"):
        answer = client.get(path)
        assert answer.status_code in (302, 303) and "/staff/login" in answer.location


def test_bad_dates_get_a_message_not_an_error(app, sign_in):
    admin = sign_in("admin")
    cases = {
        "from=yesterday": "isn't a date",
        "from=2027-02-30": "isn't a day on the calendar",
        "from=2027-03-01&to=2027-02-01": "is after the end",
        "from=2024-01-01&to=2027-03-01": "at most two years",
        "from=1999-12-31&to=2000-01-02": "between 2000 and 2100",
        "to=9999-12-31": "between 2000 and 2100",
    }
    for query, words in cases.items():
        page = admin.get(f"/staff/reports?{query}")
        assert page.status_code == 422, query
        text = unescape(page.get_data(as_text=True))
        assert words in text, query
        assert 'role="alert"' in text
        assert admin.get(f"/staff/reports.csv?{query}").status_code == 422
    # What was typed stays in the form.
    assert 'value="yesterday"' in admin.get("/staff/reports?from=yesterday").get_data(as_text=True)


def test_the_charts_are_svg_with_nothing_to_run_or_fetch(app, sign_in):
    seed_history(app)
    admin = sign_in("admin")
    for chart in ("rates", "bookings"):
        answer = admin.get(f"/staff/reports.svg?chart={chart}")
        assert answer.status_code == 200
        assert answer.mimetype == "image/svg+xml"
        svg = answer.get_data(as_text=True)
        assert svg.startswith("<svg") and "<script" not in svg
        assert "http://" not in re.sub(r"<!--.*?-->|xmlns(:\w+)?=\"[^\"]+\"", "", svg)
        assert "stroke-dasharray" in svg  # series told apart by their line, not only colour
        assert "script-src" not in answer.headers["Content-Security-Policy"]
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert admin.get("/staff/reports.svg?chart=pie").status_code == 404


def test_an_empty_clinic_reports_zeros(app, sign_in):
    admin = sign_in("admin")
    page = admin.get("/staff/reports")
    assert page.status_code == 200
    header, rows = csv_table(admin.get("/staff/reports.csv"))
    assert len(rows) == 13
    assert all(r[header.index("no_show_rate_pct")] == "n/a" for r in rows)


def test_drawing_a_chart_leaves_imports_quiet(app, sign_in):
    """pygal adds an import hook that warns on every later import; the app removes it."""
    import importlib
    import sys
    import warnings

    assert sign_in("admin").get("/staff/reports.svg?chart=rates").status_code == 200
    assert not [f for f in sys.meta_path if type(f).__name__ == "PluginImportFixer"]
    sys.modules.pop("colorsys", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module("colorsys")
