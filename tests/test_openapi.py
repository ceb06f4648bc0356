"""/api/v1/openapi.json describes exactly the endpoints the app serves (README, "API")."""

from __future__ import annotations

import re

import pytest

API_PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
#: Flask's `<token>` or `<int:id>` becomes OpenAPI's `{token}` / `{id}`.
FLASK_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


@pytest.fixture
def document(client) -> dict:
    r = client.get(f"{API_PREFIX}/openapi.json")
    assert r.status_code == 200
    assert r.is_json
    return r.json


def api_routes(app) -> dict[str, set[str]]:
    """Every /api/v1 route as an OpenAPI path, with its methods in lower case."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule != API_PREFIX and not rule.rule.startswith(API_PREFIX + "/"):
            continue
        path = FLASK_VARIABLE.sub(r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(
            m.lower() for m in rule.methods if m not in IGNORED_METHODS)
    return routes


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_document_has_the_openapi_3_shape(document):
    assert isinstance(document.get("openapi"), str)
    assert re.fullmatch(r"3\.\d+\.\d+", document["openapi"]), document["openapi"]
    assert isinstance(document.get("info"), dict)
    assert isinstance(document["info"].get("title"), str) and document["info"]["title"]
    assert isinstance(document["info"].get("version"), str) and document["info"]["version"]
    assert isinstance(document.get("paths"), dict) and document["paths"]
    assert isinstance(document.get("components"), dict)
    assert isinstance(document["components"].get("schemas"), dict)
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        assert isinstance(item, dict) and item, path
        assert set(item) <= HTTP_METHODS | {"summary", "description", "parameters", "servers",
                                            "$ref"}, (path, sorted(item))
    for path, method, operation in operations(document):
        responses = operation.get("responses")
        assert isinstance(responses, dict) and responses, (path, method)
        for status, response in responses.items():
            assert status == "default" or re.fullmatch(r"[1-5](\d\d|XX)", status), (path, status)
            assert "$ref" in response or isinstance(response.get("description"), str), (
                path, method, status)


def test_every_api_route_is_documented_with_each_method(app, document):
    routes = api_routes(app)
    assert routes, "no /api/v1 routes registered"
    missing = {
        (path, method)
        for path, methods in routes.items()
        for method in methods
        if method not in document["paths"].get(path, {})
    }
    assert not missing, f"routes missing from openapi.json: {sorted(missing)}"


def test_every_documented_operation_exists_in_the_app(app, document):
    routes = api_routes(app)
    extra = {
        (path, method)
        for path, method, _ in operations(document)
        if method not in routes.get(path, set())
    }
    assert not extra, f"openapi.json documents what the app doesn't serve: {sorted(extra)}"


def test_path_parameters_are_declared(document):
    for path, item in document["paths"].items():
        names = set(re.findall(r"{([^{}]+)}", path))
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            params = [resolve(document, p["$ref"]) if "$ref" in p else p
                      for p in item.get("parameters", []) + operation.get("parameters", [])]
            declared = {p["name"] for p in params if p.get("in") == "path"}
            assert declared == names, (path, method, sorted(declared), sorted(names))
            assert all(p.get("required") is True for p in params if p.get("in") == "path"), (
                path, method)


def resolve(document: dict, ref: str):
    """The target of a local JSON reference ("#/a/b"); KeyError/IndexError when there is none."""
    assert ref.startswith("#/") or ref == "#", f"not a local reference: {ref!r}"
    target = document
    for token in ref[2:].split("/") if ref != "#" else []:
        token = token.replace("~1", "/").replace("~0", "~")
        target = target[int(token)] if isinstance(target, list) else target[token]
    return target


def refs(node, where: str = "#"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from refs(value, f"{where}/{i}")


def test_every_ref_resolves(document):
    found = list(refs(document))
    assert found, "expected the document to use $ref"
    broken = []
    for where, ref in found:
        try:
            target = resolve(document, ref)
        except (KeyError, IndexError, ValueError, TypeError):
            broken.append((where, ref))
            continue
        if not isinstance(target, dict):
            broken.append((where, ref))
    assert not broken, f"unresolved $ref: {broken}"


def test_document_passes_openapi_spec_validator(document):
    """Only where the package is installed; the project does not depend on it."""
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)


# --- Generated, not written: the document follows the views and models ----------------------


def test_the_served_document_is_the_generated_one(app, document):
    from clinic.api.openapi import document as generate

    assert document == generate(app)
    assert document["openapi"] == "3.1.0"


@pytest.mark.parametrize("name", ["VisitStatus", "ProviderRole", "MessageKind", "MessageStatus",
                                  "Outcome", "Priority", "FollowupStatus"])
def test_statuses_roles_and_kinds_are_the_domains_enums(document, name):
    from clinic import enums

    assert document["components"]["schemas"][name]["enum"] == list(getattr(enums, name))


def test_nullable_fields_are_unions_with_null(document):
    message = document["components"]["schemas"]["Message"]["properties"]
    assert {"type": "null"} in message["body"]["anyOf"]
    assert "nullable" not in str(document)  # OpenAPI 3.0's spelling, not 3.1's
    assert {"type": "null"} not in message["kind"].get("anyOf", [])


def test_every_extra_an_error_can_carry_is_declared(document):
    detail = document["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {
        "code", "message", "fields", "alternatives", "earliest_date", "allowed", "earliest_start",
        "suggested_service", "current_status"}
    assert detail["required"] == ["code", "message", "fields"]
    assert detail["additionalProperties"] is False


def test_request_bodies_are_the_models_that_validate_them(document):
    from clinic.validation import BookingIn

    body = document["paths"]["/api/v1/bookings"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BookingIn"}
    assert set(document["components"]["schemas"]["BookingIn"]["properties"]) == set(
        BookingIn.model_fields)


def test_a_route_that_declares_no_operation_cannot_be_documented(app):
    from clinic.api.openapi import document as generate

    app.add_url_rule("/api/v1/undeclared", "undeclared", lambda: {})
    with pytest.raises(LookupError, match="undeclared declares no operation"):
        generate(app)
