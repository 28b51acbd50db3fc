"""data export: the language it is built in (a build queued again later needs it)

Revision ID: 0012_export_lang
Revises: 0011_id_image_setting
Create Date: 2026-11-24 10:12:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_export_lang'
down_revision = '0011_id_image_setting'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('data_export', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lang', sa.String(length=2), nullable=False, server_default='de'))


def downgrade():
    with op.batch_alter_table('data_export', schema=None) as batch_op:
        batch_op.drop_column('lang')
