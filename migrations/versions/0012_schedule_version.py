"""schedule_version: a row whose number rises with every change to what free slots depend on
(providers, hours, time off, visits, services, the clinic's rules), and one for the catalogue
and rules alone, so web workers can keep what they computed until it changes

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 23:40:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'schedule_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_version')),
    )
    # 1: everything free slots read; 2: the catalogue and the rules alone.
    op.bulk_insert(table, [{'id': 1, 'n': 0}, {'id': 2, 'n': 0}])


def downgrade():
    op.drop_table('schedule_version')
