"""The follow-up inbox: clients' texts staff should act on, replies sent as texts, resolving.

Views only: the rules live in `clinic.messaging.inbox`. A reply is queued there and sent by
the dispatcher, never from here.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from .. import clock
from ..extensions import db
from ..messaging import inbox as domain
from ..messaging.inbox import InboxError, NoSuchItem
from . import bp
from .access import actor


@bp.get("/inbox")
def inbox():
    return _page()


@bp.post("/inbox/<int:followup_id>/reply")
def reply(followup_id: int):
    text = request.form.get("body", "")
    seen = request.form.get("seen", "")
    try:
        message = domain.reply(db.session, followup_id, text, now=clock.now(),
                               clinic=clock.clinic(), actor=actor(),
                               seen=_count(seen))
    except NoSuchItem:
        abort(404)
    except InboxError as exc:
        return _page(failed=(followup_id, "reply", exc.message), typed=text, status=422)
    flash(f"Your reply to {message.client.name} is on its way: it is sent within a minute.",
          "ok")
    return redirect(url_for("staff.inbox") + f"#item-{followup_id}", 303)


@bp.post("/inbox/<int:followup_id>/resolve")
def resolve(followup_id: int):
    note = request.form.get("note", "")
    try:
        domain.resolve(db.session, followup_id, note, now=clock.now(), actor=actor(),
                       clinic=clock.clinic())
    except NoSuchItem:
        abort(404)
    except InboxError as exc:
        return _page(failed=(followup_id, "resolve", exc.message), typed=note, status=422)
    flash("Resolved: the item moved to the recently resolved list.", "ok")
    return redirect(url_for("staff.inbox") + f"#item-{followup_id}", 303)


def _count(seen: str) -> int | None:
    """The form's count of the thread's texts; a form without one is not checked."""
    if not seen:
        return None
    return int(seen) if seen.isdigit() and len(seen) < 6 else -1


def _page(*, failed: tuple[int, str, str] | None = None, typed: str = "", status: int = 200):
    """The inbox; after a refused action, its message next to that item's form and what was
    typed kept (`failed` is the item's id, "reply" or "resolve", and the message)."""
    session, now, clinic = db.session, clock.now(), clock.clinic()
    items = domain.open_items(session)
    closed = domain.recent_closed(session)
    threads = domain.threads(session, items)
    closers = domain.author_names(session, [f.closed_by for f in closed])
    shown = {f.id for f in items}
    return render_template(
        "staff/inbox.html", items=items, closed=closed, threads=threads, closers=closers,
        now=now, age=domain.age, reason_words=domain.reason_words,
        cannot_text=domain.cannot_text, allowed=domain.reply_allowed(clinic),
        failed=failed, typed=typed,
        stray=failed if failed and failed[0] not in shown else None), status
