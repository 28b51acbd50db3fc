"""exams and proctoring: a phone as the second camera (the exam setting and the pairings by QR code)

Revision ID: phone_0001
Revises: a11y_0001
Create Date: 2026-12-07 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = 'phone_0001'
down_revision = 'a11y_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.add_column(sa.Column('second_camera', sa.Boolean(), server_default='0', nullable=False))
    op.create_table(
        'phone_pairing',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('exam_id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=True),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('device_hash', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('replaced_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_phone_pairing_attempt_id_attempt'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['exam_id'], ['exam.id'], name=op.f('fk_phone_pairing_exam_id_exam'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_phone_pairing_user_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_pairing')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_phone_pairing_token_hash')),
        sa.UniqueConstraint('device_hash', name=op.f('uq_phone_pairing_device_hash')),
    )
    with op.batch_alter_table('phone_pairing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_pairing_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_pairing_attempt_id'), ['attempt_id'], unique=False)


def downgrade():
    with op.batch_alter_table('phone_pairing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_pairing_attempt_id'))
        batch_op.drop_index(batch_op.f('ix_phone_pairing_user_id'))
    op.drop_table('phone_pairing')
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.drop_column('second_camera')
