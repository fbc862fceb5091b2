"""petitions know their language and time zone; translations of their text

- `petitions.language`: the catalog code the organiser wrote in ("en" for every older one).
- `petitions.time_zone`: the IANA zone its dates are shown in ("UTC" for every older one).
  (Columns only: a CHECK here would make SQLite rebuild `petitions`, and dropping it with
  foreign keys on cascades into the signatures. The services check both values.)
- `petition_translations`: title, action and background in another language, each reviewed
  by a moderator (pending, approved, rejected), one per petition and language.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('language', sa.String(length=16), server_default='en', nullable=False)
        )
        batch_op.add_column(
            sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False)
        )
    op.create_table('petition_translations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('petition_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=150), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('background', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'approved', 'rejected')", name=op.f('ck_petition_translations_state_known')),
    sa.CheckConstraint('length(title) > 0', name=op.f('ck_petition_translations_title_not_empty')),
    sa.CheckConstraint('length(action) > 0', name=op.f('ck_petition_translations_action_not_empty')),
    sa.CheckConstraint('length(language) >= 2', name=op.f('ck_petition_translations_language_not_empty')),
    sa.CheckConstraint("state = 'pending' OR reviewed_at IS NOT NULL", name=op.f('ck_petition_translations_reviewed_has_date')),
    sa.ForeignKeyConstraint(['petition_id'], ['petitions.id'], name=op.f('fk_petition_translations_petition_id_petitions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_petition_translations_reviewed_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_petition_translations')),
    sa.UniqueConstraint('petition_id', 'language', name='uq_petition_translations_language')
    )
    with op.batch_alter_table('petition_translations', schema=None) as batch_op:
        batch_op.create_index('ix_petition_translations_queue', ['state', 'submitted_at'], unique=False)


def downgrade():
    with op.batch_alter_table('petition_translations', schema=None) as batch_op:
        batch_op.drop_index('ix_petition_translations_queue')
    op.drop_table('petition_translations')
    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
        batch_op.drop_column('language')
