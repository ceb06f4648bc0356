"""The demo's history (clinic/history.py): visits on the grid inside working hours and never
overlapping, only the texts a visit could get, replies from the clients they name, the same
history for the same seed, written once; and the staff pages over it."""

from __future__ import annotations

from datetime import timedelta

from conftest import NOW
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from clinic import clock
from clinic.availability import ProviderSchedule, on_grid, weekly_hours
from clinic.enums import HOLDING, MessageKind, MessageStatus, ReplyAction, VisitStatus
from clinic.extensions import db
from clinic.history import History, fill_history
from clinic.messaging.models import Followup, InboundMessage, Message
from clinic.models import Appointment, Client, Provider, Service
from clinic.phones import mobile_phone

DAYS = 45


def fill(app, days: int = DAYS, seed: int = 0) -> dict:
    with app.app_context():
        return fill_history(db.session, now=NOW, clinic=clock.clinic(), days=days, seed=seed)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_history_of_visits_texts_and_replies_is_written(app):
    counts = fill(app)
    with app.app_context():
        assert counts == {"visits": count(Appointment), "clients": count(Client),
                          "messages": count(Message), "replies": count(InboundMessage),
                          "followups": count(Followup)}
        assert 30 * 10 < counts["visits"] < 60 * 14  # ~12 an open day, two weeks ahead
        statuses = dict(db.session.execute(
            select(Appointment.status, func.count()).group_by(Appointment.status)).all())
        assert statuses["completed"] > 0.7 * sum(statuses.values())
        assert statuses["no_show"] and statuses["cancelled"] and statuses["booked"]
        assert db.session.scalar(select(func.count()).where(
            Appointment.status == VisitStatus.CANCELLED, Appointment.late_change))
        assert db.session.scalar(select(func.count()).where(Appointment.start_at > NOW,
                                                            Appointment.status != "cancelled"))
        assert db.session.scalar(select(func.max(Appointment.start_at))) <= NOW + timedelta(
            days=15)
        texts = dict(db.session.execute(
            select(Message.status, func.count()).group_by(Message.status)).all())
        assert texts["delivered"] > 0.85 * sum(texts.values()) - texts["scheduled"] \
            - texts.get("cancelled", 0) - texts.get("skipped", 0)
        assert texts["failed"] and texts["skipped"] and texts["scheduled"]
        failed = db.session.execute(select(Message.error_code, Message.note)
                                    .where(Message.status == MessageStatus.FAILED)).all()
        assert all(note for _, note in failed) and any(code for code, _ in failed)
        followups = dict(db.session.execute(
            select(Followup.status, func.count()).group_by(Followup.status)).all())
        assert followups["closed"] and followups.get("open", 0) < followups["closed"]
        assert None not in db.session.scalars(
            select(Followup.note).where(Followup.status == "closed"))
        prices = set(db.session.scalars(select(Appointment.price_cents)))
        assert {8000, 20000} <= prices and prices - {8000, 20000}  # some at an older price


def test_no_visit_overlaps_another_of_its_provider_buffer_included(app):
    fill(app)
    with app.app_context():
        a, b = aliased(Appointment), aliased(Appointment)
        overlaps = db.session.scalar(select(func.count()).select_from(a).join(b, and_(
            a.provider_id == b.provider_id, a.id < b.id,
            a.start_at < b.busy_until, b.start_at < a.busy_until))
            .where(a.status.in_(HOLDING), b.status.in_(HOLDING)))
        assert overlaps == 0
        short = db.session.scalar(select(func.count()).select_from(Appointment)
                                  .join(Service, Service.id == Appointment.service_id)
                                  .where(Appointment.busy_until < Appointment.end_at))
        assert short == 0


def test_every_visit_is_on_the_grid_inside_its_providers_hours(app):
    fill(app)
    with app.app_context():
        clinic = clock.clinic()
        schedules = {p.id: ProviderSchedule(p.id, weekly_hours(p.hours))
                     for p in db.session.scalars(select(Provider))}
        services = {s.id: s for s in db.session.scalars(select(Service))}
        visits = list(db.session.scalars(select(Appointment)))
        for visit in visits:
            service = services[visit.service_id]
            assert schedules[visit.provider_id].works(visit.start_at, visit.end_at, clinic.tz)
            assert on_grid(visit.start_at, clinic.tz, clinic.rules)
            assert visit.end_at - visit.start_at == timedelta(minutes=service.duration_minutes)
            assert visit.busy_until - visit.end_at == timedelta(minutes=service.buffer_minutes)
            assert service.provider_role == visit.provider.role
            assert visit.created_at <= min(NOW, visit.start_at - clinic.rules.lead_time)


def test_a_visit_has_only_the_texts_it_could_get(app):
    fill(app)
    with app.app_context():
        kinds: dict[int, set] = {}
        for appt_id, kind in db.session.execute(select(Message.appointment_id, Message.kind)):
            kinds.setdefault(appt_id, set()).add(kind)
        after = {MessageKind.AFTERCARE, MessageKind.REDNESS_CHECKIN,
                 MessageKind.PURGING_CHECKIN, MessageKind.REBOOK}
        for visit in db.session.scalars(select(Appointment)):
            got = kinds.get(visit.id, set())
            allowed = {MessageKind.CONFIRMATION, MessageKind.REMINDER, MessageKind.STAFF_REPLY}
            if visit.intake["uses_prescription_topicals"]:
                allowed.add(MessageKind.PRE_VISIT_PAUSE)
            if visit.status == VisitStatus.CANCELLED:
                allowed.add(MessageKind.CANCELLATION)
            if visit.status == VisitStatus.COMPLETED:
                allowed |= after
                if not visit.service.purging_checkin:
                    allowed.discard(MessageKind.PURGING_CHECKIN)
            assert got <= allowed, (visit.id, visit.status, got - allowed)
            assert MessageKind.CONFIRMATION in got
            if visit.status == VisitStatus.COMPLETED and visit.end_at < NOW - timedelta(days=3):
                assert {MessageKind.AFTERCARE, MessageKind.REDNESS_CHECKIN} <= got
        # Sent before now, waiting after it; a staff reply answers a follow-up.
        assert not db.session.scalar(select(func.count()).where(
            Message.status == MessageStatus.SCHEDULED, Message.due_at <= NOW))
        assert not db.session.scalar(select(func.count()).where(
            Message.status.in_(("sent", "delivered")),
            (Message.sent_at > NOW) | (Message.sent_at < Message.due_at)
            | Message.provider_sid.is_(None) | Message.body.is_(None)))
        assert not db.session.scalar(select(func.count()).where(
            Message.kind == MessageKind.STAFF_REPLY, Message.followup_id.is_(None)))


def test_replies_come_from_the_clients_they_name(app):
    fill(app)
    with app.app_context():
        phones = dict(db.session.execute(select(Client.id, Client.phone)).all())
        assert len(set(phones.values())) == len(phones)
        assert all(mobile_phone(p) == p for p in phones.values())
        visits = dict(db.session.execute(select(Appointment.id, Appointment.client_id)).all())
        replies = list(db.session.scalars(select(InboundMessage)))
        assert {r.action for r in replies} >= {ReplyAction.CONFIRM, ReplyAction.CHECKIN_OK,
                                             ReplyAction.FOLLOWUP}
        for reply in replies:
            assert reply.received_at <= NOW
            if reply.client_id is None:
                assert reply.from_phone not in phones.values()
                assert reply.followup_id is not None
                continue
            assert reply.from_phone == phones[reply.client_id]
            if reply.appointment_id is not None:
                assert visits[reply.appointment_id] == reply.client_id
            if reply.action in (ReplyAction.REDNESS_BAD, ReplyAction.PURGING_BAD,
                                ReplyAction.FOLLOWUP):
                assert reply.followup_id is not None
        for followup in db.session.scalars(select(Followup)):
            assert followup.inbound.client_id == followup.client_id
            assert followup.inbound.followup_id == followup.id
            if followup.status == "closed":
                assert followup.created_at < followup.closed_at <= NOW


def test_extraction_visits_of_a_client_keep_the_gap_and_some_come_back(app):
    fill(app, days=90)
    with app.app_context():
        clinic = clock.clinic()
        days: dict[int, list] = {}
        for client_id, start in db.session.execute(
                select(Appointment.client_id, Appointment.start_at)
                .where(Appointment.status != "cancelled").order_by(Appointment.start_at)):
            days.setdefault(client_id, []).append(start.astimezone(clinic.tz).date())
        gaps = [(b - a).days for d in days.values() for a, b in zip(d, d[1:], strict=False)]
        assert gaps and min(gaps) >= clinic.rules.extraction_gap_days
        assert sum(1 for g in gaps if 14 <= g <= 30) > 10  # came back inside the window
        via = dict(db.session.execute(select(Appointment.booked_via, func.count())
                                      .group_by(Appointment.booked_via)).all())
        assert via["rebook_text"] and via["online"] and via["phone"]


def rows_of(app, seed: int) -> tuple[list, dict]:
    """The generator's first batch (without the secret links) and its counts, unwritten."""
    with app.app_context():
        history = History(db.session, now=NOW, clinic=clock.clinic(), days=30, per_day=None,
                          seed=seed, base_url="http://clinic.test")
        batches = list(history.batches())
        first = batches[0]
        visits = [{k: v for k, v in row.items() if k != "manage_token"} for row in first.visits]
        texts = [{k: v for k, v in row.items() if k != "body"} for row in first.messages]
        db.session.rollback()
        return [visits, texts, first.clients, first.inbound, first.message_events], \
            history.counts()


def test_the_same_seed_gives_the_same_history(app):
    one, two, other = rows_of(app, 7), rows_of(app, 7), rows_of(app, 8)
    assert one == two
    assert one[0] != other[0]
    assert one[1]["visits"] > 0


def test_a_second_run_adds_nothing(app):
    first = fill(app)
    assert first["visits"]
    with app.app_context():
        before = count(Appointment), count(Message), count(Client)
    assert fill(app) == dict.fromkeys(first, 0)
    with app.app_context():
        assert (count(Appointment), count(Message), count(Client)) == before


def test_seed_demo_with_history_fills_once(app, runner):
    first = runner.invoke(args=["seed-demo", "--history"])
    assert first.exit_code == 0, first.output
    assert "history:" in first.output and " visits" in first.output
    with app.app_context():
        visits = count(Appointment)
        oldest = db.session.scalar(select(func.min(Appointment.start_at)))
    assert visits > 3000 and oldest < NOW - timedelta(days=360)
    again = runner.invoke(args=["seed-demo", "--history"])
    assert again.exit_code == 0, again.output
    assert "nothing added" in again.output
    with app.app_context():
        assert count(Appointment) == visits


def test_the_staff_pages_show_the_history(app, sign_in):
    fill(app)
    client = sign_in("admin")
    with app.app_context():
        visit = db.session.scalar(select(Appointment).where(
            Appointment.status == VisitStatus.COMPLETED).order_by(Appointment.start_at.desc()))
        day = visit.start_at.astimezone(clock.clinic().tz).date()
        name = visit.client.name
        visit_id = visit.id
    page = client.get(f"/staff/?date={day.isoformat()}")
    assert page.status_code == 200
    assert name in page.text
    for path in ("/staff/reports", "/staff/reports.csv", "/staff/reports.svg", "/staff/inbox",
                 f"/staff/visits/{visit_id}", "/staff/week?date=" + day.isoformat()):
        assert client.get(path).status_code == 200, path
