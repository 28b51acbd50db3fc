"""exams: a pool of items and the rules that draw a few of them per attempt (issue 32, point 3)

Revision ID: pools_0001
Revises: idchat_0001
Create Date: 2026-12-07 14:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'pools_0001'
down_revision = 'idchat_0001'
branch_labels = None
depends_on = None


def upgrade():
    # The drawn item ids of each attempt live in attempt.layout (JSON) beside its seed: no column for them.
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pool', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('draws', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade():
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.drop_column('draws')
        batch_op.drop_column('pool')
