"""the staff workspace: staff replies in the inbox, resolution notes, accounts linked to a
provider with a login key, signed-in sessions, consent taken by phone, and an audit trail
for client records

Downgrading deletes staff replies and their history (the older schema cannot hold them) and
the audit trail, and drops the new columns.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:40:00.000000

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

KINDS = ('confirmation', 'pre_visit_pause', 'reminder', 'aftercare', 'redness_checkin',
         'purging_checkin', 'rebook', 'cancellation')


def _kinds_check(kinds):
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_message_kind_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_message_kind_known'), f"kind IN ({listed})")


def upgrade():
    _kinds_check(KINDS + ('staff_reply',))
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('written_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('followup_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_message_followup_id'), ['followup_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_message_followup_id_followup'), 'followup',
                                    ['followup_id'], ['id'])
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followup_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_inbound_message_followup_id'), ['followup_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_inbound_message_followup_id_followup'),
                                    'followup', ['followup_id'], ['id'])
    with op.batch_alter_table('followup', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
    with op.batch_alter_table('client', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_consent_via', sa.String(length=160), nullable=True))
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('login_key', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_staff_user_provider_id_provider'), 'provider',
                                    ['provider_id'], ['id'])
    staff = sa.table('staff_user', sa.column('id', sa.Integer), sa.column('login_key', sa.String))
    bind = op.get_bind()
    for (staff_id,) in bind.execute(sa.select(staff.c.id)).all():
        bind.execute(staff.update().where(staff.c.id == staff_id)
                     .values(login_key=secrets.token_hex(16)))
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.alter_column('login_key', existing_type=sa.String(length=32), nullable=False)
    op.create_table(
        'staff_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('staff_user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['staff_user_id'], ['staff_user.id'],
                                name=op.f('fk_staff_session_staff_user_id_staff_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_session')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_staff_session_token_hash')),
    )
    op.create_index(op.f('ix_staff_session_staff_user_id'), 'staff_session', ['staff_user_id'],
                    unique=False)
    op.create_table(
        'audit_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor', sa.String(length=80), nullable=False),
        sa.Column('subject', sa.String(length=40), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('before', sa.JSON(), nullable=False),
        sa.Column('after', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry')),
    )
    op.create_index('ix_audit_entry_subject', 'audit_entry', ['subject', 'subject_id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_audit_entry_subject', table_name='audit_entry')
    op.drop_table('audit_entry')
    op.drop_index(op.f('ix_staff_session_staff_user_id'), table_name='staff_session')
    op.drop_table('staff_session')
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_staff_user_provider_id_provider'),
                                 type_='foreignkey')
        batch_op.drop_column('login_key')
        batch_op.drop_column('provider_id')
    with op.batch_alter_table('client', schema=None) as batch_op:
        batch_op.drop_column('sms_consent_via')
    with op.batch_alter_table('followup', schema=None) as batch_op:
        batch_op.drop_column('note')
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_inbound_message_followup_id_followup'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_inbound_message_followup_id'))
        batch_op.drop_column('followup_id')
    op.execute("DELETE FROM message_event WHERE message_id IN "
               "(SELECT id FROM message WHERE kind = 'staff_reply')")
    op.execute("DELETE FROM message WHERE kind = 'staff_reply'")
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_message_followup_id_followup'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_message_followup_id'))
        batch_op.drop_column('followup_id')
        batch_op.drop_column('written_by')
    _kinds_check(KINDS)
