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


def test_a_block_inside_a_block_is_refused_and_the_outer_one_keeps_its_lock(app):
    with app.app_context():
        with transaction(db.session):
            db.session.add(Client(name="A", phone="+14155552671"))
            with pytest.raises(RuntimeError, match="inside another"):
                with transaction(db.session):
                    pass
            assert db.session().in_transaction()
    assert clients(app) == 1


def test_an_update_statement_before_a_block_is_unsaved_work_too(app):
    from sqlalchemy import update

    with app.app_context():
        db.session.add(Client(name="A", phone="+14155552671"))
        db.session.commit()
        db.session.execute(update(Client).values(name="B"))
        with pytest.raises(RuntimeError, match="committed unseen"):
            with transaction(db.session):
                pass
        db.session.rollback()
        assert db.session.scalar(select(Client.name)) == "A"


def test_a_closed_session_starts_clean(app):
    with app.app_context():
        db.session.add(Client(name="A", phone="+14155552671"))
        db.session.flush()
        db.session.close()
        with transaction(db.session):
            db.session.add(Client(name="B", phone="+14155552672"))
    assert clients(app) == 1


def test_the_application_commits_only_in_transaction_blocks():
    """A stray commit would save half a change: grep the application for one."""
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "clinic"
    found = [f"{path.relative_to(package)}:{number}"
             for path in package.rglob("*.py") if path.name != "tx.py"
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if ".commit()" in line]
    assert found == []
