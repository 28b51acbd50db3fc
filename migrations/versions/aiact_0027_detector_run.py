"""oversight: the detector-run log (EU AI Act Art. 12, 19, 26(6)): each detector run that raised a flag, no image

Revision ID: aiact_0027_detector_run
Revises: saml_0001
Create Date: 2026-12-07 07:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'aiact_0027_detector_run'
down_revision = 'saml_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'detector_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('flag_id', sa.Integer(), nullable=True),
        sa.Column('detector', sa.String(length=40), nullable=False),
        sa.Column('flag_kind', sa.String(length=40), nullable=False),
        sa.Column('model', sa.String(length=200), nullable=False),
        sa.Column('version', sa.String(length=200), nullable=False),
        sa.Column('thresholds', sa.JSON(), nullable=False),
        sa.Column('measure', sa.JSON(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('span_start', sa.DateTime(), nullable=False),
        sa.Column('span_end', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_detector_run_attempt_id_attempt'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['flag_id'], ['flag.id'], name=op.f('fk_detector_run_flag_id_flag'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_detector_run')),
    )
    with op.batch_alter_table('detector_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_detector_run_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_detector_run_attempt_id'), ['attempt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_detector_run_flag_id'), ['flag_id'], unique=False)


def downgrade():
    op.drop_table('detector_run')
