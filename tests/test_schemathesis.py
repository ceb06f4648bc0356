"""Schemathesis drives every /api/v1 operation from the document the app generates (README,
"API"): valid and invalid queries, paths and bodies, staff operations with a valid token.

Every answer must be documented: no 5xx, a documented status and media type, a body that
validates, invalid input refused with a 4xx, and no 2xx for a staff operation without its
token. The seed is fixed and generation derandomized, with a bounded number of examples per
operation, so every run sends the same requests and takes the same few seconds. Each operation
is its own test with a fresh database; the `contract` fixture checks every answer again on its
way out (tests/contract.py).

The document is read once, at collection, from /api/v1/openapi.json of an app that never
touches its database (serving the document doesn't); the requests go to the test's `app`.
"""

from __future__ import annotations

import pytest
import schemathesis
from conftest import payload
from hypothesis import HealthCheck, settings

from clinic import create_app
from clinic.config import TestConfig

SEED = 20270301
EXAMPLES = 25  #: generated cases per operation, besides the examples and coverage phases
#: Every check but one: a valid request may still break a clinic rule (a taken slot, a day too
#: soon, a token nobody holds), so "valid data is accepted" cannot hold for this API.
UNCHECKED = ["positive_data_acceptance"]


def config(**generation) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        # The token comes from the test (`staff_auth`), never drawn or mangled by
        # Schemathesis; the `ignored_auth` check still sends each staff request without it.
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none",
                       "with-security-parameters": False, **generation},
        "checks": {"enabled": True, **{name: {"enabled": False} for name in UNCHECKED}},
    })


class CurrentApp:
    """The WSGI app Schemathesis calls: the running test's `app` (at collection, an app that
    only serves the document)."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


TARGET = CurrentApp(create_app(TestConfig("sqlite://")))
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", TARGET, config=config())
#: The operations on one booking or visit, with valid input only: sent to a real one.
on_one_visit = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", TARGET, config=config(mode="positive")).include(
    path_regex=r"\{(token|appointment_id)\}")


@pytest.fixture
def target(app):
    TARGET.app = app
    yield app
    TARGET.app = None  # a stray call after the test fails loudly


@pytest.fixture
def visit(client) -> dict:
    """One booking: its manage token and, for staff, its visit id."""
    r = client.post("/api/v1/bookings", json=payload("2027-03-02T09:00:00-08:00"))
    assert r.status_code == 201, r.get_data(as_text=True)
    return {"token": r.json["booking"]["token"], "appointment_id": r.json["booking"]["id"]}




# One test item per operation. Under pytest 9.2 they all show the test's own node id (the
# failure's title still names the operation): Schemathesis 4.32 names items for older pytests.
@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one app per operation
def test_every_operation_answers_as_documented(case, target, staff_auth):
    case.call_and_validate(headers=staff_auth)


@on_one_visit.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_real_booking_answers_as_documented(case, target, staff_auth, visit):
    case.path_parameters = {name: visit[name] for name in case.path_parameters}
    case.call_and_validate(headers=staff_auth)
