"""The dispatcher process: APScheduler settings, its own process, a clean stop on SIGTERM."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from scheduler import runner
from scheduler.jobs import JOBS

ROOT = Path(__file__).resolve().parent.parent


def test_jobs_have_explicit_coalesce_instances_and_misfire_grace(app):
    scheduler = runner.build(app, BackgroundScheduler)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"send_due", "complete_unclosed", "settle_unsure"}
    for job in jobs.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == runner.MISFIRE_GRACE
    assert jobs["send_due"].trigger.interval.total_seconds() == dict(
        (j.__name__, s) for j, s in JOBS)["send_due"]


def test_creating_the_web_app_starts_no_scheduler(app):
    import threading

    assert runner._embedded is None
    assert not [t for t in threading.enumerate() if "APScheduler" in t.name]


def test_demo_embeds_one_scheduler_however_often_asked(app):
    try:
        first = runner.start_embedded(app)
        assert runner.start_embedded(app) is first
        assert first.running
    finally:
        runner._embedded.shutdown(wait=True)
        runner._embedded = None


def test_dispatcher_process_stops_cleanly_on_sigterm(migrated):
    env = {**os.environ, "DATABASE_URL": migrated, "SMS_BACKEND": "console",
           "PYTHONUNBUFFERED": "1", "SECRET_KEY": "x"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline()
        assert "dispatcher running" in line, line
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
