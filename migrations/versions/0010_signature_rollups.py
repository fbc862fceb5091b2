"""roll-ups of signatures, so the public statistics cost the same at any number of them

- `signature_totals`, `signature_hours`, `signature_days`, `signature_places`: per petition,
  its signatures per status, confirmed per UTC hour, confirmed and removed per UTC day, and
  confirmed per country and ISO 3166-2 subdivision, as the worker last rolled them up
  (services/rollups.py).
- `signatures.rolled_status`, `rolled_removed_at`, `rolled_category`: the copy of a
  signature's status, removal time and category the roll-ups counted it with; a partial index
  on the signatures whose copy differs (a few seconds' worth, read with the roll-ups), and one
  on removal times (the latest removal is the public data's Last-Modified). On PostgreSQL,
  statistics on the condition (`CREATE STATISTICS`), so the planner knows how few match it.
- The signatures already there start "pending" in the copy, i.e. not rolled up: the reads
  count them from the signatures as before until the worker (or `flask counts rollup`) has
  rolled them up, so nothing changes for readers meanwhile.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

CHANGED = (
    "status <> rolled_status"
    " OR removed_at IS DISTINCT FROM rolled_removed_at"
    " OR removal_category IS DISTINCT FROM rolled_category"
)
UNROLLED = sa.text(f"({CHANGED}) IS TRUE")
REMOVED = sa.text("status IN ('invalidated', 'withdrawn')")
STATUSES = "'pending', 'confirmed', 'invalidated', 'withdrawn', 'held'"


def _petition_id():
    return sa.Column('petition_id', sa.Integer(), autoincrement=False, nullable=False)


def _petition_fk(table):
    return sa.ForeignKeyConstraint(
        ['petition_id'], ['petitions.id'],
        name=op.f(f'fk_{table}_petition_id_petitions'), ondelete='CASCADE',
    )


def upgrade():
    op.create_table('signature_totals',
    _petition_id(),
    sa.Column('confirmed', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('held', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('invalidated', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('withdrawn', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint('confirmed >= 0', name=op.f('ck_signature_totals_confirmed_not_negative')),
    sa.CheckConstraint('held >= 0', name=op.f('ck_signature_totals_held_not_negative')),
    sa.CheckConstraint('invalidated >= 0', name=op.f('ck_signature_totals_invalidated_not_negative')),
    sa.CheckConstraint('withdrawn >= 0', name=op.f('ck_signature_totals_withdrawn_not_negative')),
    _petition_fk('signature_totals'),
    sa.PrimaryKeyConstraint('petition_id', name=op.f('pk_signature_totals'))
    )
    op.create_table('signature_hours',
    _petition_id(),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('confirmed >= 0', name=op.f('ck_signature_hours_confirmed_not_negative')),
    _petition_fk('signature_hours'),
    sa.PrimaryKeyConstraint('petition_id', 'hour', name=op.f('pk_signature_hours'))
    )
    op.create_table('signature_days',
    _petition_id(),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('count >= 0', name=op.f('ck_signature_days_count_not_negative')),
    sa.CheckConstraint(
        "status IN ('confirmed', 'invalidated', 'withdrawn')",
        name=op.f('ck_signature_days_status_known'),
    ),
    sa.CheckConstraint(
        "(status = 'confirmed') = (category = '')", name=op.f('ck_signature_days_category_of_removed')
    ),
    _petition_fk('signature_days'),
    sa.PrimaryKeyConstraint('petition_id', 'day', 'status', 'category', name=op.f('pk_signature_days'))
    )
    op.create_table('signature_places',
    _petition_id(),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=16), nullable=False),
    sa.Column('confirmed', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('confirmed >= 0', name=op.f('ck_signature_places_confirmed_not_negative')),
    sa.CheckConstraint('length(country) = 2', name=op.f('ck_signature_places_country_alpha2')),
    _petition_fk('signature_places'),
    sa.PrimaryKeyConstraint('petition_id', 'country', 'region', name=op.f('pk_signature_places'))
    )
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('rolled_status', sa.String(length=16), server_default='pending', nullable=False)
        )
        batch_op.add_column(sa.Column('rolled_removed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('rolled_category', sa.String(length=32), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f('ck_signatures_rolled_status_known'), f"rolled_status IN ({STATUSES})"
        )
        batch_op.create_index('ix_signatures_removed_time', ['petition_id', 'removed_at'], unique=False, postgresql_where=REMOVED, sqlite_where=REMOVED)
        batch_op.create_index('ix_signatures_unrolled', ['petition_id'], unique=False, postgresql_where=UNROLLED, sqlite_where=UNROLLED)
    if op.get_bind().dialect.name == 'postgresql':
        # What ANALYZE learns of the condition lets the planner see that few rows match it.
        op.execute(f'CREATE STATISTICS st_signatures_unrolled ON (({CHANGED})) FROM signatures')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP STATISTICS IF EXISTS st_signatures_unrolled')
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_signatures_unrolled', postgresql_where=UNROLLED, sqlite_where=UNROLLED)
        batch_op.drop_index('ix_signatures_removed_time', postgresql_where=REMOVED, sqlite_where=REMOVED)
        batch_op.drop_constraint(batch_op.f('ck_signatures_rolled_status_known'), type_='check')
        batch_op.drop_column('rolled_category')
        batch_op.drop_column('rolled_removed_at')
        batch_op.drop_column('rolled_status')
    op.drop_table('signature_places')
    op.drop_table('signature_days')
    op.drop_table('signature_hours')
    op.drop_table('signature_totals')
