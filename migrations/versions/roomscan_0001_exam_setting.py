"""roomscan: an exam may require a room scan (before the start and whenever a proctor asks)

Revision ID: roomscan_0001
Revises: aigaps_0001
Create Date: 2026-12-07 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'roomscan_0001'
down_revision = 'aigaps_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.add_column(sa.Column('room_scan_required', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.drop_column('room_scan_required')
