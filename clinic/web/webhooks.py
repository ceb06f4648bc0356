"""Twilio's webhooks: inbound texts and delivery statuses, signed, idempotent, forward-only.

The signature covers the form exactly as Twilio sent it; only then are its values made
storable (no NUL), so that no text, however odd, gets a 5xx that Twilio would retry.
"""

from functools import wraps

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from .. import clock
from ..extensions import csrf, db
from ..messaging import delivery, replies
from ..validation import parse_ref, storable

bp = Blueprint("webhooks", __name__, url_prefix="/sms")


def signed(view):
    """403 unless X-Twilio-Signature matches PUBLIC_BASE_URL + path (+ query) and the form."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = current_app.config.get("TWILIO_AUTH_TOKEN")
        signature = request.headers.get("X-Twilio-Signature", "")
        url = current_app.config["PUBLIC_BASE_URL"] + request.full_path.rstrip("?")
        if not token or not signature or not RequestValidator(token).validate(
                url, request.form.to_dict(), signature):
            abort(403)
        return view(*args, **kwargs)

    return csrf.exempt(wrapper)


@bp.post("/inbound")
@signed
def inbound():
    form = signed_form()
    if not form.get("MessageSid") or not form.get("From"):
        return twiml(None), 200  # nothing to act on; Twilio must not retry
    outcome = replies.handle_inbound(
        db.session, sid=form["MessageSid"][:64], from_phone=form["From"], body=form.get("Body", ""),
        now=clock.now(), clinic=clock.clinic())
    return twiml(outcome.reply)


@bp.post("/status")
@signed
def status():
    form = signed_form()
    message_id, attempt = parse_ref(request.args.get("m"))
    code = form.get("ErrorCode", "")
    delivery.record_status(
        db.session, sid=form.get("MessageSid", "")[:64], status=form.get("MessageStatus", ""),
        error_code=int(code) if code.isascii() and code.isdigit() and len(code) <= 6 else None,
        message_id=message_id, attempt=attempt, now=clock.now(), clinic=clock.clinic())
    return Response(status=204)


def signed_form() -> dict[str, str]:
    """The form, once `signed` has checked it, with what no column may hold taken out."""
    return {key: storable(value) for key, value in request.form.items()}


def twiml(reply: str | None) -> Response:
    """Twilio's answer to an inbound text: our reply, or nothing."""
    answer = MessagingResponse()
    if reply:
        answer.message(reply)
    return Response(str(answer), mimetype="text/xml")
