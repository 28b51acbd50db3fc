"""proctoring: seekable playback copies of recording parts (remuxed for the review player)

Revision ID: 0022_review
Revises: 0017_account_security
Create Date: 2026-12-02 01:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_review'
down_revision = '0021_media'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('recording_playback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('copy_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('made_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['copy_id'], ['blob.id'], name=op.f('fk_recording_playback_copy_id_blob'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['part_id'], ['blob.id'], name=op.f('fk_recording_playback_part_id_blob'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recording_playback')),
    sa.UniqueConstraint('part_id', name=op.f('uq_recording_playback_part_id'))
    )


def downgrade():
    op.drop_table('recording_playback')
