"""Admin: the clinic's rules (admins only). The rules themselves live in clinic/settings.py."""

from flask import flash, redirect, render_template, request, url_for

from .. import auth, clock, settings
from ..extensions import db
from ..rules import DEFAULT_RULES
from . import bp
from .access import actor, admin_only


@bp.get("/admin/settings", endpoint="settings")
@admin_only
def settings_page():
    return _page(settings.typed(clock.clinic().rules))


@bp.post("/admin/settings")
@admin_only
def save_settings():
    try:
        changed = settings.save(db.session, request.form, now=clock.now(), actor=actor())
    except settings.SettingsError as exc:
        typed = {s.name: request.form.get(s.name, "") for s in settings.SETTINGS}
        return _page(typed, errors=exc.fields, status=422)
    if changed:
        flash("Saved: " + ", ".join(changed) + ". It applies from now on; texts already "
              "planned keep their time and booked visits stay booked.", "ok")
    else:
        flash("Nothing changed.", "info")
    return redirect(url_for("staff.settings"), 303)


def _page(values: dict[str, str], *, errors: dict | None = None, status: int = 200):
    entries = settings.history(db.session)
    return render_template(
        "staff/admin_settings.html", values=values, defaults=settings.typed(DEFAULT_RULES),
        groups=_groups(), errors=errors or {}, entries=entries, labels={
            s.name: s.label for s in settings.SETTINGS},
        names=auth.actor_names(db.session, {e.actor for e in entries})), status


def _groups() -> dict[str, list[settings.Setting]]:
    found: dict[str, list[settings.Setting]] = {}
    for setting in settings.SETTINGS:
        found.setdefault(setting.group, []).append(setting)
    return found

