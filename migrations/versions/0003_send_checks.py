"""sends whose answer was lost are checked with Twilio: check_at, message_event

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 18:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_at', sa.DateTime(), nullable=True))

    op.create_table('message_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('provider_sid', sa.String(length=64), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_message_event_message_id_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_event'))
    )
    with op.batch_alter_table('message_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_event_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_event_provider_sid'), ['provider_sid'], unique=False)

    # Rows an older dispatcher left in `sending` are checked with Twilio at once (stop older
    # dispatchers before upgrading: they claimed in batches).
    op.execute("UPDATE message SET check_at = COALESCE(claimed_at, updated_at) "
               "WHERE status = 'sending'")


def downgrade():
    with op.batch_alter_table('message_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_event_provider_sid'))
        batch_op.drop_index(batch_op.f('ix_message_event_message_id'))

    op.drop_table('message_event')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('check_at')
