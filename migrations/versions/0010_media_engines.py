"""media engines: which engine process holds a media session

Revision ID: 0010_media_engines
Revises: 0009_privacy
Create Date: 2026-11-23 15:16:28.166496

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_media_engines'
down_revision = '0009_privacy'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('media_assignment',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('engine_url', sa.String(length=200), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_media_assignment'))
    )
    with op.batch_alter_table('media_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_assignment_engine_url'), ['engine_url'], unique=False)



def downgrade():
    with op.batch_alter_table('media_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_assignment_engine_url'))

    op.drop_table('media_assignment')
