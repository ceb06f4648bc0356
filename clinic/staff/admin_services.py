"""Admin: services (admins only). The list, a new service, editing one, retiring and
restoring it, and its audit trail; the rules live in `clinic.services_admin`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from .. import clock
from .. import services_admin as domain
from ..enums import ProviderRole
from ..extensions import db
from . import bp
from .access import actor, admin_only

SEEN_MAX = 64  #: a fingerprint is shorter; anything longer is not one of ours
#: A form field -> its label, for the list of problems at the top of the form.
FIELD_LABELS = {domain.FORM_FIELD_OF[column]: domain.LABELS[column] for column in domain.COLUMNS}


def _typed() -> dict[str, str]:
    """Every field of the form, as typed (an unticked box is absent: empty)."""
    return {name: request.form.get(name, "") for name in domain.FORM_FIELDS}


def _grid():
    return clock.clinic().rules.grid


@bp.get("/admin/services")
@admin_only
def services():
    return render_template("staff/admin_services.html",
                           services=domain.all_services(db.session), roles=domain.ROLE_WORDS)


@bp.get("/admin/services/new")
@admin_only
def service_new():
    return _form_page(None, values=dict(domain.NEW_DEFAULTS, price="", name="",
                                        duration_minutes="", provider_role=""))


@bp.post("/admin/services")
@admin_only
def service_create():
    typed = _typed()
    try:
        service = domain.create_service(db.session, typed, now=clock.now(), actor=actor(),
                                        grid=_grid())
    except domain.ServiceError as exc:
        return _form_page(None, values=typed, errors=exc.fields, problem=exc.message,
                          status=422)
    flash(f"Added “{service.name}”. It is offered for booking now.", "ok")
    return redirect(url_for("staff.service", service_id=service.id), 303)


@bp.route("/admin/services/<int:service_id>", methods=["GET", "POST"])
@admin_only
def service(service_id: int):
    if request.method == "GET":
        found = _detail(service_id)
        return _form_page(found, values=domain.form_values(found.service))
    typed = _typed()
    seen = request.form.get("seen", "")[:SEEN_MAX]
    try:
        entry = domain.update_service(db.session, service_id, typed, now=clock.now(),
                                      actor=actor(), seen=seen, grid=_grid())
    except domain.UnknownService:
        abort(404)
    except domain.StaleEdit as exc:
        found = _detail(service_id)
        # What they typed stays in the form, with a fresh `seen`; each field that differs
        # from what is saved now says so, so saving again is a choice made knowingly.
        marks = domain.differences(found.service, typed, grid=_grid())
        return _form_page(found, values=typed, errors=marks, problem=exc.message, status=422)
    except domain.ServiceError as exc:
        found = _detail(service_id)
        return _form_page(found, values=typed, errors=exc.fields, problem=exc.message,
                          seen=seen, status=422)
    if entry is None:
        flash(domain.NOTHING_CHANGED, "info")
    else:
        flash("Saved. Visits already booked keep the price they were booked at.", "ok")
    return redirect(url_for("staff.service", service_id=service_id), 303)


@bp.post("/admin/services/<int:service_id>/retire")
@admin_only
def service_retire(service_id: int):
    try:
        entry = domain.retire_service(db.session, service_id, now=clock.now(), actor=actor())
    except domain.UnknownService:
        abort(404)
    if entry is None:
        flash("This service was already retired.", "info")
    else:
        flash("Retired: clients can no longer book it. Visits already booked stay booked.",
              "ok")
    return redirect(url_for("staff.service", service_id=service_id), 303)


@bp.post("/admin/services/<int:service_id>/restore")
@admin_only
def service_restore(service_id: int):
    try:
        entry = domain.restore_service(db.session, service_id, now=clock.now(), actor=actor())
    except domain.UnknownService:
        abort(404)
    if entry is None:
        flash("This service was already offered.", "info")
    else:
        flash("Restored: clients can book it again.", "ok")
    return redirect(url_for("staff.service", service_id=service_id), 303)


def _detail(service_id: int) -> domain.Detail:
    found = domain.detail(db.session, service_id, now=clock.now())
    if found is None:
        abort(404)
    return found


def _form_page(found: domain.Detail | None, *, values: dict, errors: dict | None = None,
               problem: str | None = None, seen: str | None = None, status: int = 200):
    grid_minutes = int(_grid().total_seconds() // 60)
    return render_template(
        "staff/admin_service.html", found=found, s=found.service if found else None,
        values=values, errors=errors or {}, problem=problem,
        seen=(found.seen if found else "") if seen is None else seen,
        roles=[(role.value, domain.ROLE_WORDS[role]) for role in ProviderRole],
        grid_minutes=grid_minutes, limits=domain, field_labels=FIELD_LABELS), status
