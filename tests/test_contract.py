"""The contract check itself (tests/contract.py): an answer the document does not describe is
caught, through the test client and through a live server (README, "API").

Each test here breaks an answer on purpose, reads what the check recorded, then clears it so
that the `contract` fixture's teardown passes.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from conftest import payload
from flask import jsonify

TUE_9 = "2027-03-02T09:00:00-08:00"


def caught(contract) -> list[str]:
    found = list(contract.violations)
    contract.violations.clear()
    return found


def replace_view(app, endpoint: str, view) -> None:
    """Swaps a view after the document was generated, as a drifting change would."""
    app.view_functions[endpoint] = view


def test_good_answers_are_checked_and_pass(client, contract):
    assert client.post("/api/v1/bookings", json=payload(TUE_9)).status_code == 201
    assert client.get("/api/v1/services").status_code == 200
    assert client.get("/api/v1/nothing").status_code == 404
    assert {("/api/v1/bookings", "post", "201"), ("/api/v1/services", "get", "200")} <= (
        contract.seen)
    assert contract.violations == []


@pytest.mark.parametrize(("body", "status", "expected"), [
    ({"services": [{"slug": 1}]}, 200, "$.services[0]"),
    ({"services": [], "next": "page 2"}, 200, "'next' was unexpected"),
    ({"services": []}, 202, "status 202 is not documented"),
    ({"error": {"code": "x"}}, 404, "status 404 is not documented"),
], ids=["wrong type", "undocumented field", "undocumented status", "error not documented"])
def test_a_wrong_answer_is_caught(app, client, contract, body, status, expected):
    replace_view(app, "api.services", lambda: (jsonify(body), status))
    client.get("/api/v1/services")
    [violation] = caught(contract)
    assert violation.startswith(f"GET '/api/v1/services' -> {status}: ")
    assert expected in violation


def test_an_error_in_the_wrong_shape_is_caught(app, client, contract):
    book = app.view_functions["api.create"]
    replace_view(app, "api.create", lambda: (jsonify(error="no"), 422))
    client.post("/api/v1/bookings", json={})
    assert "$.error: 'no' is not of type 'object'" in caught(contract)[0]
    replace_view(app, "api.create", book)


def test_a_wrong_media_type_is_caught(app, client, contract):
    replace_view(app, "api.calendar", lambda token: ("BEGIN:VCALENDAR", 200))
    client.get("/api/v1/bookings/" + "a" * 32 + "/calendar.ics")
    assert "media type 'text/html' is not documented (text/calendar is)" in caught(contract)[0]


def test_a_missing_field_is_caught_through_a_live_server(app, live_server, contract):
    replace_view(app, "api.providers", lambda: jsonify(providers=[{"id": 1, "name": "A"}]))
    with urllib.request.urlopen(f"{live_server}/api/v1/providers") as answer:
        assert json.load(answer) == {"providers": [{"id": 1, "name": "A"}]}
    [violation] = caught(contract)
    assert "$.providers[0]: 'role' is a required property" in violation


def test_a_json_success_outside_every_operation_is_caught(app, contract):
    problem = contract.check(None, "GET", 200, "application/json", b"{}")
    assert problem == "a JSON answer outside every documented operation"
