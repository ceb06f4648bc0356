"""A visit's page and its actions (built next)."""

from . import bp


@bp.get("/visits/<int:visit_id>")
def visit(visit_id: int):
    return "", 501
