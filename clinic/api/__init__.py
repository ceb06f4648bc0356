"""JSON API under /api/v1 (README, "API")."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import bookings, catalogue, errors, openapi, staff  # noqa: E402,F401
