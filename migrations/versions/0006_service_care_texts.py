"""each service keeps its own preparation, what-to-expect and aftercare text for clients

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

COLUMNS = ('preparation', 'what_to_expect', 'aftercare')


def upgrade():
    from clinic import care

    with op.batch_alter_table('service', schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Text(), nullable=False, server_default=''))
    service = sa.table('service', sa.column('slug', sa.String),
                       *(sa.column(column, sa.Text) for column in COLUMNS))
    for slug in care.PREPARATION:
        op.execute(service.update().where(service.c.slug == slug).values(
            preparation=care.PREPARATION[slug], what_to_expect=care.WHAT_TO_EXPECT[slug],
            aftercare=care.AFTERCARE[slug]))


def downgrade():
    with op.batch_alter_table('service', schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
