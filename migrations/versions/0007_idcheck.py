"""identity checks

Revision ID: 0007_idcheck
Revises: 0006_storage
Create Date: 2026-11-22 13:21:52.494665

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_idcheck'
down_revision = '0006_storage'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('id_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('started', 'processing', 'retake', 'verified', 'review', 'rejected', 'manual', name='idcheckstatus', native_enum=False, length=16), nullable=False),
    sa.Column('biometric', sa.Boolean(), nullable=False),
    sa.Column('id_image_blob_id', sa.Integer(), nullable=True),
    sa.Column('selfie_blob_id', sa.Integer(), nullable=True),
    sa.Column('frames_blob_id', sa.Integer(), nullable=True),
    sa.Column('template_blob_id', sa.Integer(), nullable=True),
    sa.Column('challenge', sa.JSON(), nullable=False),
    sa.Column('auto_decision', sa.String(length=16), nullable=True),
    sa.Column('distance', sa.Float(), nullable=True),
    sa.Column('liveness_passed', sa.Boolean(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('document_check', sa.JSON(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_id_check_decided_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['exam_id'], ['exam.id'], name=op.f('fk_id_check_exam_id_exam'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['frames_blob_id'], ['blob.id'], name=op.f('fk_id_check_frames_blob_id_blob'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['id_image_blob_id'], ['blob.id'], name=op.f('fk_id_check_id_image_blob_id_blob'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['selfie_blob_id'], ['blob.id'], name=op.f('fk_id_check_selfie_blob_id_blob'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['template_blob_id'], ['blob.id'], name=op.f('fk_id_check_template_blob_id_blob'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_id_check_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_id_check')),
    sa.UniqueConstraint('user_id', 'exam_id', name=op.f('uq_id_check_user_id'))
    )
    with op.batch_alter_table('id_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_id_check_exam_id'), ['exam_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_id_check_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('id_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_id_check_user_id'))
        batch_op.drop_index(batch_op.f('ix_id_check_exam_id'))

    op.drop_table('id_check')
