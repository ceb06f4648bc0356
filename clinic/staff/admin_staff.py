"""Admin: staff accounts (admins only). Create one (a one-time set-password link is shown once,
on the answer page), edit name, email, role and provider, deactivate, reactivate, reset.

The domain is `clinic.staff_admin`; every change there writes its audit entry. A new link is
never flashed or put in the session cookie: it is in the one answer that created it.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from .. import clock
from .. import staff_admin as domain
from ..enums import StaffRole
from ..extensions import db
from . import bp
from .access import actor, admin_only

FIELDS = ("name", "email", "role", "provider")


def _typed() -> dict[str, str]:
    return {key: (request.form.get(key) or "")[:1000] for key in FIELDS}


@bp.get("/admin/staff")
@admin_only
def staff_accounts():
    return _list_page()


@bp.post("/admin/staff")
@admin_only
def staff_create():
    typed = _typed()
    try:
        issued = domain.create_account(db.session, **typed, now=clock.now(), actor=actor())
    except domain.AccountError as exc:
        return _list_page(values=typed, errors=exc.fields, problem=exc.message, status=422)
    return _account_page(issued.user.id, issued=issued, created=True)


@bp.route("/admin/staff/<int:staff_id>", methods=["GET", "POST"])
@admin_only
def staff_account(staff_id: int):
    if request.method == "GET":
        return _account_page(staff_id)
    typed = _typed()
    try:
        entry = domain.update_account(db.session, staff_id, **typed, now=clock.now(),
                                      actor=actor())
    except domain.UnknownAccount:
        abort(404)
    except domain.AccountError as exc:
        return _account_page(staff_id, values=typed, errors=exc.fields, problem=exc.message,
                             status=422)
    flash("Saved." if entry else "Nothing changed.", "ok" if entry else "info")
    return redirect(url_for("staff.staff_account", staff_id=staff_id), 303)


@bp.post("/admin/staff/<int:staff_id>/deactivate")
@admin_only
def staff_deactivate(staff_id: int):
    try:
        entry = domain.deactivate(db.session, staff_id, now=clock.now(), actor=actor())
    except domain.UnknownAccount:
        abort(404)
    except domain.AccountError as exc:
        return _account_page(staff_id, problem=exc.message, status=422)
    if entry is None:
        flash("That account was already deactivated.", "info")
    else:
        flash("Deactivated: its sessions have ended and its API tokens are revoked.", "ok")
    return redirect(url_for("staff.staff_account", staff_id=staff_id), 303)


@bp.post("/admin/staff/<int:staff_id>/reactivate")
@admin_only
def staff_reactivate(staff_id: int):
    try:
        entry = domain.reactivate(db.session, staff_id, now=clock.now(), actor=actor())
    except domain.UnknownAccount:
        abort(404)
    if entry is None:
        flash("That account was already active.", "info")
    else:
        flash("Reactivated: the account can sign in with its password again.", "ok")
    return redirect(url_for("staff.staff_account", staff_id=staff_id), 303)


@bp.post("/admin/staff/<int:staff_id>/link")
@admin_only
def staff_link(staff_id: int):
    try:
        issued = domain.issue_link(db.session, staff_id, now=clock.now(), actor=actor())
    except domain.UnknownAccount:
        abort(404)
    except domain.AccountError as exc:
        return _account_page(staff_id, problem=exc.message, status=422)
    return _account_page(staff_id, issued=issued)


def _common() -> dict:
    return {"roles": list(StaffRole), "role_words": domain.ROLE_WORDS,
            "state_words": domain.STATE_WORDS, "providers": domain.providers(db.session),
            "link_hours": domain.LINK_HOURS}


def _list_page(*, values: dict | None = None, errors: dict | None = None,
               problem: str | None = None, status: int = 200):
    now = clock.now()
    return render_template(
        "staff/admin_staff.html", account=None, rows=domain.accounts(db.session, now=now),
        history=domain.history(db.session), values=values or {"role": StaffRole.STAFF},
        errors=errors or {}, problem=problem, **_common()), status


def _account_page(staff_id: int, *, values: dict | None = None, errors: dict | None = None,
                  problem: str | None = None, issued: domain.Issued | None = None,
                  created: bool = False, status: int = 200):
    try:
        row = domain.account(db.session, staff_id, now=clock.now())
    except domain.UnknownAccount:
        abort(404)
    user = row.user
    if values is None:
        values = {"name": user.name, "email": user.email, "role": str(user.role),
                  "provider": str(user.provider_id or "")}
    link = current_app.config["PUBLIC_BASE_URL"] + url_for(
        "staff.set_password", token=issued.token) if issued else None
    return render_template(
        "staff/admin_staff.html", account=row, history=domain.history(db.session, staff_id),
        values=values, errors=errors or {}, problem=problem, link=link,
        link_until=issued.until if issued else None, created=created,
        is_self=user.id == int(actor().split(":")[1]), **_common()), status
