"""LTI 1.3 tool: platform registrations, login initiations in flight, account links, course links, enrolments,
proctoring sessions (LTI Proctoring Services)

Revision ID: 0019_lti
Revises: 0017_account_security
Create Date: 2026-12-02 01:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_lti'
down_revision = '0018_editor'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('lti_platform',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('auth_login_url', sa.String(length=500), nullable=False),
    sa.Column('auth_token_url', sa.String(length=500), nullable=False),
    sa.Column('jwks_url', sa.String(length=500), nullable=False),
    sa.Column('deployment_ids', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_lti_platform_institution_id_institution'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_platform')),
    sa.UniqueConstraint('issuer', 'client_id', name=op.f('uq_lti_platform_issuer'))
    )
    with op.batch_alter_table('lti_platform', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_platform_institution_id'), ['institution_id'], unique=False)

    op.create_table('lti_login_state',
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('target_link_uri', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_login_state_platform_id_lti_platform'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('state', name=op.f('pk_lti_login_state')),
    sa.UniqueConstraint('nonce', name=op.f('uq_lti_login_state_nonce'))
    )
    with op.batch_alter_table('lti_login_state', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_login_state_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_lti_login_state_platform_id'), ['platform_id'], unique=False)

    op.create_table('lti_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_launch_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_identity_platform_id_lti_platform'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_lti_identity_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_identity')),
    sa.UniqueConstraint('platform_id', 'subject', name=op.f('uq_lti_identity_platform_id'))
    )
    with op.batch_alter_table('lti_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_identity_platform_id'), ['platform_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lti_identity_user_id'), ['user_id'], unique=False)

    op.create_table('lti_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('resource_link_id', sa.String(length=255), nullable=False),
    sa.Column('context_id', sa.String(length=255), nullable=True),
    sa.Column('context_title', sa.String(length=255), nullable=True),
    sa.Column('memberships_url', sa.String(length=500), nullable=True),
    sa.Column('lineitems_url', sa.String(length=500), nullable=True),
    sa.Column('lineitem_url', sa.String(length=500), nullable=True),
    sa.Column('ags_scopes', sa.JSON(), nullable=False),
    sa.Column('results_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['exam_id'], ['exam.id'], name=op.f('fk_lti_link_exam_id_exam'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_link_platform_id_lti_platform'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_link')),
    sa.UniqueConstraint('platform_id', 'resource_link_id', name=op.f('uq_lti_link_platform_id'))
    )
    with op.batch_alter_table('lti_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_link_exam_id'), ['exam_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lti_link_platform_id'), ['platform_id'], unique=False)

    op.create_table('lti_enrolment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('score_sent_at', sa.DateTime(), nullable=True),
    sa.Column('score_sent_percent', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['link_id'], ['lti_link.id'], name=op.f('fk_lti_enrolment_link_id_lti_link'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_lti_enrolment_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_enrolment')),
    sa.UniqueConstraint('link_id', 'user_id', name=op.f('uq_lti_enrolment_link_id'))
    )
    with op.batch_alter_table('lti_enrolment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_enrolment_link_id'), ['link_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lti_enrolment_user_id'), ['user_id'], unique=False)

    op.create_table('lti_proctoring',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('attempt_number', sa.Integer(), nullable=False),
    sa.Column('session_data', sa.Text(), nullable=False),
    sa.Column('start_assessment_url', sa.String(length=500), nullable=False),
    sa.Column('acs_url', sa.String(length=500), nullable=True),
    sa.Column('acs_actions', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('assessment_started_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('last_control', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['link_id'], ['lti_link.id'], name=op.f('fk_lti_proctoring_link_id_lti_link'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_lti_proctoring_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_proctoring'))
    )
    with op.batch_alter_table('lti_proctoring', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_proctoring_link_id'), ['link_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lti_proctoring_user_id'), ['user_id'], unique=False)


def downgrade():
    for table, indexes in (('lti_proctoring', ('link_id', 'user_id')), ('lti_enrolment', ('link_id', 'user_id')),
                           ('lti_link', ('exam_id', 'platform_id')), ('lti_identity', ('platform_id', 'user_id')),
                           ('lti_login_state', ('created_at', 'platform_id')), ('lti_platform', ('institution_id',))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in indexes:
                batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
        op.drop_table(table)
