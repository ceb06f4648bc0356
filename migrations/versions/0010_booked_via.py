"""where each booking came from (the pages, the rebook text's link, the API, a phone call),
so the reports can count the visits the rebook text brought back

Visits booked before this revision have none. Downgrading drops it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 21:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

VIA = ('online', 'rebook_text', 'api', 'phone')


def upgrade():
    listed = ", ".join(f"'{via}'" for via in VIA)
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('booked_via', sa.String(length=20), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_appointment_booked_via_known'),
                                         f"booked_via IN ({listed})")


def downgrade():
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_appointment_booked_via_known'), type_='check')
        batch_op.drop_column('booked_via')
