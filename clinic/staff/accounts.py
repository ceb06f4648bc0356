"""Signing in and out, one's own password and API tokens.

Sign-in is limited to five failed tries a minute per email and per address (README,
"Staff workspace"); the session starts afresh at sign-in and is emptied at sign-out.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user

from .. import auth, clock, staff_admin
from ..extensions import db, limiter
from ..security import SESSION_KEY
from . import bp

LOGIN_LIMIT = "5 per minute"
TOO_MANY = "Too many sign-in attempts. Wait a minute, then try again."


def _email_key() -> str:
    return "login:" + (request.form.get("email") or "").strip().lower()[:254]


def _failed(response) -> bool:
    return response.status_code != 303


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=_failed, error_message=TOO_MANY,
               key_func=get_remote_address)
@limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=_failed, error_message=TOO_MANY,
               key_func=_email_key)
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("staff.day"))
        return render_template("staff/login.html", email="", error=None)
    email = (request.form.get("email") or "").strip()[:254]
    user = auth.check_login(db.session, email, request.form.get("password") or "")
    if user is None:
        return render_template("staff/login.html", email=email,
                               error="That email and password do not match an active "
                                     "account."), 200
    target = _safe_next(request.args.get("next"))
    _sign_in(user)
    return redirect(target or url_for("staff.day"), 303)


def _sign_in(user) -> None:
    """A fresh session with a new id: nothing from before sign-in carries over."""
    session.clear()
    session[SESSION_KEY] = auth.start_session(db.session, user, now=clock.now())
    login_user(user)


@bp.errorhandler(RateLimitExceeded)
def _too_many(exc):
    if request.endpoint == "staff.login":
        email = (request.form.get("email") or "").strip()[:254]
        return render_template("staff/login.html", email=email, error=TOO_MANY), 429
    if request.endpoint == "staff.change_password":
        return _account_page(errors={"current": TOO_MANY}, status=429)
    return render_template("errors/page.html", title="Too many tries", code=429), 429


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site under /staff/ (never another host) after signing in."""
    if target and target.startswith("/staff/") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return None


@bp.post("/logout")
def logout():
    token = session.get(SESSION_KEY)
    if isinstance(token, str):
        auth.end_sessions(db.session, current_user, now=clock.now(), token=token)
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("staff.login"), 303)


@bp.get("/account")
def account():
    return _account_page()


def _account_page(*, new_token: str | None = None, errors: dict | None = None, status=200):
    tokens = auth.tokens_of(db.session, current_user)
    return render_template("staff/account.html", tokens=tokens, new_token=new_token,
                           errors=errors or {}), status


def _own_key() -> str:
    return f"password:{current_user.get_id().partition('.')[0]}"


@bp.post("/account/password")
@limiter.limit(LOGIN_LIMIT, key_func=_own_key, deduct_when=lambda r: r.status_code == 422,
               error_message=TOO_MANY)
def change_password():
    form = request.form
    try:
        auth.change_password(db.session, current_user, form.get("current", ""),
                             form.get("new", ""), form.get("confirm", ""), now=clock.now())
    except auth.PasswordError as exc:
        return _account_page(errors=exc.fields, status=422)
    _sign_in(current_user._get_current_object())  # every other session has ended
    flash("Your password is changed. You were signed out everywhere else and your API tokens "
          "were revoked.", "ok")
    return redirect(url_for("staff.account"), 303)


@bp.post("/account/tokens")
def create_token():
    token = auth.new_token(db.session, current_user, now=clock.now())
    # Shown in this answer only (never in the session cookie, never again).
    return _account_page(new_token=token)


@bp.post("/account/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    if auth.revoke_token(db.session, current_user, token_id, now=clock.now()):
        flash("The token is revoked: it no longer works.", "ok")
    else:
        flash("That token was already revoked.", "info")
    return redirect(url_for("staff.account"), 303)




@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """The one-time link an admin hands a new (or reset) account: open signed out. A link
    that is unknown, used or expired gets one page for all three (404), naming no account.
    Setting the password starts no session: the person signs in next, on the sign-in page,
    with its limits, and proves they know the password they chose."""
    now = clock.now()
    try:
        user = staff_admin.account_for_link(db.session, token, now=now)
    except staff_admin.LinkGone:
        return _link_gone()
    if request.method == "GET":
        return render_template("staff/set_password.html", token=token, email=user.email,
                               errors={}, link_hours=staff_admin.LINK_HOURS)
    form = request.form
    try:
        staff_admin.set_password_with_link(db.session, token, form.get("new", ""),
                                           form.get("confirm", ""), now=now)
    except staff_admin.LinkGone:
        return _link_gone()
    except auth.PasswordError as exc:
        return render_template("staff/set_password.html", token=token, email=user.email,
                               errors=exc.fields, link_hours=staff_admin.LINK_HOURS), 422
    flash("Your password is set. Sign in with your email and the new password.", "ok")
    return redirect(url_for("staff.login"), 303)


def _link_gone():
    return render_template("staff/set_password.html", token=None, email=None, errors={},
                           link_hours=staff_admin.LINK_HOURS), 404
