"""LTI proctoring: the exam attempt that holds the supervision of a platform's assessment

Revision ID: ltisup_0001
Revises: phone_0001
Create Date: 2026-12-07 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ltisup_0001'
down_revision = 'phone_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lti_proctoring', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_lti_proctoring_attempt_id'), ['attempt_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_lti_proctoring_attempt_id_attempt'), 'attempt', ['attempt_id'],
                                    ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('lti_proctoring', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_lti_proctoring_attempt_id_attempt'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_lti_proctoring_attempt_id'))
        batch_op.drop_column('attempt_id')
