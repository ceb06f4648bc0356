from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from clinic.extensions import db
from clinic.models import Client
from clinic.timeutil import UTCDateTime


def test_utc_column_refuses_naive_datetimes(app):
    with app.app_context():
        db.session.add(Client(name="N", phone="+14155550111", created_at=datetime(2027, 1, 1)))
        with pytest.raises(StatementError, match="naive datetime refused"):
            db.session.flush()
        db.session.rollback()


def test_utc_column_returns_aware_utc(app):
    from zoneinfo import ZoneInfo

    la = datetime(2027, 3, 15, 9, tzinfo=ZoneInfo("America/Los_Angeles"))
    with app.app_context():
        db.session.add(Client(name="N", phone="+14155550111", created_at=la))
        db.session.commit()
        db.session.expunge_all()
        stored = db.session.scalar(select(Client.created_at))
    assert stored.utcoffset().total_seconds() == 0
    assert stored == la
    assert stored.hour == 16


def test_column_type_round_trips_none():
    column = UTCDateTime()
    assert column.process_bind_param(None, None) is None
    assert column.process_result_value(None, None) is None
