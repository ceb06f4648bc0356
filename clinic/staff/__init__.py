"""The staff workspace under /staff/: schedule, visits, booking by phone, inbox, clients.

Every page needs a signed-in staff account (anonymous visitors are sent to the login);
admin pages also need the admin role (403 otherwise). Views parse forms, call the same
domain functions as the API and render; README "Staff workspace" tours it.
"""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from . import (  # noqa: E402, F401
    access,
    accounts,
    admin,
    admin_providers,
    admin_services,
    admin_staff,
    book,
    clients,
    inbox,
    reports,
    schedule,
    settings,
    visits,
)
