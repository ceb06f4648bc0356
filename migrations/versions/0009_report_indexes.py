"""reports: a visit's client and start together, so the rebooking figure looks up each
client's later visits in the index alone

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 21:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_appointment_client_start', 'appointment', ['client_id', 'start_at'],
                    unique=False)


def downgrade():
    op.drop_index('ix_appointment_client_start', table_name='appointment')
