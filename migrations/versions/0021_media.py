"""media: the candidate's screen recorded beside the webcam (per exam); oral exams

Revision ID: 0021_media
Revises: 0017_account_security
Create Date: 2026-12-02 01:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021_media'
down_revision = '0020_grants'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.add_column(sa.Column('screen_capture', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manual_note', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.drop_column('manual_note')
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.drop_column('screen_capture')
