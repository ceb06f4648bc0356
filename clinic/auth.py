"""Staff accounts: passwords hashed with argon2id, API tokens kept only as SHA-256."""

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .enums import StaffRole
from .models import ApiToken, StaffUser
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
                 *, now: datetime) -> StaffUser:
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
        user = StaffUser(email=email, name=name.strip() or email, role=role,
                         password_hash=password_hash, created_at=now)
        session.add(user)
    return user


def issue_token(session: Session, email: str, *, now: datetime) -> str:
    user = session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None or not user.active:
        raise StaffError(f"No active staff account for {email}.")
    token = "clk_" + secrets.token_urlsafe(32)
    with transaction(session):
        session.add(ApiToken(staff_user_id=user.id, token_hash=ApiToken.digest(token),
                             created_at=now))
    return token


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
