"""idcheck: chat in the check by a proctor, kept until the decision

Revision ID: idchat_0001
Revises: ltisup_0001
Create Date: 2026-12-07 11:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'idchat_0001'
down_revision = 'ltisup_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'id_check_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('check_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('sender_id', sa.Integer(), nullable=True),
        sa.Column('from_proctor', sa.Boolean(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['check_id'], ['id_check.id'], name=op.f('fk_id_check_message_check_id_id_check'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_id_check_message_user_id_user'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['sender_id'], ['user.id'], name=op.f('fk_id_check_message_sender_id_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_id_check_message')),
    )
    with op.batch_alter_table('id_check_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_id_check_message_check_id'), ['check_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_id_check_message_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('id_check_message')
