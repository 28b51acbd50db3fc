"""institution setting: keep ID photos until the exam closes

Revision ID: 0011_id_image_setting
Revises: 0010_media_engines
Create Date: 2026-11-23 16:29:37.424276

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_id_image_setting'
down_revision = '0010_media_engines'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('institution_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keep_id_images_until_exam_end', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))



def downgrade():
    with op.batch_alter_table('institution_settings', schema=None) as batch_op:
        batch_op.drop_column('keep_id_images_until_exam_end')

