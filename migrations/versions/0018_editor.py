"""accounts: the audit of what administrators do to accounts (lock, unlock, second factor reset, role change)

Revision ID: 0018_editor
Revises: 0017_account_security
Create Date: 2026-12-02 01:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_editor'
down_revision = '0017_account_security'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_action',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('detail', sa.String(length=200), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_account_action_actor_id_user'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_account_action_user_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_action')),
    )
    with op.batch_alter_table('account_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_action_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_action_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('account_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_action_user_id'))
        batch_op.drop_index(batch_op.f('ix_account_action_at'))
    op.drop_table('account_action')
