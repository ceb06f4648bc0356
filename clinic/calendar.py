"""An iCalendar file for a client's own calendar."""

from flask import Response, current_app
from icalendar import Calendar, Event

from .enums import VisitStatus
from .links import manage_url
from .models import Appointment
from .rules import Clinic


def ics_for(appt: Appointment, clinic: Clinic) -> bytes:
    name = clinic.name
    link = manage_url(appt.manage_token)
    cal = Calendar()
    cal.add("prodid", f"-//{name}//Bookings//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"visit-{appt.id}@{_host(current_app.config['PUBLIC_BASE_URL'])}")
    event.add("dtstamp", appt.updated_at)
    event.add("dtstart", appt.start_at)
    event.add("dtend", appt.end_at)
    event.add("summary", f"{appt.service.name} at {name}")
    event.add("location", f"{name}, {clinic.address}" if clinic.address else name)
    event.add("description", f"Change or cancel: {link}")
    event.add("url", link)
    event.add("status", "CANCELLED" if appt.status == VisitStatus.CANCELLED else "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical()


def ics_response(appt: Appointment, clinic: Clinic) -> Response:
    """The event as a download a phone hands to its calendar."""
    return Response(ics_for(appt, clinic), mimetype="text/calendar",
                    headers={"Content-Disposition": 'attachment; filename="visit.ics"'})


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0] or "clinic"
