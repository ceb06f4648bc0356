"""The follow-up inbox (built next)."""

from . import bp


@bp.get("/inbox")
def inbox():
    return "", 501
