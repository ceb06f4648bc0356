"""What each /api/v1 view takes and answers, declared once beside it and enforced by the same
declaration: `@operation(...)` checks the staff token, reads the query and the JSON body
through their models (a 422 naming every bad field), hands them to the view, and turns the
answer model the view returns into JSON. clinic/api/openapi.py reads the declarations to
build /api/v1/openapi.json (README, "API").

Some answers follow from the declaration itself and are documented without being listed:
401 for staff operations, 422 for any with a query or a body, 413 for a body over 64 KB.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import current_app, g, jsonify, request
from pydantic import BaseModel

from .. import clock
from ..auth import user_for_token
from ..extensions import db
from ..validation import Input, read
from .errors import ApiError, json_body
from .schemas import Error


@dataclass(frozen=True)
class Media:
    """An answer that is not JSON, such as a calendar file."""

    type: str
    description: str


#: A documented answer: its model, or its model and what it means, or a non-JSON media type.
ResponseSpec = type[BaseModel] | tuple[type[BaseModel], str] | Media


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Mapping[int, ResponseSpec]
    query: type[Input] | None = None
    path: type[BaseModel] | None = None
    body: type[Input] | None = None
    staff: bool = False

    def all_responses(self) -> dict[int, ResponseSpec]:
        """The declared answers and those the declaration implies, by status."""
        implied: dict[int, ResponseSpec] = {}
        if self.staff:
            implied[401] = (Error, "unauthorized: no valid staff token")
        if self.query or self.body:
            implied[422] = (Error, "validation_error, with a message for each field")
        if self.body:
            implied[413] = (Error, "too_large: the body is over 64 KB")
        return dict(sorted({**implied, **self.responses}.items()))


def operation(summary: str, *, responses: Mapping[int, ResponseSpec],
              query: type[Input] | None = None, path: type[BaseModel] | None = None,
              body: type[Input] | None = None, staff: bool = False) -> Callable:
    """Declares and runs a view: `query=` and `body=` arrive as keyword arguments."""
    op = Operation(summary, responses, query, path, body, staff)

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def run(**path_args: Any):
            if op.staff:
                g.staff_user = staff_user()
            inputs = {}
            if op.query:
                inputs["query"] = read(op.query, request.args.to_dict(), **context())
            if op.body:
                inputs["body"] = read(op.body, json_body(), **context())
            return answer(view(**path_args, **inputs))

        run.operation = op
        return run

    return decorate


def staff_user():
    """The staff account whose Bearer token came with the request, else 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = None
    if scheme.lower() == "bearer" and token.strip():
        user = user_for_token(db.session, token.strip())
    if user is None:
        raise ApiError(401, "unauthorized", "A valid staff API token is required.")
    return user


def context() -> dict[str, Any]:
    """What validators need to know about the clinic."""
    return {"region": current_app.config["CLINIC_REGION"],
            "max_range_days": clock.clinic().rules.max_range_days}


def answer(result: Any):
    """A model (or a model and a status) as JSON; anything else, such as a file, as it is."""
    model, status = result if isinstance(result, tuple) else (result, 200)
    if isinstance(model, BaseModel):
        return jsonify(model.model_dump(mode="json")), status
    return result


def declared(view: Callable) -> Operation | None:
    """The operation a registered view function declares, under any decorators around it."""
    while view is not None and not hasattr(view, "operation"):
        view = getattr(view, "__wrapped__", None)
    return getattr(view, "operation", None)
