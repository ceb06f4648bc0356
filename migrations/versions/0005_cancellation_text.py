"""a cancelled visit texts its client: 'cancellation' becomes a kind of message

Downgrading deletes the cancellation texts and their history: the older schema cannot hold them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 19:20:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

KINDS = ('confirmation', 'pre_visit_pause', 'reminder', 'aftercare', 'redness_checkin',
         'purging_checkin', 'rebook')


def _kinds_check(kinds):
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_message_kind_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_message_kind_known'), f"kind IN ({listed})")


def upgrade():
    _kinds_check(KINDS + ('cancellation',))


def downgrade():
    op.execute("DELETE FROM message_event WHERE message_id IN "
               "(SELECT id FROM message WHERE kind = 'cancellation')")
    op.execute("DELETE FROM message WHERE kind = 'cancellation'")
    _kinds_check(KINDS)
