"""LTI proctoring: the termination or identity rejection aufsicht decided for a platform's attempt

Revision ID: ltiproctor_0001_verdict
Revises: aiact_0027_detector_run
Create Date: 2026-12-07 07:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ltiproctor_0001_verdict'
down_revision = 'aiact_0027_detector_run'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lti_proctoring', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verdict', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('lti_proctoring', schema=None) as batch_op:
        batch_op.drop_column('verdict')
