"""identity decisions that hold: selfie submissions counted (retakes limited), and whether an exam may
start while a person reviews a doubtful identity check

Revision ID: 0013_identity_decisions
Revises: 0012_export_lang
Create Date: 2026-12-01 20:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_identity_decisions'
down_revision = '0012_export_lang'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('id_check', schema=None) as batch_op:
        batch_op.add_column(sa.Column('selfie_uploads', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('institution_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('start_during_identity_review', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('institution_settings', schema=None) as batch_op:
        batch_op.drop_column('start_during_identity_review')
    with op.batch_alter_table('id_check', schema=None) as batch_op:
        batch_op.drop_column('selfie_uploads')
