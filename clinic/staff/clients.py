"""Client records and search (built next)."""

from . import bp


@bp.get("/clients")
def clients():
    return "", 501
