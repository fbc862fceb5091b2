"""daily snapshots record the signatures held for review

- `daily_counts.signatures_held`: how many confirmed signatures awaited a moderator's review
  when the day's snapshot was taken, so the published files disclose them as the API does.
  NULL in the rows recorded before: a snapshot file, once published, does not change.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 06:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('daily_counts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signatures_held', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f('ck_daily_counts_held_not_negative'), 'signatures_held >= 0'
        )


def downgrade():
    with op.batch_alter_table('daily_counts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_daily_counts_held_not_negative'), type_='check')
        batch_op.drop_column('signatures_held')
