"""Logs never carry secrets: the redaction filter alone, then gunicorn's own logs end to end."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import payload

from clinic.logredact import RedactTokens, install

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "Abc123_-" * 4  # the shape of a manage token: 32 URL-safe characters
ACCESS_FORMAT = ('%(h)s "%(r)s" %(s)s "%(f)s" "%({authorization}i)s" "%({cookie}i)s" '
                 '"%({set-cookie}o)s" %(U)s %(q)s')


def filtered(msg: str, args) -> logging.LogRecord:
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, msg, args, None)
    RedactTokens().filter(record)
    return record


def test_mapping_args_stay_the_same_mapping_and_format_by_name():
    glogging = pytest.importorskip("gunicorn.glogging")
    atoms = glogging.SafeAtoms({
        "r": f"GET /manage/{TOKEN}?phone=%2B14155552671 HTTP/1.1", "s": "200", "B": 512,
        "{authorization}i": "Bearer s3cret", "{cookie}i": "session=c00kie",
        "{set-cookie}o": "session=fresh; HttpOnly", "{http_authorization}e": "Basic dXNlcjpwdw==",
        "f": f"http://clinic.test/booked/{TOKEN}",
    })
    record = filtered('"%(r)s" %(s)s %(B)d "%({Authorization}i)s" "%({cookie}i)s" '
                      '"%({Set-Cookie}o)s" "%({HTTP_AUTHORIZATION}e)s" %(f)s %({missing}i)s',
                      (atoms,))
    assert record.args is atoms and type(record.args) is glogging.SafeAtoms
    assert record.getMessage() == (
        '"GET /manage/<token>?phone=%2B1***71 HTTP/1.1" 200 512 "<redacted>" "<redacted>" '
        '"<redacted>" "<redacted>" http://clinic.test/booked/<token> -')


def test_a_plain_dict_stays_a_dict_and_credentials_in_any_text_go():
    args = {"msg": "Authorization: Bearer abc.def.ghi, then Basic dXNlcjpwdw== for +447700900123"}
    record = filtered("%(msg)s", (args,))
    assert record.args is args
    assert record.getMessage() == (
        "Authorization: Bearer <redacted>, then Basic <redacted> for +4***23")


def test_tuple_args_stay_a_tuple_and_a_werkzeug_line_loses_its_token():
    record = filtered('"%s" %s %s',
                      (f"GET /manage/{TOKEN}/reschedule?phone=%2b14155552671 HTTP/1.1", "200", 7))
    assert type(record.args) is tuple
    assert record.getMessage() == '"GET /manage/<token>/reschedule?phone=%2b1***71 HTTP/1.1" 200 7'


def test_installed_filter_keeps_gunicorn_access_lines_whole():
    glogging = pytest.importorskip("gunicorn.glogging")
    install()
    install()
    logger = logging.getLogger("gunicorn.access")
    assert sum(isinstance(f, RedactTokens) for f in logger.filters) == 1
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        logger.info('%(r)s "%({cookie}i)s"',
                    glogging.SafeAtoms({"r": f"GET /bookings/{TOKEN}", "{cookie}i": "a=b"}))
    finally:
        logger.removeHandler(handler)
        logger.level = level
    assert out.getvalue() == 'GET /bookings/<token> "<redacted>"\n'


# --- gunicorn itself --------------------------------------------------------------------------

BEARER = "bearer-secret-4f1c9e"
COOKIE = "cookie-secret-8d2a7b"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """Plain urllib without proxies; remembers every request it made."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.made: list[str] = []

    def __call__(self, path: str, body: dict | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(req, timeout=30) as resp:
                status, raw, head = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as exc:
            status, raw, head = exc.code, exc.read(), exc.headers
            exc.close()
        self.made.append(path)
        return status, raw, head


def wait_until_up(http: Http, proc: subprocess.Popen, deadline: float) -> None:
    """Retries only refused connections, which never reach gunicorn and so log nothing."""
    while True:
        assert proc.poll() is None, "gunicorn exited while starting"
        try:
            status, _, _ = http("/healthz")
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        assert status == 200
        return


def first_free_slot(http: Http) -> str:
    tz = ZoneInfo("America/Los_Angeles")
    now = datetime.now(tz)
    first, last = now.date(), now.date() + timedelta(days=7)
    status, raw, _ = http(f"/api/v1/availability?service=facial&from={first}&to={last}")
    assert status == 200
    slots = [s["start"] for s in json.loads(raw)["slots"]
             if datetime.fromisoformat(s["start"]) >= now + timedelta(hours=2, minutes=5)]
    assert slots, "no free facial slot in the coming week"
    return slots[0]


def test_gunicorn_logs_carry_no_token_credential_cookie_phone_or_client(app, tmp_path):
    config = pytest.importorskip("gunicorn.config")
    # Recent gunicorn opens a control socket in the home directory unless told not to.
    no_control = [c for s in config.KNOWN_SETTINGS if s.name == "control_socket_disable"
                  for c in s.cli]
    port = free_port()
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"}
    env.update(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="x",
               SMS_BACKEND="memory", RATELIMIT_ENABLED="0", SCHEDULER_ENABLED="0",
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    with open(tmp_path / "output.log", "wb") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--access-logfile", str(access), "--error-logfile", str(errors),
             "--access-logformat", ACCESS_FORMAT, *no_control, "wsgi:app"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        http = Http(f"http://127.0.0.1:{port}")
        try:
            wait_until_up(http, proc, time.monotonic() + 30)
            body = payload(first_free_slot(http))
            status, raw, _ = http("/api/v1/bookings", body=body)
            assert status == 201, raw
            token = json.loads(raw)["booking"]["token"]
            manage = f"/manage/{token}"
            status, _, head = http(manage)
            assert status == 200
            set_cookie = (head.get("Set-Cookie") or "").split(";")[0].partition("=")[2]
            assert http(f"/api/v1/bookings/{token}",
                        headers={"Referer": http.base + manage})[0] == 200
            assert http(f"/api/v1/staff/appointments?date={body['start'][:10]}",
                        headers={"Authorization": f"Bearer {BEARER}"})[0] == 401
            assert http("/healthz", headers={"Cookie": f"session={COOKIE}"})[0] == 200
            assert http("/healthz?phone=%2B14155552671")[0] == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    logged = access.read_text()
    everything = logged + errors.read_text() + (tmp_path / "output.log").read_text()

    assert len(logged.splitlines()) == len(http.made) == 8
    assert "/manage/<token>" in logged and "/api/v1/bookings/<token>" in logged
    assert '"<redacted>"' in logged and "phone=%2B1***71" in logged
    secrets = [token, BEARER, COOKIE, "+14155552671", "14155552671", "4155552671", "555-2671",
               body["client"]["name"], body["client"]["email"], "Logging error", "Traceback"]
    if set_cookie:
        secrets.append(set_cookie)
    assert [s for s in secrets if s in everything] == []


def test_an_error_on_a_manage_page_is_logged_without_its_token(app, caplog):
    """Flask logs "Exception on <path>" through the app's logger: the token is masked."""
    import logging

    token = "t" * 32

    @app.get("/manage/<token>/boom")
    def boom(token):  # a route that fails, standing for any bug on a manage page
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.testing = False
    with caplog.at_level(logging.ERROR, logger="clinic"):
        assert app.test_client().get(f"/manage/{token}/boom").status_code == 500
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Exception on /manage/<token>/boom" in logged and token not in logged
