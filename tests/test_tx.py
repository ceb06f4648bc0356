"""The unit of work: the block is the transaction, and nothing commits anywhere else."""

import sqlite3

import pytest
from sqlalchemy import func, select

from clinic.extensions import db
from clinic.models import Client
from clinic.tx import transaction


def clients(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Client))


def test_leaving_the_block_commits(app):
    with app.app_context():
        with transaction(db.session):
            db.session.add(Client(name="A", phone="+14155552671"))
        assert not db.session().in_transaction()
    assert clients(app) == 1


def test_an_exception_rolls_the_block_back_and_goes_on(app):
    with app.app_context(), pytest.raises(ValueError, match="refused"):
        with transaction(db.session):
            db.session.add(Client(name="A", phone="+14155552671"))
            db.session.flush()
            raise ValueError("refused")
    assert clients(app) == 0


@pytest.mark.parametrize("flush", [False, True])
def test_unsaved_changes_before_the_block_are_refused_not_committed(app, flush):
    with app.app_context():
        db.session.add(Client(name="A", phone="+14155552671"))
        if flush:
            db.session.flush()
        with pytest.raises(RuntimeError, match="committed unseen"):
            with transaction(db.session):
                pass
        db.session.rollback()
    assert clients(app) == 0


def test_reads_before_the_block_do_not_stop_it(app):
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Client)) == 0
        with transaction(db.session):
            db.session.add(Client(name="A", phone="+14155552671"))
    assert clients(app) == 1


def test_on_sqlite_the_block_holds_the_write_lock_from_its_start(app, dialect):
    if dialect != "sqlite":
        pytest.skip("PostgreSQL's writers are kept apart by constraints and row locks")
    with app.app_context():
        path = db.engine.url.database
        with transaction(db.session):
            other = sqlite3.connect(path, timeout=0.1)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("INSERT INTO client (name, phone, created_at) "
                                  "VALUES ('B', '+14155552672', '2027-01-01')")
            finally:
                other.close()
