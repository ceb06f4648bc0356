"""Headers every answer carries (no-store on all but static files), and the staff login loader."""

from flask import Flask, request
from sqlalchemy import select

from .extensions import db, login
from .models import StaffUser
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


@login.user_loader
def _load_user(user_id: str):
    staff_id = parse_id(user_id)
    if staff_id is None:
        return None
    return db.session.scalar(select(StaffUser).where(StaffUser.id == staff_id))
