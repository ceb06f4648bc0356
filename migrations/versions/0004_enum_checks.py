"""every status, role, kind and visit event checked by the database: the CHECKs still missing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 18:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# (table, constraint name, column, values): the values as they are at this revision.
CHECKS = [
    ('provider', 'role_known', 'role', ('aesthetician', 'dermatologist')),
    ('service', 'provider_role_known', 'provider_role', ('aesthetician', 'dermatologist')),
    ('message', 'kind_known', 'kind', ('confirmation', 'pre_visit_pause', 'reminder',
                                       'aftercare', 'redness_checkin', 'purging_checkin',
                                       'rebook')),
    ('message_event', 'outcome_known', 'outcome', ('sent', 'delivered', 'retry', 'failed',
                                                   'skipped', 'held', 'unsure', 'found',
                                                   'resend', 'rechecking', 'unknown', 'late')),
    ('appointment_event', 'action_known', 'action', ('booked', 'confirmed', 'checked_in',
                                                     'completed', 'cancelled', 'no_show',
                                                     'rescheduled', 'link_replaced')),
    ('inbound_message', 'action_known', 'action', ('opt_out', 'opt_in', 'help', 'confirm',
                                                   'checkin_ok', 'redness_bad', 'purging_bad',
                                                   'followup', 'duplicate')),
]


def upgrade():
    for table, name, column, values in CHECKS:
        listed = ", ".join(f"'{value}'" for value in values)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(op.f(f'ck_{table}_{name}'), f"{column} IN ({listed})")


def downgrade():
    for table, name, _column, _values in reversed(CHECKS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'ck_{table}_{name}'), type_='check')
