"""proctoring: a seekable copy of the candidate's screen beside the camera's, for the side-by-side review player

Revision ID: 0025_screen_playback
Revises: 0024_office
Create Date: 2026-12-02 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025_screen_playback'
down_revision = '0024_office'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('recording_playback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('screen_copy_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('screen_offset_ms', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_recording_playback_screen_copy_id_blob'), 'blob',
                                    ['screen_copy_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('recording_playback', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_recording_playback_screen_copy_id_blob'), type_='foreignkey')
        batch_op.drop_column('screen_offset_ms')
        batch_op.drop_column('screen_copy_id')
