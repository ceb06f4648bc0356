"""The unit of work: a `with transaction(session):` block is one database transaction.

Entering begins it, with the lock its checks need already held: SQLite starts with
BEGIN IMMEDIATE, so check-then-write is serialised; PostgreSQL relies on constraints and row
locks, plus an advisory lock per name given (a client's phone) for rules that span rows, such
as the extraction cadence. Leaving the block commits; an exception rolls back and goes on.
Nothing commits anywhere else: entering with unsaved changes is a bug and raises rather than
commit them unseen. Reads made before the block (which begin a read transaction) are ended
first, so the block's checks see the database as it is once the lock is held.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

FLUSHED = "clinic.flushed"  #: in Session.info: the open transaction has written rows
IN_BLOCK = "clinic.in_block"  #: in Session.info: a transaction block is running


@contextmanager
def transaction(session, *lock_names: str) -> Iterator[Session]:
    """One write transaction; commits when the block ends, rolls back when it raises."""
    own = plain(session)
    if own.info.get(IN_BLOCK):
        raise RuntimeError("a transaction block inside another would end the outer one's lock")
    if unsaved(own):
        raise RuntimeError("unsaved changes before a transaction would be committed unseen")
    if own.in_transaction():
        own.rollback()  # only reads happened: end their snapshot before taking the lock
    own.info[IN_BLOCK] = True
    try:
        _begin(own, lock_names)
        yield own
        own.commit()
    except BaseException:
        own.rollback()
        raise
    finally:
        own.info.pop(IN_BLOCK, None)


def _begin(session: Session, lock_names: tuple[str, ...]) -> None:
    conn = session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    if conn.dialect.name == "postgresql":
        for name in lock_names:
            key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
            session.execute(select(func.pg_advisory_xact_lock(key)))


def lock(session, row) -> None:
    """Re-reads a row and locks it (PostgreSQL) until the transaction ends; SQLite's
    BEGIN IMMEDIATE already keeps other writers out."""
    session.refresh(row, with_for_update={"of": type(row)})


def unsaved(session) -> bool:
    """Whether the session holds changes not yet committed: pending, or already flushed."""
    own = plain(session)
    return bool(own.new or own.dirty or own.deleted or own.info.get(FLUSHED))


def plain(session) -> Session:
    """The plain Session behind Flask-SQLAlchemy's scoped one."""
    return session() if callable(session) else session


def dialect(session) -> str:
    return plain(session).get_bind().dialect.name


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context) -> None:
    session.info[FLUSHED] = True


@event.listens_for(Session, "do_orm_execute")
def _wrote(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:  # UPDATE ... WHERE, no flush
        state.session.info[FLUSHED] = True


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction) -> None:
    if transaction.parent is None:  # commit, rollback or close of the outermost one
        session.info.pop(FLUSHED, None)
