"""The house: CLI, health, headers, errors, CSRF."""

import pytest
from sqlalchemy import func, select

from clinic import create_app
from clinic.config import TestConfig
from clinic.extensions import db
from clinic.models import Provider, Service, WorkingHours


def test_seed_demo_is_idempotent(runner, app):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0
    assert "0 services, 0 providers added" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Service.id))) == 2
        assert db.session.scalar(select(func.count(Provider.id))) == 2
        assert db.session.scalar(select(func.count(WorkingHours.id))) == 12
        derm = db.session.scalar(select(Provider).where(Provider.role == "dermatologist"))
        assert derm.board_certified


def test_seeded_services_match_the_clinic_rules(client):
    services = {s["slug"]: s for s in client.get("/api/v1/services").json["services"]}
    assert services["facial"] == {
        "slug": "facial", "name": "Facial", "price_cents": 8000, "currency": "USD",
        "duration_minutes": 60, "provider_role": "aesthetician", "includes_extraction": True}
    assert services["extraction"]["price_cents"] == 20000
    assert services["extraction"]["duration_minutes"] == 30
    assert services["extraction"]["provider_role"] == "dermatologist"


def test_providers_are_listed(client):
    rows = client.get("/api/v1/providers").json["providers"]
    assert {(p["role"], p["board_certified"]) for p in rows} == {
        ("aesthetician", False), ("dermatologist", True)}


def test_healthz_checks_the_database(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": "ok"}


def test_healthz_reports_an_unreachable_database(tmp_path):
    app = create_app(TestConfig(f"sqlite:///{tmp_path}/missing/dir/clinic.db"))
    r = app.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json["database"] == "unreachable"
    with app.app_context():
        db.engine.dispose()


def test_every_answer_carries_security_headers(client):
    for path in ("/", "/api/v1/services", "/nope"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"


def test_forms_refuse_posts_without_csrf_token(migrated):
    config = TestConfig(migrated)
    config.WTF_CSRF_ENABLED = True
    app = create_app(config)
    r = app.test_client().post("/book/facial/details", data={"start": "2027-03-02T09:00:00-08:00"})
    assert r.status_code == 400
    assert b"Traceback" not in r.data
    with app.app_context():
        db.engine.dispose()


def test_api_is_not_subject_to_csrf(migrated):
    config = TestConfig(migrated)
    config.WTF_CSRF_ENABLED = True
    app = create_app(config)
    r = app.test_client().post("/api/v1/bookings", json={})
    assert r.status_code == 422
    with app.app_context():
        db.engine.dispose()


def test_unknown_api_path_and_method_answer_in_the_error_shape(client):
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"
    r = client.delete("/api/v1/services")
    assert r.status_code == 405 and r.json["error"]["code"] == "method_not_allowed"


def test_booking_is_rate_limited_per_address(migrated):
    config = TestConfig(migrated)
    config.RATELIMIT_ENABLED = True
    app = create_app(config)
    http = app.test_client()
    statuses = [http.post("/api/v1/bookings", json={}).status_code for _ in range(31)]
    assert statuses[:30] == [422] * 30
    assert statuses[30] == 429
    assert http.post("/api/v1/bookings", json={}).json["error"]["code"] == "rate_limited"
    with app.app_context():
        db.engine.dispose()


def test_access_logs_never_show_a_manage_token(book, live_server, caplog):
    import logging
    import urllib.request

    token = book("2027-03-02T09:00:00-08:00").json["booking"]["token"]
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        urllib.request.urlopen(f"{live_server}/manage/{token}").close()
        urllib.request.urlopen(f"{live_server}/api/v1/bookings/{token}").close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/manage/<token>" in logged
    assert token not in logged


def test_nul_bytes_in_urls_are_404_not_database_errors(client):
    for path in ("/api/v1/bookings/abcdefghijklmnopqrstuvwx%00", "/manage/abc%00def",
                 "/book/fac%00ial", "/book/fac%00ial/2027-03-02"):
        r = client.get(path)
        assert r.status_code == 404, path


def test_forms_work_over_https_without_a_referer(app, migrated):
    """Pages send no Referer; Flask-WTF must not demand one over HTTPS."""
    import re

    config = TestConfig(migrated)
    config.WTF_CSRF_ENABLED = True
    app = create_app(config)  # on the seeded database of the `app` fixture
    http = app.test_client()
    base = "https://clinic.example"
    page = http.get("/book/facial/details?start=2027-03-02T09:00:00-08:00", base_url=base)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]
    r = http.post("/book/facial/details", base_url=base, data={
        "csrf_token": token, "start": "2027-03-02T09:00:00-08:00", "name": "Dana Client",
        "phone": "4155552671", "uses_prescription_topicals": "no"})
    assert r.status_code == 422  # the form's own answer (no consent), not a CSRF refusal
    assert b"Please agree to receive text messages" in r.data
    with app.app_context():
        db.engine.dispose()


def test_a_stale_form_gets_a_page_that_says_what_to_do(migrated):
    config = TestConfig(migrated)
    config.WTF_CSRF_ENABLED = True
    app = create_app(config)
    r = app.test_client().post("/book/facial/details", data={"csrf_token": "stale"})
    assert r.status_code == 400
    assert b"open too long" in r.data
    with app.app_context():
        db.engine.dispose()


def test_revoke_tokens_cuts_off_the_api(runner, client):
    runner.invoke(args=["create-staff", "a@clinic.test", "--name", "A"],
                  input="correct horse battery\n")
    token = runner.invoke(args=["issue-token", "a@clinic.test"]).output.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/staff/appointments?date=2027-03-02",
                      headers=headers).status_code == 200
    result = runner.invoke(args=["revoke-tokens", "a@clinic.test"])
    assert "revoked 1 token" in result.output
    assert client.get("/api/v1/staff/appointments?date=2027-03-02",
                      headers=headers).status_code == 401


def test_proxy_count_trusts_forwarded_addresses(migrated):
    config = TestConfig(migrated)
    config.PROXY_COUNT = 1
    app = create_app(config)

    @app.get("/_whoami")
    def whoami():
        from flask import request
        return request.remote_addr

    r = app.test_client().get("/_whoami", headers={"X-Forwarded-For": "203.0.113.7"})
    assert r.get_data(as_text=True) == "203.0.113.7"
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(("value", "expected"), [("", 10.0), ("3.5", 3.5), ("60", 60.0)])
def test_twilio_timeout_is_read_from_the_environment(monkeypatch, value, expected):
    from clinic.config import Config

    monkeypatch.setenv("TWILIO_TIMEOUT", value)
    assert Config().TWILIO_TIMEOUT == expected


@pytest.mark.parametrize("value", ["0", "-1", "abc", "600", "nan"])
def test_a_twilio_timeout_that_makes_no_sense_stops_start_up_with_a_reason(monkeypatch, value):
    from clinic.config import Config

    monkeypatch.setenv("TWILIO_TIMEOUT", value)
    with pytest.raises(ValueError, match="TWILIO_TIMEOUT must be a number of seconds"):
        Config()
