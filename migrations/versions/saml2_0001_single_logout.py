"""accounts: the sign-ins through a SAML IdP by NameID and SessionIndex, for the IdP's single logout

Revision ID: saml2_0001
Revises: ltiproctor_0001_verdict
Create Date: 2026-12-07 07:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


revision = 'saml2_0001'
down_revision = 'ltiproctor_0001_verdict'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'saml_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.Column('name_id', sa.String(length=500), nullable=False),
        sa.Column('session_index', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['provider_id'], ['saml_provider.id'],
                                name=op.f('fk_saml_session_provider_id_saml_provider'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'],
                                name=op.f('fk_saml_session_user_id_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saml_session')),
    )
    with op.batch_alter_table('saml_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saml_session_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_saml_session_name_id'), ['name_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_saml_session_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_saml_session_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('saml_session')
