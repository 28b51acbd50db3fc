"""chain of trust: certificate snapshot and reissue, review policy, name changes as requests

Revision ID: 0014_chain_of_trust
Revises: 0013_identity_decisions
Create Date: 2026-12-01 20:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_chain_of_trust'
down_revision = '0013_identity_decisions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_constraint('uq_certificate_attempt_id', type_='unique')
        batch_op.add_column(sa.Column('holder_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('holder_birth_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('completed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('score_percent', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('identity_method', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('identity_verified_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('supervised', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('review', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_certificate_attempt_id'), ['attempt_id'], unique=False)
        batch_op.create_index('uq_certificate_live_attempt', ['attempt_id'], unique=True,
                              sqlite_where=sa.text('revoked_at IS NULL'),
                              postgresql_where=sa.text('revoked_at IS NULL'))

    with op.batch_alter_table('institution_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_policy', sa.String(length=16), nullable=False,
                                      server_default='flagged'))

    with op.batch_alter_table('profile_change', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='applied'))
        batch_op.add_column(sa.Column('decided_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_profile_change_decided_by_id_user'), 'user', ['decided_by_id'],
                                    ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('profile_change', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_profile_change_decided_by_id_user'), type_='foreignkey')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('decided_by_id')
        batch_op.drop_column('status')

    with op.batch_alter_table('institution_settings', schema=None) as batch_op:
        batch_op.drop_column('review_policy')

    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index('uq_certificate_live_attempt')
        batch_op.drop_index(batch_op.f('ix_certificate_attempt_id'))
        for column in ('review', 'supervised', 'identity_verified_at', 'identity_method', 'score_percent',
                       'completed_on', 'holder_birth_date', 'holder_name'):
            batch_op.drop_column(column)
        batch_op.create_unique_constraint('uq_certificate_attempt_id', ['attempt_id'])
