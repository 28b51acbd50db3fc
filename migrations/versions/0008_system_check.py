"""system checks

Revision ID: 0008_system_check
Revises: 0007_idcheck
Create Date: 2026-11-22 13:51:13.868031

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_system_check'
down_revision = '0007_idcheck'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('system_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('passed_at', sa.DateTime(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['exam_id'], ['exam.id'], name=op.f('fk_system_check_exam_id_exam'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_system_check_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_system_check'))
    )
    with op.batch_alter_table('system_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_system_check_exam_id'), ['exam_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_system_check_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('system_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_system_check_user_id'))
        batch_op.drop_index(batch_op.f('ix_system_check_exam_id'))

    op.drop_table('system_check')
