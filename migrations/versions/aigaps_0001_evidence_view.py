"""proctoring: which stretch of an attempt's evidence each person opened (a flag's span must be covered to decide it)

Revision ID: aigaps_0001
Revises: saml2_0002
Create Date: 2026-12-07 10:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'aigaps_0001'
down_revision = 'saml2_0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'evidence_view',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('viewer_id', sa.Integer(), nullable=True),
        sa.Column('blob_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('span_start', sa.DateTime(), nullable=False),
        sa.Column('span_end', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_evidence_view_attempt_id_attempt'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['viewer_id'], ['user.id'], name=op.f('fk_evidence_view_viewer_id_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_view')),
        sa.UniqueConstraint('viewer_id', 'blob_id', name='uq_evidence_view_viewer_blob'),
    )
    with op.batch_alter_table('evidence_view', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_view_attempt_id'), ['attempt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_view_viewer_id'), ['viewer_id'], unique=False)


def downgrade():
    op.drop_table('evidence_view')
