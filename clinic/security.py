"""Headers every answer carries (no-store on all but static files), and the staff login loader."""

import secrets

from flask import Flask, request, session

from . import auth
from .extensions import db, login
from .validation import parse_id

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def init_app(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        # Manage links, clients' details and staff lists ride on pages, redirects and API
        # answers alike, and free times change with every booking: only static files may be
        # kept by a browser or a proxy. Listing paths instead would miss the next route.
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response


login.login_view = "staff.login"
login.login_message = "Please sign in to see that page."
login.login_message_category = "info"


SESSION_KEY = "staff_session"  #: the signed-in session's id, in Flask's session cookie


@login.user_loader
def _load_user(session_id: str):
    """The account a browser is signed in as: while its session has not ended (sign-out,
    a new password) and its login key is still the account's."""
    staff_id, _, key = session_id.partition(".")
    token = session.get(SESSION_KEY)
    if parse_id(staff_id) is None or not key or not isinstance(token, str):
        return None
    user = auth.session_user(db.session, parse_id(staff_id), token)
    if user is None or not secrets.compare_digest(user.login_key, key):
        return None
    return user
