"""The app's notion of now and of the clinic, replaceable in tests."""

from zoneinfo import ZoneInfo

from flask import current_app

from . import rules
from .rules import Clinic
from .timeutil import now_utc


def now():
    clock = current_app.config.get("CLOCK")
    return clock() if clock else now_utc()


def clinic() -> Clinic:
    return rules.current()


def tz() -> ZoneInfo:
    return rules.current().tz
