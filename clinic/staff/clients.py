"""Client search and a client's record, where staff correct a name or an email."""

from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from .. import clients as domain
from .. import clock
from ..extensions import db
from . import bp
from .access import actor

QUERY_MAX = 100  #: longer searches are cut here: no name or number is longer
SEEN = re.compile(r"[0-9]{1,10}")


@bp.get("/clients")
def clients():
    q = " ".join((request.args.get("q") or "").split())[:QUERY_MAX]
    results = domain.search(db.session, q, region=current_app.config["CLINIC_REGION"],
                            now=clock.now())
    return render_template("staff/clients.html", q=q, results=results,
                           limit=domain.SEARCH_LIMIT, now=clock.now())


@bp.get("/clients/<int:client_id>")
def client(client_id: int):
    rec = domain.record(db.session, client_id)
    if rec is None:
        abort(404)
    return _record_page(rec)


@bp.post("/clients/<int:client_id>")
def client_edit(client_id: int):
    form = request.form
    typed = {"name": form.get("name", ""), "email": form.get("email", "")}
    seen = form.get("seen", "")
    try:
        entry = domain.update_client(
            db.session, client_id, name=typed["name"], email=typed["email"], now=clock.now(),
            actor=actor(), seen_at=int(seen) if SEEN.fullmatch(seen) else -1)
    except domain.UnknownClient:
        abort(404)
    except domain.StaleEdit as exc:
        rec = domain.record(db.session, client_id)
        if rec is None:
            abort(404)
        # Their details as they are now, with a fresh `seen`; what was typed is shown beside.
        return _record_page(rec, problem=exc.message, yours=typed, status=422)
    except domain.ClientError as exc:
        rec = domain.record(db.session, client_id)
        if rec is None:
            abort(404)
        return _record_page(rec, values=typed, errors=exc.fields, problem=exc.message,
                            seen=seen, status=422)
    if entry is None:
        flash(domain.NOTHING_CHANGED, "info")
    else:
        flash("Saved.", "ok")
    return redirect(url_for("staff.client", client_id=client_id), 303)


def _record_page(rec: domain.Record, *, values: dict | None = None, errors: dict | None = None,
                 problem: str | None = None, yours: dict | None = None, seen=None,
                 status: int = 200):
    values = values or {"name": rec.client.name, "email": rec.client.email or ""}
    return render_template(
        "staff/client.html", rec=rec, c=rec.client, values=values, errors=errors or {},
        problem=problem, yours=yours, seen=rec.seen if seen is None else seen,
        kind_words=domain.KIND_WORDS, message_status_words=domain.MESSAGE_STATUS_WORDS,
        reply_words=domain.REPLY_WORDS, visit_status_words=domain.VISIT_STATUS_WORDS,
        now=clock.now()), status
