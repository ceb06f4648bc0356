"""Template filters: clinic-time dates and money as people read them."""

from datetime import date, datetime

from flask import Flask

from .. import clock
from ..care import WHEN_TO_CALL
from ..enums import VisitStatus
from ..messaging.plan import pause_from
from ..rules import a_role, cancellation_policy
from ..timeutil import clock_time


def init_app(app: Flask) -> None:
    app.jinja_env.globals["VisitStatus"] = VisitStatus  # templates compare with the enum

    @app.template_filter("hours")
    def hours(span) -> int:
        return int(span.total_seconds() // 3600)
    @app.template_filter("when")
    def when(moment: datetime) -> str:
        local = moment.astimezone(clock.tz())
        return f"{local:%A} {local.day} {local:%B}, {clock_time(local)}"

    @app.template_filter("hm")
    def hm(moment: datetime) -> str:
        return clock_time(moment.astimezone(clock.tz()))

    @app.template_filter("slot_label")
    def slot_label(moment: datetime | str) -> str:
        """'10:15 AM, 2 March' for a datetime or an ISO string with offset."""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        local = moment.astimezone(clock.tz())
        return f"{clock_time(local)}, {local.day} {local:%B}"

    @app.template_filter("local_day")
    def local_day(moment: datetime) -> str:
        """The clinic's calendar date of an instant, as YYYY-MM-DD."""
        return moment.astimezone(clock.tz()).date().isoformat()

    @app.template_filter("dayname")
    def dayname(day: date) -> str:
        return f"{day:%A} {day.day} {day:%B}"

    @app.template_filter("phone")
    def phone(number: str) -> str:
        """A North American number reads as (415) 555-0100; any other stays as configured."""
        if len(number) == 12 and number.startswith("+1") and number[1:].isdigit():
            return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
        return number

    @app.template_filter("money")
    def money(cents: int) -> str:
        return f"${cents // 100}" if cents % 100 == 0 else f"${cents / 100:.2f}"

    app.add_template_filter(a_role, "a_role")

    @app.template_filter("pause_from")
    def pause_from_filter(appt) -> date | None:
        return pause_from(appt, clock.tz())

    @app.context_processor
    def _clinic():
        """The clinic, its rules and policy, for every page that states them."""
        clinic = clock.clinic()
        return {"clinic": clinic, "clinic_name": clinic.name, "clinic_phone": clinic.phone,
                "policy": cancellation_policy(clinic), "when_to_call": WHEN_TO_CALL}
