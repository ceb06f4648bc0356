"""Write transactions that take their lock before their checks, on either database."""

import hashlib
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session


@contextmanager
def writing(session: Session, *lock_names: str):
    """A write transaction, locked before its checks; an exception rolls it back.

    The caller commits after the block, once its changes are made.
    """
    begin_write(session, *lock_names)
    try:
        yield
    except BaseException:
        session.rollback()
        raise


def begin_write(session: Session, *lock_names: str) -> None:
    """Start a write transaction that holds the lock it needs before any check.

    SQLite: BEGIN IMMEDIATE, so check-then-write is serialised. PostgreSQL: constraints and
    row locks guard the data; an advisory lock per name (a client's phone) guards rules that
    span rows, such as the extraction cadence.
    """
    if plain(session).in_transaction():
        session.commit()
    conn = session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    if conn.dialect.name == "postgresql":
        for name in lock_names:
            key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
            session.execute(select(func.pg_advisory_xact_lock(key)))


def lock(session: Session, row) -> None:
    """Re-reads a row and locks it (PostgreSQL) until the transaction ends; SQLite's
    BEGIN IMMEDIATE already keeps other writers out."""
    session.refresh(row, with_for_update={"of": type(row)})


def plain(session) -> Session:
    """The plain Session behind Flask-SQLAlchemy's scoped one."""
    return session() if callable(session) else session


def dialect(session) -> str:
    return plain(session).get_bind().dialect.name
