"""abuse resistance: held signatures, request facts, runtime settings, rules, bulk actions

- `signatures.status` may be `held` (confirmed by email, flagged, not counted until a
  moderator validates it); `flag` says why; `removal_category` is the public reason a removed
  signature was removed; `client_ip`, `client_network`, `user_agent_hash`, `submit_ms` are the
  request's facts kept for investigation (the address truncated after the window);
  `email_domain` (the lower-case ASCII domain, kept when the address is erased) for the
  per-domain statistics, search and trending; indexes by petition and network, domain and
  creation time for the investigation pages and the hourly trending pass.
- `petitions.signing_paused_at`: a moderator's pause (the deadline moves on by the pause).
- `site_settings` (runtime-tunable settings), `admin_events` (the site audit log),
  `access_rules` (block/allow/review for domains, addresses, IP ranges), `bulk_actions` and
  `bulk_action_items` (resumable bulk invalidation and validation with undo),
  `trending_sources` (the worker's hourly finds), `mail_recipient_counts` (per-recipient
  daily mail cap).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:58:10.531936

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_recipient_counts',
    sa.Column('recipient_key', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.CheckConstraint('sent >= 0', name=op.f('ck_mail_recipient_counts_sent_not_negative')),
    sa.PrimaryKeyConstraint('recipient_key', 'day', name=op.f('pk_mail_recipient_counts'))
    )
    op.create_table('access_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('pattern', sa.String(length=254), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("action IN ('block', 'allow', 'review')", name=op.f('ck_access_rules_action_known')),
    sa.CheckConstraint("kind IN ('domain', 'address', 'network')", name=op.f('ck_access_rules_kind_known')),
    sa.CheckConstraint('length(pattern) > 0', name=op.f('ck_access_rules_pattern_not_empty')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_access_rules_created_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_rules')),
    sa.UniqueConstraint('kind', 'pattern', name='uq_access_rules_kind_pattern')
    )
    op.create_table('admin_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_admin_events_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_events'))
    )
    with op.batch_alter_table('admin_events', schema=None) as batch_op:
        batch_op.create_index('ix_admin_events_created', ['created_at'], unique=False)

    op.create_table('site_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_site_settings_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_site_settings'))
    )
    op.create_table('bulk_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('petition_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('undo_of', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=False),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('last_signature_id', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'invalidate') = (category IS NOT NULL AND category IN ('automated', 'duplicates', 'disposable', 'fraud', 'signer_request', 'other'))", name=op.f('ck_bulk_actions_invalidate_has_category')),
    sa.CheckConstraint("(kind = 'undo') = (undo_of IS NOT NULL)", name=op.f('ck_bulk_actions_undo_names_action')),
    sa.CheckConstraint("kind IN ('invalidate', 'validate', 'undo')", name=op.f('ck_bulk_actions_kind_known')),
    sa.CheckConstraint("state IN ('running', 'done', 'cancelled', 'undone')", name=op.f('ck_bulk_actions_state_known')),
    sa.CheckConstraint('processed >= 0 AND changed >= 0', name=op.f('ck_bulk_actions_progress_not_negative')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_bulk_actions_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['petition_id'], ['petitions.id'], name=op.f('fk_bulk_actions_petition_id_petitions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['undo_of'], ['bulk_actions.id'], name=op.f('fk_bulk_actions_undo_of_bulk_actions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_actions'))
    )
    with op.batch_alter_table('bulk_actions', schema=None) as batch_op:
        batch_op.create_index('ix_bulk_actions_state', ['state'], unique=False)
        batch_op.create_index('uq_bulk_actions_one_running', ['petition_id'], unique=True, postgresql_where=sa.text("state = 'running'"), sqlite_where=sa.text("state = 'running'"))

    op.create_table('trending_sources',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('petition_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=254), nullable=False),
    sa.Column('signatures', sa.Integer(), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('network', 'domain')", name=op.f('ck_trending_sources_kind_known')),
    sa.ForeignKeyConstraint(['petition_id'], ['petitions.id'], name=op.f('fk_trending_sources_petition_id_petitions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trending_sources')),
    sa.UniqueConstraint('hour', 'petition_id', 'kind', 'value', name='uq_trending_sources_hour_source')
    )
    op.create_table('bulk_action_items',
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('signature_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('prior_status', sa.String(length=16), nullable=False),
    sa.Column('prior_category', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['bulk_actions.id'], name=op.f('fk_bulk_action_items_action_id_bulk_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signature_id'], ['signatures.id'], name=op.f('fk_bulk_action_items_signature_id_signatures'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('action_id', 'signature_id', name=op.f('pk_bulk_action_items'))
    )
    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signing_paused_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flag', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('client_ip', sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column('client_network', sa.String(length=49), nullable=True))
        batch_op.add_column(sa.Column('user_agent_hash', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('submit_ms', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('removal_category', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('email_domain', sa.String(length=254), nullable=True))
        batch_op.create_index('ix_signatures_petition_network', ['petition_id', 'client_network'], unique=False)
        batch_op.create_index('ix_signatures_petition_domain', ['petition_id', 'email_domain'], unique=False)
        batch_op.create_index('ix_signatures_petition_created', ['petition_id', 'created_at'], unique=False)
        batch_op.drop_constraint(batch_op.f('ck_signatures_status_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_signatures_status_known'),
            "status IN ('pending', 'confirmed', 'invalidated', 'withdrawn', 'held')",
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_signatures_held_has_flag'), "status <> 'held' OR flag IS NOT NULL"
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_signatures_category_only_removed'),
            "removal_category IS NULL OR (status IN ('invalidated', 'withdrawn'))",
        )


def downgrade():
    # Held signatures do not fit the older schema: they were never counted, so they leave as
    # pending ones would (deleted).
    op.execute("DELETE FROM signatures WHERE status = 'held'")
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_signatures_category_only_removed'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_signatures_held_has_flag'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_signatures_status_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_signatures_status_known'),
            "status IN ('pending', 'confirmed', 'invalidated', 'withdrawn')",
        )
        batch_op.drop_index('ix_signatures_petition_created')
        batch_op.drop_index('ix_signatures_petition_domain')
        batch_op.drop_index('ix_signatures_petition_network')
        batch_op.drop_column('email_domain')
        batch_op.drop_column('removal_category')
        batch_op.drop_column('submit_ms')
        batch_op.drop_column('user_agent_hash')
        batch_op.drop_column('client_network')
        batch_op.drop_column('client_ip')
        batch_op.drop_column('flag')

    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.drop_column('signing_paused_at')

    op.drop_table('bulk_action_items')
    op.drop_table('trending_sources')
    with op.batch_alter_table('bulk_actions', schema=None) as batch_op:
        batch_op.drop_index('uq_bulk_actions_one_running', postgresql_where=sa.text("state = 'running'"), sqlite_where=sa.text("state = 'running'"))
        batch_op.drop_index('ix_bulk_actions_state')

    op.drop_table('bulk_actions')
    op.drop_table('site_settings')
    with op.batch_alter_table('admin_events', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_events_created')

    op.drop_table('admin_events')
    op.drop_table('access_rules')
    op.drop_table('mail_recipient_counts')
