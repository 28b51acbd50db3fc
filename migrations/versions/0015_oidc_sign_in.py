"""sign-in through OpenID providers: the providers of an institution, the account links, the provider of a login

Revision ID: 0015_oidc_sign_in
Revises: 0014_chain_of_trust
Create Date: 2026-12-01 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_oidc_sign_in'
down_revision = '0014_chain_of_trust'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('oidc_provider',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('secret_key_id', sa.String(length=32), nullable=False),
    sa.Column('secret_wrapped', sa.LargeBinary(), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=False),
    sa.Column('claim_email', sa.String(length=64), nullable=False),
    sa.Column('claim_first_name', sa.String(length=64), nullable=False),
    sa.Column('claim_last_name', sa.String(length=64), nullable=False),
    sa.Column('second_factor_at_provider', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_oidc_provider_institution_id_institution'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_provider'))
    )
    with op.batch_alter_table('oidc_provider', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_provider_institution_id'), ['institution_id'], unique=False)

    op.create_table('oidc_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email_verified', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.Column('sign_ins', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['oidc_provider.id'], name=op.f('fk_oidc_identity_provider_id_oidc_provider'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_oidc_identity_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_identity')),
    sa.UniqueConstraint('provider_id', 'subject', name=op.f('uq_oidc_identity_provider_id'))
    )
    with op.batch_alter_table('oidc_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_identity_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oidc_identity_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('login_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider', sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table('login_event', schema=None) as batch_op:
        batch_op.drop_column('provider')
    with op.batch_alter_table('oidc_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_identity_user_id'))
        batch_op.drop_index(batch_op.f('ix_oidc_identity_provider_id'))
    op.drop_table('oidc_identity')
    with op.batch_alter_table('oidc_provider', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_provider_institution_id'))
    op.drop_table('oidc_provider')
