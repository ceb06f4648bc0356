"""reports: indexes on the times the report's weekly ranges filter on (visits booked,
visits cancelled, replies received), so each figure reads only the weeks asked for; and the
texts figure's columns together (status, due, error code, note), read from the index alone

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 22:05:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_appointment_created_at', 'appointment', ['created_at'], unique=False)
    op.create_index('ix_appointment_cancelled_at', 'appointment', ['cancelled_at'],
                    unique=False)
    op.create_index('ix_inbound_message_received_at', 'inbound_message', ['received_at'],
                    unique=False)
    op.create_index('ix_message_report_texts', 'message',
                    ['status', 'due_at', 'error_code', 'note'], unique=False)


def downgrade():
    op.drop_index('ix_message_report_texts', table_name='message')
    op.drop_index('ix_inbound_message_received_at', table_name='inbound_message')
    op.drop_index('ix_appointment_cancelled_at', table_name='appointment')
    op.drop_index('ix_appointment_created_at', table_name='appointment')
