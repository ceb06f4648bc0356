"""Who may open a staff page: signed-in staff everywhere, admins on admin pages."""

from __future__ import annotations

from functools import wraps

from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import func, select

from .. import clock
from ..enums import FollowupStatus, Priority
from ..extensions import db, login
from ..messaging.models import Followup
from . import bp

OPEN_TO_ALL = {"staff.login", "staff.set_password"}  #: staff pages open signed out


@bp.before_request
def _signed_in():
    if request.endpoint in OPEN_TO_ALL:
        return None
    if not current_user.is_authenticated:
        return login.unauthorized()
    return None


def admin_only(view):
    """An admin page: a staff account without the admin role gets 403."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def actor() -> str:
    return current_user.actor


@bp.context_processor
def _navigation():
    """The open high-priority inbox count, shown in the navigation of every staff page."""
    if not current_user.is_authenticated:
        return {}
    if "urgent" not in g:
        g.urgent = db.session.scalar(select(func.count(Followup.id)).where(
            Followup.status == FollowupStatus.OPEN, Followup.priority == Priority.HIGH))
    return {"urgent_count": g.urgent, "now": clock.now()}
