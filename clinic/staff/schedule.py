"""The day's schedule (a column per provider) and a provider's week, on one time grid."""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, flash, render_template, request
from flask_login import current_user
from sqlalchemy import or_, select

from .. import clock
from ..enums import HOLDING
from ..extensions import db
from ..models import Appointment, Provider
from ..timeutil import day_bounds_utc
from ..web.picking import parse_day
from . import bp
from .grid import day_grid, week_grid


@bp.get("/")
def day():
    today = clock.now().astimezone(clock.tz()).date()
    shown = _day_arg(today)
    providers = _providers(shown, shown)
    grid = day_grid(db.session, providers, shown, now=clock.now(), clinic=clock.clinic())
    return render_template("staff/day.html", grid=grid, shown=shown, today=today,
                           previous=shown - timedelta(days=1), following=shown + timedelta(days=1))


@bp.get("/week")
def week():
    today = clock.now().astimezone(clock.tz()).date()
    shown = _day_arg(today)
    monday = shown - timedelta(days=shown.weekday())
    providers = _providers(monday, monday + timedelta(days=6))
    if not providers:
        abort(404)
    wanted = request.args.get("provider", type=int)
    provider = next((p for p in providers if p.id == wanted), providers[0])
    grid = week_grid(db.session, provider, monday, now=clock.now(), clinic=clock.clinic())
    return render_template("staff/week.html", grid=grid, shown=shown, today=today,
                           provider=provider, providers=providers, monday=monday,
                           previous=monday - timedelta(days=7),
                           following=monday + timedelta(days=7))


def _day_arg(today: date) -> date:
    """?date=YYYY-MM-DD, or today; a date that cannot be read is a clear 400."""
    text = request.args.get("date")
    if not text:
        return today
    day = parse_day(text)
    if day is None:
        flash(f"“{text[:40]}” is not a date (they look like 2027-03-15): showing today.",
              "error")
        return today
    return day


def _providers(first: date, last: date) -> list[Provider]:
    """Active providers, and retired ones with visits still held in these days; the
    signed-in account's own first, then by role and name."""
    start, _ = day_bounds_utc(first, clock.tz())
    _, end = day_bounds_utc(last, clock.tz())
    still_booked = select(Appointment.provider_id).where(
        Appointment.start_at >= start, Appointment.start_at < end,
        Appointment.status.in_(HOLDING))
    providers = list(db.session.scalars(
        select(Provider).where(or_(Provider.active, Provider.id.in_(still_booked)))
        .order_by(Provider.role, Provider.name, Provider.id)))
    own = current_user.provider_id
    return sorted(providers, key=lambda p: p.id != own)
