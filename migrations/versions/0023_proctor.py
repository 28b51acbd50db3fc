"""exams: extra time per candidate and exam (accommodation applied when the attempt starts)

Revision ID: 0023_proctor
Revises: 0017_account_security
Create Date: 2026-12-02 00:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023_proctor'
down_revision = '0022_review'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('extra_time',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('extra_minutes', sa.Integer(), nullable=False),
    sa.Column('extra_percent', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_extra_time_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['exam_id'], ['exam.id'], name=op.f('fk_extra_time_exam_id_exam'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_extra_time_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extra_time')),
    sa.UniqueConstraint('exam_id', 'user_id', name=op.f('uq_extra_time_exam_id'))
    )
    with op.batch_alter_table('extra_time', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extra_time_exam_id'), ['exam_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extra_time_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('extra_time', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extra_time_user_id'))
        batch_op.drop_index(batch_op.f('ix_extra_time_exam_id'))
    op.drop_table('extra_time')
