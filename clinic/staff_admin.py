"""Staff accounts as admins manage them: create one with a one-time set-password link, change
its details, role and provider, deactivate and reactivate it, issue a new link (a reset).

No admin ever types or sees a password. A new account, or one reset, gets a random link token
shown once to the admin; only its SHA-256 is kept (`StaffUser.set_password_hash`), for
`LINK_HOURS`. Until the person sets a password through it the account's password is a hash of a
secret nobody knows, so it cannot sign in. The link works once.

Every change writes an `AuditEntry(subject="staff")` in the same transaction as the change.
The admins' own safety: nobody removes their own admin role, deactivates themselves or resets
their own password here (they use their account page), and the last active admin can never be
demoted or deactivated, so the clinic is never left without one.

Framework-free: views hand in what was typed, `now` and the actor ("staff:<id>").
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import auth
from .enums import StaffRole
from .models import AuditEntry, Provider, StaffSession, StaffUser
from .tx import transaction
from .validation import EMAIL, Refused, name_problem, printable

LINK_HOURS = 72  #: how long a set-password link works
NAME_MAX = 120
EMAIL_MAX = 254
SUBJECT = "staff"  #: AuditEntry.subject of every change here
ADMINS_LOCK = "staff:admins"  #: serialises changes that could leave the clinic without an admin
HISTORY_SHOWN = 50  #: entries on the list page (an account's own page shows all of its own)

ROLE_WORDS = {StaffRole.ADMIN: "Admin", StaffRole.STAFF: "Staff"}
ACTION_WORDS = {
    "created": "Created the account",
    "edited": "Changed",
    "deactivated": "Deactivated",
    "reactivated": "Reactivated",
    "link_issued": "Issued a set-password link",
    "password_set": "Set a password through a link",
}
FIELD_WORDS = {"name": "Name", "email": "Email", "role": "Role", "provider_id": "Works as",
               "active": "Active", "sessions_ended": "Sessions ended",
               "tokens_revoked": "API tokens revoked", "link_until": "Link works until"}


class AccountError(Refused):
    """An account change that was refused."""


class UnknownAccount(LookupError):
    pass


class LinkGone(LookupError):
    """A set-password link that is unknown, used already, expired, or whose account is
    deactivated: the same answer for each, so a link tells nothing about any account."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_of(user: StaffUser) -> str:
    return f"staff:{user.id}"


# --- Reading the form -----------------------------------------------------------------------


def _email_taken(session: Session, email: str, *, other_than: int | None = None) -> bool:
    query = select(StaffUser.id).where(func.lower(StaffUser.email) == email)
    if other_than is not None:
        query = query.where(StaffUser.id != other_than)
    return session.scalar(query) is not None


TAKEN = "Another account already uses this email."


@dataclass(frozen=True)
class AccountInput:
    name: str
    email: str
    role: StaffRole
    provider_id: int | None


def read_account(session: Session, *, name: str | None, email: str | None,
                 role: str | None, provider: str | None,
                 staff_id: int | None = None) -> AccountInput:
    """What an admin typed, checked field by field; AccountError names every bad field.
    An email another account uses (than `staff_id`) is refused here, and again under the
    write lock."""
    fields: dict[str, str] = {}
    clean_name = " ".join((name or "").split())
    if problem := name_problem(clean_name, missing="Enter the person's name.", most=NAME_MAX):
        fields["name"] = problem
    address = (email or "").strip()
    if not address:
        fields["email"] = "Enter the email address they will sign in with."
    elif len(address) > EMAIL_MAX:
        fields["email"] = f"At most {EMAIL_MAX} characters; this is {len(address)}."
    elif not printable(address) or not EMAIL.match(address):
        fields["email"] = "That doesn't look like an email address (like name@example.com)."
    elif _email_taken(session, address.lower(), other_than=staff_id):
        fields["email"] = TAKEN
    clean_role = None
    if role in set(StaffRole):
        clean_role = StaffRole(role)
    else:
        fields["role"] = "Choose admin or staff."
    provider_id = None
    typed = (provider or "").strip()
    if typed:
        if not (typed.isascii() and typed.isdigit() and len(typed) <= 9) \
                or session.get(Provider, int(typed)) is None:
            fields["provider"] = "There is no such provider: choose one from the list."
        else:
            provider_id = int(typed)
    if fields:
        raise AccountError("Nothing was saved: check the fields marked.", fields)
    return AccountInput(clean_name, address.lower(), clean_role, provider_id)




# --- Changes --------------------------------------------------------------------------------


@dataclass
class Issued:
    """A set-password link, as it is shown once: the token itself is never stored."""

    user: StaffUser
    token: str
    until: datetime


def _new_link(user: StaffUser, *, now: datetime) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    until = now + timedelta(hours=LINK_HOURS)
    user.set_password_hash = digest(token)
    user.set_password_until = until
    return token, until


def _audit(session: Session, user_id: int, action: str, *, now: datetime, actor: str,
           before: dict | None = None, after: dict | None = None) -> AuditEntry:
    entry = AuditEntry(at=now, actor=actor, subject=SUBJECT, subject_id=user_id, action=action,
                       before=before or {}, after=after or {})
    session.add(entry)
    return entry


def create_account(session: Session, *, name: str | None, email: str | None, role: str | None,
                   provider: str | None, now: datetime, actor: str) -> Issued:
    """A new account that cannot sign in until its person sets a password through the link."""
    account = read_account(session, name=name, email=email, role=role, provider=provider)
    password_hash = auth.unusable_password_hash()  # slow on purpose: before the write lock
    try:
        with transaction(session):
            if _email_taken(session, account.email):
                raise AccountError("The account was not created.", {"email": TAKEN})
            user = StaffUser(email=account.email, name=account.name, role=account.role,
                             provider_id=account.provider_id, password_hash=password_hash,
                             created_at=now, active=True)
            token, until = _new_link(user, now=now)
            session.add(user)
            session.flush()
            _audit(session, user.id, "created", now=now, actor=actor, after={
                "name": user.name, "email": user.email, "role": str(user.role),
                "provider_id": user.provider_id, "link_until": until.isoformat()})
    except IntegrityError:  # another admin created the same email a moment before
        raise AccountError("The account was not created.", {"email": TAKEN}) from None
    return Issued(user, token, until)


def _account(session: Session, staff_id: int) -> StaffUser:
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise UnknownAccount(staff_id)
    return user


def _other_active_admins(session: Session, staff_id: int) -> int:
    return session.scalar(select(func.count(StaffUser.id)).where(
        StaffUser.role == StaffRole.ADMIN, StaffUser.active.is_(True),
        StaffUser.id != staff_id)) or 0


def _may_lose_admin(session: Session, user: StaffUser, actor: str, *, doing: str) -> str | None:
    """Why `user` may not stop being an active admin now (None when they may)."""
    if user.role != StaffRole.ADMIN or not user.active:
        return None
    if _other_active_admins(session, user.id) == 0:
        return (f"You can't {doing} the last active admin: make another account an admin "
                "first.")
    if actor == actor_of(user):
        return f"You can't {doing} your own account: ask another admin, so nobody is locked out."
    return None


def update_account(session: Session, staff_id: int, *, name: str | None, email: str | None,
                   role: str | None, provider: str | None, now: datetime,
                   actor: str) -> AuditEntry | None:
    """Saves name, email, role and provider; the audit entry, or None when nothing changed."""
    account = read_account(session, name=name, email=email, role=role, provider=provider,
                           staff_id=staff_id)
    after_all = {"name": account.name, "email": account.email, "role": str(account.role),
                 "provider_id": account.provider_id}
    try:
        with transaction(session, ADMINS_LOCK):
            user = _account(session, staff_id)
            now_all = {"name": user.name, "email": user.email, "role": str(user.role),
                       "provider_id": user.provider_id}
            before = {k: v for k, v in now_all.items() if v != after_all[k]}
            if not before:
                return None
            if "email" in before and _email_taken(session, account.email, other_than=user.id):
                raise AccountError("Nothing was saved: check the fields marked.",
                                   {"email": TAKEN})
            if "role" in before:
                why = _may_lose_admin(session, user, actor, doing="remove the admin role of")
                if why:
                    raise AccountError("Nothing was saved: check the fields marked.",
                                       {"role": why})
            after = {k: after_all[k] for k in before}
            user.name, user.email = account.name, account.email
            user.role, user.provider_id = account.role, account.provider_id
            return _audit(session, user.id, "edited", now=now, actor=actor, before=before,
                          after=after)
    except IntegrityError:
        raise AccountError("Nothing was saved: check the fields marked.",
                           {"email": TAKEN}) from None


def deactivate(session: Session, staff_id: int, *, now: datetime, actor: str) -> AuditEntry | None:
    """Stops the account at once: its sessions end, its API tokens are revoked, a pending
    set-password link stops working. None when it was already deactivated."""
    with transaction(session, ADMINS_LOCK):
        user = _account(session, staff_id)
        if not user.active:
            return None
        why = _may_lose_admin(session, user, actor, doing="deactivate")
        if why:
            raise AccountError(why)
        user.active = False
        if user.set_password_hash is not None:  # a pending link stops working; after a
            user.set_password_until = now  # reactivation the list says it has expired
        ended, revoked = auth.cut_off(session, user, now=now)
        return _audit(session, user.id, "deactivated", now=now, actor=actor,
                      before={"active": True},
                      after={"active": False, "sessions_ended": ended, "tokens_revoked": revoked})


def reactivate(session: Session, staff_id: int, *, now: datetime, actor: str) -> AuditEntry | None:
    """Lets the account sign in again with its password (its old sessions and tokens stay
    ended). None when it was active already."""
    with transaction(session):
        user = _account(session, staff_id)
        if user.active:
            return None
        user.active = True
        return _audit(session, user.id, "reactivated", now=now, actor=actor,
                      before={"active": False}, after={"active": True})


def issue_link(session: Session, staff_id: int, *, now: datetime, actor: str) -> Issued:
    """A reset: a new set-password link; the old password stops working, every session of the
    account ends and its API tokens are revoked (the reset may be for a stolen password), and
    any earlier link stops working."""
    password_hash = auth.unusable_password_hash()
    with transaction(session, ADMINS_LOCK):  # never at once with a deactivation of its issuer
        user = _account(session, staff_id)
        if actor == actor_of(user):
            raise AccountError("Change your own password on your account page.")
        if not user.active:
            raise AccountError("Reactivate the account first, then issue a link.")
        user.password_hash = password_hash
        token, until = _new_link(user, now=now)
        ended, revoked = auth.cut_off(session, user, now=now)
        _audit(session, user.id, "link_issued", now=now, actor=actor, after={
            "link_until": until.isoformat(), "sessions_ended": ended,
            "tokens_revoked": revoked})
    return Issued(user, token, until)


# --- The set-password link, used by its person ------------------------------------------------


def _linked(session: Session, token: str, now: datetime) -> StaffUser | None:
    if not token or len(token) > 200:
        return None
    user = session.scalar(select(StaffUser).where(StaffUser.set_password_hash == digest(token)))
    if user is None or not user.active or user.set_password_until is None \
            or user.set_password_until <= now:
        return None
    return user


def account_for_link(session: Session, token: str, *, now: datetime) -> StaffUser:
    """The account a working link sets the password of; LinkGone otherwise."""
    user = _linked(session, token, now)
    if user is None:
        raise LinkGone()
    return user


def set_password_with_link(session: Session, token: str, new: str, confirm: str, *,
                           now: datetime) -> StaffUser:
    """Sets the password and uses the link up. Starts no session: the person signs in next.
    LinkGone for a link that does not work, auth.PasswordError for a bad password."""
    account_for_link(session, token, now=now)
    errors = {}
    if len(new) < auth.MIN_PASSWORD:
        errors["new"] = f"Use at least {auth.MIN_PASSWORD} characters."
    elif new != confirm:
        errors["confirm"] = "The two passwords differ."
    if errors:
        raise auth.PasswordError(errors)
    password_hash = auth.hash_password(new)  # slow: before the write lock
    with transaction(session):
        user = _linked(session, token, now)  # again under the lock: one use only
        if user is None:
            raise LinkGone()
        user.password_hash = password_hash
        user.set_password_hash = user.set_password_until = None
        auth.cut_off(session, user, now=now)
        _audit(session, user.id, "password_set", now=now, actor=actor_of(user))
    return user


# --- Reading --------------------------------------------------------------------------------


@dataclass
class Row:
    user: StaffUser
    state: str  #: active, waiting (for a password), link_expired, deactivated
    last_sign_in: datetime | None


STATE_WORDS = {"active": "Active", "waiting": "Waiting for a password",
               "link_expired": "Link expired: no password", "deactivated": "Deactivated"}


def _state(user: StaffUser, now: datetime) -> str:
    if not user.active:
        return "deactivated"
    if user.set_password_hash is not None:
        return "waiting" if user.set_password_until and user.set_password_until > now \
            else "link_expired"
    return "active"


def accounts(session: Session, *, now: datetime) -> list[Row]:
    last = dict(session.execute(select(StaffSession.staff_user_id, func.max(
        StaffSession.created_at)).group_by(StaffSession.staff_user_id)).all())
    users = session.scalars(select(StaffUser).order_by(func.lower(StaffUser.name), StaffUser.id))
    return [Row(u, _state(u, now), _aware(last.get(u.id))) for u in users]


def account(session: Session, staff_id: int, *, now: datetime) -> Row:
    user = _account(session, staff_id)
    last = session.scalar(select(func.max(StaffSession.created_at)).where(
        StaffSession.staff_user_id == staff_id))
    return Row(user, _state(user, now), _aware(last))


def _aware(moment: datetime | None) -> datetime | None:
    """max() over a UTCDateTime column comes back as the database gives it (naive on SQLite)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def providers(session: Session) -> list[Provider]:
    return list(session.scalars(select(Provider).order_by(Provider.name, Provider.id)))


@dataclass
class Change:
    label: str
    before: str | None
    after: str | None


@dataclass
class Audit:
    entry: AuditEntry
    who: str
    account: str  #: the account's name now
    what: str
    changes: list[Change]


def history(session: Session, staff_id: int | None = None) -> list[Audit]:
    """Changes to staff accounts, newest first: one account's all, or everyone's latest."""
    query = select(AuditEntry).where(AuditEntry.subject == SUBJECT)
    if staff_id is not None:
        query = query.where(AuditEntry.subject_id == staff_id)
    else:
        query = query.limit(HISTORY_SHOWN)
    entries = list(session.scalars(query.order_by(AuditEntry.id.desc())))
    who = auth.actor_names(session, {e.actor for e in entries})
    names = dict(session.execute(select(StaffUser.id, StaffUser.name).where(
        StaffUser.id.in_({e.subject_id for e in entries}))).all()) if entries else {}
    provider_names = {p.id: p.name for p in providers(session)}
    out = []
    for e in entries:
        before, after = e.before or {}, e.after or {}
        changes = [Change(FIELD_WORDS.get(k, k), _shown(k, before.get(k), provider_names),
                          _shown(k, after.get(k), provider_names))
                   for k in dict.fromkeys([*before, *after])]
        out.append(Audit(e, who.get(e.actor, e.actor), names.get(e.subject_id, "?"),
                         ACTION_WORDS.get(e.action, e.action), changes))
    return out


def _shown(key: str, value, provider_names: dict[int, str]) -> str | None:
    if value is None:
        return None
    if key == "provider_id":
        return provider_names.get(value, f"provider {value}")
    if key == "role":
        return ROLE_WORDS.get(value, value)
    if key == "active":
        return "yes" if value else "no"
    if key == "link_until":
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")
        except (TypeError, ValueError):
            return str(value)
    return str(value)
