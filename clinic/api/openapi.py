"""/api/v1/openapi.json, generated: every /api/v1 route in the app's URL map with the operation
its view declares (clinic/api/operations.py), and a schema for every model they name.

Nothing here describes an endpoint by hand. OpenAPI 3.1, whose schemas are the JSON Schema
pydantic writes (a nullable field is `anyOf [..., {"type": "null"}]`); the document is built
once per app.
"""

from __future__ import annotations

import re
from http import HTTPStatus

from flask import Flask, current_app
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from . import bp
from .operations import Media, Operation, declared, operation
from .schemas import OpenApiDocument

REF = "#/components/schemas/{model}"
#: Flask's `<token>` or `<int(max=9):id>` becomes OpenAPI's `{token}` / `{id}`.
FLASK_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
STAFF = [{"bearer": []}]


@bp.get("/openapi.json")
@operation("This description", responses={200: OpenApiDocument})
def openapi():
    app = current_app._get_current_object()
    if "openapi" not in app.extensions:
        app.extensions["openapi"] = document(app)
    return OpenApiDocument.model_validate(app.extensions["openapi"])


def document(app: Flask) -> dict:
    routes = api_routes(app)
    schemas, refs = answer_schemas([op for _, _, _, op in routes])
    paths: dict[str, dict] = {}
    for path, method, endpoint, op in routes:
        paths.setdefault(path, {})[method] = operation_object(op, endpoint, refs, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Clinic booking API", "version": "1",
                 "description": "Online booking and aftercare texts for a skin clinic."},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def openapi_path(rule: Rule) -> str:
    return FLASK_VARIABLE.sub(r"{\1}", rule.rule)


def api_routes(app: Flask) -> list[tuple[str, str, str, Operation]]:
    """(path, method, endpoint, operation) for every /api/v1 route; each must declare one."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(bp.url_prefix + "/"):
            continue
        op = declared(app.view_functions[rule.endpoint])
        if op is None:
            raise LookupError(f"{rule.endpoint} declares no operation (@operation)")
        if set(op.path.model_fields if op.path else ()) != set(rule.arguments):
            raise LookupError(f"{rule.endpoint}: its path model must name {sorted(rule.arguments)}")
        for method in sorted(rule.methods - SKIPPED_METHODS):
            found.append((openapi_path(rule), method.lower(), rule.endpoint, op))
    return found


def answer_schemas(ops: list[Operation]) -> tuple[dict, dict]:
    """Component schemas for every request body and answer, and each model's $ref."""
    models = {(op.body, "validation") for op in ops if op.body}
    models |= {(_model(a), "serialization") for op in ops for a in op.all_responses().values()
               if _model(a)}
    refs, schemas = models_json_schema(sorted(models, key=lambda m: m[0].__name__),
                                       ref_template=REF)
    return schemas.get("$defs", {}), refs


def operation_object(op: Operation, endpoint: str, refs: dict, schemas: dict) -> dict:
    found = {"operationId": endpoint.removeprefix("api."), "summary": op.summary}
    parameters = [*_parameters(op.path, "path", schemas), *_parameters(op.query, "query", schemas)]
    if parameters:
        found["parameters"] = parameters
    if op.body:
        found["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": refs[(op.body, "validation")]}}}
    found["responses"] = {str(status): _response(status, a, refs)
                          for status, a in op.all_responses().items()}
    if op.staff:
        found["security"] = STAFF
    return found


def _parameters(model: type[BaseModel] | None, where: str, schemas: dict) -> list[dict]:
    """One parameter per field of a query or path model, under the name clients send."""
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in schema.pop("$defs", {}).items():
        if schemas.setdefault(name, sub) != sub:
            raise ValueError(f"two different schemas are both named {name}")
    required = set(schema.get("required", ()))
    found = []
    for name, sub in schema["properties"].items():
        param = {"name": name, "in": where, "required": where == "path" or name in required}
        if "description" in sub:
            param["description"] = sub["description"]
        found.append({**param, "schema": _sent(sub)})
    return found


def _sent(schema: dict) -> dict:
    """A parameter's schema as sent in a URL, where a value left out is the only null."""
    schema = {k: v for k, v in schema.items() if k not in ("title", "description")}
    if schema.get("default", ...) is None:
        del schema["default"]
    branches = schema.get("anyOf", [])
    if len(branches) == 2 and {"type": "null"} in branches:
        [value] = [b for b in schema.pop("anyOf") if b != {"type": "null"}]
        schema = {**value, **schema}
    return schema


def _response(status: int, answer, refs: dict) -> dict:
    if isinstance(answer, Media):
        return {"description": answer.description,
                "content": {answer.type: {"schema": {"type": "string"}}}}
    model, note = answer if isinstance(answer, tuple) else (answer, None)
    description = note or (model.__doc__ or "").strip().split("\n")[0] or HTTPStatus(status).phrase
    return {"description": description,
            "content": {"application/json": {"schema": refs[(model, "serialization")]}}}


def _model(answer) -> type[BaseModel] | None:
    if isinstance(answer, Media):
        return None
    return answer[0] if isinstance(answer, tuple) else answer
