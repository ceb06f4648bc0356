"""each service keeps its own preparation, what-to-expect and aftercare text for clients

Downgrading drops the three texts, including any a clinic has edited; upgrading again writes
these defaults.

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
TEXTS = {  # as the clinic's guidance read at this revision (clinic/care.py then)
    'facial': {
        'preparation': 'Come with your usual skin: makeup is fine, we cleanse your skin first.\nSkip scrubs, peels and at-home exfoliating acids for two days before.',
        'what_to_expect': 'About an hour: a deep cleanse, gentle extraction of blackheads and clogged pores, and a calming mask.\nExtractions can sting a little; tell your aesthetician if anything hurts.',
        'aftercare': "Until tomorrow, leave your skin alone: no touching, no makeup if you can.\nUse a mild, fragrance-free moisturiser; avoid thick, heavy creams and products with acids for two days.\nRedness should not last more than 24 hours.\nA breakout a day or two later is normal purging after extractions: don't squeeze it.",
    },
    'extraction': {
        'preparation': "Come with clean skin if you can; we cleanse it again before we start.\nDon't squeeze or pick the spots you want treated in the days before.\nTell us about any medicines you take for your skin.",
        'what_to_expect': 'About half an hour with a board-certified dermatologist, using sterile instruments.\nCysts, milia and inflamed spots are treated; large, painful, growing, very red or warm lumps, and spots with pus, are for a dermatologist rather than a facial.',
        'aftercare': 'Keep the treated spots clean and leave them alone until tomorrow.\nUse a mild, fragrance-free moisturiser; avoid thick, heavy creams and products with acids for two days.\nRedness should not last more than 24 hours.\nCall us if a spot becomes painful, warm or swollen, or if redness lasts longer.',
    },
}


def upgrade():
    with op.batch_alter_table('service', schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Text(), nullable=False, server_default=''))
    service = sa.table('service', sa.column('slug', sa.String),
                       *(sa.column(column, sa.Text) for column in COLUMNS))
    for slug, values in TEXTS.items():
        op.execute(service.update().where(service.c.slug == slug).values(**values))


def downgrade():
    with op.batch_alter_table('service', schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
