"""accounts: sign-in through an institution's SAML 2.0 IdP (connections, links, requests under way, assertions seen)

Revision ID: saml_0001
Revises: liveness_virtual_camera
Create Date: 2026-12-07 07:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = 'saml_0001'
down_revision = 'liveness_virtual_camera'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'saml_provider',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('idp_entity_id', sa.String(length=500), nullable=False),
        sa.Column('metadata_url', sa.String(length=500), nullable=True),
        sa.Column('metadata_xml', sa.Text(), nullable=False),
        sa.Column('metadata_fetched_at', sa.DateTime(), nullable=True),
        sa.Column('federation_cert', sa.Text(), nullable=True),
        sa.Column('attr_subject', sa.String(length=300), nullable=False),
        sa.Column('attr_email', sa.String(length=100), nullable=False),
        sa.Column('attr_first_name', sa.String(length=100), nullable=False),
        sa.Column('attr_last_name', sa.String(length=100), nullable=False),
        sa.Column('want_encrypted', sa.Boolean(), nullable=False),
        sa.Column('second_factor_at_provider', sa.Boolean(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('key_id', sa.String(length=32), nullable=False),
        sa.Column('key_wrapped', sa.LargeBinary(), nullable=False),
        sa.Column('cert_pem', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                                name=op.f('fk_saml_provider_institution_id_institution'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saml_provider')),
    )
    op.create_index(op.f('ix_saml_provider_institution_id'), 'saml_provider', ['institution_id'], unique=False)
    op.create_table(
        'saml_identity',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_login_at', sa.DateTime(), nullable=True),
        sa.Column('sign_ins', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['provider_id'], ['saml_provider.id'],
                                name=op.f('fk_saml_identity_provider_id_saml_provider'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_saml_identity_user_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saml_identity')),
        sa.UniqueConstraint('provider_id', 'subject', name=op.f('uq_saml_identity_provider_id')),
    )
    op.create_index(op.f('ix_saml_identity_provider_id'), 'saml_identity', ['provider_id'], unique=False)
    op.create_index(op.f('ix_saml_identity_user_id'), 'saml_identity', ['user_id'], unique=False)
    op.create_table(
        'saml_request',
        sa.Column('id', sa.String(length=100), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('browser', sa.String(length=64), nullable=False),
        sa.Column('next_url', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['provider_id'], ['saml_provider.id'],
                                name=op.f('fk_saml_request_provider_id_saml_provider'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saml_request')),
    )
    op.create_index(op.f('ix_saml_request_provider_id'), 'saml_request', ['provider_id'], unique=False)
    op.create_index(op.f('ix_saml_request_created_at'), 'saml_request', ['created_at'], unique=False)
    op.create_table(
        'saml_assertion_seen',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.Column('assertion_id', sa.String(length=255), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saml_assertion_seen')),
        sa.UniqueConstraint('issuer', 'assertion_id', name=op.f('uq_saml_assertion_seen_issuer')),
    )
    op.create_index(op.f('ix_saml_assertion_seen_expires_at'), 'saml_assertion_seen', ['expires_at'], unique=False)


def downgrade():
    op.drop_table('saml_assertion_seen')
    op.drop_table('saml_request')
    op.drop_table('saml_identity')
    op.drop_table('saml_provider')
