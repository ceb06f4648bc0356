"""Reports for the clinic's owner (admins only): the weekly figures as a page, a CSV and SVG
charts. The figures come from `clinic.reports`; these views only parse the range and render."""

from __future__ import annotations

import csv
import io

from flask import Response, abort, render_template, request

from .. import clock
from .. import reports as domain
from ..extensions import db
from . import bp
from .access import admin_only

#: The charts are pygal's SVG, styled by its own <style>: drawn as images, they may use it,
#: and nothing else (no script runs in an image, and nothing is fetched).
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _range():
    """(first, last, problem): the days asked for, or the default with what was wrong."""
    today = clock.now().astimezone(clock.tz()).date()
    asked = request.args.get("from"), request.args.get("to")
    try:
        first, last = domain.parse_range(*asked, today=today)
        return first, last, None
    except domain.RangeError as exc:
        return None, None, str(exc)


def _report(first, last) -> domain.Report:
    return domain.build(db.session, first, last, clock.clinic(), clock.now())


@bp.get("/reports")
@admin_only
def reports():
    first, last, problem = _range()
    typed = {"from": (request.args.get("from") or "")[:20],
             "to": (request.args.get("to") or "")[:20]}
    if problem:
        return render_template("staff/reports.html", problem=problem, typed=typed,
                               report=None), 422
    report = _report(first, last)
    cols = domain.columns(report)
    return render_template("staff/reports.html", problem=None, report=report, columns=cols,
                           rows=domain.rows(report), definitions=domain.definitions(report),
                           typed={"from": first.isoformat(), "to": last.isoformat()},
                           asked={"from": first.isoformat(), "to": last.isoformat()},
                           groups=_groups(cols), charts=CHARTS)


@bp.get("/reports.csv")
@admin_only
def reports_csv():
    first, last, problem = _range()
    if problem:
        return Response(problem + "\n", status=422, mimetype="text/plain")
    report = _report(first, last)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.key for c in domain.columns(report)])
    writer.writerows(domain.rows(report))
    name = f"clinic-report-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/reports.svg")
@admin_only
def reports_svg():
    first, last, problem = _range()
    which = request.args.get("chart", "rates")
    if problem or which not in domain.CHARTS:
        abort(404)
    svg = domain.chart_svg(_report(first, last), which)
    answer = Response(svg, mimetype="image/svg+xml")
    answer.headers["Content-Security-Policy"] = SVG_CSP
    return answer


#: The charts on the page: which, and what the image says in words.
CHARTS = [("rates", "Line chart of the weekly rates in percent: no-show, rebooking, delivery "
                    "and still red or swollen. The same figures are in the tables below."),
          ("bookings", "Line chart of the visits booked each week by service, and "
                       "cancellations. The same figures are in the tables below.")]

GROUPS = [("bookings", "Bookings and revenue"), ("visits", "Visits"),
          ("rebooking", "Rebooking"), ("checkins", "Check-in answers"), ("texts", "Texts")]


def _groups(cols) -> list[tuple[str, str, list[int]]]:
    """The page's tables: (id, caption, the indexes of their columns after the week)."""
    return [(key, caption, [i for i, c in enumerate(cols) if c.group == key])
            for key, caption in GROUPS]
