"""deploy/ holds together: gunicorn's settings load and serve the app with redacted access
logs, the systemd units and the Procfile run commands that exist, and the settings example
names only variables the app or gunicorn's settings read."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ON_CI

from clinic import config as clinic_config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
TOKEN = "Abc123_-" * 4  # the shape of a manage token


class Recording(dict):
    """os.environ that remembers every name asked for."""

    def __init__(self, values: dict) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def example() -> dict[str, str | None]:
    """clinic.env.example: each name set (its value) or shown commented out (None)."""
    names: dict[str, str | None] = {}
    for line in (DEPLOY / "clinic.env.example").read_text().splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            value = match.group(2)
            names[match.group(1)] = value[1:-1] if value[:1] == value[-1:] == '"' else value
        elif match := re.fullmatch(r"# ([A-Z][A-Z0-9_]*)=.*", line):
            names.setdefault(match.group(1), None)
    return names


def gunicorn_settings(env: dict) -> dict:
    """deploy/gunicorn.conf.py as gunicorn reads it: a module run with this environment."""
    path = DEPLOY / "gunicorn.conf.py"
    namespace = {"__file__": str(path), "__name__": "__config__"}
    saved = os.environ
    os.environ = env
    try:
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    finally:
        os.environ = saved
    return {k: v for k, v in namespace.items() if not k.startswith("_")}


def read_by_app(env: dict) -> set[str]:
    recording = Recording(env)
    saved = os.environ
    os.environ = recording
    try:
        clinic_config.Config()
        clinic_config.engine_options("postgresql+psycopg://clinic@127.0.0.1/clinic")
    finally:
        os.environ = saved
    return recording.asked


def test_gunicorn_settings_are_gunicorn_settings_with_the_documented_defaults():
    gunicorn_config = pytest.importorskip("gunicorn.config")
    known = {s.name for s in gunicorn_config.KNOWN_SETTINGS}
    settings = gunicorn_settings({"PATH": os.environ.get("PATH", "")})
    modules_and_helpers = {k for k, v in settings.items() if callable(v) or k in ("os", "Path")}
    assert set(settings) - modules_and_helpers - known == set()  # no misspelt setting
    assert settings["wsgi_app"] == "wsgi:app" and settings["chdir"] == str(ROOT)
    assert settings["bind"] == ["127.0.0.1:8000"]
    assert (settings["worker_class"], settings["workers"], settings["threads"]) == ("gthread", 2, 4)
    assert settings["preload_app"] is False
    assert 10 <= settings["timeout"] <= 120 and settings["graceful_timeout"] <= 30
    assert settings["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert settings["accesslog"] == "-" and "%(r)s" in settings["access_log_format"]
    assert "%(u)s" not in settings["access_log_format"]

    changed = gunicorn_settings({"GUNICORN_BIND": "unix:/run/clinic/web.sock, 10.0.0.5:8000",
                                 "GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "8",
                                 "GUNICORN_TIMEOUT": "45", "FORWARDED_ALLOW_IPS": "10.0.0.2"})
    assert changed["bind"] == ["unix:/run/clinic/web.sock", "10.0.0.5:8000"]
    assert (changed["workers"], changed["threads"], changed["timeout"]) == (3, 8, 45)
    assert changed["forwarded_allow_ips"] == "10.0.0.2"
    for bad in ("0", "two", "-1", "2.5"):
        with pytest.raises(ValueError, match="GUNICORN_WORKERS"):
            gunicorn_settings({"GUNICORN_WORKERS": bad})


def test_the_env_example_names_only_what_the_app_or_gunicorn_reads_and_all_the_app_reads():
    names = example()
    env = {"SECRET_KEY": "x"}
    by_app = read_by_app(env)
    by_gunicorn = Recording(env)
    gunicorn_settings(by_gunicorn)
    assert set(names) - by_app - by_gunicorn.asked == set()
    assert by_app - set(names) == set()  # every setting the app has is shown, if commented
    # As written, the example is accepted by both and says what the README's budget counts.
    filled = {k: v for k, v in names.items() if v is not None}
    saved = os.environ
    os.environ = filled
    try:
        settings = clinic_config.Config()
    finally:
        os.environ = saved
    assert settings.SQLALCHEMY_DATABASE_URI.startswith("postgresql+psycopg://")
    assert settings.SMS_BACKEND == "twilio" and settings.RATELIMIT_STORAGE_URI.startswith("redis")
    assert settings.PROXY_COUNT == 1 and settings.SCHEDULER_ENABLED is False
    pool = settings.SQLALCHEMY_ENGINE_OPTIONS
    assert (pool["pool_size"], pool["max_overflow"]) == (4, 2)
    served = gunicorn_settings(filled)
    assert (served["workers"], served["threads"]) == (2, 4)
    assert pool["pool_size"] >= served["threads"]  # one connection for each thread
    assert "2 workers x 4 threads, 2 dispatchers, `DB_POOL_SIZE=4`" in \
        (DEPLOY / "README.md").read_text().replace("\n", " ")


def test_pool_settings_apply_to_postgresql_only_and_refuse_nonsense(monkeypatch):
    monkeypatch.delenv("DB_POOL_SIZE", raising=False)
    monkeypatch.delenv("DB_MAX_OVERFLOW", raising=False)
    postgres = "postgresql+psycopg://clinic@127.0.0.1/clinic"
    assert clinic_config.engine_options(postgres) == {"pool_pre_ping": True,
                                                      "hide_parameters": True}
    monkeypatch.setenv("DB_POOL_SIZE", "4")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "0")
    assert clinic_config.engine_options(postgres) == {
        "pool_pre_ping": True, "hide_parameters": True, "pool_size": 4, "max_overflow": 0}
    assert "pool_size" not in clinic_config.engine_options("sqlite:///x.db")
    for name, bad in (("DB_POOL_SIZE", "0"), ("DB_POOL_SIZE", "four"), ("DB_MAX_OVERFLOW", "-1")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError, match=name):
            clinic_config.engine_options(postgres)
        monkeypatch.setenv(name, "1")


def unit(path: Path) -> dict[str, list[str]]:
    """A systemd unit's `Section.Key` -> values (keys may repeat)."""
    entries: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            assert line.endswith("]"), line
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep and section, f"{path.name}: {line!r}"
        entries.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return entries


def command_here(exec_start: str) -> list[str]:
    """A unit's or Procfile's command, pointed at this checkout's venv and deploy/."""
    argv = shlex.split(exec_start)
    program = BIN / Path(argv[0]).name
    assert program.exists(), f"{argv[0]}: no {program.name} in the virtualenv"
    return [str(program)] + [a.replace("/srv/clinic/", f"{ROOT}/") for a in argv[1:]]


def runs(argv: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"}
    env.update(DATABASE_URL="sqlite://", SECRET_KEY="x")
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_units_run_commands_that_exist_and_stop_politely():
    web = unit(DEPLOY / "clinic-web.service")
    dispatcher = unit(DEPLOY / "clinic-dispatcher@.service")
    for entries in (web, dispatcher):
        assert entries["Service.Restart"] == ["always"]
        assert entries["Service.KillSignal"] == ["SIGTERM"]
        assert entries["Service.EnvironmentFile"][0] == "/etc/clinic/clinic.env"
        assert entries["Service.WorkingDirectory"] == ["/srv/clinic"]
        assert entries["Install.WantedBy"] == ["multi-user.target"]
        assert len(entries["Service.ExecStart"]) == 1

    (start,) = dispatcher["Service.ExecStart"]
    assert shlex.split(start)[1:] == ["--app", "wsgi", "scheduler", "run"]
    assert "%i" in dispatcher["Unit.Description"][0]  # a template: clinic-dispatcher@1, @2
    # SIGTERM lets the text in flight finish: a connect and an answer, TWILIO_TIMEOUT each.
    stop = int(dispatcher["Service.TimeoutStopSec"][0])
    assert stop >= 2 * 10 + 10
    help_text = runs(command_here(start) + ["--help"])
    assert help_text.returncode == 0 and "SIGTERM" in help_text.stdout, help_text.stderr

    (start,) = web["Service.ExecStart"]
    argv = command_here(start)
    assert Path(argv[0]).name == "gunicorn" and argv[-1] == "wsgi:app"
    assert Path(argv[argv.index("-c") + 1]) == DEPLOY / "gunicorn.conf.py"
    checked = runs([*argv[:-1], "--check-config", argv[-1]])  # loads the settings and the app
    assert checked.returncode == 0, checked.stdout + checked.stderr
    graceful = gunicorn_settings({})["graceful_timeout"]
    assert int(web["Service.TimeoutStopSec"][0]) > graceful


def test_systemd_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        reason = "systemd-analyze is not installed"
        if ON_CI:
            pytest.fail(reason + ": CI must not skip", pytrace=False)
        pytest.skip(reason)
    names = ["clinic-web.service", "clinic-dispatcher@.service"]
    for name in names:  # the same units, pointed at this checkout
        text = (DEPLOY / name).read_text().replace("/srv/clinic/.venv/bin/", f"{BIN}/")
        (tmp_path / name.replace("@.", "@1.")).write_text(text.replace("/srv/clinic", str(ROOT)))
    units = [str(tmp_path / n.replace("@.", "@1.")) for n in names]
    result = subprocess.run([analyze, "verify", *units], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})
    assert result.returncode == 0 and "clinic" not in result.stderr, result.stderr


def test_the_procfile_runs_the_same_commands():
    processes = dict(line.split(": ", 1) for line in
                     (DEPLOY / "Procfile").read_text().splitlines()
                     if line and not line.startswith("#"))
    assert set(processes) == {"web", "dispatcher"}
    assert shlex.split(processes["web"]) == ["gunicorn", "-c", "deploy/gunicorn.conf.py",
                                             "wsgi:app"]
    assert shlex.split(processes["dispatcher"]) == ["flask", "--app", "wsgi", "scheduler", "run"]
    for command in processes.values():
        command_here(command)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_with_these_settings_serves_the_app_and_its_access_log_is_redacted(app,
                                                                                    tmp_path):
    """Behind one proxy (PROXY_COUNT=1): the client's address is logged, never a manage
    token or a full phone number."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"}
    env.update(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="x",
               SMS_BACKEND="memory", RATELIMIT_ENABLED="0", PROXY_COUNT="1",
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", GUNICORN_BIND=f"127.0.0.1:{port}",
               GUNICORN_WORKERS="1", GUNICORN_THREADS="2")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(path: str) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={
            "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
        try:
            with opener.open(request, timeout=30) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    output = tmp_path / "gunicorn.log"
    with open(output, "wb") as log:
        process = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(DEPLOY / "gunicorn.conf.py")],
                                   cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, output.read_text()
            try:
                assert get("/healthz") == 200
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, output.read_text()
                time.sleep(0.1)
        assert get(f"/manage/{TOKEN}?phone=%2B14155552671") == 404
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    logged = output.read_text()
    (line,) = [x for x in logged.splitlines() if "/manage/" in x]
    assert line.startswith("203.0.113.7 ")
    assert "/manage/<token>?phone=%2B1***71" in line
    assert TOKEN not in logged and "14155552671" not in logged
    assert "Booting worker" in logged and "Traceback" not in logged
