"""Staff accounts: passwords hashed with argon2id, API tokens kept only as SHA-256."""

import secrets
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .enums import StaffRole
from .models import ApiToken, Provider, StaffSession, StaffUser
from .tx import transaction

# RFC 9106's second recommendation (64 MiB, t=3, p=4): above OWASP's argon2id minimum.
_hasher = PasswordHasher()
MIN_PASSWORD = 12


class StaffError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: StaffUser, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_staff(session: Session, email: str, name: str, role: str, password: str,
                 *, now: datetime, provider_id: int | None = None) -> StaffUser:
    email = email.strip().lower()
    if "@" not in email:
        raise StaffError("Give an email address.")
    if role not in set(StaffRole):
        raise StaffError(f"Role must be one of {', '.join(StaffRole)}.")
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"Passwords need at least {MIN_PASSWORD} characters.")
    password_hash = hash_password(password)  # slow on purpose: before the write lock
    with transaction(session):
        if session.scalar(select(StaffUser).where(StaffUser.email == email)):
            raise StaffError(f"{email} already has an account.")
        if provider_id is not None and session.get(Provider, provider_id) is None:
            raise StaffError(f"There is no provider {provider_id}.")
        user = StaffUser(email=email, name=name.strip() or email, role=role,
                         password_hash=password_hash, created_at=now, provider_id=provider_id)
        session.add(user)
    return user


#: Checked against when no account has the email, so a wrong email takes as long as a
#: wrong password and the login page does not tell which emails have accounts.
@cache
def _nobody() -> str:
    return _hasher.hash(secrets.token_hex(16))


def check_login(session: Session, email: str, password: str) -> StaffUser | None:
    """The active account with this email and password, or None."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        try:
            _hasher.verify(_nobody(), password)
        except VerificationError:
            pass
        return None
    if not verify_password(user, password) or not user.active:
        return None
    return user


def change_password(session: Session, user: StaffUser, current: str, new: str,
                    confirm: str, *, now: datetime) -> None:
    """Sets a new password, ends every session from before it and revokes the account's API
    tokens (one made from a stolen session must not outlive the new password)."""
    errors = {}
    if not verify_password(user, current):
        errors["current"] = "That is not your current password."
    if len(new) < MIN_PASSWORD:
        errors["new"] = f"Use at least {MIN_PASSWORD} characters."
    elif new != confirm:
        errors["confirm"] = "The two new passwords differ."
    if errors:
        raise PasswordError(errors)
    password_hash = hash_password(new)
    with transaction(session):
        user.password_hash = password_hash
        user.login_key = secrets.token_hex(16)
        for row in session.scalars(select(StaffSession).where(
                StaffSession.staff_user_id == user.id, StaffSession.ended_at.is_(None))):
            row.ended_at = now
        for token in session.scalars(select(ApiToken).where(
                ApiToken.staff_user_id == user.id, ApiToken.revoked_at.is_(None))):
            token.revoked_at = now


class PasswordError(StaffError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("The password was not changed.")
        self.fields = fields


def start_session(session: Session, user: StaffUser, *, now: datetime) -> str:
    """A new signed-in session for the account; its id goes in the browser's cookie."""
    token = secrets.token_urlsafe(32)
    with transaction(session):
        session.add(StaffSession(staff_user_id=user.id, token_hash=StaffSession.digest(token),
                                 created_at=now))
    return token


def session_user(session: Session, user_id: int, token: str) -> StaffUser | None:
    """The account a browser's session belongs to, while that session has not ended."""
    row = session.scalar(select(StaffSession).where(
        StaffSession.token_hash == StaffSession.digest(token),
        StaffSession.staff_user_id == user_id, StaffSession.ended_at.is_(None)))
    return session.get(StaffUser, user_id) if row is not None else None


def end_sessions(session: Session, user: StaffUser, *, now: datetime,
                 token: str | None = None) -> None:
    """Ends one session (signing out) or, without `token`, every session of the account."""
    query = select(StaffSession).where(StaffSession.staff_user_id == user.id,
                                       StaffSession.ended_at.is_(None))
    if token is not None:
        query = query.where(StaffSession.token_hash == StaffSession.digest(token))
    with transaction(session):
        for row in session.scalars(query):
            row.ended_at = now


def new_token(session: Session, user: StaffUser, *, now: datetime) -> str:
    """A new API token for the account; only its SHA-256 is kept, so it is shown once."""
    token = "clk_" + secrets.token_urlsafe(32)
    with transaction(session):
        session.add(ApiToken(staff_user_id=user.id, token_hash=ApiToken.digest(token),
                             created_at=now))
    return token


def revoke_token(session: Session, user: StaffUser, token_id: int, *, now: datetime) -> bool:
    """Revokes one of the account's own tokens; False when it has no such live token."""
    with transaction(session):
        token = session.scalar(select(ApiToken).where(
            ApiToken.id == token_id, ApiToken.staff_user_id == user.id,
            ApiToken.revoked_at.is_(None)))
        if token is None:
            return False
        token.revoked_at = now
    return True


def tokens_of(session: Session, user: StaffUser) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.staff_user_id == user.id)
                                .order_by(ApiToken.created_at.desc())))


def issue_token(session: Session, email: str, *, now: datetime) -> str:
    user = session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None or not user.active:
        raise StaffError(f"No active staff account for {email}.")
    return new_token(session, user, now=now)


def revoke_tokens(session: Session, email: str, *, now: datetime) -> int:
    """Revokes every API token of a staff account; returns how many were live."""
    with transaction(session):
        user = session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
        if user is None:
            raise StaffError(f"No staff account for {email}.")
        live = list(session.scalars(select(ApiToken).where(ApiToken.staff_user_id == user.id,
                                                           ApiToken.revoked_at.is_(None))))
        for token in live:
            token.revoked_at = now
    return len(live)


def user_for_token(session: Session, token: str) -> StaffUser | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.digest(token)))
    if row is None or row.revoked_at is not None or not row.staff_user.active:
        return None
    return row.staff_user


def actor_names(session: Session, actors) -> dict[str, str]:
    """How audit trails name who acted: staff by name, the client, the system."""
    ids = {int(a.split(":", 1)[1]) for a in actors
           if a and a.startswith("staff:") and a.split(":", 1)[1].isdigit()}
    names = {f"staff:{u.id}": u.name
             for u in session.scalars(select(StaffUser).where(StaffUser.id.in_(ids)))} if ids \
        else {}
    return {a: names.get(a) or {"client": "Client", "system": "System"}.get(a, a)
            for a in actors if a}


def unusable_password_hash() -> str:
    """An argon2id hash of a random secret nobody knows: an account with it cannot sign in
    (until a password is set through a link), and a sign-in attempt on it costs as long as
    one on any other account, so timing does not tell which accounts have no password yet."""
    return hash_password(secrets.token_urlsafe(32))


def cut_off(session: Session, user: StaffUser, *, now: datetime) -> tuple[int, int]:
    """Inside an open transaction: ends every session of the account, renews its login key
    (so a browser still holding an old session id is refused by the login loader) and revokes
    its API tokens. Returns (sessions ended, tokens revoked)."""
    user.login_key = secrets.token_hex(16)
    sessions = list(session.scalars(select(StaffSession).where(
        StaffSession.staff_user_id == user.id, StaffSession.ended_at.is_(None))))
    for row in sessions:
        row.ended_at = now
    tokens = list(session.scalars(select(ApiToken).where(
        ApiToken.staff_user_id == user.id, ApiToken.revoked_at.is_(None))))
    for token in tokens:
        token.revoked_at = now
    return len(sessions), len(tokens)
