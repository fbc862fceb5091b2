"""search: petitions and translations keep their text folded for search, trigram-indexed

- `petitions.search_text`, `petition_translations.search_text`: title, action and background
  as services/search.py folds them (NFKC, case folding, marks, ё/е, whitespace), written by
  the ORM from now on; filled here for the rows already there, in batches.
- On PostgreSQL: the `pg_trgm` extension (a trusted extension since PostgreSQL 13, so the
  database owner may create it) and a GIN trigram index on each column, which serves
  `search_text LIKE '%word%'` (on translations, the approved ones: the only ones searched).
  SQLite has no such index and scans.
  (Plain columns only: no batch operation, which would rebuild `petitions` on SQLite.)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ('petitions', 'petition_translations')
BATCH = 500
#: Search reads approved translations only, so only they are indexed.
APPROVED = sa.text("state = 'approved'")


def upgrade():
    for table in TABLES:
        op.add_column(table, sa.Column('search_text', sa.Text(), server_default='', nullable=False))
    bind = op.get_bind()
    for table in TABLES:
        backfill(bind, table)
    if bind.dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        for table, where in (('petitions', None), ('petition_translations', APPROVED)):
            op.create_index(
                f'ix_{table}_search_text',
                table,
                ['search_text'],
                unique=False,
                postgresql_using='gin',
                postgresql_ops={'search_text': 'gin_trgm_ops'},
                postgresql_where=where,
            )


def backfill(bind, name: str) -> None:
    """Fold the texts of every row already in `name`, BATCH rows at a time by id."""
    from petitions.services.search import search_text_of

    table = sa.table(
        name,
        sa.column('id', sa.Integer),
        sa.column('title', sa.Text),
        sa.column('action', sa.Text),
        sa.column('background', sa.Text),
        sa.column('search_text', sa.Text),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, table.c.title, table.c.action, table.c.background)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            table.update().where(table.c.id == sa.bindparam('row_id')).values(
                search_text=sa.bindparam('folded')
            ),
            [
                {'row_id': row.id, 'folded': search_text_of(row.title, row.action, row.background)}
                for row in rows
            ],
        )
        last = rows[-1].id


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.drop_index(f'ix_{table}_search_text', table_name=table)
    for table in TABLES:
        op.drop_column(table, 'search_text')
