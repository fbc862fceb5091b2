"""locales, server-side login sessions, share-email choice, mail rendered by the worker

- `signatures.locale`, `users.locale`: every email is written in its recipient's language.
- `signatures.share_email`: the signer's explicit choice to give their address to the
  organiser; off for every signature made before (they keep their updates, which the platform
  mails, but their address is no longer in the organiser's export).
- `user_sessions`: one row per login, so logging out ends that session on the server.
- `outbox_messages.template/locale/context`: the worker renders mail (not the request), so a
  request does the same work whatever the address's history; `subject` may be NULL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_user_sessions_key_hash'))
    )
    op.create_index('ix_user_sessions_user_id', 'user_sessions', ['user_id'], unique=False)
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('share_email', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('locale', sa.String(length=16), server_default='en', nullable=False))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), server_default='en', nullable=False))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('context', sa.JSON(), nullable=True))
        batch_op.alter_column('subject', existing_type=sa.String(length=300), nullable=True)


def downgrade():
    # Messages the worker has not rendered yet cannot wait in the older schema: they are given
    # up (their recipients erased), as the worker would at the attempt limit.
    op.execute(
        "UPDATE outbox_messages SET failed_at = CURRENT_TIMESTAMP, to_address = NULL, "
        "last_error = 'downgraded before rendering' "
        "WHERE template IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL"
    )
    op.execute("UPDATE outbox_messages SET subject = '' WHERE subject IS NULL")
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('subject', existing_type=sa.String(length=300), nullable=False)
        batch_op.drop_column('context')
        batch_op.drop_column('locale')
        batch_op.drop_column('template')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locale')
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_column('locale')
        batch_op.drop_column('share_email')
    op.drop_index('ix_user_sessions_user_id', table_name='user_sessions')
    op.drop_table('user_sessions')
