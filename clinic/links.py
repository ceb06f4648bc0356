"""The links the clinic hands out, built in one place and absolute on PUBLIC_BASE_URL: they go
into texts and calendar files, read far from any request."""

from flask import current_app


def manage_url(token: str) -> str:
    """The client's own page for one visit: see, cancel, move, add to a calendar."""
    return _absolute(f"/manage/{token}")


def calendar_url(token: str) -> str:
    return manage_url(token) + "/calendar.ics"


def booking_url(service_slug: str, *, via: str | None = None) -> str:
    """The booking pages for a service; `via="rebook"` marks the rebook text's link, so the
    reports can count the visits it brought back."""
    return _absolute(f"/book/{service_slug}" + (f"?via={via}" if via else ""))


def _absolute(path: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + path
