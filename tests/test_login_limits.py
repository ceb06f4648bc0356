"""The sign-in limit holds across web workers when they share Redis: two gunicorn processes,
each with its own memory, count one email's wrong passwords together."""

from __future__ import annotations

import http.cookiejar as http_cookies
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid

import pytest
from conftest import ON_CI
from test_logs import ROOT, Http, free_port, wait_until_up

REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no Redis to test against
        reason = f"no Redis answers at {REDIS} ({exc.__class__.__name__})"
        if ON_CI:
            pytest.fail(reason + ": CI must not skip", pytrace=False)
        pytest.skip(reason)
    return REDIS


def _worker(app, port: int, storage: str, prefix: str, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"}
    env.update(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="x",
               SMS_BACKEND="memory", SCHEDULER_ENABLED="0", RATELIMIT_ENABLED="1",
               RATELIMIT_STORAGE_URI=storage, RATELIMIT_KEY_PREFIX=prefix,
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _signed_form(http: Http) -> str:
    """The login form's CSRF token, with the session cookie it belongs to kept by `http`."""
    http.opener.add_handler(urllib.request.HTTPCookieProcessor(http_cookies.CookieJar()))
    status, raw, _ = http("/staff/login")
    assert status == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', raw.decode()).group(1)


def _wrong_password(http: Http, token: str) -> int:
    body = urllib.parse.urlencode({"email": "desk@clinic.test", "password": "nope",
                                   "csrf_token": token}).encode()
    req = urllib.request.Request(http.base + "/staff/login", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with http.opener.open(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "memory"])
def test_two_workers_count_wrong_passwords_together_through_redis(app, make_staff, redis_url,
                                                                  tmp_path, shared):
    pytest.importorskip("gunicorn")
    make_staff("desk@clinic.test")
    storage = redis_url if shared else "memory://"
    prefix = f"test-{uuid.uuid4().hex}"
    ports = [free_port(), free_port()]
    with open(tmp_path / "workers.log", "wb") as log:
        workers = [_worker(app, port, storage, prefix, log) for port in ports]
        try:
            https = [Http(f"http://127.0.0.1:{port}") for port in ports]
            for http, proc in zip(https, workers):
                wait_until_up(http, proc, time.monotonic() + 30)
            tokens = [_signed_form(http) for http in https]
            answers = [_wrong_password(https[i % 2], tokens[i % 2]) for i in range(6)]
        finally:
            for proc in workers:
                proc.terminate()
                proc.wait(timeout=10)
    assert answers[:5] == [200] * 5
    # Through Redis the sixth try is refused whichever worker takes it; with each worker's own
    # memory, each has seen only three and lets it through: the reason production sets Redis.
    assert answers[5] == (429 if shared else 200)
