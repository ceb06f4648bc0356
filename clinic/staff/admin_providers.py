"""Admin: providers, their details, weekly hours and time off, retiring (admins only).

Views parse the forms and call `clinic.providers_admin`. A change that would strand booked
visits answers with a page listing them and a "Change anyway" button that posts the same
values again with `confirm=yes` (and the ids shown, so a visit booked meanwhile is asked
about too); nothing is written until then.
"""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for

from .. import clock
from .. import providers_admin as domain
from ..enums import ProviderRole
from ..extensions import db
from ..models import Provider
from . import bp
from .access import actor, admin_only

IDS = re.compile(r"[0-9]{1,9}(?:,[0-9]{1,9}){0,199}")
TIME_OFF_FIELDS = ("first_day", "last_day", "from_time", "until_time", "reason")


@bp.get("/admin/providers")
@admin_only
def providers():
    return _list_page()


@bp.post("/admin/providers")
@admin_only
def provider_create():
    typed = _details_typed()
    try:
        provider = domain.create_provider(
            db.session, name=typed["name"], role=typed["role"],
            board_certified=typed["board_certified"], now=clock.now(), actor=actor())
    except domain.ProviderError as exc:
        return _list_page(values=typed, errors=exc.fields, problem=exc.message, status=422)
    flash(f"{provider.name} added. Set their weekly hours next: until then they can't be "
          "booked.", "ok")
    return redirect(url_for("staff.provider", provider_id=provider.id), 303)


@bp.route("/admin/providers/<int:provider_id>", methods=["GET", "POST"])
@admin_only
def provider(provider_id: int):
    found = _get(provider_id)
    if request.method == "GET":
        return _provider_page(found)
    typed = _details_typed()
    try:
        entry = domain.update_provider(
            db.session, provider_id, name=typed["name"], role=typed["role"],
            board_certified=typed["board_certified"], now=clock.now(), tz=clock.tz(),
            actor=actor(), **_confirmation())
    except domain.UnknownProvider:
        abort(404)
    except domain.ProviderError as exc:
        return _provider_page(_get(provider_id), details=typed, errors=exc.fields,
                              problem=exc.message, form="details", status=422)
    except domain.NeedsConfirmation as exc:
        hidden = [("name", typed["name"]), ("role", typed["role"])]
        if typed["board_certified"]:
            hidden.append(("board_certified", "yes"))
        return _confirm_page(_get(provider_id), exc, "staff.provider", hidden,
                             what=f"Change the role to {_role_words(typed['role'])}")
    _done(entry, "Details saved.", "Nothing changed: the details were already these.")
    return redirect(url_for("staff.provider", provider_id=provider_id), 303)


@bp.post("/admin/providers/<int:provider_id>/hours")
@admin_only
def provider_hours(provider_id: int):
    _get(provider_id)
    typed = {day: request.form.get(f"hours_{day}", "") for day in range(7)}
    try:
        week = domain.parse_week(typed)
        entry = domain.set_hours(db.session, provider_id, week, now=clock.now(), tz=clock.tz(),
                                 actor=actor(), **_confirmation())
    except domain.UnknownProvider:
        abort(404)
    except domain.ProviderError as exc:
        return _provider_page(_get(provider_id), hours=typed, errors=exc.fields,
                              problem=exc.message, form="hours", status=422)
    except domain.NeedsConfirmation as exc:
        hidden = [(f"hours_{day}", typed[day]) for day in range(7)]
        return _confirm_page(_get(provider_id), exc, "staff.provider_hours", hidden,
                             what="Change the weekly hours to: " + domain.summary(week))
    _done(entry, "Weekly hours saved.", "Nothing changed: the hours were already these.")
    return redirect(url_for("staff.provider", provider_id=provider_id, _anchor="hours-h"), 303)


@bp.post("/admin/providers/<int:provider_id>/time-off")
@admin_only
def provider_time_off_add(provider_id: int):
    _get(provider_id)
    typed = {key: request.form.get(key, "") for key in TIME_OFF_FIELDS}
    try:
        req = domain.parse_time_off(**typed, tz=clock.tz())
        domain.add_time_off(db.session, provider_id, req, now=clock.now(), tz=clock.tz(),
                            actor=actor(), **_confirmation())
    except domain.UnknownProvider:
        abort(404)
    except domain.ProviderError as exc:
        return _provider_page(_get(provider_id), time_off=typed, errors=exc.fields,
                              problem=exc.message, form="time_off", status=422)
    except domain.NeedsConfirmation as exc:
        return _confirm_page(_get(provider_id), exc, "staff.provider_time_off_add",
                             list(typed.items()), what=f"Add time off: {req.label}")
    flash(f"Time off added: {req.label}.{_left_words()}", "ok")
    return redirect(url_for("staff.provider", provider_id=provider_id, _anchor="time-off-h"),
                    303)


@bp.post("/admin/providers/<int:provider_id>/time-off/<int:time_off_id>/remove")
@admin_only
def provider_time_off_remove(provider_id: int, time_off_id: int):
    _get(provider_id)
    try:
        entry = domain.remove_time_off(db.session, provider_id, time_off_id, now=clock.now(),
                                       tz=clock.tz(), actor=actor())
    except domain.UnknownProvider:
        abort(404)
    if entry is None:
        flash("That time off was already removed.", "info")
    else:
        flash(f"Time off removed: {entry.before['time_off']}.", "ok")
    return redirect(url_for("staff.provider", provider_id=provider_id, _anchor="time-off-h"),
                    303)


@bp.post("/admin/providers/<int:provider_id>/retire")
@admin_only
def provider_retire(provider_id: int):
    return _set_active(provider_id, False)


@bp.post("/admin/providers/<int:provider_id>/restore")
@admin_only
def provider_restore(provider_id: int):
    return _set_active(provider_id, True)


def _set_active(provider_id: int, active: bool):
    found = _get(provider_id)
    try:
        entry = domain.set_active(db.session, provider_id, active, now=clock.now(),
                                  tz=clock.tz(), actor=actor(), **_confirmation())
    except domain.UnknownProvider:
        abort(404)
    except domain.NeedsConfirmation as exc:
        return _confirm_page(_get(provider_id), exc, "staff.provider_retire", [],
                             what=f"Retire {found.name}: they will no longer be offered for "
                                  "booking")
    if active:
        _done(entry, f"{found.name} restored: offered for booking again.",
              f"{found.name} was already active.")
    else:
        _done(entry, f"{found.name} retired: no longer offered for booking.",
              f"{found.name} was already retired.")
    return redirect(url_for("staff.provider", provider_id=provider_id), 303)


# --- Helpers ----------------------------------------------------------------------------------


def _get(provider_id: int) -> Provider:
    found = db.session.get(Provider, provider_id)
    if found is None:
        abort(404)
    return found


def _details_typed() -> dict:
    form = request.form
    return {"name": form.get("name", ""), "role": form.get("role", ""),
            "board_certified": form.get("board_certified") == "yes"}


def _confirmation() -> dict:
    """confirmed=…, acknowledged=… from the form: the ids the confirmation page listed (a
    visit booked since then is asked about again). Without a list, confirm=yes stands for
    every visit found."""
    shown = request.form.get("acknowledged", "")
    acknowledged = {int(i) for i in shown.split(",")} if IDS.fullmatch(shown) else None
    return {"confirmed": request.form.get("confirm") == "yes", "acknowledged": acknowledged}


def _left_words() -> str:
    """The flash's second sentence when a confirmed change left visits booked."""
    if request.form.get("confirm") != "yes":
        return ""
    return (" Visits it affects stay booked: call those clients to move them (listed on this "
            "page).")


def _done(entry, saved: str, unchanged: str) -> None:
    if entry is None:
        flash(unchanged, "info")
        return
    left = (entry.after or {}).get("visits_left_booked")
    if left:
        saved += (f" {len(left)} booked visit{'s' if len(left) != 1 else ''} "
                  f"{'stay' if len(left) != 1 else 'stays'} booked: call "
                  f"{'those clients' if len(left) != 1 else 'the client'} to move "
                  f"{'them' if len(left) != 1 else 'it'} (listed on this page).")
    flash(saved, "ok")


def _role_words(role: str) -> str:
    try:
        return domain.ROLE_WORDS[ProviderRole(role)].lower()
    except ValueError:
        return role


def _list_page(*, values: dict | None = None, errors: dict | None = None,
               problem: str | None = None, status: int = 200):
    rows = [(p, domain.summary(domain.week_of(p))) for p in domain.all_providers(db.session)]
    values = values or {"name": "", "role": "", "board_certified": False}
    return render_template("staff/admin_providers.html", rows=rows, values=values,
                           errors=errors or {}, problem=problem, roles=domain.ROLE_WORDS), status


def _provider_page(found: Provider, *, details: dict | None = None, hours: dict | None = None,
                   time_off: dict | None = None, errors: dict | None = None,
                   problem: str | None = None, form: str | None = None, status: int = 200):
    now, tz = clock.now(), clock.tz()
    details = details or {"name": found.name, "role": str(found.role),
                          "board_certified": found.board_certified}
    hours = hours or domain.week_fields(domain.week_of(found))
    time_off = time_off or {key: "" for key in TIME_OFF_FIELDS}
    offs = [(row, domain.describe_time_off(row.starts_at, row.ends_at, tz))
            for row in domain.time_off_list(db.session, found.id, since=now)]
    return render_template(
        "staff/admin_provider.html", p=found, details=details, hours=hours, time_off=time_off,
        errors=errors or {}, problem=problem, form=form, offs=offs,
        summary=domain.summary(domain.week_of(found)),
        stranded=domain.stranded(db.session, found, now=now, tz=tz),
        history=domain.history(db.session, found.id), roles=domain.ROLE_WORDS,
        weekdays=domain.WEEKDAYS, confirm=None), status


def _confirm_page(found: Provider, exc: domain.NeedsConfirmation, endpoint: str,
                  hidden: list[tuple[str, str]], *, what: str):
    confirm = {
        "action": url_for(endpoint, provider_id=found.id),
        "hidden": hidden,
        "visits": exc.visits,
        "ids": ",".join(str(v.id) for v in exc.visits),
        "what": what,
        "more_since": exc.more_since,
    }
    return render_template("staff/admin_provider.html", p=found, confirm=confirm), 200
