"""One number that changes whenever anything a free-slot answer reads has changed.

Free slots are a pure function of the providers, their hours and time off, the visits, the
services and the clinic's rules (availability.py), plus now. Each web worker keeps the answers
it computed, and the rules it read, keyed by this number (README, "Performance"): a request
reads the number in one small query and reuses what it already has for it.

The number lives in one row, `schedule_version`. The session events below raise it in the same
transaction as any write to those tables, as the last statement before COMMIT: every writer of
these rows goes through a Session, so no write path has to remember it. Raised last, its row lock
(PostgreSQL) is held only while committing, so it adds no lock order a deadlock could need,
and versions follow commit order. A reader reads the number before the data, so an answer is
never kept under a number newer than what it saw.

What is watched: any insert, update or delete of providers, working hours, time off, services
and the settings row; a visit's insert or delete, a change to its provider, start or end of
cleanup, and a status change that makes it hold its time or stop holding it (a cancellation;
not a confirmation). Bulk `update(...)` / `delete(...)` / `insert(...)` statements on those tables
count too. A write made with a bare driver connection bypasses this and must call `bump`.

A second row counts only the catalogue (providers, working hours, services, the settings row):
what is read for it, the rules, holds through any number of bookings.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Session

from .enums import HOLDING
from .models import (
    Appointment,
    ClinicSettings,
    Provider,
    ScheduleVersion,
    Service,
    TimeOff,
    WorkingHours,
)

#: A visit's columns that free slots read; other visit changes (confirmations, notes,
#: intake) leave every answer as it was.
_VISIT_COLUMNS = ("provider_id", "start_at", "busy_until")  #: and whether its status holds it
#: What the clinic offers and its rules: their changes raise the catalogue's number too.
_CATALOGUE = (Provider, WorkingHours, Service, ClinicSettings)
_WATCHED = frozenset((*_CATALOGUE, TimeOff, Appointment))
CHANGED = "clinic.schedule_changed"  #: in Session.info: the rows to raise, {SCHEDULE[, ...]}
SCHEDULE, CATALOGUE = 1, 2  #: the rows: everything watched; the catalogue and the rules

_table = ScheduleVersion.__table__
_READ = select(_table.c.id, _table.c.n).where(_table.c.id.in_((SCHEDULE, CATALOGUE)))
#: One statement on both databases (the row is made if missing, as in a just-emptied test
#: database); on PostgreSQL it takes the row's lock until COMMIT.
_BUMP = text("INSERT INTO schedule_version (id, n) VALUES (:id, 1) "
             "ON CONFLICT (id) DO UPDATE SET n = schedule_version.n + 1")


def init_app(app) -> None:
    """The worker's caches: the rules in force, free slots (`slots_between`) and the
    availability endpoint's answers (api/catalogue.py)."""
    size = app.config.get("SLOT_CACHE_SIZE", 256)
    app.extensions["clinic.cache"] = {"rules": VersionedCache(4), "slots": VersionedCache(size),
                                      "availability": VersionedCache(size)}


def cache(name: str) -> VersionedCache:
    from flask import current_app

    return current_app.extensions["clinic.cache"][name]


def current() -> int:
    """The schedule's number as this request or job first read it (once per app context)."""
    return _numbers()[0]


def catalogue() -> int:
    """The catalogue's number (providers, hours, services, the rules), read with `current`:
    the rules read for it hold through any number of bookings."""
    return _numbers()[1]


def keepable() -> bool:
    """Whether what is computed now may be kept for the numbers read: only when they were
    the first thing read in the session's transaction. Otherwise (PostgreSQL reads each
    statement afresh) a row read before them could be older than they say; what is computed
    from it is used, not kept."""
    from flask import g

    _numbers()
    return g.schedule_version_first


def _numbers() -> tuple[int, int]:
    from flask import g

    from .extensions import db

    if "schedule_version" not in g:
        g.schedule_version_first = not db.session().in_transaction()
        g.schedule_version = read(db.session)
    return g.schedule_version


def slots_between(session, service, providers, first, last, *, now, clinic,
                  ignore_appointment_id: int | None = None) -> list:
    """`availability.slots_between`, kept for the schedule's version and the bookable minute.

    Not kept when the session has written anything yet to commit: those rows may never be."""
    from flask import has_app_context

    from . import availability
    from .tx import unsaved

    def compute() -> list:
        return availability.slots_between(session, service, providers, first, last, now=now,
                                          clinic=clinic,
                                          ignore_appointment_id=ignore_appointment_id)

    if not has_app_context() or unsaved(session):
        return compute()
    # The service's length and cleanup too: a view may have read the service before this
    # request first read the numbers (PostgreSQL reads each statement afresh).
    key = (service.id, service.duration_minutes, service.buffer_minutes,
           tuple(p.id for p in providers), first, last, ignore_appointment_id, clinic.rules,
           availability.window_minutes(now, clinic.tz, clinic.rules))
    return list(cache("slots").get(key, current(), compute, keep=keepable()))


def read(session) -> tuple[int, int]:
    """The schedule's and the catalogue's numbers (0 where a database has no row yet). Read
    on the session's connection, in its transaction, without the ORM's statement handling."""
    found = {row: n for row, n in session.connection().execute(_READ)}
    return found.get(SCHEDULE, 0), found.get(CATALOGUE, 0)


def bump(session) -> None:
    """Raises the schedule's number in the session's transaction, for visits or time off
    written without the ORM (history.py)."""
    _raise(session, {SCHEDULE})


def _raise(session, rows: set[int]) -> None:
    for row in sorted(rows):  # always in this order: no two commits wait for each other
        session.connection().execute(_BUMP, {"id": row})


def _rows_touched(obj: Any, dirty: bool) -> set[int]:
    if isinstance(obj, _CATALOGUE):
        return {SCHEDULE, CATALOGUE}
    if isinstance(obj, TimeOff):
        return {SCHEDULE}
    if not isinstance(obj, Appointment):
        return set()
    if not dirty:
        return {SCHEDULE}
    state = inspect(obj)
    changed = any(state.attrs[name].history.has_changes() for name in _VISIT_COLUMNS)
    return {SCHEDULE} if changed or _holding_changed(state) else set()


def _holding_changed(state) -> bool:
    """Whether a status change makes the visit hold its time or stop holding it (a
    confirmation or a check-in does neither). Unknown before: taken as a change."""
    history = state.attrs["status"].history
    if not history.has_changes():
        return False
    if not history.deleted or not history.added:
        return True
    return (history.deleted[0] in HOLDING) != (history.added[0] in HOLDING)


def _mark(session: Session, rows: set[int]) -> None:
    if rows:
        session.info[CHANGED] = session.info.get(CHANGED, set()) | rows


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    rows: set[int] = set()
    for objects, dirty in ((session.new, False), (session.deleted, False),
                           (session.dirty, True)):
        for obj in objects:
            rows |= _rows_touched(obj, dirty)
    _mark(session, rows)


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        classes = {mapper.class_ for mapper in state.all_mappers}
        if classes.intersection(_CATALOGUE):
            _mark(state.session, {SCHEDULE, CATALOGUE})
        elif classes & _WATCHED:
            _mark(state.session, {SCHEDULE})


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    session.flush()  # the commit's own flush comes after this hook: make it happen now
    rows = session.info.pop(CHANGED, None)
    if rows:
        _raise(session, rows)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(CHANGED, None)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    """Once a transaction ends (a commit, or the rollback before a write lock), the numbers
    are read again when next needed: what is read after it may be newer than they were."""
    from flask import g, has_app_context

    if transaction.parent is None and has_app_context():
        g.pop("schedule_version", None)
        g.pop("schedule_version_first", None)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class VersionedCache(Generic[K, V]):
    """What a worker computed, kept per key for one version of the schedule.

    Bounded (least recently used goes first) and safe across a worker's threads. An entry for
    an older version is never returned: asking with a newer one recomputes and replaces it.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[K, tuple[int, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, version: int, make: Callable[[], V], *, keep: bool = True) -> V:
        """The value kept for `key` at `version`, else `make()`'s, kept unless `keep` is
        false."""
        if not self._size:
            return make()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(key)
                return entry[1]
        value = make()  # outside the lock: a slow answer must not hold up the others
        if not keep:
            return value
        with self._lock:
            current = self._entries.get(key)
            if current is None or current[0] <= version:
                self._entries[key] = (version, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return value
