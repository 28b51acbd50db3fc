"""identity checks: the device label of a known virtual camera used for the live challenge (for the reviewer)

Revision ID: liveness_virtual_camera
Revises: seb_0001_lockdown
Create Date: 2026-12-07 06:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'liveness_virtual_camera'
down_revision = 'seb_0001_lockdown'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('id_check', schema=None) as batch_op:
        batch_op.add_column(sa.Column('virtual_camera', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('id_check', schema=None) as batch_op:
        batch_op.drop_column('virtual_camera')
