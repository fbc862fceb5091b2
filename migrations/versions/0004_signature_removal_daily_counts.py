"""signature removal, daily counts, indexes for the public breakdowns

Confirmed signatures can be taken out of the total (invalidated by an operator, withdrawn by
the signer): two statuses and `signatures.removed_at`. The worker records every public
petition's total once a day (daily_counts), for the open-data snapshot files. Two partial
indexes on confirmed signatures serve the public country breakdown and time series.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 17:50:04.989591

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CONFIRMED = sa.text("status = 'confirmed'")


def upgrade():
    op.create_table('daily_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('petition_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('signature_count', sa.BigInteger(), nullable=False),
    sa.Column('signatures_removed', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('open', 'closed')", name=op.f('ck_daily_counts_state_public')),
    sa.CheckConstraint('signature_count >= 0', name=op.f('ck_daily_counts_count_not_negative')),
    sa.CheckConstraint('signatures_removed >= 0', name=op.f('ck_daily_counts_removed_not_negative')),
    sa.ForeignKeyConstraint(['petition_id'], ['petitions.id'], name=op.f('fk_daily_counts_petition_id_petitions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('day', 'petition_id', name=op.f('pk_daily_counts'))
    )
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_signatures_status_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_signatures_status_known'),
            "status IN ('pending', 'confirmed', 'invalidated', 'withdrawn')",
        )
        batch_op.drop_constraint(batch_op.f('ck_signatures_confirmed_has_date'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_signatures_confirmed_has_date'),
            "(status <> 'pending' AND confirmed_at IS NOT NULL)"
            " OR (status = 'pending' AND confirmed_at IS NULL)",
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_signatures_removed_has_date'),
            "(status IN ('invalidated', 'withdrawn')) = (removed_at IS NOT NULL)",
        )
        batch_op.create_index('ix_signatures_confirmed_country', ['petition_id', 'country'], unique=False, postgresql_where=CONFIRMED, sqlite_where=CONFIRMED)
        batch_op.create_index('ix_signatures_confirmed_time', ['petition_id', 'confirmed_at'], unique=False, postgresql_where=CONFIRMED, sqlite_where=CONFIRMED)


def downgrade():
    # Removed signatures do not fit the older schema; they leave with the feature (they were
    # already out of every total).
    op.execute("DELETE FROM signatures WHERE status IN ('invalidated', 'withdrawn')")
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_signatures_confirmed_time', postgresql_where=CONFIRMED, sqlite_where=CONFIRMED)
        batch_op.drop_index('ix_signatures_confirmed_country', postgresql_where=CONFIRMED, sqlite_where=CONFIRMED)
        batch_op.drop_constraint(batch_op.f('ck_signatures_removed_has_date'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_signatures_confirmed_has_date'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_signatures_confirmed_has_date'),
            "(status = 'confirmed' AND confirmed_at IS NOT NULL)"
            " OR (status = 'pending' AND confirmed_at IS NULL)",
        )
        batch_op.drop_constraint(batch_op.f('ck_signatures_status_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_signatures_status_known'), "status IN ('pending', 'confirmed')"
        )
        batch_op.drop_column('removed_at')

    op.drop_table('daily_counts')
