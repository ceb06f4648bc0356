"""admin: the clinic's rules kept in the database, one-time set-password links for staff

Downgrading drops the clinic's own rules (the defaults apply again) and any pending links.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 21:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'clinic_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rules', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.Column('updated_by', sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_settings')),
    )
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('set_password_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('set_password_until', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_staff_user_set_password_hash'),
                                          ['set_password_hash'])


def downgrade():
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_staff_user_set_password_hash'), type_='unique')
        batch_op.drop_column('set_password_until')
        batch_op.drop_column('set_password_hash')
    op.drop_table('clinic_settings')
