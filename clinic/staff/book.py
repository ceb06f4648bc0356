"""Booking a caller by phone (built next)."""

from . import bp


@bp.get("/book")
def book():
    return "", 501
