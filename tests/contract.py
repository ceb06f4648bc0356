"""The contract check: every /api/ answer the suite receives must be one /api/v1/openapi.json
describes (README, "API").

`Contract.wrap(app)` puts WSGI middleware around the app, so answers reach it through the
Flask test client, the `live_server` fixture and Schemathesis alike. For each answer under
/api/ it finds the operation (the app's own URL map, method included) and checks that the
status is one the operation documents, that the media type is the documented one and, for
JSON, that the body validates against the documented schema. An error answer outside every
operation (an unknown path, a method a path lacks) must still be the `Error` shape. Nothing is
raised inside a request: violations are kept, and the `contract` fixture fails the test at
teardown listing them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from jsonschema import Draft202012Validator
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_options_header

from clinic.api.openapi import document, openapi_path

ERROR = {"$ref": "#/components/schemas/Error"}
UNCHECKED_METHODS = {"OPTIONS"}


class Contract:
    def __init__(self, spec: dict | None = None) -> None:
        self.spec = spec
        self.violations: list[str] = []
        #: (path, method, status) of every answer checked against an operation.
        self.seen: set[tuple[str, str, str]] = set()
        self._validators: dict[str, Draft202012Validator] = {}

    def wrap(self, app) -> None:
        """Checks every answer `app` gives from now on, against the document it generates."""
        if self.spec is None:
            self.spec = document(app)
        inner = app.wsgi_app

        def middleware(environ, start_response):
            if not environ.get("PATH_INFO", "").startswith("/api/"):
                return inner(environ, start_response)
            sent: dict = {}

            def keep(status, headers, exc_info=None):
                sent.update(status=int(status.split()[0]), headers=headers)
                return start_response(status, headers, exc_info)

            body = _read_all(inner(environ, keep))
            self.check_answer(app.url_map.bind_to_environ(environ), environ, sent, body)
            return [body]

        app.wsgi_app = middleware

    def check_answer(self, urls, environ: dict, sent: dict, body: bytes) -> None:
        method = environ["REQUEST_METHOD"]
        if method in UNCHECKED_METHODS:
            return
        try:
            rule, _ = urls.match(return_rule=True, method=method)
            path = openapi_path(rule)
        except HTTPException:  # no such path or method here, or a redirect
            path = None
        media = parse_options_header(dict(sent["headers"]).get("Content-Type", ""))[0]
        where = f"{method} {path or environ['PATH_INFO']!r} -> {sent['status']}"
        problem = self.check(path, method, sent["status"], media,
                             None if method == "HEAD" else body)
        if problem:
            self.violations.append(f"{where}: {problem}")

    def check(self, path: str | None, method: str, status: int, media: str,
              body: bytes | None) -> str | None:
        """What is wrong with this answer, if anything; a body of None is not read (HEAD)."""
        method = "get" if method == "HEAD" else method.lower()
        operation = self.spec["paths"].get(path or "", {}).get(method)
        if operation is None:
            if media != "application/json":
                return None  # a redirect or the like, outside the API's operations
            if status < 400:
                return "a JSON answer outside every documented operation"
            return None if body is None else self.invalid(ERROR, body)
        self.seen.add((path, method, str(status)))
        response = operation["responses"].get(str(status))
        if response is None:
            return f"status {status} is not documented ({', '.join(operation['responses'])} are)"
        content = response.get("content", {})
        if media not in content:
            return f"media type {media!r} is not documented ({', '.join(content)} is)"
        if media != "application/json" or body is None:
            return None
        return self.invalid(content[media]["schema"], body)

    def invalid(self, schema: dict, body: bytes) -> str | None:
        try:
            instance = json.loads(body)
        except ValueError:
            return f"not JSON: {body[:200]!r}"
        errors = sorted(self._validator(schema).iter_errors(instance),
                        key=lambda e: e.json_path)
        if not errors:
            return None
        first = errors[0]
        return f"{first.json_path}: {first.message[:300]} (in {body[:300]!r})"

    def _validator(self, schema: dict) -> Draft202012Validator:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            root = {**schema, "components": self.spec["components"]}  # where "#/..." resolves
            self._validators[key] = Draft202012Validator(
                root, format_checker=Draft202012Validator.FORMAT_CHECKER)
        return self._validators[key]


def _read_all(chunks: Iterable[bytes]) -> bytes:
    try:
        return b"".join(chunks)
    finally:
        close: Callable | None = getattr(chunks, "close", None)
        if close is not None:
            close()
