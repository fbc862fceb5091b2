"""petition updates, milestones, closing mail, mail headers

Organisers post updates (petition_updates), emailed in batches like the official response
(petition_updates.mail_after); milestones reached are recorded once each (petition_milestones);
the "petition closed" email has its own progress marker (petitions.closing_mail_after); outbox
messages carry extra headers (List-Unsubscribe).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('petition_updates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('petition_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=150), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('creation_key', sa.String(length=64), nullable=True),
    sa.Column('mail_after', sa.BigInteger(), nullable=True),
    sa.CheckConstraint('length(body) > 0', name=op.f('ck_petition_updates_body_not_empty')),
    sa.CheckConstraint('length(title) > 0', name=op.f('ck_petition_updates_title_not_empty')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_petition_updates_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['petition_id'], ['petitions.id'], name=op.f('fk_petition_updates_petition_id_petitions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_petition_updates')),
    sa.UniqueConstraint('creation_key', name=op.f('uq_petition_updates_creation_key'))
    )
    with op.batch_alter_table('petition_updates', schema=None) as batch_op:
        batch_op.create_index('ix_petition_updates_petition_created', ['petition_id', 'created_at'], unique=False)

    op.create_table('petition_milestones',
    sa.Column('petition_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('threshold', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('reached_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('goal', 'count')", name=op.f('ck_petition_milestones_kind_known')),
    sa.CheckConstraint('threshold > 0', name=op.f('ck_petition_milestones_threshold_positive')),
    sa.ForeignKeyConstraint(['petition_id'], ['petitions.id'], name=op.f('fk_petition_milestones_petition_id_petitions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('petition_id', 'kind', 'threshold', name=op.f('pk_petition_milestones'))
    )

    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closing_mail_after', sa.BigInteger(), nullable=True))

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('headers', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('headers')

    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.drop_column('closing_mail_after')

    op.drop_table('petition_milestones')
    with op.batch_alter_table('petition_updates', schema=None) as batch_op:
        batch_op.drop_index('ix_petition_updates_petition_created')

    op.drop_table('petition_updates')
