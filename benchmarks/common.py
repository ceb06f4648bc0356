"""What every benchmark shares: figures and goals, progress bars, databases, gunicorn, memory."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1/bench"


@dataclass
class Settings:
    """How big and how long: the full suite, or --quick."""

    quick: bool = False
    tiny: bool = False  #: --tiny: the smoke test's size (B5 only is meant)
    db: str = "sqlite"  #: "sqlite" (a temporary file per benchmark) or a database URL
    pg: str | None = DEFAULT_PG  #: B2's PostgreSQL database (wiped), None to leave it out
    repeat: int = 3  #: load runs per figure (median)
    duration: float = 4.0  #: seconds per load run
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="clinic-bench-")))

    @classmethod
    def make(cls, quick: bool, db: str, pg: str | None, tiny: bool = False) -> Settings:
        if tiny:
            return cls(quick=True, tiny=True, db=db, pg=pg, repeat=1, duration=1.0)
        if quick:
            return cls(quick=True, db=db, pg=pg, repeat=2, duration=1.5)
        return cls(db=db, pg=pg)

    def database(self, name: str) -> str:
        """A fresh database for one benchmark: a new SQLite file, or the given URL wiped."""
        if self.db == "sqlite":
            return f"sqlite:///{self.workdir / (name + '.db')}"
        wipe_postgres(self.db)
        return self.db


@dataclass
class Figure:
    """One measured figure; `goal` like ">= 0.4" makes it pass or fail."""

    bench: str
    name: str
    value: float | None
    unit: str = ""
    goal: str | None = None
    detail: str = ""
    ok: bool | None = None

    def __post_init__(self) -> None:
        if self.goal and self.value is not None:
            op, target = self.goal.split()
            target = float(target)
            self.ok = self.value >= target if op == ">=" else self.value <= target

    @property
    def mark(self) -> str:
        return "" if self.ok is None else "✓" if self.ok else "✗"

    def as_dict(self) -> dict:
        return {**asdict(self), "mark": self.mark}


def median_ms(fn: Callable[[], object], repeat: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time of `fn` in milliseconds, and every timing."""
    for _ in range(warmup):
        fn()
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings), timings


# --- progress ---------------------------------------------------------------------------------

class Progress:
    """A progress bar (rich when installed, else a line per step)."""

    def __init__(self) -> None:
        try:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress
        except ImportError:  # the `bench` extra is optional
            self._rich = None
        else:
            self._rich = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      transient=False)

    def __enter__(self) -> Progress:
        if self._rich:
            self._rich.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._rich:
            self._rich.stop()

    def task(self, description: str, total: int) -> Callable[[int], None]:
        """Returns `advance(n)`."""
        if self._rich:
            task = self._rich.add_task(description, total=total)
            return lambda n=1: self._rich.advance(task, n)
        print(f"... {description} ({total:,})", file=sys.stderr, flush=True)
        return lambda n=1: None

    def callback(self, description: str) -> Callable[[int, int], None]:
        """A `progress(done, total)` callback, as clinic.history.fill_history calls it."""
        state: dict = {}

        def report(done: int, total: int) -> None:
            if "advance" not in state:
                state["advance"], state["done"] = self.task(description, total), 0
            state["advance"](done - state["done"])
            state["done"] = done
        return report

    def note(self, text: str) -> None:
        if self._rich:
            self._rich.console.print(text)
        else:
            print(text, file=sys.stderr, flush=True)


# --- databases --------------------------------------------------------------------------------

def env_for(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"}
    env.update(DATABASE_URL=url, SECRET_KEY="bench-secret", SMS_BACKEND="memory",
               RATELIMIT_ENABLED="0", SCHEDULER_ENABLED="0", FLASK_APP="wsgi", **extra)
    return env


def flask(url: str, *args: str, **extra: str) -> str:
    """Runs `flask --app wsgi <args>` against the database and returns its output."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=env_for(url, **extra), capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def migrate_and_seed(url: str) -> None:
    """`flask db upgrade`, then the demo clinic (`flask seed-demo`)."""
    flask(url, "db", "upgrade")
    flask(url, "seed-demo")


def wipe_postgres(url: str) -> None:
    """Empties a PostgreSQL database, which must be a benchmark's own (its name says bench)."""
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to wipe {name!r}: use a database whose name contains 'bench'")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def postgres_reachable(url: str) -> str | None:
    """None when the database answers, else why not."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure only leaves PostgreSQL out
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:120]}"
    return None


def app_for(url: str, migrate: bool = True):
    """The Flask app in this process, on the given database, with the real clock; migrated
    (Flask-Migrate's upgrade, as `flask db upgrade` does) and seeded with the demo clinic."""
    from clinic import create_app
    from clinic.config import TestConfig

    config = TestConfig(url)
    config.TESTING = False
    app = create_app(config)
    if migrate:
        from flask_migrate import upgrade

        from clinic.extensions import db
        from clinic.seed import seed_demo

        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            seed_demo(db.session)
            db.session.remove()
    return app


# --- gunicorn ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    proc: subprocess.Popen

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def get(self, path: str) -> tuple[int, bytes]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.base + path, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


@contextmanager
def gunicorn(url: str, log: Path, workers: int = 2, threads: int = 4,
             **env: str) -> Iterator[Server]:
    """The web app under gunicorn (gthread), as tests/test_logs.py starts it."""
    from gunicorn import config

    no_control = [c for s in config.KNOWN_SETTINGS if s.name == "control_socket_disable"
                  for c in s.cli]
    port = free_port()
    with open(log, "ab") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
             *no_control, "wsgi:app"],
            cwd=ROOT, env=env_for(url, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", **env),
            stdout=output, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited while starting; see {log}")
            try:
                if server.get("/healthz")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer in 60 s; see {log}")
            time.sleep(0.1)
        while len(server.workers()) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        yield server
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a running process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --- the load generator, in its own process ---------------------------------------------------

def load(base: str, clients: int, duration: float, kind: str = "get", **spec) -> dict:
    """Runs benchmarks.load in a subprocess: `clients` keep-alive connections for `duration`."""
    args = json.dumps({"base": base, "clients": clients, "duration": duration, "kind": kind,
                       **spec})
    done = subprocess.run([sys.executable, "-m", "benchmarks.load"], cwd=ROOT, input=args,
                          capture_output=True, text=True, timeout=duration + 120)
    if done.returncode:
        raise RuntimeError(f"load generator failed:\n{done.stderr}")
    return json.loads(done.stdout)


def load_median(base: str, clients: int, settings: Settings, kind: str = "get",
                **spec) -> tuple[float, list[dict]]:
    """Median requests/s over `settings.repeat` runs, and each run's figures."""
    runs = []
    for n in range(settings.repeat):
        extra = dict(spec)
        if kind == "book":
            extra["run"] = spec.get("run", 0) * 100 + n  # fresh phone numbers per run
        runs.append(load(base, clients, settings.duration, kind, **extra))
    return statistics.median(r["rate"] for r in runs), runs


# --- the machine ------------------------------------------------------------------------------

def machine(pg: str | None) -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in
                      Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        mem_kb = 0
    info = {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1024 ** 2, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "postgresql": None, "platform": platform.platform()}
    if pg and postgres_reachable(pg) is None:
        from sqlalchemy import create_engine, text

        engine = create_engine(pg)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
    elif shutil.which("psql"):
        info["postgresql"] = subprocess.run(["psql", "--version"], capture_output=True,
                                            text=True).stdout.strip()
    return info
